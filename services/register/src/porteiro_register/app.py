"""Wires the register service into the shared runtime.

Start: migrations (when `migrate_at_start`), retried with backoff until PostgreSQL
answers — health stays NOT_SERVING meanwhile; then SERVING, the consumer thread,
and the retention task. Health follows PostgreSQL (what the read API needs),
checked every few seconds; RabbitMQ's state is the `porteiro_dependency_up` gauge
(the consumer reconnects by itself and the events wait in the queue).
"""

from __future__ import annotations

import asyncio
import logging

import grpc
import psycopg
import sqlalchemy as sa
import sqlalchemy.exc
from opentelemetry import trace

from porteiro.register.v1 import register_pb2_grpc
from porteiro_common.amqp import Backoff, connection_parameters, describe_error
from porteiro_common.health import HealthReporter
from porteiro_common.metrics import DEPENDENCY_UP
from porteiro_common.server import ServiceApp
from porteiro_register import migrate
from porteiro_register.consumer import CallFinishedConsumer, ConsumerConfig
from porteiro_register.db import create_engine, describe_database
from porteiro_register.metrics import POSTGRESQL, RABBITMQ, set_register_build_info
from porteiro_register.servicer import RegisterServicer
from porteiro_register.settings import RegisterSettings, check_urls
from porteiro_register.store import RegisterStore

log = logging.getLogger(__name__)

HEALTH_CHECK_SECONDS = 2.0


class RegisterApp(ServiceApp[RegisterSettings]):
    service_names = ("porteiro.register.v1.RegisterService",)

    def __init__(self, settings: RegisterSettings, tracer: trace.Tracer | None = None) -> None:
        super().__init__(settings)
        check_urls(settings)
        set_register_build_info()
        self._database = describe_database(settings.database_url.get_secret_value())
        self.engine = create_engine(
            settings.database_url.get_secret_value(), settings.database_timeout_seconds
        )
        self.store = RegisterStore(self.engine)
        self.backoff = Backoff(settings.reconnect_initial_seconds, settings.reconnect_max_seconds)
        self.consumer = CallFinishedConsumer(
            connection_parameters(
                settings.amqp_url.get_secret_value(),
                settings.database_timeout_seconds,
                settings.heartbeat_seconds,
            ),
            self.engine,
            ConsumerConfig(
                queue=settings.queue,
                dead_letter_queue=settings.effective_dead_letter_queue,
                prefetch=settings.prefetch,
                store_visitor_name=settings.store_visitor_name,
                backoff=self.backoff,
            ),
            tracer=tracer,
        )
        self._tracer = tracer or trace.get_tracer("porteiro.register")
        self._tasks: list[asyncio.Task] = []

    def register(self, server: grpc.aio.Server) -> None:
        register_pb2_grpc.add_RegisterServiceServicer_to_server(
            RegisterServicer(self.store, self._tracer), server
        )

    async def start(self, health_reporter: HealthReporter) -> None:
        await health_reporter.set_serving(False)
        DEPENDENCY_UP.labels(POSTGRESQL).set(0)
        DEPENDENCY_UP.labels(RABBITMQ).set(0)
        await self._prepare_database()
        self.consumer.start()
        self._tasks = [
            asyncio.create_task(self._follow_dependencies(health_reporter), name="register-health"),
            asyncio.create_task(self._purge_periodically(), name="register-retention"),
        ]

    async def _prepare_database(self) -> None:
        """Migrate (or just reach the database) with backoff until it works."""
        delay = self.backoff.initial_seconds
        while True:
            try:
                if self.settings.create_database:
                    url = self.settings.database_url.get_secret_value()
                    if await asyncio.to_thread(migrate.create_database_if_missing, url):
                        log.info("database %s created", self._database)
                if self.settings.migrate_at_start:
                    revision = await asyncio.to_thread(migrate.upgrade, self.engine)
                    log.info("database %s at revision %s", self._database, revision)
                else:
                    await asyncio.to_thread(self.store.ping)
                return
            except (sqlalchemy.exc.SQLAlchemyError, psycopg.Error) as error:
                log.warning(
                    "database %s not ready, retrying in %.1f s: %s",
                    self._database,
                    delay,
                    describe_error(getattr(error, "orig", None) or error),
                )
            await asyncio.sleep(self.backoff.jittered(delay))
            delay = self.backoff.next(delay)

    async def _follow_dependencies(self, health_reporter: HealthReporter) -> None:
        reported: bool | None = None
        while True:
            try:
                await asyncio.to_thread(self.store.ping)
                up = True
            except sqlalchemy.exc.SQLAlchemyError:
                up = False
            DEPENDENCY_UP.labels(POSTGRESQL).set(1 if up else 0)
            DEPENDENCY_UP.labels(RABBITMQ).set(1 if self.consumer.broker_connected else 0)
            if up != reported:
                await health_reporter.set_serving(up)
                reported = up
            await asyncio.sleep(HEALTH_CHECK_SECONDS)

    async def _purge_periodically(self) -> None:
        while True:
            try:
                await asyncio.to_thread(
                    self.store.purge_expired,
                    self.settings.retention_days,
                    self.settings.retention_days_by_condominium,
                )
            except sa.exc.SQLAlchemyError as error:
                log.warning(
                    "retention purge failed, next try in %.0f s: %s",
                    self.settings.purge_interval_seconds,
                    error,
                )
            await asyncio.sleep(self.settings.purge_interval_seconds)

    async def stop(self, grace_seconds: float) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.to_thread(self.consumer.stop, grace_seconds)
        self.engine.dispose()
