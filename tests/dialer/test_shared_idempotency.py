"""Deduplication across replicas through the machine's real Redis (PORTEIRO_DIALER_REDIS_URL)."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis.asyncio
from prometheus_client import REGISTRY

from porteiro.dialer.v1 import dialer_pb2
from porteiro_dialer.settings import LOCAL_REDIS_URL
from tests.dialer.conftest import SERVING
from tests.support.processes import free_port

REDIS_URL = os.environ.get("PORTEIRO_DIALER_REDIS_URL") or LOCAL_REDIS_URL


@pytest.fixture
async def key_prefix():
    prefix = f"porteiro-test:dialer:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def place(session: str) -> dialer_pb2.PlaceCallRequest:
    return dialer_pb2.PlaceCallRequest(session_id=session, destination="1001", attempt=1)


async def test_a_retry_on_another_replica_is_a_duplicate(start_dialer, broker_queue, key_prefix):
    shared = {"redis_url": REDIS_URL, "redis_key_prefix": key_prefix, "idempotency_ttl_seconds": 60}
    first, second = await start_dialer(**shared), await start_dialer(**shared)
    await first.wait_health(SERVING)
    await second.wait_health(SERVING)
    session = str(uuid.uuid4())

    placed = await first.stub.PlaceCall(place(session), timeout=5)
    again = await second.stub.PlaceCall(place(session), timeout=5)

    assert (placed.duplicate, again.duplicate) == (False, True)
    assert again.command_id == placed.command_id == f"cmd-{session}"
    assert again.published_at == placed.published_at
    assert len(await asyncio.to_thread(broker_queue.drain)) == 1
    assert REGISTRY.get_sample_value("porteiro_dependency_up", {"dependency": "redis"}) == 1


async def test_unreachable_redis_still_places_calls_deduplicating_locally(
    start_dialer, broker_queue, key_prefix
):
    dialer = await start_dialer(redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_key_prefix=key_prefix)
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())

    placed = await dialer.stub.PlaceCall(place(session), timeout=5)
    again = await dialer.stub.PlaceCall(place(session), timeout=5)

    assert (placed.duplicate, again.duplicate) == (False, True)
    assert len(await asyncio.to_thread(broker_queue.drain)) == 1
    assert REGISTRY.get_sample_value("porteiro_dependency_up", {"dependency": "redis"}) == 0
