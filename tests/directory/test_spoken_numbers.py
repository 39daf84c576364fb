"""The Portuguese spoken-number parser on its own (no server needed: a pure function)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from porteiro_common.ptbr import numbers
from porteiro_directory.spoken_numbers import find_apartment, normalize_block


@pytest.mark.parametrize(
    ("text", "number", "block"),
    [
        ("501", "501", ""),
        ("quinhentos e um", "501", ""),
        ("quinhentos um", "501", ""),
        ("cinco zero um", "501", ""),
        ("cinco meia dois", "562", ""),
        ("apto 501", "501", ""),
        ("apartamento 1.002", "1002", ""),
        ("mil e dois", "1002", ""),
        ("dois mil e vinte", "2020", ""),
        ("cento e um", "101", ""),
        ("cem", "100", ""),
        ("vinte e um", "21", ""),
        ("doze zero dois", "1202", ""),
        ("quinhentos e 1", "501", ""),
        ("5 0 1", "501", ""),
        ("nº 301", "301", ""),
        ("apartamento número quatrocentos e dois.", "402", ""),
        ("501b", "501B", ""),
        ("quatorze", "14", ""),
        ("catorze", "14", ""),
        ("bloco B apartamento 12", "12", "B"),
        ("bloco bê, cento e dois", "102", "B"),
        ("torre 2", "", "2"),
        ("torre dois, quinhentos e um", "501", "2"),
        ("é do 501 do bloco a", "501", "A"),
    ],
)
def test_numbers_and_blocks(text, number, block):
    parsed = find_apartment(text)
    assert parsed is not None
    assert (parsed.number, parsed.block) == (number, block)


@pytest.mark.parametrize(
    ("sentence", "number"),
    [
        ("é uma entrega para a Renata do quinhentos e um", "501"),
        ("tenho dois pacotes para o 302", "302"),
        ("tem meia dúzia de caixas pro 201", "201"),
        ("boa tarde, é uma visita, apartamento cinco zero um, o Daner", "501"),
        ("apto um", "1"),
    ],
)
def test_apartment_inside_a_whole_sentence(sentence, number):
    assert find_apartment(sentence).number == number


@pytest.mark.parametrize("sentence", ["é uma entrega", "meia hora atrás", "boa tarde", "", "???"])
def test_sentences_without_an_apartment(sentence):
    assert find_apartment(sentence) is None


def test_numbers_known_to_the_directory_win_over_others():
    sentence = "são dois volumes para o trezentos e um ou quatrocentos e um"
    assert find_apartment(sentence, exists=lambda number: number == "401").number == "401"
    assert find_apartment(sentence).number == "301"


def test_a_lone_um_is_one_when_the_text_is_the_apartment_field():
    assert find_apartment("um", sentence=False).number == "1"


@pytest.mark.parametrize(
    ("block", "key"),
    [("Bloco B", "B"), ("b", "B"), ("bê", "B"), ("torre dois", "2"), ("Torre 2", "2"), ("Torre Ipê", "IPE")],
)
def test_block_normalization(block, key):
    assert normalize_block(block) == key


@pytest.mark.parametrize(
    ("word", "value"), sorted({**numbers.UNITS, **numbers.TEENS, **numbers.TENS, **numbers.HUNDREDS}.items())
)
def test_every_word_of_the_shared_number_tables_is_read(word, value):
    assert find_apartment(word, sentence=False).number == str(value)


UNITS = ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"]


@given(st.lists(st.integers(0, 9), min_size=2, max_size=5))
def test_dictation_of_any_digits(digits):
    spoken = " ".join(UNITS[d] for d in digits).replace("seis", "meia")
    assert find_apartment(spoken).number == "".join(map(str, digits))


@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text):
    parsed = find_apartment(text)
    assert parsed is None or parsed.number or parsed.block


def test_absurdly_long_numbers_are_kept_verbatim():
    assert find_apartment("9" * 5000).number == "9" * 5000
    assert find_apartment("apto " + "um " * 2000).number == "1" * 2000
