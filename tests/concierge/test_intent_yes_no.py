"""The intent not understood is asked as a yes or no ("É uma entrega?"); "não" is the other one.

With `intent_in_confirmation` off (by default the guess is asked with whom to call instead,
tests/concierge/test_intent_in_confirmation.py, and alone only after a "não" to that).

Transcripts are what whisper base made of espeak-ng callers in make eval ("É uma mimita." for
"É uma visita.", "Minha menua. Minha." for "Vim fazer uma visita.").
"""

from __future__ import annotations

import pytest

from porteiro_concierge.extraction.base import Extraction
from porteiro_concierge.session import VISITOR, Session
from tests.concierge.core_harness import TO_WHOM_QUESTION, CallHarness

SCRIPT = {**TO_WHOM_QUESTION, "Sou o.": Extraction()}
GARBLED = "Minha menua. Minha."  # leans to no intent
LEANS_VISIT = "É uma mimita."  # a visit by its sound, too weak to take


async def _intent_after(harness: CallHarness, *answers: str) -> str | None:
    """The intent known once the visitor (already greeted) said `answers`."""
    for answer in answers:
        await harness.say(VISITOR, answer)
    session = await harness.session()
    assert session is not None
    return None if session.slots.intent is None else str(session.slots.intent)


@pytest.mark.parametrize(
    ("answer", "intent"), [("Sim.", "delivery"), ("Não.", "visit"), ("Isso.", "delivery")]
)
async def test_a_yes_or_no_settles_the_intent(answer: str, intent: str) -> None:
    harness = CallHarness(SCRIPT, intent_in_confirmation=False)
    await harness.start_visitor()
    assert await _intent_after(harness, GARBLED) is None
    assert harness.last_said(VISITOR) == "É uma entrega?"  # leaning nowhere: a delivery is asked
    assert harness.count(VISITOR, "não entendi") == 1
    assert await _intent_after(harness, answer) == intent
    assert harness.last_said(VISITOR) == "Qual é o seu nome, por favor?"


async def test_the_question_asks_about_the_intent_the_answer_leaned_to() -> None:
    harness = CallHarness(SCRIPT, intent_in_confirmation=False)
    await harness.start_visitor()
    await _intent_after(harness, LEANS_VISIT)
    assert harness.last_said(VISITOR) == "É uma visita?"
    assert await _intent_after(harness, "Sim.") == "visit"


async def test_an_intent_said_outright_answers_it_too() -> None:
    harness = CallHarness(SCRIPT, intent_in_confirmation=False)
    await harness.start_visitor()
    assert await _intent_after(harness, GARBLED, "Não, vim fazer uma visita.") == "visit"


async def test_neither_yes_nor_no_asks_the_same_again() -> None:
    harness = CallHarness(SCRIPT, intent_in_confirmation=False)
    await harness.start_visitor()
    await _intent_after(harness, LEANS_VISIT, GARBLED)
    assert (
        harness.count(VISITOR, "É uma visita?") == 2 and harness.count(VISITOR, "entrega ou uma visita") == 0
    )
    assert await _intent_after(harness, "Não.") == "delivery"


async def test_the_pending_question_survives_the_session_store() -> None:
    harness = CallHarness(SCRIPT, intent_in_confirmation=False)
    await harness.start_visitor()
    await _intent_after(harness, LEANS_VISIT)
    session = await harness.session()
    assert session is not None
    assert Session.from_json(session.to_json()).visitor.intent_guess == "visit"


async def test_never_asked_as_a_yes_or_no_when_turned_off() -> None:
    harness = CallHarness(SCRIPT, intent_in_confirmation=False, intent_yes_no_after=0)
    await harness.start_visitor()
    await _intent_after(harness, GARBLED, GARBLED)
    assert harness.count(VISITOR, "É uma entrega ou uma visita?") == 2
    assert harness.count(VISITOR, "É uma entrega?") == 0


async def test_asked_as_a_yes_or_no_after_the_set_number_of_misses() -> None:
    harness = CallHarness(SCRIPT, intent_in_confirmation=False, intent_yes_no_after=2)
    await harness.start_visitor()
    await _intent_after(harness, GARBLED)
    assert harness.last_said(VISITOR) == "É uma entrega ou uma visita?"
    await _intent_after(harness, GARBLED)
    assert harness.last_said(VISITOR) == "É uma entrega?"
