"""CallFinishedPublisher against the real RabbitMQ, cut and restored through a TCP proxy."""

from __future__ import annotations

import asyncio
import time

import pika
import pytest

from porteiro.register.v1 import register_pb2
from porteiro_common.amqp import Backoff
from porteiro_register.events import CONTENT_TYPE, MESSAGE_TYPE, CallFinishedPublisher, decode_call_finished
from tests.register.conftest import AMQP_URL, amqp_url_via, make_record, metric, wait_until
from tests.support.processes import free_port
from tests.support.tcp_proxy import TcpProxy

FAST = Backoff(0.05, 0.3)


@pytest.fixture
def broker_proxy():
    broker = pika.URLParameters(AMQP_URL)
    proxy = TcpProxy((broker.host, broker.port)).start()
    yield proxy
    proxy.close()


def records_in(messages) -> list[register_pb2.CallRecord]:
    return [decode_call_finished(body).record for _, body in messages]


async def test_publish_returns_after_the_broker_confirmed_the_persistent_event(queues):
    publisher = CallFinishedPublisher(AMQP_URL, queues.name)
    record = make_record()
    try:
        assert await publisher.publish(record) is True
    finally:
        await publisher.close(1)

    (message,) = queues.drain()
    properties, body = message
    assert properties.delivery_mode == 2
    assert properties.content_type == CONTENT_TYPE
    assert properties.type == MESSAGE_TYPE == "porteiro.register.v1.CallFinished"
    event = decode_call_finished(body)
    assert event.record == record
    assert event.HasField("finished_at")


async def test_an_event_published_while_the_broker_is_cut_is_delivered_once_it_is_back(queues, broker_proxy):
    publisher = CallFinishedPublisher(amqp_url_via(broker_proxy.port), queues.name, backoff=FAST)
    before, during = make_record(), make_record()
    try:
        assert await publisher.publish(before)
        broker_proxy.close()
        await wait_until(lambda: not publisher.connected, what="publisher noticed the cut")

        began = time.monotonic()
        assert await publisher.publish(during, wait_seconds=1.0) is False  # not confirmed yet, kept
        assert time.monotonic() - began < 2.0
        assert publisher.buffered == 1
        assert records_in(queues.drain()) == [before]

        broker_proxy.reopen()
        await wait_until(lambda: publisher.buffered == 0, what="the buffered event confirmed")
        assert records_in(queues.drain()) == [during]
        assert await publisher.publish(make_record())  # and it goes on working
    finally:
        await publisher.close(1)


async def test_a_waiting_caller_gets_true_when_the_broker_comes_back(queues, broker_proxy):
    publisher = CallFinishedPublisher(amqp_url_via(broker_proxy.port), queues.name, backoff=FAST)
    try:
        await publisher.start()
        await wait_until(lambda: publisher.connected, what="connected")
        broker_proxy.close()
        await wait_until(lambda: not publisher.connected, what="publisher noticed the cut")
        record = make_record()
        waiting = asyncio.create_task(publisher.publish(record))
        await asyncio.sleep(0.5)
        assert not waiting.done()

        broker_proxy.reopen()

        assert await asyncio.wait_for(waiting, 15) is True
        assert records_in(queues.drain()) == [record]
    finally:
        await publisher.close(1)


async def test_a_full_buffer_drops_the_new_event_counts_it_and_never_raises(queues):
    nowhere = amqp_url_via(free_port())
    publisher = CallFinishedPublisher(
        nowhere, queues.name, buffer_size=2, backoff=FAST, connect_timeout_seconds=0.5
    )
    dropped_before = metric("porteiro_register_events_dropped_total")
    try:
        assert await publisher.publish(make_record(), wait_seconds=0.1) is False
        assert await publisher.publish(make_record(), wait_seconds=0.1) is False
        began = time.monotonic()
        assert await publisher.publish(make_record()) is False  # no wait: dropped at once
        assert time.monotonic() - began < 0.5
    finally:
        left = await publisher.close(0.2)

    assert left == 2
    assert metric("porteiro_register_events_dropped_total") - dropped_before == 1


async def test_cancelling_the_caller_does_not_cancel_the_event(queues):
    publisher = CallFinishedPublisher(AMQP_URL, queues.name)
    record = make_record()
    try:
        await publisher.start()
        caller = asyncio.create_task(publisher.publish(record))
        await asyncio.sleep(0)
        caller.cancel()
        await wait_until(lambda: publisher.buffered == 0, what="event confirmed")
    finally:
        await publisher.close(1)
    assert records_in(queues.drain()) == [record]
