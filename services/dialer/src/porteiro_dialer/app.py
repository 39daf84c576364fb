"""Wires the dialer service into the shared runtime.

Health follows the broker: NOT_SERVING until the publisher's connection is up,
NOT_SERVING again whenever it drops, SERVING once it reconnects. The publisher
thread only signals a change; an asyncio task owned by the app applies it.
Redis (optional) never affects health: without it deduplication is per process.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from opentelemetry import trace

from porteiro.dialer.v1 import dialer_pb2_grpc
from porteiro_common.health import HealthReporter
from porteiro_common.metrics import DEPENDENCY_UP
from porteiro_common.redaction import Redactor
from porteiro_common.server import ServiceApp
from porteiro_common.settings import ObservabilitySettings, load_settings
from porteiro_dialer.idempotency import IdempotencyStore, MemoryIdempotencyStore, SharedIdempotencyStore
from porteiro_dialer.metrics import RABBITMQ
from porteiro_dialer.payload import PayloadConfig
from porteiro_dialer.placer import CallPlacer, RequestLimits
from porteiro_dialer.publisher import AmqpPublisher, AmqpTarget, Backoff, connection_parameters
from porteiro_dialer.servicer import DialerServicer
from porteiro_dialer.settings import DialerSettings, check_urls
from porteiro_dialer.tenancy import DialerTenants

REDIS_CHECK_SECONDS = 10.0


def build_publisher(settings: DialerSettings) -> AmqpPublisher:
    parameters = connection_parameters(
        settings.amqp_url.get_secret_value(), settings.connect_timeout_seconds, settings.heartbeat_seconds
    )
    target = AmqpTarget(
        exchange=settings.exchange,
        routing_key=settings.effective_routing_key,
        queue=settings.queue,
        declare_queue=settings.declare_queue,
    )
    return AmqpPublisher(
        parameters, target, Backoff(settings.reconnect_initial_seconds, settings.reconnect_max_seconds)
    )


def build_store(settings: DialerSettings) -> IdempotencyStore:
    local = MemoryIdempotencyStore(settings.idempotency_ttl_seconds)
    url = settings.redis_url_value
    if url is None:
        return local
    return SharedIdempotencyStore.from_url(
        url,
        local,
        settings.idempotency_ttl_seconds,
        settings.redis_key_prefix,
        settings.redis_timeout_seconds,
    )


class DialerApp(ServiceApp[DialerSettings]):
    service_names = ("porteiro.dialer.v1.DialerService",)

    def __init__(
        self,
        settings: DialerSettings,
        observability: ObservabilitySettings | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        super().__init__(settings)
        check_urls(settings)
        observability = observability or load_settings(ObservabilitySettings)
        self.publisher = build_publisher(settings)
        self.store = build_store(settings)
        self.tenants = DialerTenants(settings)
        self.placer = CallPlacer(
            self.publisher,
            self.store,
            PayloadConfig(settings.license, settings.event_code, settings.destiny),
            settings.publish_timeout_seconds,
            Redactor(observability.trace_personal_data),
            tracer or trace.get_tracer("porteiro.dialer"),
            RequestLimits.from_settings(settings),
            self.tenants.route,
        )
        self._broker_changed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    def register(self, server: grpc.aio.Server) -> None:
        dialer_pb2_grpc.add_DialerServiceServicer_to_server(DialerServicer(self.placer), server)

    async def start(self, health_reporter: HealthReporter) -> None:
        loop = asyncio.get_running_loop()
        changed = self._broker_changed = asyncio.Event()
        # The library servicer starts the overall status ("") at SERVING; we are not, yet.
        await health_reporter.set_serving(False)
        DEPENDENCY_UP.labels(RABBITMQ).set(0)

        def signal_change(_up: bool) -> None:
            try:
                loop.call_soon_threadsafe(changed.set)
            except RuntimeError:  # loop closed while the thread was still reporting
                pass

        self._tasks.append(asyncio.create_task(self._follow_broker(health_reporter), name="dialer-health"))
        if isinstance(self.store, SharedIdempotencyStore):
            self._tasks.append(asyncio.create_task(self._watch_redis(self.store), name="dialer-redis"))
        self.publisher.start(signal_change)
        await self.tenants.start()

    async def _follow_broker(self, health_reporter: HealthReporter) -> None:
        assert self._broker_changed is not None
        reported: bool | None = None
        while True:
            await self._broker_changed.wait()
            self._broker_changed.clear()
            up = self.publisher.connected
            DEPENDENCY_UP.labels(RABBITMQ).set(1 if up else 0)
            if up != reported:
                await health_reporter.set_serving(up)
                reported = up

    @staticmethod
    async def _watch_redis(store: SharedIdempotencyStore) -> None:
        while True:
            await store.check()
            await asyncio.sleep(REDIS_CHECK_SECONDS)

    async def stop(self, grace_seconds: float) -> None:
        await self.tenants.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.to_thread(self.publisher.stop, grace_seconds)
        if isinstance(self.store, SharedIdempotencyStore):
            with contextlib.suppress(Exception):
                await self.store.close()
