"""The resident's leg from ring to goodbye, in virtual time (issue 16, item 1).

The real engine and core over a real in-memory store, a fake dialer at the one boundary
(tests/concierge/core_harness.py). Checked: the brief is cut (StopPlayback) before the
resident hears that the visitor left; an answer given during the brief cuts it and is
taken; ringing is not failure (30 s by default); a late answer to an earlier attempt is
accepted; a retry cancels the attempt it supersedes, and a call that ends while the
resident's phone still rings cancels that attempt, so no resident is rung twice.
"""

from __future__ import annotations

import asyncio

from porteiro.concierge.v1 import concierge_pb2
from porteiro.dialer.v1 import dialer_pb2
from porteiro_concierge.core.events import DeadlinePassed
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.session import RESIDENT, VISITOR, FlowState, Outcome
from tests.concierge.core_harness import CallHarness, FakeDialer

WHOLE_REQUEST = "Aqui é o João, entrega para a Renata do 501"
SCRIPT = {
    WHOLE_REQUEST: Extraction(
        intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata"
    )
}
VISITOR_LEFT = "O visitante desligou. Obrigado, até logo."


def kinds(actions: list[concierge_pb2.LegAction]) -> list[str]:
    return [str(action.WhichOneof("action")) for action in actions]


async def calling(**settings: object) -> CallHarness:
    call = CallHarness(SCRIPT, **settings)
    await call.start_visitor()
    await call.say(VISITOR, WHOLE_REQUEST)
    assert call.dialer.attempts == [("sip:501@condominio.local", 1)]
    return call


async def briefed(**settings: object) -> CallHarness:
    """The resident answered and is hearing the brief (not yet played out)."""
    call = await calling(**settings)
    await call.start_resident()
    assert call.count(RESIDENT, "Pode liberar") == 1
    return call


def after_brief(call: CallHarness) -> list[concierge_pb2.LegAction]:
    """The resident leg's actions after the brief's Say."""
    actions = call.heard[RESIDENT]
    brief = next(i for i, a in enumerate(actions) if a.HasField("say") and "Pode liberar" in a.say.text)
    return actions[brief + 1 :]


async def test_the_visitor_hanging_up_cuts_the_brief_then_the_resident_hears_why():
    call = await briefed()

    await call.hang_up(VISITOR)

    actions = after_brief(call)
    assert kinds(actions) == ["stop_playback", "say", "hang_up"]
    assert actions[1].say.text == VISITOR_LEFT and not actions[1].say.allow_barge_in
    assert actions[2].hang_up.after_playback  # the notice is played out before the line closes
    assert (await call.session()).outcome == Outcome.VISITOR_HUNG_UP
    assert call.dialer.cancelled == []  # the resident's leg connected: nothing rings any more


async def test_a_key_during_the_brief_cuts_it_and_is_the_answer():
    call = await briefed()

    await call.press(RESIDENT, "1")  # no LegIdle: the brief is still playing

    actions = after_brief(call)
    assert kinds(actions) == ["stop_playback", "say", "hang_up"]
    assert actions[1].say.text == "Obrigado, a entrada será liberada. Até logo."
    assert call.last_said(VISITOR) == "O morador autorizou. Pode subir com a entrega."
    visitor_end = call.heard[VISITOR][-3:]  # "O morador atendeu, aguarde" may still be playing: cut
    assert kinds(visitor_end) == ["stop_playback", "say", "hang_up"]
    assert (await call.session()).outcome == Outcome.AUTHORIZED


async def test_a_spoken_answer_during_the_brief_is_taken():
    call = await briefed()

    await call.speech(RESIDENT)
    await call.say(RESIDENT, "Não, não conheço.")

    actions = after_brief(call)
    assert kinds(actions)[0] == "stop_playback"
    assert actions[1].say.text == "Entendido, a entrada não será liberada. Até logo."
    assert (await call.session()).outcome == Outcome.DENIED


async def test_an_unclear_key_during_the_brief_cuts_it_and_asks_again():
    call = await briefed()

    await call.press(RESIDENT, "7")

    actions = after_brief(call)
    assert kinds(actions) == ["stop_playback", "say"]
    assert (await call.session()).state == FlowState.WAITING_RESIDENT
    assert not any(action.HasField("stop_playback") for action in call.heard[VISITOR])  # no decision yet


async def test_ringing_is_not_failure_an_answer_after_15_s_is_taken_without_a_retry():
    call = await calling()
    assert call.settings.resident_connect_timeout_seconds >= 30

    await call.advance(15.0)
    assert call.dialer.attempts == [("sip:501@condominio.local", 1)]
    await call.start_resident()

    assert call.count(RESIDENT, "Pode liberar") == 1
    assert call.last_said(VISITOR) == "O morador atendeu. Aguarde um instante."
    await call.advance(60.0)  # the connect deadline is gone: no retry, ever
    assert call.dialer.attempts == [("sip:501@condominio.local", 1)]
    assert call.dialer.cancelled == []


async def test_the_connect_time_is_configurable():
    call = await calling(resident_connect_timeout_seconds=4.0)

    await call.advance(3.9)
    assert len(call.dialer.attempts) == 1
    await call.advance(0.2)

    assert [attempt for _, attempt in call.dialer.attempts] == [1, 2]


async def test_a_retry_cancels_the_attempt_it_supersedes_and_a_late_answer_is_taken():
    call = await calling(resident_connect_timeout_seconds=5.0)

    await call.advance(5.1)  # attempt 1 did not connect in time: cancel it, call again
    assert [attempt for _, attempt in call.dialer.attempts] == [1, 2]
    assert call.dialer.cancelled == [1]
    await call.advance(1.0)
    await call.start_resident()  # the session's UUID does not say which attempt this is

    assert (await call.session()).state == FlowState.WAITING_RESIDENT
    assert call.count(RESIDENT, "Pode liberar") == 1
    await call.press(RESIDENT, "1")
    assert (await call.session()).outcome == Outcome.AUTHORIZED
    assert len(call.dialer.attempts) == 2


async def test_the_visitor_leaving_while_the_phone_rings_cancels_that_attempt():
    call = await calling()

    await call.advance(3.0)
    await call.hang_up(VISITOR)

    assert call.dialer.cancelled == [1]
    assert (await call.session()) is None  # both legs gone: the call is over


async def test_giving_up_cancels_the_last_attempt_still_ringing():
    call = await calling(resident_connect_timeout_seconds=5.0)

    await call.advance(5.1)
    await call.advance(5.1)

    assert call.dialer.cancelled == [1, 2]
    assert call.last_said(VISITOR).startswith("Não consegui falar com o morador")
    assert call.hung_up(VISITOR)


async def test_a_cancel_the_dialer_refuses_does_not_stop_the_call():
    call = await calling(resident_connect_timeout_seconds=5.0)
    call.dialer.down = True

    await call.advance(5.1)  # the cancel fails, then the retry fails too: the visitor is told

    assert call.dialer.cancelled == []
    assert (await call.session()).outcome == Outcome.FAILED
    assert call.hung_up(VISITOR)


async def test_a_resident_stream_that_comes_back_restarts_the_brief_instead_of_queuing_a_second():
    call = await briefed()

    await call.start_resident()  # the same leg, its stream reopened on this (another) replica

    actions = after_brief(call)
    assert kinds(actions)[0] == "stop_playback"
    assert call.count(RESIDENT, "Pode liberar") == 2
    assert call.count(VISITOR, "O morador atendeu") == 1  # the visitor is not told twice
    await call.press(RESIDENT, "1")
    assert (await call.session()).outcome == Outcome.AUTHORIZED


class SlowCancelDialer(FakeDialer):
    """A dialer whose cancels hang until released (a broker that does not confirm)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def cancel_call(self, session_id: str, attempt: int) -> dialer_pb2.CancelCallResponse:
        await self.release.wait()
        return await super().cancel_call(session_id, attempt)


async def test_the_visitor_hears_the_outcome_before_a_slow_cancel_is_confirmed():
    call = await calling(resident_connect_timeout_seconds=5.0, max_call_attempts=1)
    call.dialer = call.engine.dialer = SlowCancelDialer()
    call.clock.now += 5.1

    giving_up = asyncio.create_task(call.send(DeadlinePassed()))
    await asyncio.sleep(0.05)

    assert not giving_up.done()  # the cancel still waits for its confirm...
    call._collect()  # ...and the visitor's mailbox already has the outcome
    assert call.last_said(VISITOR).startswith("Não consegui falar")
    assert call.hung_up(VISITOR)
    call.dialer.release.set()
    await giving_up
    assert call.dialer.cancelled == [1]


async def test_a_resident_leg_for_a_finished_call_hears_it_is_over():
    call = await calling()
    await call.hang_up(VISITOR)

    await call.start_resident()

    assert call.last_said(RESIDENT) == "Desculpe, esta chamada já foi encerrada. Até logo."
    assert call.hung_up(RESIDENT)
