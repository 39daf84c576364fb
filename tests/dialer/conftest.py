"""Fixtures for the dialer suite: the real RabbitMQ, a queue per test, the dialer in-process."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import grpc
import pika
import pytest
from grpc_health.v1 import health_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from porteiro.dialer.v1 import dialer_pb2_grpc
from porteiro_common.server import BoundServer, build_server
from porteiro_common.settings import ObservabilitySettings
from porteiro_dialer.app import DialerApp
from porteiro_dialer.settings import DialerSettings
from tests.support.health import GrpcHealth

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def broker_url() -> str:
    """The machine's RabbitMQ, as the dialer's own settings name it (env or local default)."""
    return DialerSettings().amqp_url.get_secret_value()


def broker_address() -> tuple[str, int]:
    parts = urlsplit(broker_url())
    return parts.hostname or "127.0.0.1", parts.port or 5672


def url_via_port(port: int) -> str:
    """The broker URL with its port replaced (to go through a proxy, or nowhere)."""
    parts = urlsplit(broker_url())
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{port}"))


@dataclass
class Delivery:
    body: dict
    properties: pika.BasicProperties
    routing_key: str


class BrokerQueue:
    """A uniquely named queue on the real broker, read with basic_get, deleted afterwards."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _connect(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(broker_url()))

    def drain(self) -> list[Delivery]:
        """Every message currently in the queue (acknowledged, so they are gone)."""
        connection = self._connect()
        try:
            channel = connection.channel()
            deliveries = []
            while True:
                method, properties, body = channel.basic_get(self.name, auto_ack=True)
                if method is None:
                    return deliveries
                deliveries.append(Delivery(json.loads(body), properties, method.routing_key))
        finally:
            connection.close()

    def is_durable(self) -> bool:
        """Redeclaring with durable=True only succeeds if the existing queue is durable."""
        connection = self._connect()
        try:
            connection.channel().queue_declare(self.name, durable=True)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False
        finally:
            if connection.is_open:
                connection.close()

    def delete(self) -> None:
        connection = self._connect()
        try:
            connection.channel().queue_delete(self.name)
        finally:
            connection.close()


@pytest.fixture
def broker_queue() -> Iterator[BrokerQueue]:
    queue = BrokerQueue(f"porteiro-test-dialer-{uuid.uuid4().hex[:12]}")
    yield queue
    queue.delete()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@dataclass
class RunningDialer(GrpcHealth):
    app: DialerApp
    bound: BoundServer
    channel: grpc.aio.Channel

    @property
    def stub(self) -> dialer_pb2_grpc.DialerServiceStub:
        return dialer_pb2_grpc.DialerServiceStub(self.channel)


@pytest.fixture
async def start_dialer(
    broker_queue: BrokerQueue, spans: InMemorySpanExporter
) -> AsyncIterator[Callable[..., Awaitable[RunningDialer]]]:
    """Factory: a dialer on a free loopback port publishing to this test's queue."""
    running: list[RunningDialer] = []
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))

    async def start(trace_personal_data: bool = False, **overrides) -> RunningDialer:
        values = {
            "grpc_host": "127.0.0.1",
            "grpc_port": 0,
            "queue": broker_queue.name,
            "reconnect_initial_seconds": 0.1,
            "reconnect_max_seconds": 0.5,
            **overrides,
        }
        settings = DialerSettings(**values)
        app = DialerApp(
            settings,
            ObservabilitySettings(trace_personal_data=trace_personal_data),
            tracer=provider.get_tracer("porteiro.dialer"),
        )
        bound = build_server(app, settings.grpc_host, settings.grpc_port)
        await bound.server.start()
        await app.start(bound.health)
        dialer = RunningDialer(app, bound, grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}"))
        running.append(dialer)
        return dialer

    yield start
    for dialer in running:
        await dialer.channel.close()
        await dialer.bound.server.stop(0)
        await dialer.app.stop(5)
