"""The CallFinished event of the visitor register: its wire form, and the publisher.

The concierge publishes one event per finished call; the register service consumes
them (porteiro_register.consumer). It lives here, in porteiro-common, so the
publishing side loads only pika and protobuf, never the register's database libraries.

`CallFinishedPublisher.publish(record)` buffers the event (bounded, in memory) and
returns once RabbitMQ confirmed it. A background task sends the buffer in order
over the shared confirmed publisher thread (`porteiro_common.amqp`), retrying with
backoff while the broker is away; a full buffer drops the new event and counts it
(`porteiro_register_events_dropped_total`). `publish` never raises: it answers
True (confirmed) or False (dropped, or not confirmed within `wait_seconds` — the event
then stays buffered and is still retried). The queue is declared durable by the
publisher too, so events wait in RabbitMQ even before the register first starts.
A repeat after an unconfirmed publish may deliver an event twice: the register
stores it once (by call id).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from porteiro.register.v1 import register_pb2
from porteiro_common.amqp import AmqpPublisher, AmqpTarget, Backoff, BrokerUnavailable, connection_parameters

log = logging.getLogger(__name__)

# Development defaults (the machine's RabbitMQ guest account); production passes its URL from a Secret.
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
CALL_FINISHED_QUEUE = "porteiro-call-finished"

CONTENT_TYPE = "application/x-protobuf"
MESSAGE_TYPE = register_pb2.CallFinished.DESCRIPTOR.full_name
# Retry delays of an unconfirmed event: 0.2 s doubling up to 10 s.
DEFAULT_BACKOFF = Backoff(0.2, 10.0)

# Metrics of the publishing process (the concierge); only these are registered when it imports this module.
EVENTS_CONFIRMED = Counter(
    "porteiro_register_events_confirmed", "CallFinished events confirmed by the broker"
)
EVENTS_RETRIED = Counter(
    "porteiro_register_event_retries", "Publish attempts of a CallFinished event that failed"
)
EVENTS_DROPPED = Counter(
    "porteiro_register_events_dropped", "CallFinished events dropped because the publisher's buffer was full"
)
EVENTS_BUFFERED = Gauge(
    "porteiro_register_events_buffered", "CallFinished events waiting for a broker confirm"
)


def encode_call_finished(record: register_pb2.CallRecord) -> bytes:
    event = register_pb2.CallFinished(record=record)
    event.finished_at.GetCurrentTime()
    return event.SerializeToString()


def decode_call_finished(body: bytes) -> register_pb2.CallFinished:
    """The event, or ValueError when the body is not a CallFinished with a record."""
    event = register_pb2.CallFinished()
    try:
        event.ParseFromString(body)
    except Exception as error:  # protobuf raises DecodeError, or RuntimeWarning-like errors on junk
        raise ValueError(f"not a CallFinished message ({type(error).__name__})") from None
    if not event.HasField("record"):
        raise ValueError("CallFinished without a record")
    return event


@dataclass
class _Pending:
    body: bytes
    confirmed: asyncio.Future[bool]
    attempts: int = 0
    buffered_at: float = field(default_factory=time.monotonic)


class CallFinishedPublisher:
    """Publishes CallFinished events with confirms; see the module docstring for the guarantees."""

    def __init__(
        self,
        amqp_url: str = LOCAL_AMQP_URL,
        queue: str = CALL_FINISHED_QUEUE,
        *,
        buffer_size: int = 1000,
        confirm_timeout_seconds: float = 5.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        connect_timeout_seconds: float = 5.0,
        heartbeat_seconds: int = 30,
    ) -> None:
        target = AmqpTarget(
            exchange="",
            routing_key=queue,
            queue=queue,
            declare_queue=True,
            content_type=CONTENT_TYPE,
            message_type=MESSAGE_TYPE,
        )
        parameters = connection_parameters(amqp_url, connect_timeout_seconds, heartbeat_seconds)
        self._amqp = AmqpPublisher(parameters, target, backoff)
        self._backoff = backoff
        self._buffer: collections.deque[_Pending] = collections.deque()
        self._buffer_size = buffer_size
        self._confirm_timeout = confirm_timeout_seconds
        self._wake: asyncio.Event | None = None
        self._sender: asyncio.Task | None = None

    @property
    def connected(self) -> bool:
        return self._amqp.connected

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def start(self) -> None:
        """Connect in the background and start sending; returns at once."""
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()

        def on_state_change(_up: bool) -> None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # loop closed while the thread still reports
                pass

        self._amqp.start(on_state_change)
        self._sender = asyncio.create_task(self._send_forever(), name="call-finished-publisher")

    async def publish(self, record: register_pb2.CallRecord, wait_seconds: float | None = None) -> bool:
        """Buffer the event and wait for the broker's confirm. Never raises.

        True once confirmed; False if the buffer was full (dropped) or `wait_seconds`
        passed first (the event stays buffered and is still retried).
        Cancelling the caller does not cancel the event.
        """
        try:
            body = encode_call_finished(record)
        except Exception:  # a record that cannot be serialised is a bug upstream; never break the call
            log.exception("call-finished event could not be encoded; dropped")
            EVENTS_DROPPED.inc()
            return False
        if self._wake is None:
            await self.start()
        if len(self._buffer) >= self._buffer_size:
            EVENTS_DROPPED.inc()
            log.warning("call-finished buffer full (%d events): event dropped", self._buffer_size)
            return False
        pending = _Pending(body, asyncio.get_running_loop().create_future())
        self._buffer.append(pending)
        EVENTS_BUFFERED.set(len(self._buffer))
        assert self._wake is not None
        self._wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.confirmed), wait_seconds)
        except TimeoutError:
            return False

    async def close(self, grace_seconds: float = 5.0) -> int:
        """Try to flush the buffer for up to `grace_seconds`, then stop; returns events left unsent."""
        deadline = time.monotonic() + grace_seconds
        if self._buffer and self._sender is not None:
            # FIFO: once the newest event is confirmed, every one before it is too.
            await asyncio.wait({self._buffer[-1].confirmed}, timeout=grace_seconds)
        if self._sender is not None:
            self._sender.cancel()
            try:
                await self._sender
            except asyncio.CancelledError:
                pass
        await asyncio.to_thread(self._amqp.stop, max(deadline - time.monotonic(), 0.5))
        left = len(self._buffer)
        if left:
            log.warning("publisher closed with %d call-finished events unsent", left)
        for pending in self._buffer:
            if not pending.confirmed.done():
                pending.confirmed.set_result(False)
        return left

    async def _send_forever(self) -> None:
        assert self._wake is not None
        delay = self._backoff.initial_seconds
        while True:
            if not self._buffer or not self._amqp.connected:
                self._wake.clear()
                # Woken by a new event or a connection change; the timeout re-checks anyway.
                try:
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                except TimeoutError:
                    pass
                continue
            if await self._send_head():
                delay = self._backoff.initial_seconds
            else:
                await asyncio.sleep(self._backoff.jittered(delay))
                delay = self._backoff.next(delay)

    async def _send_head(self) -> bool:
        pending = self._buffer[0]
        pending.attempts += 1
        try:
            future = self._amqp.submit(pending.body, self._confirm_timeout)
            await asyncio.wait_for(asyncio.wrap_future(future), self._confirm_timeout + 1.0)
        except (BrokerUnavailable, TimeoutError) as error:
            EVENTS_RETRIED.inc()
            if pending.attempts == 1:
                log.warning("call-finished event not confirmed, retrying: %s", error or type(error).__name__)
            if isinstance(error, TimeoutError):
                self._amqp.report_stalled("call-finished publish not confirmed in time")
            return False
        self._buffer.popleft()
        EVENTS_BUFFERED.set(len(self._buffer))
        EVENTS_CONFIRMED.inc()
        if not pending.confirmed.done():
            pending.confirmed.set_result(True)
        return True
