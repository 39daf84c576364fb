"""One long-lived, confirmed AMQP publisher connection, owned by a dedicated thread.

pika's BlockingConnection is not thread-safe and blocks, so it lives on its own
thread and never touches the event loop. Callers `submit` a body and get a
`concurrent.futures.Future` that resolves (with the confirm time) once the broker
confirmed the persistent publish. The thread reconnects with exponential backoff
and reports every up/down change through `on_state_change`; while it is down,
`submit` fails at once with `BrokerUnavailable` instead of queueing, and publishes
queued when the connection drops fail with `BrokerUnavailable` too: retrying (or
not) is the caller's policy. Used by the dialer (click-to-call, fail fast) and by
the register's `CallFinishedPublisher` (buffer and retry). Needs pika, a dependency of
the services that use this module (not of porteiro-common itself).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

log = logging.getLogger(__name__)
# pika logs every step of every (failed) connection attempt, with tracebacks; our own
# up/down lines carry the reason, once per change.
logging.getLogger("pika").setLevel(logging.CRITICAL)

# A connection that stayed up this long resets the backoff to its first step.
STABLE_CONNECTION_SECONDS = 10.0
# How often the idle thread services heartbeats and notices a dropped socket.
IDLE_POLL_SECONDS = 0.1

CONNECTION_ERRORS = (pika.exceptions.AMQPError, OSError)


class BrokerUnavailable(Exception):
    """The broker cannot be reached, or did not confirm the publish."""


class PublishRejected(BrokerUnavailable):
    """The broker answered but did not take the message (nack, or no queue to route it to)."""


@dataclass(frozen=True)
class AmqpTarget:
    exchange: str
    routing_key: str
    queue: str
    declare_queue: bool
    content_type: str = "application/json"
    # AMQP `type` property (e.g. the protobuf message's full name); None leaves it unset.
    message_type: str | None = None


@dataclass(frozen=True)
class Backoff:
    initial_seconds: float
    max_seconds: float

    def next(self, current: float) -> float:
        return min(current * 2, self.max_seconds)

    @staticmethod
    def jittered(delay: float) -> float:
        return delay * random.uniform(0.8, 1.2)


@dataclass
class _Request:
    body: bytes
    expires_at: float  # time.monotonic()
    future: Future
    # Overrides of the target for this message (e.g. one condominium's queue); None = the target's.
    routing_key: str | None = None
    queue: str | None = None  # declared (durable) before the first publish to it, when declare_queue


def connection_parameters(url: str, connect_timeout: float, heartbeat: int) -> pika.URLParameters:
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = connect_timeout
    parameters.stack_timeout = connect_timeout
    parameters.heartbeat = heartbeat
    parameters.connection_attempts = 1  # retries are ours, with backoff
    parameters.blocked_connection_timeout = connect_timeout
    return parameters


def describe_broker(parameters: pika.ConnectionParameters) -> str:
    """host:port and vhost, never the credentials."""
    return f"{parameters.host}:{parameters.port} (vhost {parameters.virtual_host})"


def describe_error(error: BaseException) -> str:
    name = type(error).__name__
    text = str(error) or repr(error)
    return text if text.startswith(name) else f"{name}: {text}"


class AmqpPublisher:
    #: Why publishes fail once `stop` was called (subclasses name their service).
    STOPPING_REASON = "publisher is stopping"

    def __init__(
        self,
        parameters: pika.ConnectionParameters,
        target: AmqpTarget,
        backoff: Backoff,
    ) -> None:
        self._parameters = parameters
        self._target = target
        self._backoff = backoff
        self._on_state_change: Callable[[bool], None] = lambda up: None
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._declared: set[str] = set()  # queues declared on this connection
        self.connected = False
        self.last_error = "not connected yet"
        self._down_reported = False

    # ---- called from any thread -------------------------------------------------

    def start(self, on_state_change: Callable[[bool], None] | None = None) -> None:
        """Connect in the background; `on_state_change(up)` is called from the thread."""
        if on_state_change is not None:
            self._on_state_change = on_state_change
        self._thread = threading.Thread(target=self._run, name="amqp-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(
        self, body: bytes, timeout_seconds: float, routing_key: str | None = None, queue: str | None = None
    ) -> Future:
        """Queue one publish; the future's result is the confirm time (unix seconds).

        `routing_key` and `queue` send this message elsewhere than the target's (None: the target's)."""
        if not self.connected:
            raise BrokerUnavailable(f"broker unreachable ({self.last_error})")
        request = _Request(body, time.monotonic() + timeout_seconds, Future(), routing_key, queue)
        self._requests.put(request)
        return request.future

    def report_stalled(self, reason: str) -> None:
        """A publish went unconfirmed too long: fail fast until the connection proves itself again.

        The thread may be stuck inside a blocking publish on a hung broker; it flips
        back to up after its next successful publish or reconnect, and the AMQP
        heartbeat eventually breaks a connection that stays hung.
        """
        self._mark_down(reason)

    # ---- the publisher thread ---------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff.initial_seconds
        while not self._stopping.is_set():
            connected_for = self._connect_and_serve()
            if connected_for >= STABLE_CONNECTION_SECONDS:
                delay = self._backoff.initial_seconds
            log.debug("reconnecting in %.2f s", delay)
            self._stopping.wait(self._backoff.jittered(delay))
            delay = self._backoff.next(delay)
        self.connected = False
        self.last_error = self.STOPPING_REASON
        self._fail_queued(BrokerUnavailable(self.STOPPING_REASON))

    def _connect_and_serve(self) -> float:
        """One connection's life; returns how long it was up (0 if it never came up)."""
        connected_at = None
        try:
            self._connect()
            connected_at = time.monotonic()
            self._mark_up()
            self._serve()
        except CONNECTION_ERRORS as error:
            self._mark_down(describe_error(error))
        except Exception as error:  # a bug must not kill the thread: report, reconnect
            log.exception("publisher thread error")
            self._mark_down(describe_error(error))
        finally:
            self._close()
            self._fail_queued(BrokerUnavailable(f"broker connection lost ({self.last_error})"))
        return 0.0 if connected_at is None else time.monotonic() - connected_at

    def _connect(self) -> None:
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        channel.confirm_delivery()
        if self._target.declare_queue:
            channel.queue_declare(queue=self._target.queue, durable=True)
        if self._target.exchange:
            channel.exchange_declare(exchange=self._target.exchange, passive=True)
        self._channel = channel
        self._declared = {self._target.queue}

    def _serve(self) -> None:
        assert self._connection is not None
        while not self._stopping.is_set():
            try:
                request = self._requests.get(timeout=IDLE_POLL_SECONDS)
            except queue.Empty:
                request = None
            if request is not None:
                self._publish(request)
            # Heartbeats, and notices a dropped socket even with no traffic.
            self._connection.process_data_events(time_limit=0)

    def _publish(self, request: _Request) -> None:
        if not request.future.set_running_or_notify_cancel():
            return  # the caller gave up before we got to it
        if time.monotonic() > request.expires_at:
            request.future.set_exception(BrokerUnavailable("publish expired in the queue"))
            return
        properties = pika.BasicProperties(
            content_type=self._target.content_type,
            type=self._target.message_type,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        assert self._channel is not None  # _serve runs only after _connect opened it
        routing_key = request.routing_key or self._target.routing_key
        try:
            if request.queue and self._target.declare_queue and request.queue not in self._declared:
                self._channel.queue_declare(queue=request.queue, durable=True)
                self._declared.add(request.queue)
            self._channel.basic_publish(
                exchange=self._target.exchange,
                routing_key=routing_key,
                body=request.body,
                properties=properties,
                mandatory=True,
            )
        except pika.exceptions.UnroutableError:
            request.future.set_exception(
                PublishRejected(
                    f"no queue bound for exchange {self._target.exchange!r} routing key {routing_key!r}"
                )
            )
        except pika.exceptions.NackError:
            request.future.set_exception(PublishRejected("broker refused the message (nack)"))
        except CONNECTION_ERRORS as error:
            request.future.set_exception(BrokerUnavailable(f"publish failed ({describe_error(error)})"))
            raise
        else:
            request.future.set_result(time.time())
            self._mark_up()  # clears a stall reported while this publish was pending

    def _fail_queued(self, error: BrokerUnavailable) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if request.future.set_running_or_notify_cancel():
                request.future.set_exception(error)

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except CONNECTION_ERRORS:
                pass

    def _mark_up(self) -> None:
        self.last_error = ""
        self._down_reported = False
        if not self.connected:
            self.connected = True
            log.info("broker %s connected", describe_broker(self._parameters))
            self._on_state_change(True)

    def _mark_down(self, reason: str) -> None:
        self.last_error = reason
        if self.connected or not self._down_reported:
            self.connected = False
            self._down_reported = True
            log.warning("broker %s unavailable: %s", describe_broker(self._parameters), reason)
            self._on_state_change(False)
