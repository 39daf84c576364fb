"""PlaceCall against the machine's real RabbitMQ, through a real gRPC stub."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import pytest
from prometheus_client import REGISTRY

from porteiro.common.v1 import common_pb2
from porteiro.dialer.v1 import dialer_pb2
from tests.dialer.conftest import SERVING


def request(session_id: str, attempt: int = 1, destination: str = "1001", note: str = ""):
    return dialer_pb2.PlaceCallRequest(
        session_id=session_id,
        destination=destination,
        attempt=attempt,
        context=dialer_pb2.CallContext(intent=common_pb2.INTENT_DELIVERY, apartment="501", note=note),
    )


def publishes(outcome: str) -> float:
    return REGISTRY.get_sample_value("porteiro_dialer_publishes_total", {"outcome": outcome}) or 0.0


async def test_consumer_receives_the_exact_payload_persistent_on_the_configured_queue(
    start_dialer, broker_queue
):
    dialer = await start_dialer(license="998877665544", event_code="8002", destiny="IA-TEST")
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())
    before = int(time.time())

    response = await dialer.stub.PlaceCall(request(session, note="entrega para o 501"), timeout=5)

    after = int(time.time())
    assert response.command_id == f"cmd-{session}" and not response.duplicate
    assert before <= response.published_at.seconds <= after
    assert await asyncio.to_thread(broker_queue.is_durable)
    (delivery,) = await asyncio.to_thread(broker_queue.drain)
    timestamp = delivery.body["operation"]["timestamp"]
    assert before <= timestamp <= after
    assert delivery.body == {
        "data": {"destiny": "IA-TEST", "guid": session, "license": "998877665544", "origin": "1001"},
        "operation": {
            "eventcode": "8002",
            "guid": f"cmd-{session}",
            "msg": "entrega para o 501",
            "timestamp": timestamp,
            "type": "clicktocall",
        },
    }
    assert delivery.properties.delivery_mode == 2
    assert delivery.properties.content_type == "application/json"
    assert delivery.routing_key == broker_queue.name


async def test_duplicate_requests_publish_once_and_share_the_command_id(start_dialer, broker_queue):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())
    duplicates_before = publishes("duplicate")

    concurrent = await asyncio.gather(*(dialer.stub.PlaceCall(request(session), timeout=5) for _ in range(3)))
    later = await dialer.stub.PlaceCall(request(session.upper()), timeout=5)

    responses = [*concurrent, later]
    assert {r.command_id for r in responses} == {f"cmd-{session}"}
    assert sorted(r.duplicate for r in responses) == [False, True, True, True]
    assert len({r.published_at.ToNanoseconds() for r in responses}) == 1
    assert publishes("duplicate") - duplicates_before == 3
    deliveries = await asyncio.to_thread(broker_queue.drain)
    assert [d.body["operation"]["guid"] for d in deliveries] == [f"cmd-{session}"]


async def test_a_retry_attempt_is_a_new_command_for_the_same_session(start_dialer, broker_queue):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())

    first = await dialer.stub.PlaceCall(request(session, attempt=1), timeout=5)
    second = await dialer.stub.PlaceCall(request(session, attempt=2), timeout=5)

    assert (first.command_id, second.command_id) == (f"cmd-{session}", f"cmd-{session}-2")
    assert not second.duplicate
    deliveries = await asyncio.to_thread(broker_queue.drain)
    assert [d.body["data"]["guid"] for d in deliveries] == [session, session]
    assert [d.body["operation"]["guid"] for d in deliveries] == [first.command_id, second.command_id]


@pytest.mark.parametrize(
    ("session_id", "destination", "attempt"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "", 1),
        ("0f8fad5b", "1001", 1),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "1001", 0),
    ],
    ids=["empty-destination", "malformed-session", "attempt-zero"],
)
async def test_invalid_input_is_invalid_argument_and_publishes_nothing(
    start_dialer, broker_queue, session_id, destination, attempt
):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await dialer.stub.PlaceCall(request(session_id, attempt, destination), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await asyncio.to_thread(broker_queue.drain) == []


async def test_call_morador_span_has_attempt_outcome_and_redacted_destination(start_dialer, spans):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())

    await dialer.stub.PlaceCall(request(session, destination="SIP/1001"), timeout=5)
    await dialer.stub.PlaceCall(request(session, destination="SIP/1001"), timeout=5)

    first, second = [s for s in spans.get_finished_spans() if s.name == "CALL_MORADOR"]
    assert first.attributes["attempt"] == 1 and first.attributes["porteiro.session_id"] == session
    assert (first.attributes["outcome"], second.attributes["outcome"]) == ("confirmed", "duplicate")
    assert first.attributes["destination"] == "[redacted]"
    assert "SIP/1001" not in str(dict(first.attributes))
    assert [e.name for e in first.events] == ["CALL_MORADOR_START", "CALL_MORADOR_COMPLETE"]


async def test_destination_is_traced_only_when_personal_data_is_allowed(start_dialer, spans):
    dialer = await start_dialer(trace_personal_data=True)
    await dialer.wait_health(SERVING)
    await dialer.stub.PlaceCall(request(str(uuid.uuid4()), destination="SIP/1001"), timeout=5)
    (span,) = [s for s in spans.get_finished_spans() if s.name == "CALL_MORADOR"]
    assert span.attributes["destination"] == "SIP/1001"
