"""RegisterService over real gRPC on the real PostgreSQL: pagination, filters, errors, health."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import grpc
import pytest

from porteiro.common.v1 import common_pb2
from porteiro.register.v1 import register_pb2
from porteiro_register.db import insert_records
from porteiro_register.records import row_from_record, to_timestamp
from tests.register.conftest import BASE_TIME, NOT_SERVING, SERVING, make_record
from tests.support.processes import free_port

AUTHORIZED, DENIED, NO_ANSWER = (
    common_pb2.CALL_OUTCOME_AUTHORIZED,
    common_pb2.CALL_OUTCOME_DENIED,
    common_pb2.CALL_OUTCOME_NO_ANSWER,
)


def store(engine, records, store_visitor_name=True):
    with engine.begin() as connection:
        insert_records(
            connection, [row_from_record(r, store_visitor_name=store_visitor_name) for r in records]
        )


@pytest.fixture
async def api(start_register):
    register = await start_register()
    await register.wait_health(SERVING)
    return register


def hourly(count, **fields):
    return [make_record(started_at=BASE_TIME + timedelta(hours=index), **fields) for index in range(count)]


async def list_all(stub, **request):
    pages, token = [], ""
    while True:
        page = await stub.ListCalls(register_pb2.ListCallsRequest(page_token=token, **request))
        pages.append([call.call_id for call in page.calls])
        token = page.next_page_token
        if not token:
            return pages


async def test_pages_cover_every_record_once_newest_first(api, engine):
    records = hourly(7)
    store(engine, records)

    pages = await list_all(api.stub, page_size=3)

    newest_first = [record.call_id for record in reversed(records)]
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]


async def test_records_with_the_same_start_are_paged_without_loss(api, engine):
    records = [make_record(started_at=BASE_TIME) for _ in range(5)]
    store(engine, records)

    pages = await list_all(api.stub, page_size=2)

    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(call for page in pages for call in page) == sorted(record.call_id for record in records)


async def test_filters_condominium_period_apartment_and_outcome(api, engine):
    day = hourly(6)  # default condominium, apartment 501, authorized, 14:00..19:00
    other_condominium = make_record(condominium="aurora")
    apartment_302 = make_record(apartment="302", started_at=BASE_TIME + timedelta(minutes=30))
    denied = make_record(outcome=DENIED, started_at=BASE_TIME + timedelta(minutes=40))
    no_answer = make_record(outcome=NO_ANSWER, started_at=BASE_TIME + timedelta(minutes=50))
    store(engine, [*day, other_condominium, apartment_302, denied, no_answer])

    async def ids(**request):
        response = await api.stub.ListCalls(register_pb2.ListCallsRequest(**request))
        return {call.call_id for call in response.calls}

    assert await ids(condominium="aurora") == {other_condominium.call_id}
    assert len(await ids()) == 9  # "" is the default condominium
    assert await ids(apartment="302") == {apartment_302.call_id}
    assert await ids(outcomes=[DENIED, NO_ANSWER]) == {denied.call_id, no_answer.call_id}
    period = await ids(
        started_from=to_timestamp(BASE_TIME + timedelta(hours=2)),
        started_before=to_timestamp(BASE_TIME + timedelta(hours=4)),
    )
    assert period == {day[2].call_id, day[3].call_id}  # start inclusive, end exclusive
    assert await ids(apartment="501", outcomes=[AUTHORIZED], started_from=day[5].started_at) == {
        day[5].call_id
    }


async def test_get_call_returns_every_field(api, engine):
    record = make_record(
        intent=common_pb2.INTENT_VISIT, decided_by=register_pb2.DECIDED_BY_KEYPAD, attempts=2
    )
    store(engine, [record])

    assert await api.stub.GetCall(register_pb2.GetCallRequest(call_id=record.call_id.upper())) == record


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"page_size": 501}, "page_size"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"outcomes": [common_pb2.CALL_OUTCOME_UNSPECIFIED]}, "outcomes"),
        ({"outcomes": [99]}, "outcomes"),
        (
            {"started_from": to_timestamp(BASE_TIME), "started_before": to_timestamp(BASE_TIME)},
            "started_from",
        ),
        ({"condominium": "x" * 65}, "condominium"),
    ],
)
async def test_bad_list_requests_are_invalid_argument_naming_the_field(api, spans, request_fields, field):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await api.stub.ListCalls(register_pb2.ListCallsRequest(**request_fields))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(f"{field}:")
    (span,) = await finished_spans(spans, "REGISTER_LIST_CALLS")
    assert span.attributes["error_field"] == field


async def test_get_call_errors(api):
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await api.stub.GetCall(register_pb2.GetCallRequest(call_id="42"))
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert invalid.value.details().startswith("call_id:")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await api.stub.GetCall(register_pb2.GetCallRequest(call_id=make_record().call_id))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_erase_visitor_by_name_ignores_case_accents_and_spaces(api, engine):
    jose = [
        make_record(visitor_name="José da Silva"),
        make_record(visitor_name="JOSE  DA SILVA", condominium="aurora"),
    ]
    other = make_record(visitor_name="Josefa da Silva")
    store(engine, [*jose, other])

    only_aurora = await api.stub.EraseVisitor(
        register_pb2.EraseVisitorRequest(visitor_name="jose da silva", condominium="aurora")
    )
    everywhere = await api.stub.EraseVisitor(register_pb2.EraseVisitorRequest(visitor_name=" josé da silva"))

    assert (only_aurora.deleted, everywhere.deleted) == (1, 1)
    remaining = await api.stub.ListCalls(register_pb2.ListCallsRequest())
    assert [call.call_id for call in remaining.calls] == [other.call_id]


async def test_erase_by_call_id_and_bad_erase_requests(api, engine):
    record = make_record()
    store(engine, [record])

    erased = await api.stub.EraseVisitor(register_pb2.EraseVisitorRequest(call_id=record.call_id))
    again = await api.stub.EraseVisitor(register_pb2.EraseVisitorRequest(call_id=record.call_id))

    assert (erased.deleted, again.deleted) == (1, 0)
    for bad in ({}, {"visitor_name": "Ana", "call_id": record.call_id}, {"call_id": "x"}):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await api.stub.EraseVisitor(register_pb2.EraseVisitorRequest(**bad))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert raised.value.details().split(":")[0] in ("visitor_name/call_id", "call_id")


async def test_not_serving_until_the_database_answers_and_unavailable_while_it_is_away(
    start_register, database, database_proxy, engine
):
    database_proxy.close()
    register = await start_register(database_url=database.url_via(database_proxy.port))
    await register.wait_health(NOT_SERVING, within=2)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await register.stub.ListCalls(register_pb2.ListCallsRequest(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE

    database_proxy.reopen()
    await register.wait_health(SERVING)
    store(engine, [record := make_record()])
    listed = await register.stub.ListCalls(register_pb2.ListCallsRequest())
    assert [call.call_id for call in listed.calls] == [record.call_id]


async def test_an_unreachable_broker_is_logged_once_and_does_not_stop_the_read_api(start_register, caplog):
    caplog.set_level(logging.WARNING, logger="porteiro_register.consumer")
    register = await start_register(amqp_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
    await register.wait_health(SERVING)
    await asyncio.sleep(1.0)  # several reconnect attempts (backoff 0.1 → 0.5 s)

    assert (await register.stub.ListCalls(register_pb2.ListCallsRequest())).next_page_token == ""
    assert not register.app.consumer.broker_connected
    unavailable = [entry for entry in caplog.records if "unavailable" in entry.getMessage()]
    assert len(unavailable) == 1


async def finished_spans(spans, name: str, within: float = 2.0) -> list:
    """The server ends its span just after the reply is sent: wait for it a moment."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = [span for span in spans.get_finished_spans() if span.name == name]
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.01)
