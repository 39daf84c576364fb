"""The default extractor: pt-BR keywords and phrasings, no LLM.

Numbers ("quinhentos e um", "cinco zero dois") are understood by the
directory's ParseApartment; resident names are checked with its SearchByName.
A resident's name is found after a cue ("para a Renata", "da Renata", "vim ver
o Carlos") or, without one ("501, Renata", "Apartamento 501, Renata Oliveira"),
as a name-like run of words the directory knows (see `_resident_without_cue`).
When the directory is down it falls back to digits and to a cued name as heard,
and it never raises for any text.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from porteiro_common.ptbr import fold
from porteiro_common.ptbr.names import HONORIFICS, NAME_PARTICLES, NEVER_NAMES, VISITOR_NAME_CUES, Article
from porteiro_common.ptbr.numbers import NUMBER_WORDS
from porteiro_concierge.extraction.base import Extraction, Intent, Slots, Turn

log = logging.getLogger(__name__)

DELIVERY_PATTERN = re.compile(
    r"\b(entrega\w*|encomenda\w*|pacote\w*|i ?food|correios?|mercado ?livre|sedex|rappi|uber ?eats|loggi|"
    r"amazon|shopee|magalu|delivery|motoboy|pedido|carteir[oa]|jadlog|aliexpress|pizza|marmita)\b"
)
VISIT_PATTERN = re.compile(
    r"\b(visita\w*|vim ver|vim falar|vim encontrar|quero falar|queria falar|falar com|vim conversar|"
    r"sou (?:(?:o|a|um|uma) )?(?:amig[oa]|parente|filh[oa]|irma[oa]?|namorad[oa]|prim[oa]|convidad[oa])|convidad[oa]|"
    r"(?:amig[oa]|prim[oa]|irma[o]?|ti[oa]|filh[oa]|sobrinh[oa]|net[oa]|namorad[oa]|parente) d[aoe]|"
    r"vim buscar|marcad[oa] com)\b"
)
CORRECTION_PATTERN = re.compile(
    r"^(nao|nao nao|negativo)\b|\b(na verdade|quer dizer|corrigindo|errei|me enganei)\b"
)

_ARTICLE_PATTERNS = {Article.NEVER: "", Article.OPTIONAL: "(?: o| a)?", Article.REQUIRED: "(?: o| a)"}
VISITOR_NAME_CUE = re.compile(
    r"\b(?:"
    + "|".join(fold(cue.phrase) + _ARTICLE_PATTERNS[cue.article] for cue in VISITOR_NAME_CUES)
    + r")\s+"
)
# Sorted: a set's order changes from one process to the next, a pattern's should not.
HONORIFIC = "(?:" + "|".join(sorted(HONORIFICS)) + ")"
RESIDENT_CUES = re.compile(
    r"\b(?:(?:para|pra|pro)(?: a| o)?|(?:da|do)|morador(?:a)?(?: e| chamad[oa])?|"
    rf"(?:ver|visitar|falar com|procurando)(?: a| o)?|{HONORIFIC})\s+(?:{HONORIFIC}\s+)?"
)
CORRECTION_RESIDENT_CUE = re.compile(r"^(?:nao|na verdade)[, ]+e(?: a| o)?\s+")
FALLBACK_APARTMENT = re.compile(r"\b(?:apartamento|apto|ap)\s*(\d{1,5})\b|\b(\d{2,5})\b")

# Words that end a name ("sou o João DA entrega", "a Renata quinhentos e um": spoken numbers
# end a name too) or cannot start one.
NAME_STOPWORDS = (
    NUMBER_WORDS
    | NAME_PARTICLES
    | frozenset(
        "para pra pro com na no nas nos vim venho estou to tenho trouxe trazendo quero queria "
        "aqui entrega entregar encomenda pacote visita visitar apartamento apto ap morador moradora bloco "
        "torre que pois porque mas por favor ai la oi ola bom boa dia tarde noite tudo bem obrigado "
        "obrigada falando sim nao eh".split()
    )
)
MAX_NAME_WORDS = 3
# Name-like runs without a cue checked with the directory per sentence (one SearchByName each).
MAX_UNCUED_NAMES = 3


class NameDirectory(Protocol):
    async def parse_apartment(self, text: str): ...

    async def search_by_name(self, name: str, limit: int = 5): ...


def title_name(words: list[str]) -> str:
    return " ".join(word if word.isupper() and len(word) > 1 else word.capitalize() for word in words)


class _Words:
    """The sentence's words, original and folded, with positions in the folded text."""

    def __init__(self, sentence: str) -> None:
        # Whether the recogniser ended a sentence after each word ("Gerata Oliveira. Porta amor.",
        # whisper's "Renata Oliveira, por favor."): a name does not run on past it.
        self.original: list[str] = []
        self.ends_sentence: list[bool] = []
        for piece in re.split(r"[.!?]", sentence):
            words = re.findall(r"[\w']+", piece)
            self.original += words
            self.ends_sentence += [index == len(words) - 1 for index in range(len(words))]
        self.folded_words = [fold(word) for word in self.original]
        self.text = " ".join(self.folded_words)
        self.starts = []
        position = 0
        for word in self.folded_words:
            self.starts.append(position)
            position += len(word) + 1

    def name_after(self, offset: int) -> str | None:
        """The name phrase starting at character `offset` of `text`, if there is one."""
        if offset not in self.starts:
            return None
        index = self.starts.index(offset)
        words: list[str] = []
        for position in range(index, len(self.original)):
            original, folded = self.original[position], self.folded_words[position]
            if folded in NAME_STOPWORDS or folded.isdigit() or any(ch.isdigit() for ch in folded):
                break
            if folded in NEVER_NAMES:  # "sou a Maria, amiga da Renata": the name ends before "amiga"
                break
            words.append(original)
            if len(words) == MAX_NAME_WORDS or self.ends_sentence[position]:
                break
        return title_name(words) if words else None

    def name_runs(self) -> list[str]:
        """Every name-like run of words, wherever it is: "501, Renata Oliveira" -> ["Renata Oliveira"]."""
        runs: list[str] = []
        index = 0
        while index < len(self.folded_words):
            name = self.name_after(self.starts[index]) if len(self.folded_words[index]) > 1 else None
            if name:
                runs.append(name)
                index += len(name.split())
            else:
                index += 1
        return runs


def find_intent(folded: str) -> Intent | None:
    delivery = DELIVERY_PATTERN.search(folded)
    visit = VISIT_PATTERN.search(folded)
    if delivery and visit:  # "vim falar com ela sobre a entrega": the earlier mention wins
        return Intent.DELIVERY if delivery.start() < visit.start() else Intent.VISIT
    if delivery:
        return Intent.DELIVERY
    return Intent.VISIT if visit else None


def find_visitor_name(words: _Words) -> str | None:
    for match in VISITOR_NAME_CUE.finditer(words.text):
        name = words.name_after(match.end())
        if name:
            return name
    return None


def resident_phrases(words: _Words, correction: bool) -> list[str]:
    phrases: list[str] = []
    cues = list(RESIDENT_CUES.finditer(words.text))
    if correction:
        cues = [*CORRECTION_RESIDENT_CUE.finditer(words.text), *cues]
    for match in cues:
        name = words.name_after(match.end())
        if name and name not in phrases:
            phrases.append(name)
    return phrases


class DeterministicExtractor:
    name = "deterministic"

    def __init__(self, directory: NameDirectory) -> None:
        self._directory = directory

    async def extract(self, sentence: str, known: Slots, history: list[Turn]) -> Extraction:
        words = _Words(sentence or "")
        folded = words.text
        correction = bool(CORRECTION_PATTERN.search(folded))
        extraction = Extraction(intent=find_intent(folded), correction=correction, source=self.name)
        extraction.visitor_name = find_visitor_name(words)
        extraction.apartment = await self._apartment(sentence, folded)
        extraction.resident_name = await self._resident(words, correction, extraction.visitor_name)
        if extraction.resident_name is None:
            extraction.resident_name = await self._resident_without_cue(words, extraction, known)
        return extraction

    async def _apartment(self, sentence: str, folded: str) -> str | None:
        if not sentence.strip():
            return None
        try:
            parsed = await self._directory.parse_apartment(sentence)
        except Exception as error:  # directory down or refusing: digits still work
            log.info("parse_apartment unavailable, using digits", extra={"error": str(error)})
            match = FALLBACK_APARTMENT.search(folded)
            return (match.group(1) or match.group(2)) if match else None
        return parsed.apartment if parsed.found and parsed.apartment else None

    async def _resident(self, words: _Words, correction: bool, visitor_name: str | None) -> str | None:
        for phrase in resident_phrases(words, correction):
            if phrase == visitor_name:
                continue
            try:
                found = await self._directory.search_by_name(phrase, 3)
            except Exception as error:  # directory down: keep the name as heard, Resolve checks it later
                log.info("search_by_name unavailable", extra={"error": str(error)})
                return phrase
            if found.candidates:
                return phrase
        return None

    async def _resident_without_cue(self, words: _Words, extraction: Extraction, known: Slots) -> str | None:
        """A resident named with no cue word: "501, Renata", "Apartamento 501, Renata Oliveira".

        A bare name could be the visitor's own, so it is taken as the resident only
        when the directory knows it and either the visitor's name is already known
        or the resident lives in the apartment said in the same sentence.
        """
        visitor_known = bool(known.visitor_name or extraction.visitor_name)
        if not (visitor_known or extraction.apartment):
            return None
        visitor_names = {known.visitor_name, extraction.visitor_name}
        runs = [run for run in words.name_runs() if run not in visitor_names]
        for run in runs[:MAX_UNCUED_NAMES]:
            try:
                found = await self._directory.search_by_name(run, 5)
            except Exception as error:  # without the directory a bare word is too weak a clue
                log.info("search_by_name unavailable", extra={"error": str(error)})
                return None
            if found.candidates and (
                visitor_known
                or any(_same_apartment(c.apartment, extraction.apartment) for c in found.candidates)
            ):
                return run
        return None


def _same_apartment(first: str, second: str | None) -> bool:
    return second is not None and first.lstrip("0") == second.lstrip("0")


def bare_name(sentence: str) -> str | None:
    """A short answer that is only a name ("João", "é a Renata Oliveira"), title-cased."""
    if len(_Words(sentence or "").original) > MAX_NAME_WORDS + 3:
        return None
    return leading_name(sentence)


def leading_name(sentence: str) -> str | None:
    """The name an answer starts with, whatever follows: "é o Marcos entregador do Mercado Livre" -> Marcos.

    Only for an answer to a name question (the caller knows what was asked): leading words that
    are never names ("é o", "sim", "pode subir") are skipped, and a sentence of such words has none.
    """
    words = _Words(sentence or "")
    if not words.original:
        return None
    index = 0
    while index < len(words.folded_words) and words.folded_words[index] in NAME_STOPWORDS:
        index += 1
    if index == len(words.folded_words):
        return None
    return words.name_after(words.starts[index])
