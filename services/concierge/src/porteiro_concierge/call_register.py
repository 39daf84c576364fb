"""The visitor register's side in the concierge: one CallFinished event per finished call.

The shell (engine.py) hands each finished session to a `CallRegister`. The real one,
`PublishingCallRegister`, turns the session into a `CallRecord` at once (a snapshot)
and publishes it on a task the register owns, so the call never waits for RabbitMQ:
the publisher (porteiro_common.call_register) buffers the event and retries until the
broker confirms it, and `close` flushes what it can at shutdown. The register service
stores each call id once; this side also refuses to publish the same call twice.
Off by default (`NoCallRegister`): enable it with PORTEIRO_CONCIERGE_REGISTER_ENABLED.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from porteiro.common.v1 import common_pb2
from porteiro.register.v1 import register_pb2
from porteiro_concierge.session import DecidedBy, Outcome, Session

log = logging.getLogger(__name__)

DEFAULT_CONDOMINIUM = "default"
# The register refuses texts longer than this; a longer one is cut rather than losing the record.
MAX_TEXT = 200
# Call ids remembered against publishing one call twice from this process.
REMEMBERED_CALLS = 10_000

OUTCOMES = {outcome: common_pb2.CallOutcome.Value(f"CALL_OUTCOME_{outcome.name}") for outcome in Outcome}
INTENTS = {"delivery": common_pb2.INTENT_DELIVERY, "visit": common_pb2.INTENT_VISIT}
DECIDED_BY = {
    DecidedBy.VOICE: register_pb2.DECIDED_BY_VOICE,
    DecidedBy.KEYPAD: register_pb2.DECIDED_BY_KEYPAD,
}


class CallRegister(Protocol):
    """Where the engine reports finished calls; `record` must return at once and never raise."""

    async def start(self) -> None: ...

    def record(self, session: Session) -> None: ...

    async def close(self, grace_seconds: float) -> None: ...


class EventPublisher(Protocol):
    """What `PublishingCallRegister` needs of `porteiro_common.call_register.CallFinishedPublisher`."""

    async def start(self) -> None: ...

    async def publish(self, record: register_pb2.CallRecord, wait_seconds: float | None = None) -> bool: ...

    async def close(self, grace_seconds: float = 5.0) -> int: ...


class NoCallRegister:
    """The register disabled: finished calls are only counted and logged, as before."""

    async def start(self) -> None:
        return None

    def record(self, session: Session) -> None:
        return None

    async def close(self, grace_seconds: float) -> None:
        return None


class PublishingCallRegister:
    """Publishes one CallFinished per finished call, fire-and-forget."""

    def __init__(self, publisher: EventPublisher, condominium: str = DEFAULT_CONDOMINIUM) -> None:
        self.publisher = publisher
        self.condominium = condominium
        self._recorded: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self) -> None:
        await self.publisher.start()

    def record(self, session: Session) -> None:
        if self._closed:  # a stream that outlived the handover at shutdown
            log.error(
                "call finished after the register closed; not published",
                extra={"session_id": session.session_id},
            )
            return
        if session.session_id in self._recorded:
            log.warning(
                "call already recorded; not published again", extra={"session_id": session.session_id}
            )
            return
        self._remember(session.session_id)
        try:
            record = call_record(session, session.condominium or self.condominium)
        except Exception:  # a bug in the conversion must not break the call's last event
            log.exception("call record could not be built", extra={"session_id": session.session_id})
            return
        task = asyncio.create_task(self._publish(record), name=f"call-finished-{session.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """Events published but not yet confirmed by the broker."""
        return len(self._tasks)

    async def close(self, grace_seconds: float) -> None:
        """Flush the buffered events for up to `grace_seconds`, then stop the publisher."""
        self._closed = True
        left = await self.publisher.close(grace_seconds)
        if self._tasks:  # close() settled every event: each task ends now
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if left:
            log.error("%d finished calls not delivered to the register at shutdown", left)

    async def _publish(self, record: register_pb2.CallRecord) -> None:
        if not await self.publisher.publish(record):
            log.warning("call record not confirmed by the broker", extra={"session_id": record.call_id})

    def _remember(self, session_id: str) -> None:
        self._recorded[session_id] = None
        while len(self._recorded) > REMEMBERED_CALLS:
            self._recorded.popitem(last=False)


def call_record(session: Session, condominium: str = DEFAULT_CONDOMINIUM) -> register_pb2.CallRecord:
    """The register's record of a finished session (its outcome set)."""
    if session.outcome is None:
        raise ValueError(f"session {session.session_id} has not finished")
    ended_at = session.ended_at if session.ended_at is not None else session.created_at
    ended_at = max(ended_at, session.created_at)
    target = session.call.target
    slots = session.slots
    record = register_pb2.CallRecord(
        condominium=condominium,
        call_id=session.session_id,
        started_at=_timestamp(session.created_at),
        ended_at=_timestamp(ended_at),
        intent=INTENTS.get(slots.intent.value if slots.intent else "", common_pb2.INTENT_UNSPECIFIED),
        apartment=_text(target.apartment if target else (slots.apartment or "")),
        block=_text(target.block if target else ""),
        resident_name=_text(target.resident_name if target else ""),
        outcome=OUTCOMES[session.outcome],
        decided_by=_decided_by(session),
        attempts=session.call.attempt,
        call_seconds=ended_at - session.created_at,
        resident_wait_seconds=_resident_wait(session, ended_at),
    )
    if session.failure is not None:
        record.failure_reason = session.failure.value
    if slots.visitor_name:  # the register keeps it only where the condominium allows it
        record.visitor_name = _text(slots.visitor_name)
    return record


def _decided_by(session: Session) -> register_pb2.DecidedBy:
    decided_by = session.call.decided_by
    return DECIDED_BY[decided_by] if decided_by is not None else register_pb2.DECIDED_BY_NONE


def _resident_wait(session: Session, ended_at: float) -> float:
    waiting_since = session.call.waiting_since
    return max(ended_at - waiting_since, 0.0) if waiting_since is not None else 0.0


def _timestamp(epoch_seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(round(epoch_seconds * 1e9))
    return stamp


def _text(value: str) -> str:
    return value.strip()[:MAX_TEXT]
