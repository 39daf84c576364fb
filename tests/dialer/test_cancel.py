"""CancelCall against the machine's real RabbitMQ, through a real gRPC stub."""

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


def place(session_id: str, attempt: int) -> dialer_pb2.PlaceCallRequest:
    return dialer_pb2.PlaceCallRequest(
        session_id=session_id,
        destination="1001",
        attempt=attempt,
        context=dialer_pb2.CallContext(intent=common_pb2.INTENT_VISIT, apartment="501"),
    )


def cancels(outcome: str) -> float:
    return REGISTRY.get_sample_value("porteiro_dialer_cancels_total", {"outcome": outcome}) or 0.0


async def test_the_cancel_names_the_command_it_cancels_and_follows_it_on_the_queue(
    start_dialer, broker_queue
):
    dialer = await start_dialer(license="998877665544", event_code="8002", destiny="IA-TEST")
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())
    before = int(time.time())

    placed = await dialer.stub.PlaceCall(place(session, 2), timeout=5)
    cancelled = await dialer.stub.CancelCall(
        dialer_pb2.CancelCallRequest(session_id=session.upper(), attempt=2), timeout=5
    )

    after = int(time.time())
    assert cancelled.command_id == placed.command_id == f"cmd-{session}-2"
    assert before <= cancelled.published_at.seconds <= after
    call, cancel = await asyncio.to_thread(broker_queue.drain)
    assert call.body["operation"]["type"] == "clicktocall"
    timestamp = cancel.body["operation"]["timestamp"]
    assert before <= timestamp <= after
    assert cancel.body == {
        "data": {"destiny": "IA-TEST", "guid": session, "license": "998877665544"},
        "operation": {
            "eventcode": "8002",
            "guid": f"cmd-{session}-2",
            "msg": "",
            "timestamp": timestamp,
            "type": "cancelclicktocall",
        },
    }
    assert cancel.properties.delivery_mode == 2


async def test_the_first_attempt_is_cancelled_by_the_prototype_command_id(start_dialer, broker_queue):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())
    confirmed = cancels("confirmed")

    response = await dialer.stub.CancelCall(
        dialer_pb2.CancelCallRequest(session_id=session, attempt=1), timeout=5
    )

    assert response.command_id == f"cmd-{session}"
    (delivery,) = await asyncio.to_thread(broker_queue.drain)
    assert delivery.body["operation"]["guid"] == f"cmd-{session}"
    assert cancels("confirmed") == confirmed + 1


@pytest.mark.parametrize(
    ("session_id", "attempt", "names"),
    [("not-a-uuid", 1, "session_id"), (str(uuid.uuid4()), 0, "attempt"), (str(uuid.uuid4()), 99, "attempt")],
    ids=["session-not-a-uuid", "attempt-0", "attempt-99"],  # fixed ids: parallel workers must collect alike
)
async def test_bad_cancels_are_refused_naming_the_field_and_publish_nothing(
    start_dialer, broker_queue, session_id, attempt, names
):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    invalid = cancels("invalid")

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await dialer.stub.CancelCall(
            dialer_pb2.CancelCallRequest(session_id=session_id, attempt=attempt), timeout=5
        )

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert names in refused.value.details()
    assert cancels("invalid") == invalid + 1
    assert await asyncio.to_thread(broker_queue.drain) == []


async def test_a_cancel_with_the_broker_unreachable_is_unavailable_within_the_deadline(start_dialer):
    dialer = await start_dialer(amqp_url="amqp://guest:guest@127.0.0.1:1/%2F", publish_timeout_seconds=1.0)

    began = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await dialer.stub.CancelCall(
            dialer_pb2.CancelCallRequest(session_id=str(uuid.uuid4()), attempt=1), timeout=3
        )

    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - began < 3
