"""The consumer with the real RabbitMQ and the real PostgreSQL: one record per call, nothing lost."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from porteiro.common.v1 import common_pb2
from porteiro.register.v1 import register_pb2
from porteiro_register.events import CallFinishedPublisher, decode_call_finished
from porteiro_register.records import OUTCOME_WORDS
from tests.register.conftest import (
    AMQP_URL,
    BASE_TIME,
    NOT_SERVING,
    SERVING,
    call_ids,
    count_records,
    make_record,
    metric,
    wait_until,
)


@pytest.fixture
async def publisher(queues):
    publisher = CallFinishedPublisher(AMQP_URL, queues.name)
    await publisher.start()
    yield publisher
    await publisher.close(2)


def without_visitor_name(record: register_pb2.CallRecord) -> register_pb2.CallRecord:
    copy = register_pb2.CallRecord()
    copy.CopyFrom(record)
    copy.ClearField("visitor_name")
    return copy


async def test_one_record_per_finished_call_of_every_outcome(start_register, publisher, engine):
    register = await start_register()
    await register.wait_health(SERVING)
    decided = {
        common_pb2.CALL_OUTCOME_AUTHORIZED: register_pb2.DECIDED_BY_VOICE,
        common_pb2.CALL_OUTCOME_DENIED: register_pb2.DECIDED_BY_KEYPAD,
        common_pb2.CALL_OUTCOME_LEFT_AT_FRONT_DESK: register_pb2.DECIDED_BY_KEYPAD,
    }
    sent = [
        make_record(
            outcome=outcome,
            decided_by=decided.get(outcome, register_pb2.DECIDED_BY_NONE),
            started_at=BASE_TIME + timedelta(minutes=index),
            attempts=index % 3,
        )
        for index, outcome in enumerate(OUTCOME_WORDS)
    ]

    confirmed = await asyncio.gather(*(publisher.publish(record) for record in sent))

    assert confirmed == [True] * len(sent)
    await wait_until(lambda: count_records(engine) == len(sent), what="every record stored")
    for record in sent:
        stored = await register.stub.GetCall(register_pb2.GetCallRequest(call_id=record.call_id))
        # Visitor names are personal data: not kept by default.
        assert stored == without_visitor_name(record)
    assert count_records(engine) == len(OUTCOME_WORDS) == 7


async def test_a_repeated_event_is_stored_once(start_register, publisher, engine, spans):
    register = await start_register()
    await register.wait_health(SERVING)
    record = make_record()
    duplicates_before = metric("porteiro_register_records_total", {"result": "duplicate"})

    for _ in range(3):
        assert await publisher.publish(record)
    other = make_record()
    assert await publisher.publish(other)  # arrives after the repeats: they were all handled

    await wait_until(lambda: count_records(engine) == 2, what="two records")
    await wait_until(
        lambda: metric("porteiro_register_records_total", {"result": "duplicate"}) - duplicates_before == 2,
        what="two duplicates counted",
    )
    assert call_ids(engine) == sorted([record.call_id, other.call_id])
    stores = [span for span in spans.get_finished_spans() if span.name == "REGISTER_STORE"]
    assert sum(span.attributes["stored"] for span in stores) == 2
    assert sum(span.attributes["duplicates"] for span in stores) == 2
    assert sum(span.attributes["events"] for span in stores) == 4


async def test_visitor_name_is_kept_only_when_the_setting_allows_it(start_register, publisher, engine):
    register = await start_register(store_visitor_name=True)
    await register.wait_health(SERVING)
    record = make_record(visitor_name="  José da Silva ")

    assert await publisher.publish(record)

    await wait_until(lambda: count_records(engine) == 1, what="the record")
    stored = await register.stub.GetCall(register_pb2.GetCallRequest(call_id=record.call_id))
    assert stored.visitor_name == "José da Silva"


async def test_undecodable_events_go_to_the_dead_letter_queue_logged_once(
    start_register, publisher, queues, engine, caplog
):
    caplog.set_level(logging.WARNING, logger="porteiro_register.consumer")
    register = await start_register()
    await register.wait_health(SERVING)
    queues.publish_raw(b"\xff\x00 not a protobuf")
    backwards = make_record(started_at=BASE_TIME, ended_at=BASE_TIME - timedelta(seconds=1))
    assert await publisher.publish(backwards)
    good = make_record()
    assert await publisher.publish(good)

    await wait_until(lambda: count_records(engine) == 1, what="the good record")
    await asyncio.sleep(0.3)
    dead = queues.drain(queues.dead_letter)

    assert call_ids(engine) == [good.call_id]
    assert sorted(properties.headers["x-porteiro-error"] for properties, _ in dead) == [
        "ended_at: before started_at",
        "not a CallFinished message (DecodeError)",
    ]
    assert queues.drain() == []  # acknowledged: not redelivered
    moved = [entry for entry in caplog.records if "moved to" in entry.getMessage()]
    assert len(moved) == 2


async def test_database_down_during_a_burst_loses_and_duplicates_nothing(
    start_register, publisher, database, database_proxy, engine
):
    register = await start_register(database_url=database.url_via(database_proxy.port))
    await register.wait_health(SERVING)
    sent = [make_record(started_at=BASE_TIME + timedelta(seconds=index)) for index in range(60)]

    first = await asyncio.gather(*(publisher.publish(record) for record in sent[:20]))
    await wait_until(lambda: count_records(engine) == 20, what="the first 20 records")
    database_proxy.close()
    during = await asyncio.gather(*(publisher.publish(record) for record in sent[20:]))
    await register.wait_health(NOT_SERVING)
    await asyncio.sleep(1.0)
    held = count_records(engine)  # counted on the real server, not through the proxy
    database_proxy.reopen()
    await wait_until(lambda: count_records(engine) == len(sent), what="every record after the outage")
    await register.wait_health(SERVING)

    assert all(first) and all(during)  # the publisher never waits on the database
    assert held == 20  # nothing written (nor acknowledged) while the database was away
    assert call_ids(engine) == sorted(record.call_id for record in sent)
    await asyncio.sleep(0.5)
    assert count_records(engine) == len(sent)


async def test_events_held_while_the_database_is_down_survive_a_restart_of_the_register(
    start_register, publisher, database, database_proxy, engine
):
    register = await start_register(database_url=database.url_via(database_proxy.port))
    await register.wait_health(SERVING)
    database_proxy.close()
    sent = [make_record() for _ in range(10)]
    assert all(await asyncio.gather(*(publisher.publish(record) for record in sent)))
    await register.wait_health(NOT_SERVING)
    await asyncio.sleep(0.5)

    await register.app.stop(5)  # unacknowledged deliveries go back to the queue
    database_proxy.reopen()
    assert count_records(engine) == 0
    replacement = await start_register()
    await replacement.wait_health(SERVING)

    await wait_until(lambda: count_records(engine) == len(sent), what="every held event stored")
    assert call_ids(engine) == sorted(record.call_id for record in sent)


async def test_a_record_the_database_refuses_is_dead_lettered_without_holding_back_its_batch(
    start_register, queues, engine
):
    register = await start_register()
    await register.wait_health(SERVING)
    await register.app.stop(2)  # let the events pile up so they arrive as one batch
    publisher = CallFinishedPublisher(AMQP_URL, queues.name)
    refused = make_record(apartment="5\x0001")  # PostgreSQL text cannot hold NUL
    fine = [make_record() for _ in range(3)]
    try:
        assert all(
            await asyncio.gather(*(publisher.publish(record) for record in [fine[0], refused, *fine[1:]]))
        )
    finally:
        await publisher.close(1)

    again = await start_register()
    await again.wait_health(SERVING)

    await wait_until(lambda: count_records(engine) == 3, what="the three valid records")
    dead: list = []
    await wait_until(
        lambda: bool(dead.extend(queues.drain(queues.dead_letter)) or dead), what="a dead letter"
    )
    await asyncio.sleep(0.3)
    dead.extend(queues.drain(queues.dead_letter))
    assert call_ids(engine) == sorted(record.call_id for record in fine)
    ((properties, body),) = dead
    assert properties.headers["x-porteiro-error"].startswith("refused by the database")
    assert decode_call_finished(body).record == refused
