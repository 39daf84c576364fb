"""The broker going away and coming back, simulated with a TCP proxy (the real broker keeps running)."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import pytest
from prometheus_client import REGISTRY

from porteiro.dialer.v1 import dialer_pb2
from tests.dialer.conftest import NOT_SERVING, SERVING, broker_address, url_via_port
from tests.support.processes import free_port
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def proxy():
    proxy = TcpProxy(broker_address()).start()
    yield proxy
    proxy.close()


def rabbitmq_up() -> float | None:
    return REGISTRY.get_sample_value("porteiro_dependency_up", {"dependency": "rabbitmq"})


def place(session: str, attempt: int) -> dialer_pb2.PlaceCallRequest:
    return dialer_pb2.PlaceCallRequest(session_id=session, destination="1001", attempt=attempt)


async def expect_unavailable_within(stub, call: dialer_pb2.PlaceCallRequest, deadline: float) -> float:
    began = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.PlaceCall(call, timeout=deadline)
    elapsed = time.monotonic() - began
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value.details()
    assert elapsed < deadline
    return elapsed


async def test_broker_down_then_back_without_restarting(start_dialer, broker_queue, proxy):
    dialer = await start_dialer(amqp_url=url_via_port(proxy.port))
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())
    await dialer.stub.PlaceCall(place(session, 1), timeout=5)
    assert rabbitmq_up() == 1

    proxy.close()
    await dialer.wait_health(NOT_SERVING, within=10)
    assert rabbitmq_up() == 0
    elapsed = await expect_unavailable_within(dialer.stub, place(session, 2), deadline=2.0)
    assert elapsed < 0.5  # fails fast: nothing is queued while the broker is down

    proxy.reopen()
    await dialer.wait_health(SERVING, within=10)
    assert rabbitmq_up() == 1
    retry = await dialer.stub.PlaceCall(place(session, 2), timeout=5)
    assert retry.command_id == f"cmd-{session}-2" and not retry.duplicate
    deliveries = await asyncio.to_thread(broker_queue.drain)
    assert [d.body["operation"]["guid"] for d in deliveries] == [f"cmd-{session}", f"cmd-{session}-2"]


async def test_unreachable_broker_url_keeps_health_not_serving_and_fails_fast(start_dialer):
    nowhere = free_port()  # nothing listens there
    dialer = await start_dialer(amqp_url=url_via_port(nowhere))
    await asyncio.sleep(0.5)  # a few reconnect attempts
    assert await dialer.health() == NOT_SERVING
    assert rabbitmq_up() == 0
    assert not dialer.app.publisher.connected
    await expect_unavailable_within(dialer.stub, place(str(uuid.uuid4()), 1), deadline=1.0)


async def test_hung_broker_answers_unavailable_inside_the_deadline_then_recovers(
    start_dialer, broker_queue, proxy
):
    dialer = await start_dialer(amqp_url=url_via_port(proxy.port), publish_timeout_seconds=1.0)
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())

    proxy.freeze()  # connection stays open, nothing gets through, no confirm ever comes
    await expect_unavailable_within(dialer.stub, place(session, 1), deadline=3.0)
    await dialer.wait_health(NOT_SERVING, within=2)  # the unconfirmed publish marks the broker down
    await expect_unavailable_within(dialer.stub, place(session, 2), deadline=1.0)

    proxy.close()
    proxy.reopen()
    await dialer.wait_health(SERVING, within=10)
    placed = await dialer.stub.PlaceCall(place(session, 1), timeout=5)
    assert placed.command_id == f"cmd-{session}" and not placed.duplicate
    deliveries = await asyncio.to_thread(broker_queue.drain)
    assert [d.body["operation"]["guid"] for d in deliveries] == [f"cmd-{session}"]


async def test_a_confirm_arriving_after_the_deadline_is_remembered(start_dialer, broker_queue, proxy):
    dialer = await start_dialer(amqp_url=url_via_port(proxy.port), publish_timeout_seconds=10.0)
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())

    proxy.freeze()  # the broker is slow: the publish is sent but its confirm comes late
    await expect_unavailable_within(dialer.stub, place(session, 1), deadline=0.5)
    proxy.thaw()
    deliveries = []
    for _ in range(50):  # the held publish reaches the broker once forwarding resumes
        deliveries += await asyncio.to_thread(broker_queue.drain)
        if deliveries:
            break
        await asyncio.sleep(0.1)

    retry = await dialer.stub.PlaceCall(place(session, 1), timeout=5)

    assert retry.duplicate and retry.command_id == f"cmd-{session}"
    deliveries += await asyncio.to_thread(broker_queue.drain)
    assert [d.body["operation"]["guid"] for d in deliveries] == [f"cmd-{session}"]
