"""The visitor register end to end: concierge and register as real processes, real RabbitMQ and PostgreSQL.

The concierge (with the real directory process) publishes a CallFinished per call; the
register stores it. The gateway's part is played by the concierge's gRPC driver and the
dialer by a fake (the one boundary replaced: it lets a test place a call and take the
dialer down). The database, and the broker as the concierge sees it, are reached through
TCP proxies, so a test can cut them and restore them without stopping the real servers.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import grpc
import pika
import psycopg
import pytest

from porteiro.register.v1 import register_pb2, register_pb2_grpc
from tests.concierge.driver import LegDriver
from tests.concierge.fakes import FakeDialer, FakeDirectory, serve_fakes
from tests.register import conftest as register_conftest
from tests.register.conftest import (
    AMQP_URL,
    Database,
    amqp_url_via,
    create_throwaway_database,
    drop_database,
)
from tests.support.processes import ServiceProcess
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def metric_value(port: int, name: str) -> float:
    """One unlabelled sample of a process's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


VISIT = "Boa tarde, aqui é o João, entrega para a Renata do 501"


@pytest.fixture
def database() -> Iterator[Database]:
    database = create_throwaway_database()
    yield database
    drop_database(database)


# The register tests' own fixtures: throwaway queues, and a proxy in front of PostgreSQL.
queues = register_conftest.queues
database_proxy = register_conftest.database_proxy


@pytest.fixture
def broker_proxy() -> Iterator[TcpProxy]:
    """The concierge's way to RabbitMQ (the register connects directly)."""
    parts = pika.URLParameters(AMQP_URL)
    proxy = TcpProxy((parts.host, parts.port)).start()
    yield proxy
    proxy.close()


@pytest.fixture
async def dialer() -> AsyncIterator[tuple[FakeDialer, str]]:
    fake = FakeDialer()
    server, port = await serve_fakes(FakeDirectory(), fake)
    yield fake, f"127.0.0.1:{port}"
    await server.stop(0)


@dataclass
class Stack:
    concierge: ServiceProcess
    register: ServiceProcess
    dialer: FakeDialer
    database: Database
    concierge_env: dict[str, str]

    def records(self) -> dict[str, tuple[str, str, int, str | None]]:
        """call id -> (outcome, decided_by, attempts, visitor_name), read straight from PostgreSQL."""
        with psycopg.connect(self.database.url, connect_timeout=5) as connection:
            rows = connection.execute(
                "SELECT call_id::text, outcome, decided_by, attempts, visitor_name FROM call_records"
            ).fetchall()
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}

    async def wait_records(
        self, count: int, within: float = 30.0
    ) -> dict[str, tuple[str, str, int, str | None]]:
        deadline = time.monotonic() + within
        while True:
            records = await asyncio.to_thread(self.records)
            if len(records) >= count or time.monotonic() > deadline:
                return records
            await asyncio.sleep(0.2)


@pytest.fixture
async def stack(run_service, database, queues, database_proxy, broker_proxy, dialer) -> Stack:
    fake_dialer, dialer_target = dialer
    directory = run_service("porteiro_directory", "PORTEIRO_DIRECTORY_")
    register = run_service(
        "porteiro_register",
        "PORTEIRO_REGISTER_",
        {
            "PORTEIRO_REGISTER_DATABASE_URL": database.url_via(database_proxy.port),
            "PORTEIRO_REGISTER_AMQP_URL": AMQP_URL,
            "PORTEIRO_REGISTER_QUEUE": queues.name,
            "PORTEIRO_REGISTER_STORE_VISITOR_NAME": "true",
            "PORTEIRO_REGISTER_DATABASE_TIMEOUT_SECONDS": "2",
            "PORTEIRO_REGISTER_RECONNECT_INITIAL_SECONDS": "0.1",
            "PORTEIRO_REGISTER_RECONNECT_MAX_SECONDS": "0.5",
        },
    )
    await asyncio.to_thread(directory.wait_serving, 60)
    concierge_env = {
        "PORTEIRO_CONCIERGE_DIRECTORY_TARGET": directory.target,
        "PORTEIRO_CONCIERGE_DIALER_TARGET": dialer_target,
        "PORTEIRO_CONCIERGE_RESIDENT_CONNECT_TIMEOUT_SECONDS": "1.0",
        "PORTEIRO_CONCIERGE_DEADLINE_REREAD_SECONDS": "0.05",
        "PORTEIRO_CONCIERGE_REGISTER_ENABLED": "true",
        "PORTEIRO_CONCIERGE_REGISTER_AMQP_URL": amqp_url_via(broker_proxy.port),
        "PORTEIRO_CONCIERGE_GRACE_PERIOD_SECONDS": "15",
        "PORTEIRO_CONCIERGE_REGISTER_QUEUE": queues.name,
    }
    concierge = run_service("porteiro_concierge", "PORTEIRO_CONCIERGE_", concierge_env)
    await asyncio.gather(
        asyncio.to_thread(concierge.wait_serving, 60), asyncio.to_thread(register.wait_serving, 90)
    )
    return Stack(concierge, register, fake_dialer, database, concierge_env)


Call = Callable[[grpc.aio.Channel, Stack], Awaitable[str]]


async def visitor_asks(channel: grpc.aio.Channel) -> tuple[str, LegDriver]:
    session_id = str(uuid.uuid4())
    visitor = LegDriver(channel, session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    await visitor.utter(VISIT)
    return session_id, visitor


async def call_placed(stack: Stack, session_id: str) -> None:
    """Wait until the dialer was asked to call the resident of this call (earlier calls' requests skipped)."""
    while (await stack.dialer.next_call(timeout=10)).session_id != session_id:
        pass


async def resident_answers(channel: grpc.aio.Channel, stack: Stack, answer: str) -> str:
    """A whole call whose resident answers `answer` (spoken, or keys when digits)."""
    session_id, visitor = await visitor_asks(channel)
    await visitor.expect("entrega para Renata Oliveira")
    await call_placed(stack, session_id)
    resident = LegDriver(channel, session_id, "resident")
    await resident.start()
    await resident.expect("João", "501")
    if answer.isdigit():
        await resident.press(answer)
    else:
        await resident.utter(answer)
    await visitor.expect_hangup(10)
    await resident.expect_hangup(10)
    return session_id


async def nobody_answers(channel: grpc.aio.Channel, stack: Stack) -> str:
    session_id, visitor = await visitor_asks(channel)
    await visitor.expect("Não consegui falar com o morador", timeout=20)
    await visitor.expect_hangup(10)
    return session_id


async def visitor_hangs_up(channel: grpc.aio.Channel, stack: Stack) -> str:
    session_id = str(uuid.uuid4())
    visitor = LegDriver(channel, session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    await visitor.hang_up()
    await asyncio.wait_for(visitor.closed.wait(), 10)
    return session_id


async def resident_hangs_up(channel: grpc.aio.Channel, stack: Stack) -> str:
    session_id, visitor = await visitor_asks(channel)
    await call_placed(stack, session_id)
    resident = LegDriver(channel, session_id, "resident")
    await resident.start()
    await resident.expect("João")
    await resident.hang_up()
    await visitor.expect_hangup(10)
    return session_id


async def dialer_down(channel: grpc.aio.Channel, stack: Stack) -> str:
    stack.dialer.down = True
    try:
        session_id, visitor = await visitor_asks(channel)
        await visitor.expect("Não consegui chamar o morador")
        await visitor.expect_hangup(10)
    finally:
        stack.dialer.down = False
    return session_id


CALLS: list[tuple[str, Call, tuple[str, str, int]]] = [
    ("authorized by voice", lambda c, s: resident_answers(c, s, "Pode liberar"), ("authorized", "voice", 1)),
    ("authorized by key", lambda c, s: resident_answers(c, s, "1"), ("authorized", "keypad", 1)),
    ("denied", lambda c, s: resident_answers(c, s, "Não, não conheço"), ("denied", "voice", 1)),
    (
        "front desk",
        lambda c, s: resident_answers(c, s, "Deixa na portaria"),
        ("left_at_front_desk", "voice", 1),
    ),
    ("no answer", nobody_answers, ("no_answer", "none", 2)),
    ("visitor hung up", visitor_hangs_up, ("visitor_hung_up", "none", 0)),
    ("resident hung up", resident_hangs_up, ("resident_hung_up", "none", 1)),
    ("failed", dialer_down, ("failed", "none", 1)),
]


async def test_every_outcome_is_one_record_with_its_fields(stack: Stack):
    expected: dict[str, tuple[str, str, int]] = {}
    async with grpc.aio.insecure_channel(stack.concierge.target) as channel:
        for name, call, fields in CALLS:
            try:
                expected[await call(channel, stack)] = fields
            except (AssertionError, TimeoutError) as error:
                raise AssertionError(f"{name}: {error}\n{stack.concierge.logs()[-4000:]}") from None
    records = await stack.wait_records(len(CALLS))
    await asyncio.sleep(1.0)  # anything published twice would arrive meanwhile
    records = await asyncio.to_thread(stack.records)
    assert {call_id: record[:3] for call_id, record in records.items()} == expected
    visitor_names = {records[call_id][3] for call_id, fields in expected.items() if fields[2] == 1}
    assert visitor_names == {"João"}  # stored: the register here is set to keep names

    async with grpc.aio.insecure_channel(stack.register.target) as channel:
        listed = await register_pb2_grpc.RegisterServiceStub(channel).ListCalls(
            register_pb2.ListCallsRequest(condominium="default", page_size=50), timeout=10
        )
    assert sorted(call.call_id for call in listed.calls) == sorted(expected)


async def test_database_cut_during_calls_loses_and_duplicates_nothing(stack: Stack, database_proxy: TcpProxy):
    async with grpc.aio.insecure_channel(stack.concierge.target) as channel:
        first = await resident_answers(channel, stack, "1")
        assert set(await stack.wait_records(1)) == {first}

        database_proxy.close()  # PostgreSQL goes away for the register (the server itself keeps running)
        during = [
            await resident_answers(channel, stack, "Pode liberar"),
            await resident_answers(channel, stack, "2"),
            await visitor_hangs_up(channel, stack),
        ]
        await asyncio.sleep(2.0)  # the register holds the events, unacknowledged, and retries
        assert set(await asyncio.to_thread(stack.records)) == {first}

        database_proxy.reopen()
        records = await stack.wait_records(4, within=60)
        last = await resident_answers(channel, stack, "3")
    records = await stack.wait_records(5, within=30)
    await asyncio.sleep(1.0)
    records = await asyncio.to_thread(stack.records)
    assert sorted(records) == sorted([first, *during, last])  # each call once: keys are unique call ids
    assert [records[call_id][0] for call_id in during] == ["authorized", "denied", "visitor_hung_up"]
    assert records[last][:2] == ("left_at_front_desk", "keypad")


async def test_a_stopping_concierge_delivers_the_events_it_still_holds(stack: Stack, broker_proxy: TcpProxy):
    """The broker is away when a call finishes: the event waits in the concierge, which on
    SIGTERM keeps flushing (up to its grace period) and delivers it once the broker is back."""
    async with grpc.aio.insecure_channel(stack.concierge.target) as channel:
        broker_proxy.close()
        held = await resident_answers(channel, stack, "1")  # the call itself is not held up
    stopping = asyncio.create_task(asyncio.to_thread(stack.concierge.terminate, 30))
    await asyncio.sleep(2.0)
    assert not stopping.done(), "the concierge stopped without delivering its event"
    assert await asyncio.to_thread(stack.records) == {}
    broker_proxy.reopen()
    assert await stopping == 0
    records = await stack.wait_records(1, within=30)
    assert {call_id: record[:2] for call_id, record in records.items()} == {held: ("authorized", "keypad")}


async def test_two_replicas_sharing_a_call_record_it_once(stack: Stack, run_service):
    """Visitor leg on one concierge, resident leg on another (sessions in Redis): both legs end,
    each replica sees the end of its own leg, and the call is still published once."""
    env = {**stack.concierge_env, "PORTEIRO_CONCIERGE_REDIS_URL": "redis://127.0.0.1:6379/0"}
    first = run_service("porteiro_concierge", "PORTEIRO_CONCIERGE_", env)
    second = run_service("porteiro_concierge", "PORTEIRO_CONCIERGE_", env)
    await asyncio.gather(
        asyncio.to_thread(first.wait_serving, 60), asyncio.to_thread(second.wait_serving, 60)
    )
    async with (
        grpc.aio.insecure_channel(first.target) as a,
        grpc.aio.insecure_channel(second.target) as b,
    ):
        session_id, visitor = await visitor_asks(a)
        await call_placed(stack, session_id)
        resident = LegDriver(b, session_id, "resident")
        await resident.start()
        await resident.expect("João", "501")
        await resident.utter("Pode liberar")
        try:  # generous: the legs' ends cross processes through Redis on a loaded machine
            await visitor.expect_hangup(20)
            await resident.expect_hangup(20)
        except TimeoutError:
            logs = f"visitor's concierge:\n{first.logs()[-3000:]}\nresident's:\n{second.logs()[-3000:]}"
            raise AssertionError(f"a leg was not ended\n{logs}") from None
    records = await stack.wait_records(1)
    await asyncio.sleep(1.5)  # a second publication would arrive meanwhile: the register would count it
    records = await asyncio.to_thread(stack.records)
    assert {call_id: record[:2] for call_id, record in records.items()} == {
        session_id: ("authorized", "voice")
    }
    published = sum(
        metric_value(service.metrics_port, "porteiro_register_events_confirmed_total")
        for service in (first, second)
    )
    assert published == 1.0
