"""Fixtures of the register suite: a throwaway PostgreSQL database per module, a queue per test.

The database lives on the machine's PostgreSQL (PORTEIRO_TEST_POSTGRES_URL, default the
local server as user postgres) and is dropped at the end of the module. Outages are
made with a TCP proxy in front of the real server or broker, never by stopping them.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pika
import psycopg
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from psycopg import sql

from porteiro.common.v1 import common_pb2
from porteiro.register.v1 import register_pb2, register_pb2_grpc
from porteiro_common.server import BoundServer, build_server
from porteiro_register import migrate
from porteiro_register.app import RegisterApp
from porteiro_register.db import create_engine
from porteiro_register.records import to_timestamp
from porteiro_register.settings import LOCAL_AMQP_URL, RegisterSettings
from tests.support.health import GrpcHealth
from tests.support.tcp_proxy import TcpProxy

SERVER_URL = os.environ.get("PORTEIRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("PORTEIRO_TEST_AMQP_URL", LOCAL_AMQP_URL)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def database_url(name: str, port: int | None = None) -> str:
    url = sa.make_url(SERVER_URL).set(database=name)
    if port is not None:
        url = url.set(host="127.0.0.1", port=port)
    return url.render_as_string(hide_password=False)


def server_address() -> tuple[str, int]:
    url = sa.make_url(SERVER_URL)
    return url.host or "127.0.0.1", url.port or 5432


def amqp_url_via(port: int) -> str:
    parts = pika.URLParameters(AMQP_URL)
    credentials = parts.credentials
    return f"amqp://{credentials.username}:{credentials.password}@127.0.0.1:{port}/%2F"


@dataclass
class Database:
    name: str

    @property
    def url(self) -> str:
        return database_url(self.name)

    def url_via(self, port: int) -> str:
        return database_url(self.name, port)


def _admin(statement: sql.Composed) -> None:
    with psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)


def create_throwaway_database() -> Database:
    database = Database(f"porteiro_test_register_{uuid.uuid4().hex[:10]}")
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database.name)))
    return database


def drop_database(database: Database) -> None:
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name)))


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    """An empty throwaway database, migrated, for the whole module."""
    database = create_throwaway_database()
    engine = create_engine(database.url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    yield database
    drop_database(database)


@pytest.fixture
def engine(database: Database) -> Iterator[sa.Engine]:
    """An engine on the module's database, emptied before the test."""
    engine = create_engine(database.url)
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE call_records"))
    yield engine
    engine.dispose()


def count_records(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM call_records")).scalar_one())


def call_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(
            str(value) for value in connection.execute(sa.text("SELECT call_id FROM call_records")).scalars()
        )


BASE_TIME = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def make_record(**fields) -> register_pb2.CallRecord:
    """A finished call; any field can be overridden (started_at/ended_at as datetimes)."""
    started_at = fields.pop("started_at", BASE_TIME)
    ended_at = fields.pop("ended_at", started_at + timedelta(seconds=42))
    values = {
        "condominium": "default",
        "call_id": str(uuid.uuid4()),
        "intent": common_pb2.INTENT_DELIVERY,
        "apartment": "501",
        "block": "B",
        "resident_name": "Maria Souza",
        "visitor_name": "José da Silva",
        "outcome": common_pb2.CALL_OUTCOME_AUTHORIZED,
        "decided_by": register_pb2.DECIDED_BY_VOICE,
        "attempts": 1,
        "call_seconds": 42.0,
        "resident_wait_seconds": 12.5,
        **fields,
    }
    return register_pb2.CallRecord(
        started_at=to_timestamp(started_at), ended_at=to_timestamp(ended_at), **values
    )


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


class BrokerQueues:
    """A uniquely named events queue (and its dead-letter queue) on the real broker, deleted afterwards."""

    def __init__(self) -> None:
        self.name = f"porteiro-test-register-{uuid.uuid4().hex[:12]}"
        self.dead_letter = f"{self.name}.dead"

    def _connect(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(AMQP_URL))

    def publish_raw(self, body: bytes) -> None:
        connection = self._connect()
        try:
            channel = connection.channel()
            channel.queue_declare(self.name, durable=True)
            channel.confirm_delivery()
            channel.basic_publish("", self.name, body, pika.BasicProperties(delivery_mode=2))
        finally:
            connection.close()

    def drain(self, queue: str | None = None) -> list[tuple[pika.BasicProperties, bytes]]:
        connection = self._connect()
        try:
            channel = connection.channel()
            messages: list[tuple[pika.BasicProperties, bytes]] = []
            while True:
                method, properties, body = channel.basic_get(queue or self.name, auto_ack=True)
                if method is None:
                    return messages
                messages.append((properties, body))
        except pika.exceptions.ChannelClosedByBroker:  # the queue does not exist (yet)
            return []
        finally:
            if connection.is_open:
                connection.close()

    def delete(self) -> None:
        connection = self._connect()
        try:
            channel = connection.channel()
            channel.queue_delete(self.name)
            channel.queue_delete(self.dead_letter)
        finally:
            connection.close()


@pytest.fixture
def queues() -> Iterator[BrokerQueues]:
    queues = BrokerQueues()
    yield queues
    queues.delete()


@pytest.fixture
def database_proxy() -> Iterator[TcpProxy]:
    """A proxy in front of the real PostgreSQL that a test can cut and restore."""
    proxy = TcpProxy(server_address()).start()
    yield proxy
    proxy.close()


@dataclass
class RunningRegister(GrpcHealth):
    wait_within = 20.0

    app: RegisterApp
    bound: BoundServer
    channel: grpc.aio.Channel

    @property
    def stub(self) -> register_pb2_grpc.RegisterServiceStub:
        return register_pb2_grpc.RegisterServiceStub(self.channel)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def start_register(
    database: Database, queues: BrokerQueues, spans: InMemorySpanExporter
) -> AsyncIterator[Callable[..., Awaitable[RunningRegister]]]:
    """Factory: the register in-process on a free port, on this module's database and this test's queue.

    The app's start (migrations with retry) runs as a task, as the runtime does, so a
    test can watch health while the database is away.
    """
    running: list[tuple[RunningRegister, asyncio.Task]] = []
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))

    async def start(**overrides) -> RunningRegister:
        values = {
            "grpc_host": "127.0.0.1",
            "grpc_port": 0,
            "database_url": database.url,
            "amqp_url": AMQP_URL,
            "queue": queues.name,
            "reconnect_initial_seconds": 0.1,
            "reconnect_max_seconds": 0.5,
            "database_timeout_seconds": 2.0,
            **overrides,
        }
        settings = RegisterSettings(**values)
        app = RegisterApp(settings, tracer=provider.get_tracer("porteiro.register"))
        bound = build_server(app, settings.grpc_host, settings.grpc_port)
        await bound.health.set_serving(False)
        await bound.server.start()
        starting = asyncio.create_task(app.start(bound.health))
        register = RunningRegister(app, bound, grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}"))
        running.append((register, starting))
        return register

    yield start
    for register, starting in running:
        starting.cancel()
        await register.channel.close()
        await register.bound.server.stop(0)
        await register.app.stop(5)


async def wait_until(condition: Callable[[], bool], within: float = 20.0, what: str = "condition") -> float:
    began = time.monotonic()
    while time.monotonic() - began < within:
        if condition():
            return time.monotonic() - began
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not met within {within} s")
