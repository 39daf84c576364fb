"""The default extractor: pt-BR keywords and phrasings, no LLM.

Numbers ("quinhentos e um", "cinco zero dois") are understood by the
directory's ParseApartment; resident names are checked with its SearchByName.
When the directory is down it falls back to digits and to the name as heard,
and it never raises for any text.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Protocol

from porteiro_concierge.extraction.base import Extraction, Intent, Slots, Turn

log = logging.getLogger(__name__)

DELIVERY_PATTERN = re.compile(
    r"\b(entrega\w*|encomenda\w*|pacote\w*|i ?food|correios?|mercado ?livre|sedex|rappi|uber ?eats|loggi|"
    r"amazon|shopee|magalu|delivery|motoboy|pedido|carteir[oa]|jadlog|aliexpress|pizza|marmita)\b"
)
VISIT_PATTERN = re.compile(
    r"\b(visita\w*|vim ver|vim falar|vim encontrar|quero falar|queria falar|falar com|vim conversar|"
    r"sou (?:amig[oa]|parente|filh[oa]|irma[oa]?|namorad[oa]|prim[oa]|convidad[oa])|convidad[oa]|"
    r"vim buscar|marcad[oa] com)\b"
)
CORRECTION_PATTERN = re.compile(r"^(nao|nao nao|negativo)\b|\b(na verdade|quer dizer|corrigindo|errei|me enganei)\b")

VISITOR_NAME_CUES = re.compile(
    r"\b(?:o meu nome e|meu nome e|me chamo|aqui quem fala e(?: o| a)?|quem fala e(?: o| a)?|aqui e(?: o| a)|"
    r"eu sou(?: o| a)?|sou(?: o| a))\s+"
)
HONORIFICS = r"(?:dona|seu|senhor|senhora|sr|sra|doutor|doutora|dr|dra)"
RESIDENT_CUES = re.compile(
    r"\b(?:(?:para|pra|pro)(?: a| o)?|(?:da|do)|morador(?:a)?(?: e| chamad[oa])?|"
    rf"(?:ver|visitar|falar com|procurando)(?: a| o)?|{HONORIFICS})\s+(?:{HONORIFICS}\s+)?"
)
CORRECTION_RESIDENT_CUE = re.compile(r"^(?:nao|na verdade)[, ]+e(?: a| o)?\s+")
FALLBACK_APARTMENT = re.compile(r"\b(?:apartamento|apto|ap)\s*(\d{1,5})\b|\b(\d{2,5})\b")

# Words that end a name ("sou o João DA entrega") or cannot start one.
NAME_STOPWORDS = frozenset(
    "e da do de das dos para pra pro com na no nas nos vim venho estou to tenho trouxe trazendo quero queria "
    "aqui entrega entregar encomenda pacote visita visitar apartamento apto ap morador moradora bloco torre "
    "que pois porque mas por favor ai la oi ola bom boa dia tarde noite tudo bem obrigado obrigada "
    "falando sim nao e eh um uma o a os as".split()
)
NOT_A_NAME = frozenset(
    "entregador entregadora motoboy motorista visitante porteiro porteira amigo amiga cara rapaz moco moca "
    "funcionario funcionaria tecnico tecnica carteiro carteira prestador ifood correios mercado livre sedex "
    "rappi loggi amazon shopee magalu delivery pedido portaria eu ele ela voce senhor senhora dona seu "
    "apartamento entrega encomenda visita pizza".split()
)
MAX_NAME_WORDS = 3


class NameDirectory(Protocol):
    async def parse_apartment(self, text: str): ...

    async def search_by_name(self, name: str, limit: int = 5): ...


def fold(text: str) -> str:
    """Lowercase without accents: 'Não, É o 502' -> 'nao, e o 502'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def title_name(words: list[str]) -> str:
    return " ".join(word if word.isupper() and len(word) > 1 else word.capitalize() for word in words)


class _Words:
    """The sentence's words, original and folded, with positions in the folded text."""

    def __init__(self, sentence: str) -> None:
        self.original = re.findall(r"[\w']+", sentence)
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
        for original, folded in zip(self.original[index:], self.folded_words[index:], strict=False):
            if folded in NAME_STOPWORDS or folded.isdigit() or any(ch.isdigit() for ch in folded):
                break
            if not words and folded in NOT_A_NAME:
                return None
            words.append(original)
            if len(words) == MAX_NAME_WORDS:
                break
        return title_name(words) if words else None


def find_intent(folded: str) -> Intent | None:
    delivery = DELIVERY_PATTERN.search(folded)
    visit = VISIT_PATTERN.search(folded)
    if delivery and visit:  # "vim falar com ela sobre a entrega": the earlier mention wins
        return Intent.DELIVERY if delivery.start() < visit.start() else Intent.VISIT
    if delivery:
        return Intent.DELIVERY
    return Intent.VISIT if visit else None


def find_visitor_name(words: _Words) -> str | None:
    for match in VISITOR_NAME_CUES.finditer(words.text):
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


def bare_name(sentence: str) -> str | None:
    """A short answer that is only a name ("João", "é a Renata Oliveira"), title-cased."""
    words = _Words(sentence or "")
    if not words.original or len(words.original) > MAX_NAME_WORDS + 3:
        return None
    index = 0
    while index < len(words.folded_words) and words.folded_words[index] in NAME_STOPWORDS:
        index += 1
    if index == len(words.folded_words):
        return None
    return words.name_after(words.starts[index])
