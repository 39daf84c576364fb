"""pt-BR cardinals and dictation of the evaluation's callers, checked against the directory's own reader."""

import pytest

from porteiro_directory.spoken_numbers import find_apartment
from porteiro_sim.evaluation.numbers import cardinal, dictation, digits_as_words


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (1, "um"),
        (14, "catorze"),
        (21, "vinte e um"),
        (100, "cem"),
        (101, "cento e um"),
        (110, "cento e dez"),
        (501, "quinhentos e um"),
        (562, "quinhentos e sessenta e dois"),
        (1000, "mil"),
        (1002, "mil e dois"),
        (1100, "mil e cem"),
        (1101, "mil cento e um"),
        (1234, "mil duzentos e trinta e quatro"),
        (2300, "dois mil e trezentos"),
        (21000, "vinte e um mil"),
        (999_999, "novecentos e noventa e nove mil novecentos e noventa e nove"),
    ],
)
def test_cardinal_words(number, words):
    assert cardinal(number) == words


def test_cardinal_refuses_what_it_cannot_say():
    with pytest.raises(ValueError):
        cardinal(-1)
    with pytest.raises(ValueError):
        cardinal(1_000_000)


@pytest.mark.parametrize("number", [1, 7, 12, 20, 99, 101, 202, 301, 402, 501, 562, 999, 1002, 1202, 2045])
def test_the_directory_reads_back_what_the_caller_says(number):
    """Both spoken forms mean the number to the directory's parser (the system's own reading)."""
    for spoken in (cardinal(number), dictation(str(number)), dictation(str(number), six_as_meia=True)):
        parsed = find_apartment(f"apartamento {spoken}")
        assert parsed is not None and parsed.number == str(number), spoken


def test_dictation():
    assert dictation("501") == "cinco zero um"
    assert dictation("562", six_as_meia=True) == "cinco meia dois"
    assert dictation("1.002") == "um zero zero dois"


def test_digits_as_words():
    assert digits_as_words("Apto 501, bloco 2") == "Apto quinhentos e um, bloco dois"
    assert digits_as_words("sem números") == "sem números"
