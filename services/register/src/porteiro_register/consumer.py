"""Consumes CallFinished events and writes them to PostgreSQL, acknowledging only after the commit.

One thread owns a pika BlockingConnection (like the publishers). Deliveries that
arrive together are written in one transaction, then acknowledged. While
PostgreSQL is unreachable the thread keeps the deliveries unacknowledged and
retries with backoff (servicing the AMQP connection meanwhile): RabbitMQ keeps
them, and stops sending more once `prefetch` are unacknowledged. Should the AMQP
connection drop instead, the broker redelivers whatever was not acknowledged; the
insert ignores a call id already stored, so a redelivery is never a second record.
A body that is not a valid CallFinished (a "poison" message) goes to the
dead-letter queue with the reason in a header, is acknowledged, and is logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import sqlalchemy as sa
import sqlalchemy.exc
from opentelemetry import trace
from pika.adapters.blocking_connection import BlockingChannel

from porteiro_common.amqp import (
    CONNECTION_ERRORS,
    STABLE_CONNECTION_SECONDS,
    Backoff,
    describe_broker,
    describe_error,
)
from porteiro_common.call_register import decode_call_finished
from porteiro_register import metrics
from porteiro_register.db import describe_database, insert_records
from porteiro_register.records import InvalidRecord, row_from_record

log = logging.getLogger(__name__)

# How long one turn of the loop services the connection before writing what arrived.
POLL_SECONDS = 0.05
# Errors that belong to a record (a constraint, a bad value), not to the database being away.
RECORD_ERRORS = (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.DataError)


class _Stopping(Exception):
    """Raised inside the thread to leave a retry loop when the consumer is stopped."""


@dataclass
class _Delivery:
    tag: int
    body: bytes
    row: dict[str, Any] | None = None


@dataclass(frozen=True)
class ConsumerConfig:
    queue: str
    dead_letter_queue: str
    prefetch: int
    store_visitor_name: bool
    backoff: Backoff


class CallFinishedConsumer:
    def __init__(
        self,
        parameters: pika.ConnectionParameters,
        engine: sa.Engine,
        config: ConsumerConfig,
        on_database_state: Callable[[bool], None] = lambda up: None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._parameters = parameters
        self._tracer = tracer or trace.get_tracer("porteiro.register")
        self._engine = engine
        self._config = config
        self._on_database_state = on_database_state
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._arrived: list[_Delivery] = []
        self.broker_connected = False
        self._broker_logged: bool | None = None
        self.database_up: bool | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="call-finished-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop consuming; unacknowledged deliveries go back to the queue when the connection closes."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- connection life ---------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._config.backoff.initial_seconds
        while not self._stopping.is_set():
            connected_at = time.monotonic()
            try:
                self._connect()
                self._mark_broker(True)
                self._serve()
            except _Stopping:
                pass
            except CONNECTION_ERRORS as error:
                self._mark_broker(False, describe_error(error))
            except Exception as error:  # a bug must not kill the thread: report, reconnect
                log.exception("consumer thread error")
                self._mark_broker(False, describe_error(error))
            finally:
                self._close()
            if time.monotonic() - connected_at >= STABLE_CONNECTION_SECONDS:
                delay = self._config.backoff.initial_seconds
            self._stopping.wait(self._config.backoff.jittered(delay))
            delay = self._config.backoff.next(delay)
        self.broker_connected = False

    def _connect(self) -> None:
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        channel.confirm_delivery()  # dead-lettered copies are confirmed before the original is acked
        channel.queue_declare(queue=self._config.queue, durable=True)
        channel.queue_declare(queue=self._config.dead_letter_queue, durable=True)
        channel.basic_qos(prefetch_count=self._config.prefetch)
        channel.basic_consume(self._config.queue, self._on_message)
        self._channel = channel

    def _on_message(self, _channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        self._arrived.append(_Delivery(method.delivery_tag, body))

    def _serve(self) -> None:
        assert self._connection is not None
        while not self._stopping.is_set():
            self._connection.process_data_events(time_limit=POLL_SECONDS)
            if self._arrived:
                batch, self._arrived = self._arrived, []
                self._handle(batch)

    def _close(self) -> None:
        self._arrived = []  # not acknowledged: the broker redelivers them
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except CONNECTION_ERRORS:
                pass

    # ---- one batch ----------------------------------------------------------------------------------

    def _handle(self, batch: list[_Delivery]) -> None:
        valid = []
        for delivery in batch:
            try:
                event = decode_call_finished(delivery.body)
                delivery.row = row_from_record(
                    event.record, store_visitor_name=self._config.store_visitor_name
                )
            except (ValueError, InvalidRecord) as error:
                self._dead_letter(delivery, str(error))
            else:
                valid.append(delivery)
        if valid:
            self._store(valid)

    def _store(self, deliveries: list[_Delivery]) -> None:
        """Write the batch (retrying while the database is away), then acknowledge it."""
        with self._tracer.start_as_current_span(
            "REGISTER_STORE", attributes={"events": len(deliveries)}
        ) as span:
            began = time.monotonic()
            try:
                inserted = self._with_database(
                    lambda connection: insert_records(connection, self._rows(deliveries))
                )
            except RECORD_ERRORS:
                # One record the database refuses must not hold back the others: one by one.
                span.set_attribute("one_by_one", True)
                for delivery in deliveries:
                    self._store_one(delivery)
                return
            elapsed_ms = round((time.monotonic() - began) * 1000, 3)
            span.set_attributes(
                {"stored": inserted, "duplicates": len(deliveries) - inserted, "duration_ms": elapsed_ms}
            )
            self._count(inserted, len(deliveries))
            self._ack(deliveries)

    def _store_one(self, delivery: _Delivery) -> None:
        try:
            inserted = self._with_database(
                lambda connection: insert_records(connection, self._rows([delivery]))
            )
        except RECORD_ERRORS as error:
            self._dead_letter(delivery, f"refused by the database: {type(error.orig).__name__}")
            return
        self._count(inserted, 1)
        self._ack([delivery])

    def _with_database(self, write: Callable[[sa.Connection], int]) -> int:
        """Run `write` in one transaction; while PostgreSQL is away, retry with backoff, holding the acks."""
        delay = self._config.backoff.initial_seconds
        while True:
            if self._stopping.is_set():
                raise _Stopping
            try:
                with self._engine.begin() as connection:
                    result = write(connection)
            except RECORD_ERRORS:
                self._mark_database(True)
                raise
            except sqlalchemy.exc.SQLAlchemyError as error:
                self._mark_database(False, describe_error(getattr(error, "orig", None) or error))
                assert self._connection is not None
                # sleep() keeps servicing AMQP (heartbeats; deliveries queue up in _arrived, up to prefetch).
                self._connection.sleep(self._config.backoff.jittered(delay))
                delay = self._config.backoff.next(delay)
                continue
            self._mark_database(True)
            return result

    @staticmethod
    def _rows(deliveries: list[_Delivery]) -> list[dict[str, Any]]:
        return [delivery.row for delivery in deliveries if delivery.row is not None]

    @staticmethod
    def _count(inserted: int, total: int) -> None:
        metrics.RECORDS.labels("stored").inc(inserted)
        metrics.RECORDS.labels("duplicate").inc(total - inserted)

    def _ack(self, deliveries: list[_Delivery]) -> None:
        assert self._channel is not None
        for delivery in deliveries:
            self._channel.basic_ack(delivery.tag)

    def _dead_letter(self, delivery: _Delivery, reason: str) -> None:
        assert self._channel is not None
        self._channel.basic_publish(
            exchange="",
            routing_key=self._config.dead_letter_queue,
            body=delivery.body,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent, headers={"x-porteiro-error": reason[:200]}
            ),
        )
        self._channel.basic_ack(delivery.tag)
        metrics.RECORDS.labels("dead_lettered").inc()
        log.warning("undecodable call-finished event moved to %s: %s", self._config.dead_letter_queue, reason)

    # ---- state ----------------------------------------------------------------------------------------

    def _mark_broker(self, up: bool, reason: str = "") -> None:
        # Logged once per change, and once if the broker is unreachable from the start.
        if up != self._broker_logged:
            self._broker_logged = up
            if up:
                log.info(
                    "broker %s connected, consuming %s", describe_broker(self._parameters), self._config.queue
                )
            else:
                log.warning("broker %s unavailable: %s", describe_broker(self._parameters), reason)
        self.broker_connected = up

    def _mark_database(self, up: bool, reason: str = "") -> None:
        if up != self.database_up:
            url = self._engine.url.render_as_string(hide_password=True)
            if up:
                log.info("database %s reachable, writing call records", describe_database(url))
            else:
                log.warning(
                    "database %s unavailable, holding acknowledgements: %s", describe_database(url), reason
                )
            self.database_up = up
            self._on_database_state(up)
