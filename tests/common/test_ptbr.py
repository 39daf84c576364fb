"""The shared pt-BR text module: folding, number words, names and name cues."""

from __future__ import annotations

import pytest

from porteiro_common.ptbr import fold, plain, strip_accents
from porteiro_common.ptbr.names import (
    HONORIFICS,
    NAME_CUE_WORDS,
    NAME_PARTICLES,
    NEVER_NAMES,
    VISITOR_NAME_CUES,
    Article,
    NameCue,
    name_words,
)
from porteiro_common.ptbr.numbers import DIGIT_WORDS, HUNDREDS, NUMBER_WORDS, TEENS, TENS, UNITS


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Vinícius Ávila", "Vinicius Avila"), ("Não, É o 502", "Nao, E o 502"), ("ção", "cao"), ("", "")],
)
def test_strip_accents_keeps_case_and_punctuation(text, expected):
    assert strip_accents(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Não, É o 502", "nao, e o 502"),  # the concierge's old fold: punctuation kept
        ("D'Ávila", "d'avila"),
        ("JOÃO", "joao"),
        ("Straße", "strasse"),  # casefold, not lower
    ],
)
def test_fold_lowers_and_removes_accents_only(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dona RENATA d'Ávila!", "dona renata d avila"),  # the directory's old fold
        ("  apto. 501  ", "apto 501"),
        ("?!...", ""),
        ("Não, pode subir.", "nao pode subir"),  # the decision's old punctuation stripping
        ("1.002", "1 002"),
    ],
)
def test_plain_keeps_only_letters_and_digits_single_spaced(text, expected):
    assert plain(text) == expected


def test_number_words_keep_the_directory_spellings_and_the_concierge_list():
    # The concierge's own list before the shared module: every word still a number word.
    concierge_list = (
        "zero um uma dois duas tres quatro cinco seis meia sete oito nove dez onze doze treze catorze "
        "quatorze quinze dezesseis dezessete dezoito dezenove vinte trinta quarenta cinquenta sessenta "
        "setenta oitenta noventa cem cento duzentos trezentos quatrocentos quinhentos seiscentos "
        "setecentos oitocentos novecentos mil"
    ).split()
    assert set(concierge_list) <= NUMBER_WORDS
    # The directory's variant spellings and feminine hundreds (the concierge lacked them).
    assert {"dezasseis", "dezeseis", "dezassete", "dezanove", "cincoenta", "quinhentas"} <= NUMBER_WORDS


@pytest.mark.parametrize(
    ("word", "value"),
    [("meia", 6), ("seis", 6), ("uma", 1), ("duas", 2), ("tres", 3), ("zero", 0), ("nove", 9)],
)
def test_digit_words_for_dictation(word, value):
    assert DIGIT_WORDS[word] == value


def test_number_tables_values_fit_their_place():
    assert all(1 <= value <= 9 for value in UNITS.values())
    assert all(10 <= value <= 19 for value in TEENS.values())
    assert all(value % 10 == 0 and 20 <= value <= 90 for value in TENS.values())
    assert all(value % 100 == 0 and 100 <= value <= 900 for value in HUNDREDS.values())
    assert all(word == fold(word) for word in NUMBER_WORDS)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Dona Renata d'Ávila", ["renata", "avila"]),
        ("Daner dos Reis", ["daner", "reis"]),
        ("Sr. Carlos", ["carlos"]),
        ("a Profa. Ana Beatriz", ["ana", "beatriz"]),
        ("dona", []),
    ],
)
def test_name_words_drop_honorifics_and_particles(name, words):
    assert name_words(name) == words


def test_honorifics_hold_both_old_lists():
    # The concierge's resident cue honorifics and the directory's longer list.
    assert {"dona", "seu", "senhor", "senhora", "sr", "sra", "doutor", "doutora", "dr", "dra"} <= HONORIFICS
    assert {"dna", "srta", "senhorita", "professor", "professora", "prof", "profa"} <= HONORIFICS
    assert not HONORIFICS & NAME_PARTICLES


@pytest.mark.parametrize(
    ("cue", "forms"),
    [
        (NameCue("meu nome é", Article.NEVER), ["meu nome é"]),
        (NameCue("sou", Article.REQUIRED), ["sou o", "sou a"]),
        (NameCue("eu sou", Article.OPTIONAL), ["eu sou", "eu sou o", "eu sou a"]),
    ],
)
def test_cue_spoken_forms(cue, forms):
    assert cue.spoken_forms() == forms


def test_longer_cues_come_before_the_shorter_ones_they_contain():
    phrases = [cue.phrase for cue in VISITOR_NAME_CUES]
    for index, phrase in enumerate(phrases):
        assert not any(phrase in longer and phrase != longer for longer in phrases[index + 1 :]), phrase


def test_cue_words_and_fillers_are_never_names():
    assert {"sou", "meu", "nome", "chamo", "me", "fala", "minha"} <= NEVER_NAMES
    assert NAME_CUE_WORDS <= NEVER_NAMES
    assert {"entregador", "hein", "quem", "dona"} <= NEVER_NAMES
    assert not {"renata", "joao", "maria"} & NEVER_NAMES
