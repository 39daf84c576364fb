"""Numbers as Brazilians say them: pt-BR cardinal words and digit-by-digit dictation.

    cardinal(501)    -> "quinhentos e um"
    cardinal(1002)   -> "mil e dois"
    dictation("562") -> "cinco seis dois" (or "cinco meia dois" with six_as_meia)

The evaluation's callers say apartment numbers this way, and word error rates are
computed after digits are written as words, so "501" and "quinhentos e um" count alike.
"""

from __future__ import annotations

import re

UNITS = ("zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove")
TEENS = (
    "dez",
    "onze",
    "doze",
    "treze",
    "catorze",
    "quinze",
    "dezesseis",
    "dezessete",
    "dezoito",
    "dezenove",
)
TENS = ("", "", "vinte", "trinta", "quarenta", "cinquenta", "sessenta", "setenta", "oitenta", "noventa")
HUNDREDS = (
    "",
    "cento",
    "duzentos",
    "trezentos",
    "quatrocentos",
    "quinhentos",
    "seiscentos",
    "setecentos",
    "oitocentos",
    "novecentos",
)
LARGEST = 999_999


def cardinal(number: int) -> str:
    """The pt-BR words of 0..999 999 ("mil duzentos e trinta e quatro")."""
    if not 0 <= number <= LARGEST:
        raise ValueError(f"cardinal() covers 0..{LARGEST}, not {number}")
    if number == 0:
        return "zero"
    thousands, rest = divmod(number, 1000)
    if not thousands:
        return _below_thousand(rest)
    head = "mil" if thousands == 1 else f"{_below_thousand(thousands)} mil"
    if not rest:
        return head
    # "e" joins the last group when it is a single word group: "mil e dois", "mil e cem", "dois mil e trezentos".
    joiner = " e " if rest < 100 or rest % 100 == 0 else " "
    return head + joiner + _below_thousand(rest)


def _below_thousand(number: int) -> str:
    if number == 100:
        return "cem"
    hundreds, rest = divmod(number, 100)
    parts = [HUNDREDS[hundreds]] if hundreds else []
    if rest:
        parts.append(_below_hundred(rest))
    return " e ".join(parts)


def _below_hundred(number: int) -> str:
    if number < 10:
        return UNITS[number]
    if number < 20:
        return TEENS[number - 10]
    tens, unit = divmod(number, 10)
    return TENS[tens] if not unit else f"{TENS[tens]} e {UNITS[unit]}"


def dictation(digits: str, six_as_meia: bool = False) -> str:
    """Digit by digit, as numbers are dictated on the phone; non-digits are skipped."""
    words = [UNITS[int(char)] for char in digits if char.isdigit()]
    if six_as_meia:
        words = ["meia" if word == "seis" else word for word in words]
    return " ".join(words)


_DIGIT_RUN = re.compile(r"\d+")


def digits_as_words(text: str) -> str:
    """Every run of digits in `text` written as cardinal words ("apto 501" -> "apto quinhentos e um")."""

    def words(match: re.Match[str]) -> str:
        value = int(match.group())
        return cardinal(value) if value <= LARGEST else dictation(match.group())

    return _DIGIT_RUN.sub(words, text)
