"""Utterances the gateway dropped (issue 16, item 2): a question cut by speech that gave nothing is
asked again at once; a drop that cut nothing changes nothing. The real engine and core with a fake
clock (tests/concierge/core_harness.py), and once through the real Converse stream."""

from __future__ import annotations

from porteiro.concierge.v1 import concierge_pb2
from porteiro_concierge.core.events import SpeechStarted, UtteranceDropped
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.session import RESIDENT, VISITOR, Outcome
from tests.concierge.core_harness import CallHarness

GREETING = "Condomínio Apoena, em que posso ajudar?"
WHOLE_REQUEST = "Aqui é o João, entrega para a Renata do 501"
INTENT_AND_NAME = "Boa tarde, é uma entrega, meu nome é João"
SCRIPT = {
    WHOLE_REQUEST: Extraction(
        intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata"
    ),
    INTENT_AND_NAME: Extraction(intent=Intent.DELIVERY, visitor_name="João"),
}


async def cut_by_nothing(call: CallHarness, leg: str, reason: str = "DROP_REASON_EMPTY_TRANSCRIPT") -> None:
    """What the gateway sends when speech stops a Say and then gives nothing: SpeechStarted,
    PlaybackFinished(interrupted) (the leg is idle), UtteranceDropped(interrupted)."""
    await call.send(SpeechStarted(leg))
    await call.played(leg)
    await call.send(UtteranceDropped(leg, interrupted=True, reason=reason))


async def test_a_greeting_cut_by_speech_that_gave_nothing_is_said_again_at_once():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    asked_at = call.clock.now

    await cut_by_nothing(call, VISITOR)

    assert call.said(VISITOR) == [GREETING, GREETING], "asked again in the same event: no wait at all"
    assert call.clock.now == asked_at
    await call.played(VISITOR)
    await call.say(VISITOR, WHOLE_REQUEST)  # the call goes on as usual
    assert call.dialer.attempts == [("sip:501@condominio.local", 1)]


async def test_the_question_asked_again_is_the_last_one_alone():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.played(VISITOR)
    await call.say(VISITOR, INTENT_AND_NAME)
    question = call.last_said(VISITOR)
    turns = (await call.session()).visitor.turns
    hints_sent = sum(action.HasField("recognition") for action in call.heard[VISITOR])

    await cut_by_nothing(call, VISITOR, "DROP_REASON_TOO_SHORT")

    assert call.last_said(VISITOR) == question and question != GREETING
    assert (await call.session()).visitor.turns == turns + 1, "a re-ask counts as a visitor turn"
    hints_now = sum(action.HasField("recognition") for action in call.heard[VISITOR])
    assert hints_now == hints_sent, "the question's hints and kind of answer are still in force"


async def test_a_drop_that_cut_nothing_changes_nothing():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.played(VISITOR)
    deadline = call.next_deadline

    await call.send(SpeechStarted(VISITOR))
    await call.send(UtteranceDropped(VISITOR, interrupted=False, reason="DROP_REASON_TOO_SHORT"))

    assert call.said(VISITOR) == [GREETING]
    assert call.next_deadline is not None and call.next_deadline >= deadline
    assert (await call.session()).visitor.turns == 0


async def test_a_line_that_keeps_cutting_its_questions_ends_after_max_visitor_turns():
    call = CallHarness(SCRIPT, max_visitor_turns=3)
    await call.start_visitor()
    for _ in range(3):
        await cut_by_nothing(call, VISITOR)
    assert call.said(VISITOR) == [GREETING] * 4
    assert not call.hung_up(VISITOR)

    await cut_by_nothing(call, VISITOR)

    assert call.hung_up(VISITOR)
    assert (await call.session()).outcome == Outcome.FAILED


async def test_while_the_resident_is_called_a_cut_sentence_is_not_repeated():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.say(VISITOR, WHOLE_REQUEST)
    said = call.said(VISITOR)

    await cut_by_nothing(call, VISITOR)

    assert call.said(VISITOR) == said


async def test_a_brief_cut_by_nothing_is_followed_by_the_short_reprompt_once():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.say(VISITOR, WHOLE_REQUEST)
    await call.start_resident()
    assert call.count(RESIDENT, "Pode liberar") == 1

    await cut_by_nothing(call, RESIDENT)
    assert call.count(RESIDENT, "Está me ouvindo") == 1

    await cut_by_nothing(call, RESIDENT)
    assert call.count(RESIDENT, "Está me ouvindo") == 1, "once: then the reply timer decides"


async def test_the_converse_stream_takes_utterance_dropped(concierge, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect(GREETING)
    visitor.send(concierge_pb2.LegEvent(speech_started=concierge_pb2.SpeechStarted()))
    dropped = concierge_pb2.UtteranceDropped(
        reason=concierge_pb2.DROP_REASON_EMPTY_TRANSCRIPT, duration_seconds=0.8, interrupted=True
    )
    visitor.send(concierge_pb2.LegEvent(utterance_dropped=dropped))

    assert await visitor.expect(GREETING, timeout=1.0) == GREETING
