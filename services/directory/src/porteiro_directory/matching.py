"""Fuzzy resolution of (apartment, resident name) against the directory.

Everything that can be computed ahead is computed when the data loads
(`Directory.__init__`): folded names, the name "forms" each resident answers
to, apartment keys and a word index for name-only searches, so a request only
folds its own text and runs rapidfuzz on a handful of short strings.

Apartment: exact number (digits, words, dictation; see `spoken_numbers`), else
the closest number by `fuzz.ratio` at or above the apartment threshold
(the prototype's rule, 85 by default). Without a block, every block with that
number is in scope.

Resident score (0-100), the best of:
* `fuzz.ratio` of the folded query against each form: the full name, each
  alias, every run of whole words of them ("renata", "oliveira", "ana beatriz"),
  first + last name, and alias + surname ("dani reis"). Comparing against whole
  words is our `partial_ratio`: rapidfuzz's own would score "Ana" 100 inside
  "Mariana";
* `fuzz.token_sort_ratio` against the full name (word order ignored).
Honorifics and articles are dropped first (`porteiro_common.ptbr.names.name_words`). A form built
from an alias scores at most ALIAS_SCORE (95, as in the prototype) so that a
resident's own name beats someone else's alias.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from rapidfuzz import fuzz, process

from porteiro_common.ptbr import plain
from porteiro_common.ptbr.names import name_words
from porteiro_directory.data import Apartment, Resident, apartment_key
from porteiro_directory.spoken_numbers import find_apartment, normalize_block

ALIAS_SCORE = 95.0
# Name-only search scores only residents whose words cover the query's words
# well enough: for each query word its best `fuzz.ratio` against the
# resident's words, averaged weighted by word length. Kept well below any
# sensible threshold so it drops nobody who could match, and capped so a
# one-word query ("Silva") cannot make a request score thousands of residents.
WORD_COVERAGE_SCORE = 55.0
MAX_SCORED_BY_NAME = 200

MATCH = "MATCH"
AMBIGUOUS = "AMBIGUOUS"
NO_APARTMENT = "NO_APARTMENT"
NO_RESIDENT = "NO_RESIDENT"


@dataclass(frozen=True)
class Thresholds:
    apartment: float = 85.0
    resident: float = 75.0
    ambiguity_margin: float = 5.0
    max_candidates: int = 5


@dataclass(frozen=True)
class Candidate:
    apartment: Apartment
    resident: Resident
    score: float


@dataclass(frozen=True)
class Resolution:
    status: str
    match: Candidate | None = None
    candidates: tuple[Candidate, ...] = ()
    normalized_apartment: str = ""


@dataclass(frozen=True)
class Query:
    """A name as heard, folded once per request."""

    text: str
    sorted_text: str
    words: tuple[str, ...]

    @classmethod
    def of(cls, name: str) -> Query:
        words = tuple(name_words(name))
        return cls(" ".join(words), " ".join(sorted(words)), words)


@dataclass(slots=True)
class _ResidentEntry:
    apartment: Apartment
    resident: Resident
    name_forms: tuple[str, ...]
    alias_forms: tuple[str, ...]
    sorted_name: str
    # Every word of the name and aliases, once each, sorted.
    words: tuple[str, ...]


def _shared(texts: list[str]) -> tuple[str, ...]:
    """`texts` without repeats, each string interned: names and their forms repeat a lot
    across residents and condominiums (a thousand condominiums share one "silva")."""
    return tuple(sys.intern(text) for text in dict.fromkeys(texts))


def score_entries(query: Query, entries: Sequence[_ResidentEntry]) -> np.ndarray:
    """Each resident's score for `query` (see the module docstring), in one rapidfuzz call per kind."""
    forms = list(chain.from_iterable(entry.name_forms for entry in entries))
    starts = np.cumsum([0, *(len(entry.name_forms) for entry in entries[:-1])])
    ratios = process.cdist([query.text], forms, scorer=fuzz.ratio, dtype=np.float32)[0]
    best = np.maximum.reduceat(ratios, starts)
    if len(query.words) > 1:
        sorted_names = [entry.sorted_name for entry in entries]
        best = np.maximum(
            best, process.cdist([query.sorted_text], sorted_names, scorer=fuzz.ratio, dtype=np.float32)[0]
        )
    for index, entry in enumerate(entries):
        if entry.alias_forms and best[index] < ALIAS_SCORE:
            alias = process.extractOne(query.text, entry.alias_forms, scorer=fuzz.ratio)[1]
            best[index] = max(best[index], min(alias, ALIAS_SCORE))
    return best


def _word_runs(words: Sequence[str]) -> list[str]:
    return [" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)]


def _resident_entry(apartment: Apartment, resident: Resident) -> _ResidentEntry:
    words = name_words(resident.name) or plain(resident.name).split()
    name_forms = _word_runs(words)
    if len(words) > 2:
        name_forms.append(f"{words[0]} {words[-1]}")
    alias_forms: list[str] = []
    all_words = set(words)
    for alias in resident.aliases:
        alias_words = name_words(alias)
        all_words.update(alias_words)
        alias_forms.extend(_word_runs(alias_words))
        if len(words) > 1:
            alias_forms.append(" ".join([*alias_words, words[-1]]))
    return _ResidentEntry(
        apartment,
        resident,
        _shared(name_forms),
        _shared(alias_forms),
        sys.intern(" ".join(sorted(words))),
        _shared(sorted(all_words)),
    )


class Directory:
    """An immutable, pre-indexed snapshot of the condominium's data."""

    def __init__(self, apartments: Sequence[Apartment], thresholds: Thresholds | None = None) -> None:
        self.apartments = tuple(apartments)
        self.thresholds = thresholds or Thresholds()
        self.has_blocks = any(apartment.block for apartment in self.apartments)
        self._by_number: dict[str, list[Apartment]] = {}
        self._entries: dict[int, list[_ResidentEntry]] = {}
        self._all_entries: list[_ResidentEntry] = []
        for apartment in self.apartments:
            self._by_number.setdefault(apartment_key(apartment.number), []).append(apartment)
            entries = [_resident_entry(apartment, resident) for resident in apartment.residents]
            self._entries[id(apartment)] = entries
            self._all_entries.extend(entries)
        self._numbers = list(self._by_number)
        self._words = list(dict.fromkeys(word for entry in self._all_entries for word in entry.words))
        self._entry_words = self._word_matrix()
        block_keys = {block: normalize_block(block) for block in {apt.block for apt in self.apartments}}
        self._entry_blocks = np.array(
            [block_keys[e.apartment.block] for e in self._all_entries], dtype=object
        )

    def _word_matrix(self) -> np.ndarray:
        """Column per resident: indexes of their words, padded with len(words) (similarity 0).

        Residents are columns so that the max over a resident's words runs along
        contiguous rows, which numpy does fast."""
        position = {word: index for index, word in enumerate(self._words)}
        width = max((len(entry.words) for entry in self._all_entries), default=1)
        matrix = np.full((width, len(self._all_entries)), len(self._words), dtype=np.intp)
        # One fancy-indexed assignment (a column at a time is slow for many residents).
        rows = [row for entry in self._all_entries for row in range(len(entry.words))]
        columns = [column for column, entry in enumerate(self._all_entries) for _ in entry.words]
        matrix[rows, columns] = [position[word] for entry in self._all_entries for word in entry.words]
        return matrix

    @property
    def resident_count(self) -> int:
        return len(self._all_entries)

    # --- apartments -------------------------------------------------------

    def number_exists(self, number: str, block: str = "") -> bool:
        return bool(self._exact(apartment_key(number), normalize_block(block)))

    def _exact(self, number_key: str, block_key: str) -> list[Apartment]:
        found = self._by_number.get(number_key, [])
        if block_key and self.has_blocks:
            found = [apartment for apartment in found if normalize_block(apartment.block) == block_key]
        return found

    def understand_apartment(self, text: str, block: str = "") -> tuple[str, str]:
        """(number key, block key) from an apartment as heard ("bloco B, cento e um" -> ("101", "B"))."""
        parsed = find_apartment(
            text, exists=lambda digits: apartment_key(digits) in self._by_number, sentence=False
        )
        number = apartment_key(parsed.number) if parsed else ""
        if parsed is None:
            number = apartment_key(text)  # non-numeric apartments ("Cobertura")
        block_key = normalize_block(block) if block.strip() else (parsed.block if parsed else "")
        return number, block_key

    def find_apartments(self, number_key: str, block_key: str) -> list[Apartment]:
        """Apartments with this number (every block when none is given), else the closest numbers."""
        if not number_key:
            return []
        exact = self._exact(number_key, block_key)
        if exact:
            return exact
        closest = process.extract(
            number_key, self._numbers, scorer=fuzz.ratio, score_cutoff=self.thresholds.apartment, limit=None
        )
        if not closest:
            return []
        best = closest[0][1]
        found = [
            apt for number, score, _ in closest if score == best for apt in self._exact(number, block_key)
        ]
        return found

    # --- residents --------------------------------------------------------

    def _rank(self, query: Query, entries: Sequence[_ResidentEntry]) -> list[Candidate]:
        """Candidates best first; equal scores keep the data file's order."""
        if not entries or not query.words:
            return []
        scores = score_entries(query, entries)
        order = np.argsort(-scores, kind="stable")
        return [Candidate(entries[i].apartment, entries[i].resident, float(scores[i])) for i in order]

    def _entries_near(self, query: Query, block_key: str) -> list[_ResidentEntry]:
        """Residents whose words resemble the query's words (name-only search), in data order."""
        if not self._all_entries or not query.words:
            return []
        similarity = process.cdist(query.words, self._words, scorer=fuzz.ratio, dtype=np.float32)
        similarity = np.hstack([similarity, np.zeros((len(query.words), 1), dtype=np.float32)])
        weights = np.array([len(word) for word in query.words], dtype=np.float32)
        best_per_word = np.stack([row[self._entry_words].max(axis=0) for row in similarity])
        coverage = weights @ best_per_word / weights.sum()
        near = coverage >= WORD_COVERAGE_SCORE
        if block_key and self.has_blocks:
            near &= self._entry_blocks == block_key
        rows = np.flatnonzero(near)
        if len(rows) > MAX_SCORED_BY_NAME:
            rows = np.sort(rows[np.argsort(-coverage[rows], kind="stable")[:MAX_SCORED_BY_NAME]])
        return [self._all_entries[row] for row in rows]

    def search(self, name: str, limit: int | None = None, block: str = "") -> list[Candidate]:
        """Residents whose name matches, at or above the resident threshold, best first."""
        query = Query.of(name)
        if not query.words:
            return []
        ranked = self._rank(query, self._entries_near(query, normalize_block(block)))
        above = [candidate for candidate in ranked if candidate.score >= self.thresholds.resident]
        return above[: limit or self.thresholds.max_candidates]

    # --- resolve ----------------------------------------------------------

    def resolve(self, apartment_text: str, name: str, block: str = "") -> Resolution:
        number_key, block_key = (
            self.understand_apartment(apartment_text, block)
            if plain(apartment_text)
            else ("", normalize_block(block))
        )
        query = Query.of(name)
        if not number_key:
            return self._resolve_by_name(query, block_key)
        apartments = self.find_apartments(number_key, block_key)
        if not apartments:
            elsewhere = self._rank_by_name(query, block_key="")[: self.thresholds.max_candidates]
            return Resolution(NO_APARTMENT, candidates=tuple(elsewhere), normalized_apartment=number_key)
        if not query.words:
            listed = [Candidate(apt, resident, 0.0) for apt in apartments for resident in apt.residents]
            return Resolution(NO_RESIDENT, candidates=tuple(listed), normalized_apartment=number_key)
        ranked = self._rank(query, [entry for apt in apartments for entry in self._entries[id(apt)]])
        return self._decide(ranked, query, number_key, in_scope=apartments)

    def _rank_by_name(self, query: Query, block_key: str) -> list[Candidate]:
        if not query.words:
            return []
        ranked = self._rank(query, self._entries_near(query, block_key))
        return [candidate for candidate in ranked if candidate.score >= self.thresholds.resident]

    def _resolve_by_name(self, query: Query, block_key: str) -> Resolution:
        ranked = self._rank(query, self._entries_near(query, block_key)) if query.words else []
        return self._decide(ranked, query, "", in_scope=None)

    def _decide(
        self, ranked: list[Candidate], query: Query, number_key: str, in_scope: list[Apartment] | None
    ) -> Resolution:
        limits = self.thresholds
        if not ranked or ranked[0].score < limits.resident:
            candidates = ranked[:1]
            if in_scope is not None:
                # Right resident, wrong apartment: say where the name does match.
                scope = {id(apartment) for apartment in in_scope}
                elsewhere = [c for c in self._rank_by_name(query, "") if id(c.apartment) not in scope]
                candidates = sorted(
                    [*elsewhere[: limits.max_candidates - 1], *ranked[:1]], key=lambda c: -c.score
                )
            return Resolution(NO_RESIDENT, candidates=tuple(candidates), normalized_apartment=number_key)
        best = ranked[0]
        close = [
            c for c in ranked if c.score >= limits.resident and best.score - c.score < limits.ambiguity_margin
        ]
        if len({id(candidate.apartment) for candidate in close}) > 1:
            return Resolution(
                AMBIGUOUS, candidates=tuple(close[: limits.max_candidates]), normalized_apartment=number_key
            )
        # Close candidates in the same apartment share its destination: calling it is right.
        return Resolution(MATCH, match=best, normalized_apartment=number_key)
