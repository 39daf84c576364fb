"""Numbers written out the ways a caller says them: the inverse of the number tables.

`spoken_forms("501")` -> ["501", "quinhentos e um", "cinco zero um"]; with a six, the dictation
with "meia" too ("cinco meia dois"). The concierge's closed-set matcher compares what the
recogniser wrote against these forms, so an apartment said as words, dictated, or half-heard
still finds its number. Folded like `numbers` (no accents).
"""

from __future__ import annotations

from porteiro_common.ptbr.numbers import HUNDRED_EXACT, HUNDREDS, TEENS, TENS, THOUSAND, UNITS, ZERO

_UNIT_WORD = {value: word for word, value in UNITS.items() if word not in ("uma", "duas", "meia")}
_TEEN_WORD = {value: word for word, value in reversed(list(TEENS.items()))}
_TEN_WORD = {value: word for word, value in reversed(list(TENS.items()))}
_HUNDRED_WORD = {value: word for word, value in HUNDREDS.items() if word.endswith("os") or word == "cento"}
_DIGIT_WORD = {0: ZERO, **_UNIT_WORD}


def _below_hundred(value: int) -> list[str]:
    if value == 0:
        return []
    if value < 10:
        return [_UNIT_WORD[value]]
    if value < 20:
        return [_TEEN_WORD[value]]
    tens, units = divmod(value, 10)
    return [_TEN_WORD[tens * 10], *(["e", _UNIT_WORD[units]] if units else [])]


def _below_thousand(value: int) -> list[str]:
    if value == 100:
        return [HUNDRED_EXACT]
    hundreds, rest = divmod(value, 100)
    words = [_HUNDRED_WORD[hundreds * 100]] if hundreds else []
    tail = _below_hundred(rest)
    return [*words, *(["e"] if words and tail else []), *tail]


def number_words(value: int) -> str:
    """0-9999 as words: 501 -> "quinhentos e um", 1203 -> "mil duzentos e tres"."""
    if not 0 <= value < 10000:
        raise ValueError(f"out of range: {value}")
    if value == 0:
        return ZERO
    thousands, rest = divmod(value, 1000)
    words = [] if not thousands else ([THOUSAND] if thousands == 1 else [_UNIT_WORD[thousands], THOUSAND])
    tail = _below_thousand(rest)
    joiner = ["e"] if words and tail and (rest < 100 or rest % 100 == 0) else []
    return " ".join([*words, *joiner, *tail])


def dictation(digits: str) -> list[str]:
    """Digit by digit: "562" -> ["cinco seis dois", "cinco meia dois"]."""
    plain = " ".join(_DIGIT_WORD[int(digit)] for digit in digits)
    with_meia = " ".join("meia" if digit == "6" else _DIGIT_WORD[int(digit)] for digit in digits)
    return [plain] if with_meia == plain else [plain, with_meia]


def spoken_forms(number: str) -> list[str]:
    """An apartment number as written, in words and dictated (only digits are expanded)."""
    forms = [number]
    if number.isdigit() and len(number) <= 4:
        forms.append(number_words(int(number)))
        if len(number) > 1:
            forms += dictation(number)
    return list(dict.fromkeys(forms))
