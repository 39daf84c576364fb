"""PlaceCall's logic: validate (fields and limits), deduplicate per (session, attempt), publish, observe.

The lookup-then-publish for a (session, attempt) runs as its own task, shielded
from the caller: if the caller's deadline ends first, the publish still finishes
and is remembered, so a retry of the same pair answers `duplicate` instead of
calling the resident twice. Concurrent requests for the same pair wait on the
one task in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Protocol

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from porteiro.common.v1 import common_pb2
from porteiro_common.ids import canonical_session_id
from porteiro_common.redaction import Redactor
from porteiro_common.stages import stage_span
from porteiro_dialer import metrics
from porteiro_dialer.errors import BrokerUnavailable, InvalidCallRequest, PublishRejected
from porteiro_dialer.idempotency import CallKey, IdempotencyStore, PublishedCommand
from porteiro_dialer.payload import PayloadConfig, build_cancel, build_clicktocall, command_id, encode
from porteiro_dialer.settings import (
    DEFAULT_MAX_APARTMENT_CHARS,
    DEFAULT_MAX_ATTEMPT,
    DEFAULT_MAX_DESTINATION_CHARS,
    DEFAULT_MAX_NOTE_CHARS,
    DialerSettings,
)
from porteiro_dialer.tenancy import Route

log = logging.getLogger(__name__)

CALL_MORADOR = "CALL_MORADOR"
CANCEL_MORADOR_CALL = "CANCEL_MORADOR_CALL"
# Sessions whose route (condominium) is remembered for their cancels.
REMEMBERED_ROUTES = 10_000


class Publisher(Protocol):
    def submit(
        self, body: bytes, timeout_seconds: float, routing_key: str | None = None, queue: str | None = None
    ) -> Future: ...

    def report_stalled(self, reason: str) -> None: ...


@dataclass(frozen=True)
class CallRequest:
    session_id: str
    destination: str
    attempt: int
    note: str = ""
    apartment: str = ""
    intent: int = common_pb2.INTENT_UNSPECIFIED
    condominium: str = ""  # its PBX settings fill the payload ("" = the dialer's own)


@dataclass(frozen=True)
class PlacedCall:
    command_id: str
    duplicate: bool
    published_at: float  # unix seconds of the broker's confirm


@dataclass(frozen=True)
class CancelRequest:
    session_id: str
    attempt: int


@dataclass(frozen=True)
class CancelledCall:
    command_id: str
    published_at: float  # unix seconds of the broker's confirm


@dataclass(frozen=True)
class RequestLimits:
    """What PlaceCall accepts; beyond it the request is refused and nothing is published."""

    max_attempt: int = DEFAULT_MAX_ATTEMPT
    max_destination_chars: int = DEFAULT_MAX_DESTINATION_CHARS
    max_note_chars: int = DEFAULT_MAX_NOTE_CHARS
    max_apartment_chars: int = DEFAULT_MAX_APARTMENT_CHARS

    @classmethod
    def from_settings(cls, settings: DialerSettings) -> RequestLimits:
        return cls(
            settings.max_attempt,
            settings.max_destination_chars,
            settings.max_note_chars,
            settings.max_apartment_chars,
        )


DEFAULT_LIMITS = RequestLimits()


def check_length(field: str, value: str, limit: int, variable: str) -> None:
    if len(value) > limit:
        raise InvalidCallRequest(
            f"{field} has {len(value)} characters; the limit is {limit} (PORTEIRO_DIALER_{variable})"
        )


def validate(request: CallRequest, limits: RequestLimits = DEFAULT_LIMITS) -> CallRequest:
    """The request with a canonical session id and trimmed destination, or InvalidCallRequest.

    Every message names the field (as in the proto) and the limit it broke.
    """
    try:
        session_id = canonical_session_id(request.session_id)
    except ValueError as error:
        raise InvalidCallRequest(f"session_id: {error}") from None
    check_length("destination", request.destination, limits.max_destination_chars, "MAX_DESTINATION_CHARS")
    destination = request.destination.strip()
    if not destination:
        raise InvalidCallRequest("destination must not be empty")
    if not 1 <= request.attempt <= limits.max_attempt:
        raise InvalidCallRequest(
            f"attempt is {request.attempt}; it must be from 1 to {limits.max_attempt} "
            "(PORTEIRO_DIALER_MAX_ATTEMPT)"
        )
    check_length("context.note", request.note, limits.max_note_chars, "MAX_NOTE_CHARS")
    check_length("context.apartment", request.apartment, limits.max_apartment_chars, "MAX_APARTMENT_CHARS")
    if request.intent not in common_pb2.Intent.values():
        known = ", ".join(common_pb2.Intent.keys())
        raise InvalidCallRequest(f"context.intent {request.intent} is not a known Intent ({known})")
    return replace(request, session_id=session_id, destination=destination)


def validate_cancel(request: CancelRequest, limits: RequestLimits = DEFAULT_LIMITS) -> CancelRequest:
    """The cancel with a canonical session id, or InvalidCallRequest naming the field."""
    try:
        session_id = canonical_session_id(request.session_id)
    except ValueError as error:
        raise InvalidCallRequest(f"session_id: {error}") from None
    if not 1 <= request.attempt <= limits.max_attempt:
        raise InvalidCallRequest(
            f"attempt is {request.attempt}; it must be from 1 to {limits.max_attempt} "
            "(PORTEIRO_DIALER_MAX_ATTEMPT)"
        )
    return replace(request, session_id=session_id)


class CallPlacer:
    def __init__(
        self,
        publisher: Publisher,
        store: IdempotencyStore,
        payload_config: PayloadConfig,
        publish_timeout_seconds: float,
        redactor: Redactor,
        tracer: trace.Tracer | None = None,
        limits: RequestLimits = DEFAULT_LIMITS,
        routes: Callable[[str], Route] | None = None,
    ) -> None:
        self._publisher = publisher
        # A condominium's route (porteiro_dialer.tenancy); None: every command gets `payload_config`.
        self._routes = routes or (lambda _condominium: Route(payload_config))
        # The route each recent session's commands took: its cancels go the same way.
        self._session_routes: OrderedDict[str, Route] = OrderedDict()
        self._limits = limits
        self._store = store
        self._publish_timeout = publish_timeout_seconds
        self._redact = redactor
        self._tracer = tracer or trace.get_tracer("porteiro.dialer")
        self._in_flight: dict[CallKey, asyncio.Task[tuple[PublishedCommand, bool]]] = {}
        self._background: set[asyncio.Future] = set()

    def _wait(self, timeout_seconds: float | None) -> float:
        """The caller's deadline, capped at the publish timeout."""
        return (
            self._publish_timeout if timeout_seconds is None else min(timeout_seconds, self._publish_timeout)
        )

    async def place_call(self, request: CallRequest, timeout_seconds: float | None = None) -> PlacedCall:
        """Publish once per (session, attempt); raises InvalidCallRequest or BrokerUnavailable."""
        try:
            request = validate(request, self._limits)
            self._remember_route(request.session_id, self._routes(request.condominium))
        except InvalidCallRequest:
            metrics.PUBLISHES.labels("invalid").inc()
            raise
        wait = self._wait(timeout_seconds)
        attributes: dict[str, AttributeValue] = {
            "porteiro.session_id": request.session_id,
            "attempt": request.attempt,
            "destination": self._redact(request.destination),
        }
        with stage_span(self._tracer, CALL_MORADOR, attributes) as span:
            outcome = "unavailable"
            try:
                placed = await self._place_once(request, max(wait, 0.0))
                outcome = "duplicate" if placed.duplicate else "confirmed"
                span.set_attribute("porteiro.command_id", placed.command_id)
                return placed
            except PublishRejected:
                outcome = "rejected"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except TimeoutError:
                outcome = "timeout"
                raise BrokerUnavailable(f"publish not confirmed within {wait:.3f} s") from None
            finally:
                span.set_attribute("outcome", outcome)
                metrics.PUBLISHES.labels(outcome).inc()

    async def cancel_call(
        self, request: CancelRequest, timeout_seconds: float | None = None
    ) -> CancelledCall:
        """Publish the cancel of (session, attempt)'s command; raises InvalidCallRequest or BrokerUnavailable.

        Not deduplicated: a repeated cancel is harmless (the PBX ignores a command it no longer rings).
        """
        try:
            request = validate_cancel(request, self._limits)
        except InvalidCallRequest:
            metrics.CANCELS.labels("invalid").inc()
            raise
        wait = self._wait(timeout_seconds)
        cid = command_id(request.session_id, request.attempt)
        attributes: dict[str, AttributeValue] = {
            "porteiro.session_id": request.session_id,
            "attempt": request.attempt,
            "porteiro.command_id": cid,
        }
        with stage_span(self._tracer, CANCEL_MORADOR_CALL, attributes) as span:
            outcome = "unavailable"
            try:
                published_at = await self._publish_cancel(request, max(wait, 0.0))
                outcome = "confirmed"
                log.info("cancel of click-to-call %s confirmed", cid)
                return CancelledCall(cid, published_at)
            except PublishRejected:
                outcome = "rejected"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            finally:
                span.set_attribute("outcome", outcome)
                metrics.CANCELS.labels(outcome).inc()

    async def _publish_cancel(self, request: CancelRequest, wait: float) -> float:
        route = self._session_routes.get(request.session_id) or self._routes("")
        payload = build_cancel(
            route.payload,
            session_id=request.session_id,
            attempt=request.attempt,
            timestamp=int(time.time()),
        )
        confirm = self._publisher.submit(
            encode(payload), self._publish_timeout, route.routing_key, route.queue
        )
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(confirm)), wait)
        except TimeoutError:
            if wait >= self._publish_timeout:
                self._publisher.report_stalled(f"broker did not confirm within {wait:.3f} s")
            raise BrokerUnavailable(f"cancel not confirmed within {wait:.3f} s") from None

    async def _place_once(self, request: CallRequest, wait: float) -> PlacedCall:
        key = (request.session_id, request.attempt)
        task = self._in_flight.get(key)
        joined = task is not None
        if task is None:
            # Registered before the first await, so a concurrent twin always finds it.
            task = asyncio.create_task(self._lookup_or_publish(key, request))
            self._in_flight[key] = task
            task.add_done_callback(lambda finished: self._forget(key, finished))
        command, already_published = await asyncio.wait_for(asyncio.shield(task), wait)
        return PlacedCall(command.command_id, joined or already_published, command.published_at)

    async def _lookup_or_publish(self, key: CallKey, request: CallRequest) -> tuple[PublishedCommand, bool]:
        """The remembered command (True), or a new one once the broker confirmed it (False)."""
        done = await self._store.get(key)
        if done is not None:
            return done, True
        return await self._publish(key, request), False

    def _remember_route(self, session_id: str, route: Route) -> None:
        self._session_routes[session_id] = route
        self._session_routes.move_to_end(session_id)
        while len(self._session_routes) > REMEMBERED_ROUTES:
            self._session_routes.popitem(last=False)

    def _forget(self, key: CallKey, task: asyncio.Task) -> None:
        self._in_flight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here so a failure nobody waited for is not logged as lost

    async def _publish(self, key: CallKey, request: CallRequest) -> PublishedCommand:
        route = self._session_routes.get(request.session_id) or self._routes(request.condominium)
        payload = build_clicktocall(
            route.payload,
            session_id=request.session_id,
            destination=request.destination,
            attempt=request.attempt,
            note=request.note,
            timestamp=int(time.time()),
        )
        cid = payload["operation"]["guid"]
        began = time.perf_counter()
        confirm = self._publisher.submit(
            encode(payload), self._publish_timeout, route.routing_key, route.queue
        )
        # Remember a confirm even if it arrives after everyone stopped waiting.
        self._remember_when_confirmed(key, cid, confirm)
        try:
            published_at = await asyncio.wait_for(asyncio.wrap_future(confirm), self._publish_timeout)
        except TimeoutError:
            reason = f"broker did not confirm within {self._publish_timeout:.3f} s"
            self._publisher.report_stalled(reason)
            raise BrokerUnavailable(reason) from None
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - began)
        command = PublishedCommand(cid, published_at)
        await self._store.put(key, command)
        log.info("click-to-call %s confirmed (attempt %d)", cid, request.attempt)
        return command

    def _remember_when_confirmed(self, key: CallKey, cid: str, confirm: Future) -> None:
        loop = asyncio.get_running_loop()

        def on_done(future: Future) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            command = PublishedCommand(cid, future.result())
            try:
                loop.call_soon_threadsafe(self._store_later, key, command)
            except RuntimeError:  # loop already closed: the process is exiting
                pass

        confirm.add_done_callback(on_done)

    def _store_later(self, key: CallKey, command: PublishedCommand) -> None:
        stored = asyncio.ensure_future(self._store.put(key, command))
        self._background.add(stored)
        stored.add_done_callback(self._background.discard)
