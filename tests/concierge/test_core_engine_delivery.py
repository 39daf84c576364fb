"""The engine delivers what the legs are to hear before it performs a request (issue 17, item 4).

The visitor's "Certo, ... vou chamar" is in their mailbox while the dialer is still being
asked to place the call: the turn's reply does not wait for RabbitMQ.
"""

from __future__ import annotations

import asyncio

from porteiro.dialer.v1 import dialer_pb2
from porteiro_concierge.core.events import Utterance
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.session import VISITOR, FlowState
from tests.concierge.core_harness import SESSION_ID, CallHarness, FakeDialer

WHOLE = Extraction(intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata")


class HeldDialer(FakeDialer):
    """A Dialer whose place_call waits until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def place_call(
        self, session_id: str, destination: str, attempt: int, intent: str, apartment: str
    ) -> dialer_pb2.PlaceCallResponse:
        self.asked.set()
        await self.release.wait()
        return await super().place_call(session_id, destination, attempt, intent, apartment)


async def test_the_confirmation_is_delivered_before_the_dialer_answers():
    harness = CallHarness({"entrega do João para a Renata do 501": WHOLE})
    dialer = harness.engine.dialer = HeldDialer()
    await harness.start_visitor()
    sentence = Utterance(VISITOR, "entrega do João para a Renata do 501")
    turn = asyncio.create_task(harness.engine.dispatch(SESSION_ID, sentence))
    await asyncio.wait_for(dialer.asked.wait(), 5)
    mailbox = harness.mailboxes[VISITOR]
    heard = [mailbox.queue.get_nowait() for _ in range(mailbox.queue.qsize())]
    said = [action.say.text for action in heard if action.HasField("say")]
    assert any(text.startswith("Certo, João") for text in said), said
    assert not turn.done()  # the dialer has not answered yet
    dialer.release.set()
    await asyncio.wait_for(turn, 5)
    assert dialer.attempts and (await harness.session()).state == FlowState.CALLING_RESIDENT
