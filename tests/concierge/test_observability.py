"""Spans with the prototype's event names, slot values redacted; bad streams refused; visitor silence."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from prometheus_client import REGISTRY

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc
from tests.concierge.test_conversation import authorized_delivery
from tests.support.tracing import recording_spans


@pytest.fixture(scope="module")
def spans():
    return recording_spans()


async def test_stage_spans_and_events_with_redacted_slots(spans, concierge, fakes, session_id):
    spans.clear()
    await authorized_delivery(concierge, fakes, session_id)
    finished = spans.get_finished_spans()
    names = {span.name for span in finished}
    assert {"AI_PROCESSING", "INTENT_EXTRACTION", "FUZZY_VALIDATION", "CALL_MORADOR"} <= names
    events = [event.name for span in finished for event in span.events]
    for event in (
        "INTENT_EXTRACTION_START",
        "INTENT_EXTRACTION_COMPLETE",
        "STATE_CHANGE",
        "MORADOR_CONNECTED",
        "CALL_ENDED",
    ):
        assert event in events
    extraction = next(span for span in finished if span.name == "INTENT_EXTRACTION")
    assert extraction.attributes["porteiro.slot.visitor_name"] == "[redacted]"
    assert extraction.attributes["porteiro.slot.intent"] == "delivery"
    recorded = repr([(span.attributes, [event.attributes for event in span.events]) for span in finished])
    assert "João" not in recorded and "Renata" not in recorded
    assert REGISTRY.get_sample_value(
        "porteiro_concierge_extraction_seconds_count", {"extractor": "deterministic"}
    )
    assert REGISTRY.get_sample_value(
        "porteiro_concierge_turns_total", {"leg": "resident", "outcome": "decision"}
    )


async def test_first_event_must_be_leg_started(concierge):
    stub = concierge_pb2_grpc.ConciergeServiceStub(concierge.channel)

    async def events():
        yield concierge_pb2.LegEvent(utterance=concierge_pb2.Utterance(text="oi"))

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in stub.Converse(events()):
            pass
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_malformed_session_id_is_refused(concierge):
    visitor = concierge.leg("not-a-uuid", "visitor")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await visitor.start()
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def refused(driver) -> grpc.aio.AioRpcError:
    await asyncio.wait_for(driver.closed.wait(), 5)
    assert driver.error is not None, "the stream was not refused"
    return driver.error


async def test_a_second_leg_started_is_refused_naming_the_field(concierge, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    again = concierge_pb2.LegStarted(session_id=session_id, leg=common_pb2.LEG_VISITOR, sample_rate_hz=8000)
    visitor.send(concierge_pb2.LegEvent(leg_started=again))
    error = await refused(visitor)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "leg_started" in error.details()
    # The leg is gone for the call too: nothing of it is left in the store.
    assert await concierge.app.store.load(session_id) is None


async def test_a_dtmf_longer_than_one_key_is_refused_naming_the_field(concierge, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    visitor.send(concierge_pb2.LegEvent(dtmf=concierge_pb2.Dtmf(digit="1" * 2000)))
    error = await refused(visitor)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "dtmf.digit" in error.details() and "2000" in error.details()


async def test_one_key_at_a_time_is_accepted(concierge, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.press("5")
    await visitor.utter("Boa tarde")  # the stream is still open: the visitor is answered
    await visitor.expect("Qual é o seu nome")  # the intent guessed, to be asked with whom
    assert visitor.error is None


async def test_silent_visitor_is_asked_again_then_the_call_ends(concierge_factory, session_id):
    # The one real-time timer test through gRPC (the leg's local timer); the rest run in virtual time.
    concierge = await concierge_factory(visitor_reply_timeout_seconds=0.2)
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    await visitor.expect("entrega ou uma visita", timeout=3)
    await visitor.expect("Não ouvi a sua resposta", timeout=3)
    await visitor.expect_hangup()
