"""PlaceCall refuses oversized fields, attempts out of range and unknown intents: INVALID_ARGUMENT
naming the field and the limit, and nothing reaches the real RabbitMQ queue."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from prometheus_client import REGISTRY

from porteiro.common.v1 import common_pb2
from porteiro.dialer.v1 import dialer_pb2
from tests.dialer.conftest import SERVING

MEGABYTE = 1024 * 1024
UINT32_MAX = 4294967295


def request(
    session_id: str | None = None,
    destination: str = "1001",
    attempt: int = 1,
    note: str = "",
    apartment: str = "501",
    intent: int = common_pb2.INTENT_DELIVERY,
) -> dialer_pb2.PlaceCallRequest:
    return dialer_pb2.PlaceCallRequest(
        session_id=session_id or str(uuid.uuid4()),
        destination=destination,
        attempt=attempt,
        context=dialer_pb2.CallContext(intent=intent, apartment=apartment, note=note),
    )


def invalid_count() -> float:
    return REGISTRY.get_sample_value("porteiro_dialer_publishes_total", {"outcome": "invalid"}) or 0.0


async def refused(dialer, call: dialer_pb2.PlaceCallRequest) -> str:
    """PlaceCall's INVALID_ARGUMENT message (fails if the call was accepted or failed otherwise)."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await dialer.stub.PlaceCall(call, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value
    return raised.value.details()


BAD_REQUESTS = {
    "megabyte-destination": (
        {"destination": "1" * MEGABYTE},
        f"destination has {MEGABYTE} characters; the limit is 256 (PORTEIRO_DIALER_MAX_DESTINATION_CHARS)",
    ),
    "megabyte-note": (
        {"note": "x" * MEGABYTE},
        f"context.note has {MEGABYTE} characters; the limit is 500 (PORTEIRO_DIALER_MAX_NOTE_CHARS)",
    ),
    "long-apartment": (
        {"apartment": "5" * 33},
        "context.apartment has 33 characters; the limit is 32 (PORTEIRO_DIALER_MAX_APARTMENT_CHARS)",
    ),
    "megabyte-session-id": ({"session_id": "a" * MEGABYTE}, "session_id: session id must be a UUID"),
    "attempt-uint32-max": (
        {"attempt": UINT32_MAX},
        f"attempt is {UINT32_MAX}; it must be from 1 to 10 (PORTEIRO_DIALER_MAX_ATTEMPT)",
    ),
    "attempt-eleven": ({"attempt": 11}, "attempt is 11; it must be from 1 to 10"),
    "attempt-zero": ({"attempt": 0}, "attempt is 0; it must be from 1 to 10"),
    "unknown-intent": (
        {"intent": 7},
        "context.intent 7 is not a known Intent (INTENT_UNSPECIFIED, INTENT_DELIVERY, INTENT_VISIT)",
    ),
}


@pytest.mark.parametrize(("fields", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_bad_field_is_invalid_argument_naming_it_and_nothing_is_published(
    start_dialer, broker_queue, fields, message
):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    invalid_before = invalid_count()

    details = await refused(dialer, request(**fields))

    assert details.startswith(message), details
    assert len(details) < 300  # the oversized value itself is never echoed
    assert invalid_count() - invalid_before == 1
    assert await asyncio.to_thread(broker_queue.drain) == []


async def test_values_at_the_limits_are_published(start_dialer, broker_queue):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())
    at_limits = request(
        session,
        destination="SIP/" + "1" * 252,
        attempt=10,
        note="n" * 500,
        apartment="5" * 32,
        intent=common_pb2.INTENT_VISIT,
    )

    response = await dialer.stub.PlaceCall(at_limits, timeout=10)

    assert response.command_id == f"cmd-{session}-10"
    (delivery,) = await asyncio.to_thread(broker_queue.drain)
    assert delivery.body["data"]["origin"] == "SIP/" + "1" * 252
    assert delivery.body["operation"]["msg"] == "n" * 500


async def test_limits_follow_the_settings(start_dialer, broker_queue):
    dialer = await start_dialer(
        max_attempt=2, max_destination_chars=8, max_note_chars=4, max_apartment_chars=3
    )
    await dialer.wait_health(SERVING)

    assert "it must be from 1 to 2" in await refused(dialer, request(attempt=3))
    assert "the limit is 8" in await refused(dialer, request(destination="123456789"))
    assert "the limit is 4" in await refused(dialer, request(note="12345"))
    assert "the limit is 3" in await refused(dialer, request(apartment="1234"))
    assert await asyncio.to_thread(broker_queue.drain) == []
    await dialer.stub.PlaceCall(
        request(attempt=2, destination="12345678", note="1234", apartment="123"), timeout=10
    )
    assert len(await asyncio.to_thread(broker_queue.drain)) == 1


async def test_a_refused_request_does_not_block_the_same_session_afterwards(start_dialer, broker_queue):
    dialer = await start_dialer()
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())

    await refused(dialer, request(session, note="x" * 501))
    response = await dialer.stub.PlaceCall(request(session, note="entrega"), timeout=10)

    assert not response.duplicate
    (delivery,) = await asyncio.to_thread(broker_queue.drain)
    assert delivery.body["operation"]["msg"] == "entrega"
