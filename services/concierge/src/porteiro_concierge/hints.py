"""Recognition hints suited to each question the concierge asks.

Measured with faster-whisper base on espeak-ng pt-BR audio: hints that match the
expected answer help a lot ("É visita." went from 0/6 to 5/6 with the intent
phrases), while resident names in the hints pull short answers toward names. So
each question gets its own short list, and only questions about whom to call
carry the directory's vocabulary, and once the apartment is known only its own
residents. Whisper's initial prompt is small: every list is capped at
`MAX_HINT_CHARS`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from porteiro_common.ptbr.names import VISITOR_NAME_CUES
from porteiro_concierge.understanding import heard
from porteiro_concierge.understanding.sets import Answers, ResidentChoice, Understanding

log = logging.getLogger(__name__)

MAX_HINT_CHARS = 400
INTENT_HINTS = ("É uma entrega", "É uma visita", "entrega", "encomenda", "visita")
# The commonest ways of giving one's name: "Meu nome é", "Aqui é o", "Aqui é a", "Sou o", "Sou a".
NAME_ANSWER_HINTS = tuple(
    form[0].upper() + form[1:]
    for cue in VISITOR_NAME_CUES
    if cue.phrase in ("meu nome é", "aqui é", "sou")
    for form in cue.spoken_forms()
)
APARTMENT_WORD = "apartamento"
DECISION_HINTS = ("Sim, pode subir.", "Não.", "Não conheço.", "Deixa na portaria.")
# The directory changes rarely; a failed fetch is retried sooner.
VOCABULARY_TTL_SECONDS = 60.0
VOCABULARY_RETRY_SECONDS = 10.0


def capped(hints: Iterable[str], max_chars: int = MAX_HINT_CHARS) -> list[str]:
    """Distinct non-empty hints, in order, while they fit in `max_chars` (counting a separator each)."""
    kept: list[str] = []
    length = 0
    for hint in hints:
        hint = " ".join(hint.split())
        if not hint or hint in kept:
            continue
        length += len(hint) + 2
        if length > max_chars:
            break
        kept.append(hint)
    return kept


class Vocabulary:
    """The directory's apartment numbers and resident names, fetched at most once per TTL."""

    def __init__(self, directory, clock=time.monotonic) -> None:
        self.directory = directory
        self.clock = clock
        # The vocabulary's numbers and block names (hints: whisper should write "bloco B").
        self.apartments: list[str] = []
        # The apartments' own numbers, without block names: what an answer's number is read against.
        self.apartment_numbers: list[str] = []
        self.residents: list[str] = []
        # Apartment number -> its residents' names and aliases (every block's, when numbers repeat).
        self.residents_of: dict[str, list[str]] = {}
        # Each resident with their apartment and aliases (the closed-set matcher's residents).
        self.resident_choices: list[ResidentChoice] = []
        self._next_fetch = 0.0
        self._understanding: tuple[tuple[int, ...], Understanding] | None = None
        # The answers file the core asked with (the closed sets are prebuilt for it on a change).
        self._answers: Answers | None = None

    async def refresh(self) -> None:
        """Fetch the vocabulary when stale; on failure keep what is known (hints are only a help)."""
        if self.clock() < self._next_fetch:
            return
        try:
            vocabulary, listing = await asyncio.gather(
                self.directory.vocabulary(), self.directory.apartments()
            )
        except Exception as error:  # noqa: BLE001 - whatever went wrong, the call goes on without them
            log.warning("directory vocabulary unavailable", extra={"error": str(error)})
            self._next_fetch = self.clock() + VOCABULARY_RETRY_SECONDS
            return
        self._next_fetch = self.clock() + VOCABULARY_TTL_SECONDS
        apartments, choices = list(vocabulary.apartment_numbers), resident_choices(listing.apartments)
        numbers = apartment_numbers(listing.apartments)
        if (
            apartments == self.apartments
            and choices == self.resident_choices
            and numbers == self.apartment_numbers
        ):
            return  # unchanged: keep the same lists, so the closed sets are not rebuilt
        built = None
        if self._answers is not None:  # rebuild the closed sets off the event loop (a second for 10,000)
            built = await asyncio.to_thread(Understanding, self._answers, choices, numbers)
        # No await from here on: answers see the old lists and sets or the new ones, never a mix.
        self.apartments = apartments
        self.apartment_numbers = numbers
        self.residents = list(vocabulary.resident_names)
        self.residents_of = residents_by_apartment(listing.apartments)
        self.resident_choices = choices
        if built is not None and self._answers is not None:
            self._understanding = (self._fingerprint(self._answers), built)

    def for_question(self, question: str, apartment: str | None = None) -> list[str] | None:
        """Hints for the visitor's answer to `question`; None keeps the current ones.

        `apartment`, when known, narrows "who?" to that apartment's residents.
        """
        if question == "intent":
            return capped(INTENT_HINTS)
        if question == "visitor_name":
            return capped(NAME_ANSWER_HINTS)
        if question == "apartment":
            return capped([APARTMENT_WORD, *self.apartments])
        own = self.residents_of.get(apartment or "", [])
        if question == "resident_name":
            return capped(own or self.residents)
        if question == "apartment_and_resident":  # the apartment heard may be right: its residents first
            return capped([APARTMENT_WORD, *own, *self.apartments, *self.residents])
        return None

    def candidate_phrases(self, question: str, apartment: str | None = None) -> list[str]:
        """Phrases for speech to score against the answer's audio: the residents' names when asking
        whom to call by name (of `apartment` when known), none for other questions or when there
        are too many (understanding/heard.py)."""
        if question != "resident_name":
            return []
        return heard.candidate_phrases(self._choices(), apartment)

    def understanding(self, answers: Answers) -> Understanding:
        """The closed sets for the current vocabulary, rebuilt only when it changed.

        Built at the first answer that needs them, then by each refresh that finds the directory
        changed, in a thread (a refresh that fetches the same directory keeps the same lists):
        about 10 ms for the sample condominium, a second or more for 10,000 residents
        (bench/bench_matcher.py).
        """
        self._answers = answers
        fingerprint = self._fingerprint(answers)
        if self._understanding is None or self._understanding[0] != fingerprint:
            self._understanding = (fingerprint, Understanding(answers, self._choices(), self._numbers()))
        return self._understanding[1]

    def _choices(self) -> list[ResidentChoice]:
        """The residents, also from a vocabulary given as names per apartment only."""
        return self.resident_choices or [
            ResidentChoice(name, number) for number, names in self.residents_of.items() for name in names
        ]

    def _numbers(self) -> list[str]:
        """The apartments' numbers; from a vocabulary given as numbers only, those without block names.

        The vocabulary's list also holds the blocks' and towers' names (for the hints): read as
        apartments, the "2" of "torre dois" was a known apartment, asked for and not found (make
        eval, blocks, seed 61: "Não encontrei o apartamento 2", two turns lost).
        """
        if self.apartment_numbers:
            return self.apartment_numbers
        blocks = {choice.block for choice in self.resident_choices if choice.block}
        return [number for number in self.apartments if number not in blocks]

    def _fingerprint(self, answers: Answers) -> tuple[int, ...]:
        return (
            id(answers),
            id(self.resident_choices),
            id(self.residents_of),
            id(self.apartments),
            id(self.apartment_numbers),
        )


def resident_choices(apartments: Iterable) -> list[ResidentChoice]:
    """Every resident of directory Apartment messages, with apartment and aliases."""
    return [
        ResidentChoice(resident.name, apartment.number, tuple(resident.aliases), apartment.block)
        for apartment in apartments
        for resident in apartment.residents
    ]


def apartment_numbers(apartments: Iterable) -> list[str]:
    """The distinct apartment numbers of directory Apartment messages (a number in two blocks once)."""
    return list(dict.fromkeys(apartment.number for apartment in apartments))


def residents_by_apartment(apartments: Iterable) -> dict[str, list[str]]:
    """Apartment number -> names and aliases of its residents, from directory Apartment messages."""
    names: dict[str, dict[str, None]] = {}
    for apartment in apartments:
        known = names.setdefault(apartment.number, {})
        for resident in apartment.residents:
            known.update(dict.fromkeys([resident.name, *resident.aliases]))
    return {number: list(known) for number, known in names.items()}


def options_hints(names: Iterable[str], apartments: Iterable[str]) -> list[str]:
    """Hints for "which of these residents?": only the options offered."""
    return capped([*names, *apartments])


def decision_hints() -> list[str]:
    return capped(DECISION_HINTS)
