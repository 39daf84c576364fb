"""The greeting's intent word, taken from the recogniser's own scores when the transcript garbles it.

With "Em que posso ajudar?" the concierge sends the answers file's `intent_words` as candidate
phrases; the speech service scores each at every word boundary of the answer
(Utterance.phrase_scores). A meaning whose best word leads the other's by `INTENT_HEARD_LEAD`
becomes the guess asked with whom to call ("É uma visita para Lucas Martins, do 302?"), never
an intent taken as said. Transcripts are the kind make eval gave (seed 51: "Eu sou visita."
heard "Eu tô limita.", leaning to a delivery by its text).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from porteiro_concierge.core.events import Utterance
from porteiro_concierge.extraction.base import Extraction
from porteiro_concierge.session import VISITOR
from porteiro_concierge.understanding.heard import INTENT_HEARD_LEAD, heard_intent, intent_phrases
from porteiro_concierge.understanding.sets import DEFAULT_ANSWERS_FILE, Answers
from tests.concierge.core_harness import LUCAS, CallHarness

SCRIPT = {
    "Meu nome é João.": Extraction(visitor_name="João"),
    "Lucas Martins.": Extraction(resident_name="Lucas Martins"),
}
GARBLED = "Oi, eu tô limita."  # "Oi, eu sou visita.": its text leans to a delivery ("ifood")
VISIT_HEARD = (("visitar", 3.1), ("visita", 2.5), ("entrega", 0.9), ("encomenda", 0.2))
CLOSE_CALL = (("visita", 1.2), ("entrega", 0.9))
WORDS = {"delivery": ["entrega", "encomenda", "pacote", "pedido"], "visit": ["visita", "visitar"]}
# The answers file with `intent_words` (off in the shipped file: see its comment).
WITH_WORDS = replace(Answers.load(), intent_words=WORDS)


def contexts(harness: CallHarness) -> list:
    return [action.recognition for action in harness.heard[VISITOR] if action.HasField("recognition")]


async def greeted_with(harness: CallHarness, scores: tuple[tuple[str, float], ...]) -> None:
    await harness.start_visitor()
    await harness.send(Utterance(VISITOR, GARBLED, phrase_scores=scores))
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Lucas Martins.")


def test_the_intent_words_are_the_answers_files_each_of_one_meaning() -> None:
    assert set(intent_phrases(WORDS)) == {"entrega", "encomenda", "pacote", "pedido", "visita", "visitar"}
    assert intent_phrases({"delivery": ["entrega", "pedido"], "visit": ["pedido", "visita"]}) == [
        "entrega",
        "visita",
    ]  # a word of both meanings tells neither


async def test_the_greeting_sends_the_intent_words_and_the_visitors_name_none() -> None:
    harness = CallHarness(SCRIPT, WITH_WORDS, whom_question="resident")
    await harness.start_visitor()
    assert sorted(contexts(harness)[-1].candidate_phrases) == sorted(intent_phrases(WORDS))
    await harness.send(Utterance(VISITOR, GARBLED))
    assert harness.last_said(VISITOR) == "Qual é o seu nome, por favor?"
    assert list(contexts(harness)[-1].candidate_phrases) == []


async def test_a_garbled_greeting_whose_scores_say_visit_is_asked_as_a_visit() -> None:
    harness = CallHarness(SCRIPT, WITH_WORDS, whom_question="resident")
    await greeted_with(harness, VISIT_HEARD)
    assert harness.last_said(VISITOR) == "É uma visita para Lucas Martins, do 302?"
    assert harness.dialer.attempts == []  # a guess: nobody is called before the yes
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(LUCAS.destination, 1)]


async def test_without_scores_or_with_a_close_call_the_texts_lean_stands() -> None:
    for scores in ((), CLOSE_CALL):
        harness = CallHarness(SCRIPT, WITH_WORDS, whom_question="resident")
        await greeted_with(harness, scores)
        assert harness.last_said(VISITOR) == "É uma entrega para Lucas Martins, do 302?"


async def test_a_greeting_read_strongly_is_not_overridden_by_the_scores() -> None:
    harness = CallHarness(SCRIPT, WITH_WORDS, whom_question="resident")
    await harness.start_visitor()
    await harness.send(Utterance(VISITOR, "É uma entrega.", phrase_scores=VISIT_HEARD))
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Lucas Martins.")
    # The intent was taken as said: the confirmation asks whom only.
    assert harness.last_said(VISITOR) == "Lucas Martins, do 302?"


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        (VISIT_HEARD, "visit"),
        ((("encomenda", 2.0), ("entrega", 1.8), ("amigo", 0.5)), "delivery"),
        (CLOSE_CALL, None),  # lead 0.3
        ((("visita", 0.4),), None),  # alone, but not INTENT_HEARD_LEAD above silence
        ((("visita", -0.5), ("entrega", -2.0)), None),  # likelier given silence than given the audio
        ((("visita", math.nan), ("entrega", 0.2)), None),
        ((("Lucas", 5.0), ("visita", 1.5)), "visit"),  # phrases of no meaning are skipped
        ((("amigo", 9.0), ("entrega", 2.0)), "delivery"),  # not an intent word
    ],
)
def test_the_heard_intent_needs_a_lead(scores, expected) -> None:
    assert INTENT_HEARD_LEAD == 0.5
    assert heard_intent(scores, WORDS) == expected


def test_the_shipped_answers_file_scores_no_intent_words_and_one_with_them_does(tmp_path) -> None:
    shipped = Answers.load()
    assert shipped.intent_words == {} and intent_phrases(shipped.intent_words) == []
    assert heard_intent(VISIT_HEARD, shipped.intent_words) is None
    text = Path(str(DEFAULT_ANSWERS_FILE)).read_text(encoding="utf-8")
    enabled = text.replace("# intent_words:", "intent_words:").replace("#   delivery:", "  delivery:")
    path = tmp_path / "answers.yaml"
    path.write_text(enabled.replace("#   visit: [visita", "  visit: [visita"), encoding="utf-8")
    assert Answers.load(path).intent_words == WORDS


async def test_without_intent_words_the_greeting_sends_none() -> None:
    harness = CallHarness(SCRIPT, whom_question="resident")
    await harness.start_visitor()
    assert list(contexts(harness)[-1].candidate_phrases) == []
