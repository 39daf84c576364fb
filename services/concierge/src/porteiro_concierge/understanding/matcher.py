"""Closed-set matching: which of the answers a question admits a transcript most resembles.

A `ClosedSet` holds choices (a value and the phrasings, "forms", that mean it: a resident's
full name, first name and aliases; an apartment number as digits, words and dictation; the
intent words). `interpret(transcript)` scores every choice and returns them best first, each
with a confidence in 0..1.

How a transcript is scored against a form, word by word (order is not required: "Oliveira,
Renata" is fine):
- each word of the transcript (and each pair of neighbours glued, for words the recogniser
  split: "Oli veira") is compared with each word of the form by `fuzz.ratio` on the plain
  spelling and on the pt-BR phonetic key (`porteiro_common.ptbr.phonetic`, slightly
  discounted), the better of the two;
- a form's score is the mean of its words' best similarities weighted by word length (a short
  "e" in "quinhentos e um" counts little);
- for the few best forms, that word score is averaged with a sequence score, the form against
  the transcript in order (`fuzz.partial_ratio` when the form is the shorter, spelling or key):
  "cinco zero um" is 501, not 101, though both have the words "zero" and "um";
- the confidence is that mean, less up to `coverage_share` (15%) for transcript words the form does not explain
  (so "Renata Oliveira" prefers the Renata Oliveira to another Renata).
Words the recogniser merged ("renataoliveira") are caught by the sequence score, which also
compares form and transcript without spaces.

Everything about the forms is computed once (`ClosedSet.__init__`): distinct words and their
keys, a padded matrix of each form's word ids, and which forms hold each word. A transcript
costs two rapidfuzz `cdist` calls against the distinct words, then only the forms holding a word
it resembles are scored (numpy), and only the best few get the sequence and coverage scores:
well under a millisecond for a condominium, a few for 10,000 residents (bench/bench_matcher.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz, process

from porteiro_common.ptbr import plain
from porteiro_common.ptbr.phonetic import phonetic_key

# A phonetic match is worth a little less than the same spelling.
PHONETIC_WEIGHT = 0.95
# Word similarities below this count as no match at all.
WORD_CUTOFF = 60.0
# A transcript word at least this similar to one of a form's words is explained by the form.
EXPLAINED_SIMILARITY = 70.0
# Share of the confidence that depends on explaining every word of the transcript (by default;
# names use more: "Renata Oliveira" must not be nearly as good a reading of Carlos Oliveira).
COVERAGE_SHARE = 0.15
# Candidates returned by `interpret`.
DEFAULT_LIMIT = 5


@dataclass(frozen=True)
class Interpretation:
    """One reading of a transcript: the choice's value, how sure, and the form that matched."""

    value: str
    confidence: float
    form: str


@dataclass(frozen=True)
class Choice:
    value: str
    forms: tuple[str, ...]


class ClosedSet:
    """The answers one question admits; `interpret` reads a transcript against them."""

    def __init__(
        self,
        choices: Iterable[Choice],
        ignore: Iterable[str] = (),
        coverage_share: float = COVERAGE_SHARE,
        ordered: bool = True,
    ) -> None:
        self.choices = list(choices)
        self.coverage_share = coverage_share
        # False for names ("Oliveira, Renata"); numbers and phrases keep their order.
        self.ordered = ordered
        # Transcript words that never answer (articles, fillers): left out before scoring.
        self.ignore = frozenset(plain(word) for word in ignore)
        words: dict[str, int] = {}
        form_words: list[list[int]] = []
        self._form_text: list[str] = []
        self._form_choice: list[int] = []
        for index, choice in enumerate(self.choices):
            for form in dict.fromkeys(plain(form) for form in choice.forms if plain(form)):
                ids = [words.setdefault(word, len(words)) for word in form.split()]
                if ids:
                    form_words.append(ids)
                    self._form_text.append(form)
                    self._form_choice.append(index)
        self._words = list(words)
        self._keys = [phonetic_key(word) for word in self._words]
        width = max((len(ids) for ids in form_words), default=1)
        # Padded with a sentinel word id (len(words)) whose similarity is always 0 and weight 0.
        self._ids = np.full((len(form_words), width), len(self._words), dtype=np.int32)
        weights = np.zeros((len(form_words), width), dtype=np.float32)
        lengths = np.array([len(word) for word in self._words] + [0], dtype=np.float32)
        for row, ids in enumerate(form_words):
            self._ids[row, : len(ids)] = ids
            weights[row, : len(ids)] = lengths[ids]
        self._weights = weights
        self._weight_sums = np.maximum(weights.sum(axis=1), 1.0)
        self._form_choice_array = np.array(self._form_choice, dtype=np.int32)
        # Word id -> the forms that hold it (only those forms are scored for a transcript).
        holders: list[list[int]] = [[] for _ in self._words]
        for row, ids in enumerate(form_words):
            for word in set(ids):
                holders[word].append(row)
        self._forms_of = [np.array(rows, dtype=np.int32) for rows in holders]

    def __len__(self) -> int:
        return len(self.choices)

    def interpret(
        self, transcript: str, exclude: Iterable[str] = (), limit: int = DEFAULT_LIMIT
    ) -> list[Interpretation]:
        """The choices `transcript` may mean, best first, at most one per value (`exclude`d left out)."""
        tokens = [word for word in plain(transcript).split() if word not in self.ignore]
        if not tokens or not self._words:
            return []
        similarity = self._similarity(_with_glued_pairs(tokens))  # tokens x words
        best_per_word = np.append(similarity.max(axis=0), np.float32(0.0))
        hit = np.flatnonzero(best_per_word[:-1])
        if not len(hit):
            return []
        held = np.zeros(len(self._form_text), dtype=bool)  # a mask: cheaper than np.unique
        held[np.concatenate([self._forms_of[word] for word in hit])] = True
        forms = np.flatnonzero(held)
        sums = self._weight_sums[forms]
        scores = (best_per_word[self._ids[forms]] * self._weights[forms]).sum(axis=1) / sums
        # The shortlist's order: a form much shorter than what was said explains less of it
        # ("ferreira" must not crowd "beatriz dias ferreira" out when the whole name was said).
        said_length = float(sum(len(token) for token in tokens))
        rank = scores * (1.0 - self.coverage_share * (1.0 - np.minimum(sums, said_length) / said_length))
        return self._best_choices(
            forms, scores, rank, similarity[: len(tokens)], tokens, frozenset(exclude), limit
        )

    def _similarity(self, tokens: Sequence[str]) -> np.ndarray:
        spelled = process.cdist(tokens, self._words, scorer=fuzz.ratio, dtype=np.float32, workers=1)
        keys = [phonetic_key(token) for token in tokens]
        sounded = process.cdist(keys, self._keys, scorer=fuzz.ratio, dtype=np.float32, workers=1)
        similarity = np.maximum(spelled, sounded * np.float32(PHONETIC_WEIGHT))
        similarity[similarity < WORD_CUTOFF] = 0.0
        return similarity

    def _best_choices(
        self,
        forms: np.ndarray,
        scores: np.ndarray,
        rank: np.ndarray,
        token_similarity: np.ndarray,
        tokens: list[str],
        exclude: frozenset[str],
        limit: int,
    ) -> list[Interpretation]:
        """Best form per choice, then the coverage adjustment on the few that can still win."""
        shortlist = max(limit * 3, 15)
        if len(rank) > shortlist:  # the top forms in linear time, then sorted: a full sort is the cost
            top = np.argpartition(-rank, shortlist - 1)[:shortlist]
            order = top[np.argsort(-rank[top], kind="stable")]
        else:
            order = np.argsort(-rank, kind="stable")
        said = " ".join(tokens)
        coverage = self._coverage(forms[order], token_similarity, tokens)
        best: dict[int, Interpretation] = {}
        # A choice's best-scoring word form may lose to its fuller form once order and coverage count.
        for rank_index, position in enumerate(order):
            if scores[position] <= 0:
                break
            form = int(forms[position])
            choice = int(self._form_choice_array[form])
            if self.choices[choice].value in exclude:
                continue
            text = self._form_text[form]
            confidence = round(
                (float(scores[position]) + _in_order(text, said, self.ordered))
                / 200
                * float(coverage[rank_index]),
                3,
            )
            if choice not in best or confidence > best[choice].confidence:
                best[choice] = Interpretation(self.choices[choice].value, confidence, text)
        return sorted(best.values(), key=lambda reading: -reading.confidence)[:limit]

    def _coverage(self, forms: np.ndarray, token_similarity: np.ndarray, tokens: list[str]) -> np.ndarray:
        """Per form: 1 - coverage_share x the share of the transcript's letters it leaves unexplained."""
        padded = np.hstack([token_similarity, np.zeros((len(tokens), 1), dtype=token_similarity.dtype)])
        explained = padded[:, self._ids[forms]].max(axis=2) >= EXPLAINED_SIMILARITY  # tokens x forms
        lengths = np.array([len(token) for token in tokens], dtype=np.float32)
        covered = (lengths[:, None] * explained).sum(axis=0) / lengths.sum()
        return 1.0 - self.coverage_share * (1.0 - covered)


def _in_order(form: str, said: str, ordered: bool = True) -> float:
    """How well `said` holds `form` in order (0-100): spelling, or the phonetic key discounted.

    The form is compared with every run of whole words of `said` of about its length (never
    inside a word: "ana" is not in "mariana"), and without spaces (merged or split words).
    Unordered (names): word order does not count (`token_sort_ratio` as well).
    """

    def score(first: str, second: str) -> float:
        windows = _word_windows(second, len(first.split()))
        value = max(
            float(process.extractOne(first, windows, scorer=fuzz.ratio)[1]),
            float(fuzz.ratio(first.replace(" ", ""), second.replace(" ", ""))),
        )
        return value if ordered else max(value, float(fuzz.token_sort_ratio(first, second)))

    return max(score(form, said), PHONETIC_WEIGHT * score(phonetic_key(form), phonetic_key(said)))


@lru_cache(maxsize=4096)
def _word_windows(text: str, size: int) -> list[str]:
    """Runs of `size` - 1 to `size` + 1 consecutive words of `text` (the whole text when shorter)."""
    words = text.split()
    windows = [
        " ".join(words[start : start + length])
        for length in range(max(1, size - 1), size + 2)
        for start in range(0, max(1, len(words) - length + 1))
    ]
    return windows or [text]


def _with_glued_pairs(tokens: list[str]) -> list[str]:
    """The tokens, then each neighbour pair glued (for a word the recogniser split in two)."""
    return [*tokens, *(first + second for first, second in zip(tokens, tokens[1:], strict=False))]
