"""Apartment numbers and blocks as Brazilians say them, found inside free text.

Handles digits ("501", "1.002"), Portuguese number words ("quinhentos e um",
"mil e dois"), digit-by-digit dictation ("cinco zero um"), "meia" for six
("cinco meia dois" = 562) and mixtures ("quinhentos e 1", "5 0 1"), plus
"bloco B" / "torre 2" / "bloco bê". The number words themselves are
`porteiro_common.ptbr.numbers`.

How a run of number words becomes digits: words are added into one number
while each new word fills a smaller place value than the last one
("quinhentos" + "e" + "um" -> 501, "vinte um" -> 21); a word that cannot be
added starts a new group and the groups are written one after the other
("cinco" "zero" "um" -> "5" "0" "1" -> "501"; "doze zero dois" -> "1202").

In a whole sentence several runs may look like numbers ("é UMA entrega para o
QUINHENTOS E UM"): a lone "um"/"uma"/"meia" is an article unless a keyword
("apartamento", "apto", "número"...) precedes it, and runs after a keyword or a
preposition ("do", "no", "o") win. A caller may also favour numbers that exist
in its directory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from porteiro_common.ptbr import fold
from porteiro_common.ptbr.numbers import (
    HUNDRED_EXACT,
    HUNDREDS,
    NUMBER_WORDS,
    TEENS,
    TENS,
    THOUSAND,
    UNITS,
    ZERO,
)

APARTMENT_KEYWORDS = frozenset(
    {"apartamento", "apto", "apt", "ap", "ape", "unidade", "numero", "n", "no", "casa", "sala"}
)
# "no" is both "número" abbreviated (nº) and "em + o"; it counts as a preposition.
PREPOSITIONS = frozenset({"do", "da", "no", "na", "o", "a", "ao", "pro", "pra", "para", "pelo"})
STRONG_KEYWORDS = APARTMENT_KEYWORDS - PREPOSITIONS
BLOCK_KEYWORDS = frozenset({"bloco", "torre", "edificio", "predio"})
# Letters as spoken: "bloco bê" -> B. Only read right after a block keyword.
LETTER_NAMES = {
    "be": "B",
    "ce": "C",
    "de": "D",
    "efe": "F",
    "ge": "G",
    "aga": "H",
    "jota": "J",
    "ca": "K",
    "ele": "L",
    "eme": "M",
    "ene": "N",
    "pe": "P",
    "que": "Q",
    "erre": "R",
}
ARTICLE_ONLY = frozenset({"um", "uma", "meia"})
# Longer digit strings are kept verbatim, never turned into int (no huge-number work).
MAX_COMPOSED_DIGITS = 9

_TOKEN = re.compile(r"\d{1,3}(?:\.\d{3})+(?!\d)|\d+(?:[a-z](?![a-z]))?|[a-z]+|[^\sa-z\d]")


@dataclass(frozen=True)
class Token:
    text: str
    kind: str  # "digits", "word" or "punct"


def tokenize(text: str) -> list[Token]:
    tokens = []
    for raw in _TOKEN.findall(fold(text)):
        if raw[0].isdigit():
            tokens.append(Token(raw.replace(".", ""), "digits"))
        elif raw.isalpha():
            tokens.append(Token(raw, "word"))
        else:
            tokens.append(Token(raw, "punct"))
    return tokens


def is_number(token: Token) -> bool:
    return token.kind == "digits" or token.text in NUMBER_WORDS


@dataclass
class _Group:
    """One number being built: its value and the smallest place value already filled."""

    value: int
    floor: int  # 0 units, 1 tens, 2 hundreds, 3 thousands
    closed: bool = False
    text: str | None = None  # verbatim digits, for "05" or "501b"

    def render(self) -> str:
        return self.text if self.text is not None else str(self.value)


def _word_group(token: Token) -> tuple[_Group, int] | None:
    """The group a single token makes and the highest place value it fills."""
    word = token.text
    if token.kind == "digits":
        digits, suffix = (word[:-1], word[-1]) if word[-1].isalpha() else (word, "")
        if suffix or (len(digits) > 1 and digits[0] == "0") or len(digits) > MAX_COMPOSED_DIGITS:
            return _Group(0, 0, closed=True, text=digits + suffix.upper()), len(digits) - 1
        value = int(digits)
        if value == 0:
            return _Group(0, 0, closed=True), 0
        floor = len(digits) - len(digits.rstrip("0"))
        return _Group(value, floor), len(digits) - 1
    if word == ZERO:
        return _Group(0, 0, closed=True), 0
    if word in UNITS:
        return _Group(UNITS[word], 0), 0
    if word in TEENS:
        return _Group(TEENS[word], 0), 1
    if word in TENS:
        return _Group(TENS[word], 1), 1
    if word in HUNDREDS:
        return _Group(HUNDREDS[word], 2), 2
    if word == HUNDRED_EXACT:
        return _Group(100, 0), 2
    return None


def _try_add(group: _Group, token: Token) -> bool:
    """Add `token` into `group` when it fills a smaller place value; False if it cannot."""
    if group.closed:
        return False
    if token.text == THOUSAND:
        if group.value >= 1000:
            return False
        group.value, group.floor = group.value * 1000, 3
        return True
    made = _word_group(token)
    if made is None:
        return False
    addition, top = made
    if addition.closed or top >= group.floor:
        return False
    group.value += addition.value
    group.floor = addition.floor
    return True


def _start_group(token: Token) -> _Group:
    if token.text == THOUSAND:
        return _Group(1000, 3)
    made = _word_group(token)
    assert made is not None
    return made[0]


def read_number_run(tokens: list[Token], start: int, single_group: bool = False) -> tuple[str, int]:
    """Read the number starting at `tokens[start]`; returns its digits and the index after it."""
    groups = [_start_group(tokens[start])]
    index = start + 1
    while index < len(tokens):
        token = tokens[index]
        connector = token.text == "e" and index + 1 < len(tokens) and is_number(tokens[index + 1])
        candidate = tokens[index + 1] if connector else token
        if not is_number(candidate):
            break
        if _try_add(groups[-1], candidate):
            index += 2 if connector else 1
            continue
        if connector or single_group:
            break  # "cinco e um" are two numbers; a block is one group
        groups.append(_start_group(candidate))
        index += 1
    return "".join(group.render() for group in groups), index


def _read_block(tokens: list[Token], start: int) -> tuple[str, int] | None:
    """The block named at `tokens[start]` (right after "bloco"/"torre"), if any."""
    index = start
    while index < len(tokens) and tokens[index].kind == "punct":
        index += 1
    if index >= len(tokens):
        return None
    token = tokens[index]
    if is_number(token):
        return read_number_run(tokens, index, single_group=True)
    if token.kind == "word" and len(token.text) == 1:
        return token.text.upper(), index + 1
    if token.text in LETTER_NAMES:
        return LETTER_NAMES[token.text], index + 1
    return None


@dataclass(frozen=True)
class NumberRun:
    digits: str
    start: int
    after_keyword: bool
    after_preposition: bool
    lone_article: bool  # a lone "um", "uma" or "meia": usually not a number


@dataclass(frozen=True)
class ParsedApartment:
    number: str  # "" when the text names only a block
    block: str  # "" when the text names no block


def _context(tokens: list[Token], start: int) -> tuple[bool, bool]:
    """Whether an apartment keyword / a preposition comes just before `start`."""
    previous = [token.text for token in tokens[max(0, start - 3) : start] if token.kind != "punct"][-2:]
    keyword = any(word in STRONG_KEYWORDS for word in previous)
    preposition = bool(previous) and previous[-1] in PREPOSITIONS
    return keyword, preposition


def scan(text: str) -> tuple[list[NumberRun], list[str]]:
    """Every number run and every block named in `text`, in order."""
    tokens = tokenize(text)
    runs: list[NumberRun] = []
    blocks: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.text in BLOCK_KEYWORDS:
            block = _read_block(tokens, index + 1)
            if block is not None:
                blocks.append(block[0])
                index = block[1]
                continue
        if is_number(token):
            digits, after = read_number_run(tokens, index)
            lone_article = after == index + 1 and token.text in ARTICLE_ONLY
            keyword, preposition = _context(tokens, index)
            runs.append(NumberRun(digits, index, keyword, preposition, lone_article))
            index = after
            continue
        index += 1
    return runs, blocks


def _rank(run: NumberRun, exists: Callable[[str], bool] | None) -> int:
    rank = 4 if run.after_keyword else (1 if run.after_preposition else 0)
    if exists is not None and exists(run.digits):
        rank += 2
    if len(run.digits) >= 2:
        rank += 1
    return rank


def find_apartment(
    text: str, exists: Callable[[str], bool] | None = None, sentence: bool = True
) -> ParsedApartment | None:
    """The apartment number (and block) `text` most likely names, or None.

    `exists`, when given, tells whether a number is in the directory; such
    numbers are preferred over other numbers in the sentence. With
    `sentence=False` the text is an apartment field, where a lone "um" is 1.
    """
    runs, blocks = scan(text)
    usable = [run for run in runs if run.after_keyword or not run.lone_article or not sentence]
    block = blocks[0] if blocks else ""
    if not usable:
        return ParsedApartment("", block) if block else None
    best = max(usable, key=lambda run: (_rank(run, exists), -run.start))
    return ParsedApartment(best.digits, block)


# Cached: a condominium's data has a handful of blocks in hundreds of entries, and a
# thousand condominiums load in one process.
@lru_cache(maxsize=4096)
def normalize_block(text: str) -> str:
    """A block as written in data or requests ("Bloco B", "torre dois", "b") -> "B" / "2"."""
    tokens = [token for token in tokenize(text) if token.kind != "punct"]
    if tokens and tokens[0].text in BLOCK_KEYWORDS:
        tokens = tokens[1:]
    if not tokens:
        return ""
    if len(tokens) == 1 and tokens[0].text in LETTER_NAMES:
        return LETTER_NAMES[tokens[0].text]
    if is_number(tokens[0]):
        digits, after = read_number_run(tokens, 0, single_group=True)
        if after == len(tokens):
            return digits
    return "".join(token.text for token in tokens).upper()
