"""Candidate phrases scored against the audio: the servicer's side with a scripted recogniser, and
the offline scorer's own helpers. The real model's scores are checked in test_whisper_acoustic.py."""

from __future__ import annotations

import pytest

from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from porteiro_speech.offline.phrase_scoring import (
    MARGIN_SECONDS,
    MAX_DECODES,
    MAX_PREFIXES,
    prefix_limit,
    prefixes,
    written_in,
)
from porteiro_speech.offline.window import fitted_window_frames
from tests.speech.conftest import transcribe, transcribe_messages
from tests.speech.fakes import ScriptedRecognizer
from tests.speech.test_transcribe import ONE_SECOND, start_with

NAMES = ["Roberto Nunes", "Roberto", "Lúcia Santos", "Lúcia"]


async def test_candidate_phrases_reach_the_backend_and_their_scores_come_back_in_order(start_speech):
    recognizer = ScriptedRecognizer("O Homem da Tour.")
    recognizer.phrase_scores = (("Roberto", 2.5), ("Lúcia", 0.25), ("Roberto Nunes", -0.5))
    speech = await start_with(start_speech, recognizer)
    response = await transcribe(speech.stub, transcribe_messages(ONE_SECOND, candidate_phrases=NAMES))
    assert recognizer.sessions[0].config.candidate_phrases == tuple(NAMES)
    assert [(item.phrase, item.score) for item in response.phrase_scores] == [
        ("Roberto", 2.5),
        ("Lúcia", 0.25),
        ("Roberto Nunes", -0.5),
    ]
    spans = [span for span in speech.spans.get_finished_spans() if span.name == "TRANSCRIPTION"]
    assert spans[-1].attributes["candidate_phrases"] == len(NAMES)
    assert spans[-1].attributes["best_phrases"] == "[redacted]"  # residents' names: personal data


async def test_the_span_names_the_best_phrases_when_personal_data_is_traced(start_speech):
    recognizer = ScriptedRecognizer("O Homem da Tour.")
    recognizer.phrase_scores = (
        ("Roberto", 2.5),
        ("Lúcia", 0.25),
        ("Roberto Nunes", -0.5),
        ("Lúcia Santos", -1),
    )
    speech = await start_speech(Backends(recognizer, EspeakSynthesizer()), trace_personal_data=True)
    await transcribe(speech.stub, transcribe_messages(ONE_SECOND, candidate_phrases=NAMES))
    (span,) = [span for span in speech.spans.get_finished_spans() if span.name == "TRANSCRIPTION"]
    assert span.attributes["best_phrases"] == "Roberto 2.5; Lúcia 0.2; Roberto Nunes -0.5"
    recognizer.phrase_scores = ()  # nothing scored: no attribute
    await transcribe(speech.stub, transcribe_messages(ONE_SECOND))
    spans = [span for span in speech.spans.get_finished_spans() if span.name == "TRANSCRIPTION"]
    assert "best_phrases" not in spans[-1].attributes


async def test_phrases_are_cleaned_once_each_up_to_the_limit_and_zero_scores_none(start_speech):
    recognizer = ScriptedRecognizer()
    speech = await start_with(start_speech, recognizer, max_candidate_phrases=3)
    await transcribe(
        speech.stub, transcribe_messages(ONE_SECOND, candidate_phrases=["  Roberto  Nunes ", *NAMES])
    )
    assert recognizer.sessions[0].config.candidate_phrases == ("Roberto Nunes", "Roberto", "Lúcia Santos")
    off = ScriptedRecognizer()
    speech = await start_with(start_speech, off, max_candidate_phrases=0)
    await transcribe(speech.stub, transcribe_messages(ONE_SECOND, candidate_phrases=NAMES))
    assert off.sessions[0].config.candidate_phrases == ()


async def test_without_candidates_the_response_has_no_scores(start_speech):
    speech = await start_with(start_speech, ScriptedRecognizer())
    response = await transcribe(speech.stub, transcribe_messages(ONE_SECOND))
    assert list(response.phrase_scores) == []


@pytest.mark.parametrize(
    ("transcript", "expected"),
    [
        ("É para o Homem.", ["", "É para o", "É", "É para"]),
        ("Fomeira.", [""]),
        ("", [""]),
        ("Oi, minita da Pau.", ["", "Oi minita da", "Oi", "Oi minita"]),
    ],
)
def test_a_phrase_is_scored_after_nothing_all_but_the_last_word_then_from_the_start(transcript, expected):
    assert prefixes(transcript) == expected


def test_a_long_transcript_keeps_all_but_its_last_word_and_its_first_boundaries():
    words = [f"w{index}" for index in range(20)]
    tried = prefixes(" ".join(words))
    assert len(tried) == MAX_PREFIXES
    assert tried[:4] == ["", " ".join(words[:-1]), "w0", "w0 w1"]


def test_many_phrases_share_the_decodes_and_keep_nothing_and_all_but_the_last_word():
    assert prefix_limit(6) == MAX_DECODES // 6 == 8  # the greeting's intent words
    assert prefix_limit(2) == MAX_PREFIXES  # twelve at most
    assert prefix_limit(19) == 2  # a small condominium's names: nothing and all but the last word
    assert prefix_limit(48) == 2  # as many names as are sent: the same
    assert prefixes("Quero falar com a Bruna Almeida", prefix_limit(37)) == ["", "Quero falar com a Bruna"]


@pytest.mark.parametrize(
    ("transcript", "written"),
    [
        ("Quero falar com o Roberto Nunes.", True),
        ("roberto nunes, por favor", True),  # case and punctuation do not matter
        ("Lucia Santos.", True),  # nor accents
        ("Roberto Nunesmann.", False),  # whole words, not pieces
        ("O Roberto.", False),  # one word may be the hints talking: scored
        ("O Homem da Tour.", False),
    ],
)
def test_a_transcript_holding_a_name_of_two_words_or_more_needs_no_scoring(transcript, written):
    assert written_in(transcript, ["Roberto Nunes", "Roberto", "Lúcia Santos"]) is written


@pytest.mark.parametrize(("audio_frames", "window"), [(150, 300), (200, 300), (201, 400), (2950, 3000)])
def test_the_scoring_window_is_the_utterance_and_a_second_in_whole_seconds(audio_frames, window):
    assert fitted_window_frames(audio_frames, MARGIN_SECONDS) == window
