"""One gateway stream (one call leg): events in, actions out, and the leg's timer.

The handler turns LegEvents into the core's events and dispatches them through
the engine, sends the leg the actions its mailbox receives (from this process
or, through Redis, from the process holding the other leg), and keeps a local
timer for the call's deadline (`LegTimer`), re-reading the session only now
and then so timeouts fire even when the process that set them has died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import grpc
from opentelemetry import trace

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.ids import canonical_session_id
from porteiro_common.stages import record_error
from porteiro_common.tracing import context_from_traceparent, current_traceparent
from porteiro_concierge.core import events as core_events
from porteiro_concierge.engine import CallDispatcher
from porteiro_concierge.leg_timer import LegTimer
from porteiro_concierge.session import RESIDENT, VISITOR, Deadline, FailureReason, Session
from porteiro_concierge.store import Mailbox, SessionStore, StoreUnavailable
from porteiro_concierge.telemetry import ACTIVE_SESSIONS, RESIDENT_LEG_SPAN, TURNS, tracer

log = logging.getLogger(__name__)

LEGS = {common_pb2.LEG_VISITOR: VISITOR, common_pb2.LEG_RESIDENT: RESIDENT}
# The gateway's reasons for a leg it lost to a failure (the call is FAILED, not hung up). Any
# other reason is the caller leaving the line: a hang-up, a socket reset, the call's time limit.
LOST_LEGS = {
    concierge_pb2.LEG_END_REASON_PROTOCOL_ERROR: FailureReason.PROTOCOL_ERROR,
    concierge_pb2.LEG_END_REASON_DEPENDENCY_FAILURE: FailureReason.DEPENDENCY_GATEWAY,
}
FIRST_EVENT_TIMEOUT_SECONDS = 10.0
MAX_UTTERANCE_CHARS = 500


# How a stopping concierge ends its streams (the gateway reopens at once, on another replica:
# porteiro_gateway.concierge_link.HANDOVER_PREFIX). The call lives on in the session store.
HANDOVER_DETAIL = "handover: this concierge is stopping; reopen the stream"


class InvalidEvent(Exception):
    """An event the gateway must not send; the stream ends with INVALID_ARGUMENT."""


class LegHandler:
    def __init__(
        self,
        engine: CallDispatcher,
        store: SessionStore,
        reread_seconds: float,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        # Set when this process stops: the stream is handed over (HANDOVER_DETAIL), the call goes on.
        self.stopping = stopping or asyncio.Event()
        self._dispatching = asyncio.Lock()  # held while an event of this stream is being handled
        self._waiting_for_event = False  # the reader waits for the gateway's next event
        self.session_id = ""
        self.leg = ""
        self.condominium = ""  # the gateway's routing of the call (LegStarted.condominium)
        self.unplayed: set[str] = set()
        self.ended = False
        # Why the gateway's stream is refused after it started (a protocol error), if it is.
        self.refusal: InvalidEvent | None = None
        self.call_span: trace.Span | None = None  # resident leg: its work in the call's trace
        # Should the session store go: the call as this leg last saw it, and what the leg was told.
        self.session_copy: Session | None = None
        self.hung_up = False  # a HangUp was sent to the gateway
        self.store_errors = 0  # failures to reach the store, logged once per leg with this count
        self.mailbox = Mailbox()  # replaced by the store's once the leg is attached
        self.timer = LegTimer(self._deadline_passed, self._stored_deadline, reread_seconds)

    async def converse(
        self, events: AsyncIterator[concierge_pb2.LegEvent], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[concierge_pb2.LegAction]:
        first = await self._first_event(events, context)
        self.session_id, self.leg = first
        stream_span = trace.get_current_span()
        stream_span.set_attribute("porteiro.leg", self.leg)
        try:
            mailbox = self.mailbox = await self.store.open_mailbox(self.session_id, self.leg)
        except StoreUnavailable as error:  # the gateway plays its fallback sentence and hangs up
            log.warning("leg not attached: %s", error, extra={"session_id": self.session_id, "leg": self.leg})
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"session store unavailable: {error}")
        if self.leg == RESIDENT:
            self.call_span = await self._join_call_trace(stream_span)
        # The session id tags a span of the call's trace, so a search by it finds that one trace.
        (self.call_span or stream_span).set_attribute("porteiro.session_id", self.session_id)
        if self.leg == VISITOR:
            ACTIVE_SESSIONS.inc()
        reader: asyncio.Task | None = None
        timer: asyncio.Task | None = None
        delivered: asyncio.Future | None = None
        stopping: asyncio.Future | None = None
        lost: asyncio.Future | None = None
        try:
            try:
                with self._in_call_trace():
                    traceparent = await self._attach()
            except Exception as error:  # the session store is unreachable: the gateway plays its fallback
                log.exception("leg not attached", extra={"session_id": self.session_id, "leg": self.leg})
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"session store unavailable: {error}")
            yield concierge_pb2.LegAction(accepted=concierge_pb2.LegAccepted(traceparent=traceparent))
            with self._in_call_trace():  # the tasks keep the context they are created in
                reader = asyncio.create_task(self._read(events))
                timer = asyncio.create_task(self.timer.run())
            stopping = asyncio.ensure_future(self.stopping.wait())
            lost = asyncio.ensure_future(mailbox.lost.wait())
            told_lost = False
            while True:
                delivered = asyncio.ensure_future(mailbox.get())
                watched = {delivered, reader, stopping} | (set() if told_lost else {lost})
                await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                if delivered.done():
                    yield self._named(delivered.result())
                    continue
                delivered.cancel()
                if lost.done() and not told_lost:  # the store is gone: the call ends in words
                    told_lost = True
                    for action in self._call_lost(mailbox):
                        yield action
                    continue
                break
            if stopping.done() and not reader.done():
                await self._stop_reading(reader)
                while not mailbox.queue.empty():  # what that event produced still reaches the gateway
                    yield self._named(mailbox.queue.get_nowait())
                log.info("leg handed over", extra={"session_id": self.session_id, "leg": self.leg})
                await context.abort(grpc.StatusCode.UNAVAILABLE, HANDOVER_DETAIL)
            if self.refusal is not None:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(self.refusal))
        finally:
            for task in (reader, timer, delivered, stopping, lost):  # pending when the stream was cancelled
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            await self.store.close_mailbox(self.session_id, self.leg, mailbox)
            if self.store_errors:
                log.warning(
                    "session store unreachable during the call",
                    extra={"session_id": self.session_id, "leg": self.leg, "failures": self.store_errors},
                )
            if self.leg == VISITOR:
                ACTIVE_SESSIONS.dec()
            if self.call_span is not None:
                self.call_span.end()

    async def _attach(self) -> str:
        """Tell the core this leg started; returns the call's traceparent for LegAccepted."""
        if self.leg == VISITOR:
            event: core_events.Event = core_events.VisitorStarted(
                self.session_id, current_traceparent(), self.condominium
            )
        else:
            event = core_events.ResidentStarted()
        dispatched = await self.engine.dispatch(self.session_id, event)
        self.session_copy = dispatched.session
        self.timer.arm(dispatched.next_deadline)
        return dispatched.traceparent

    def _named(self, action: concierge_pb2.LegAction) -> concierge_pb2.LegAction:
        """Give a Say the id its PlaybackFinished will carry back, and remember it is unplayed."""
        if action.HasField("hang_up"):
            self.hung_up = True
        if action.HasField("say"):
            if not action.say.say_id:
                action.say.say_id = uuid.uuid4().hex[:12]
            self.unplayed.add(action.say.say_id)
        return action

    async def _join_call_trace(self, stream_span: trace.Span) -> trace.Span | None:
        """A span in the call's trace for the resident leg (None for an unknown session).

        The gateway opens the resident leg's stream before it can know the call's trace (it
        learns it from LegAccepted), so the stream's own span starts a trace of its own; the
        leg's events and stages go to this span instead, linked to the stream's span.
        """
        try:
            session = await self.store.load(self.session_id)
        except Exception:  # the store is unreachable: leg_started reports it
            return None
        if session is None or not session.traceparent:
            return None
        return tracer.start_span(
            RESIDENT_LEG_SPAN,
            context=context_from_traceparent(session.traceparent),
            links=[trace.Link(stream_span.get_span_context())],
            attributes={"porteiro.leg": self.leg},
        )

    def _in_call_trace(self) -> contextlib.AbstractContextManager:
        if self.call_span is None:
            return contextlib.nullcontext()
        return trace.use_span(self.call_span, end_on_exit=False)

    async def _first_event(self, events, context) -> tuple[str, str]:
        try:
            event = await asyncio.wait_for(anext(events), FIRST_EVENT_TIMEOUT_SECONDS)
        except (StopAsyncIteration, TimeoutError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first event must be leg_started")
        if not event.HasField("leg_started"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first event must be leg_started")
        started = event.leg_started
        if started.leg not in LEGS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "leg must be LEG_VISITOR or LEG_RESIDENT")
        try:
            session_id = canonical_session_id(started.session_id)
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        self.condominium = started.condominium
        return session_id, LEGS[started.leg]

    async def _read(self, events: AsyncIterator[concierge_pb2.LegEvent]) -> None:
        """Handle events until leg_ended, the gateway half-closes, or an event is refused."""
        while True:
            self._waiting_for_event = True
            try:
                event = await anext(events)
            except StopAsyncIteration:
                break
            finally:
                self._waiting_for_event = False
            try:
                async with self._dispatching:
                    await self._handle(event)
            except InvalidEvent as refusal:
                log.warning(
                    "event refused",
                    extra={"session_id": self.session_id, "leg": self.leg, "error": str(refusal)},
                )
                self.refusal = refusal
                break
            except StoreUnavailable as error:  # the call ends in words (converse); no traceback per event
                self._store_failed(error)
            except Exception as error:  # one bad event must not end the leg
                log.exception("event failed", extra={"session_id": self.session_id, "leg": self.leg})
                record_error(trace.get_current_span(), error)
                TURNS.labels(self.leg, "error").inc()
            if self.ended:
                return
        if not self.ended:  # half-closed without leg_ended (or refused): the line is gone all the same
            self.ended = True
            lost = FailureReason.PROTOCOL_ERROR if self.refusal is not None else None
            async with self._dispatching:
                try:
                    await self._dispatch(core_events.LegEnded(self.leg, lost))
                except StoreUnavailable as error:
                    self._store_failed(error)

    async def _stop_reading(self, reader: asyncio.Task) -> None:
        """Stop the reader between two events: one already received is handled (and saved) first."""
        while not reader.done():
            async with self._dispatching:
                if self._waiting_for_event:
                    reader.cancel()
                    return
            await asyncio.sleep(0)  # the event the reader holds takes the lock

    async def _handle(self, event: concierge_pb2.LegEvent) -> None:
        core_event = self._core_event(event)
        if core_event is not None:
            if isinstance(core_event, core_events.LegEnded):
                self.ended = True
            await self._dispatch(core_event)

    def _core_event(self, event: concierge_pb2.LegEvent) -> core_events.Event | None:
        """The core's event for a LegEvent (None: nothing for the core); InvalidEvent if malformed."""
        kind = event.WhichOneof("event")
        if kind == "utterance":
            text = event.utterance.text.strip()
            if not text:
                return None
            scores = tuple((item.phrase, item.score) for item in event.utterance.phrase_scores)
            confidence = event.utterance.confidence if event.utterance.HasField("confidence") else None
            return core_events.Utterance(
                self.leg, text[:MAX_UTTERANCE_CHARS], phrase_scores=scores, confidence=confidence
            )
        if kind == "dtmf":
            return self._key(event.dtmf.digit)
        if kind == "playback_finished":
            self.unplayed.discard(event.playback_finished.say_id)
            return core_events.LegIdle(self.leg) if not self.unplayed else None
        if kind == "speech_started":
            return core_events.SpeechStarted(self.leg)
        if kind == "utterance_dropped":
            dropped = event.utterance_dropped
            known = dropped.reason in concierge_pb2.DropReason.values()  # a newer gateway may say more
            reason = concierge_pb2.DropReason.Name(dropped.reason) if known else ""
            return core_events.UtteranceDropped(self.leg, dropped.interrupted, reason)
        if kind == "leg_ended":
            return core_events.LegEnded(self.leg, self._lost_to(event.leg_ended))
        if kind == "leg_started":
            raise InvalidEvent(
                "leg_started: sent twice on one stream (only the first event may be leg_started)"
            )
        return None  # barge_in: the gateway's business (it has stopped playback itself)

    def _key(self, digit: str) -> core_events.Key | None:
        if len(digit) > 1:
            raise InvalidEvent(f"dtmf.digit: one key expected, got {len(digit)} characters")
        return core_events.Key(self.leg, digit) if digit else None

    @staticmethod
    def _lost_to(ended: concierge_pb2.LegEnded) -> FailureReason | None:
        """Why the gateway lost the leg, if it was a failure (None: the caller left the line)."""
        lost = LOST_LEGS.get(ended.reason)
        if lost == FailureReason.DEPENDENCY_GATEWAY and ended.detail.startswith("speech"):
            return FailureReason.DEPENDENCY_SPEECH
        return lost

    async def _dispatch(self, event: core_events.Event) -> None:
        dispatched = await self.engine.dispatch(self.session_id, event)
        self.session_copy = dispatched.session
        self.timer.arm(dispatched.next_deadline)

    async def _deadline_passed(self) -> Deadline | None:
        """The timer fired: let the core check the deadline (under the lock); returns the next one."""
        try:
            dispatched = await self.engine.dispatch(self.session_id, core_events.DeadlinePassed())
        except StoreUnavailable as error:
            self._store_failed(error)
            return None
        self.session_copy = dispatched.session
        return dispatched.next_deadline

    async def _stored_deadline(self) -> Deadline | None:
        """The deadline as saved in the session (fail-over: set by another process, maybe one that died)."""
        try:
            session = await self.store.load(self.session_id)
        except StoreUnavailable as error:
            self._store_failed(error)
            return None
        return session.deadline if session is not None else None

    def _store_failed(self, error: StoreUnavailable) -> None:
        """The session store could not be reached: the first time, the call is lost (converse
        tells the caller); every time, counted for the one log line at the end of the leg."""
        self.store_errors += 1
        if self.store_errors == 1:
            log.warning(
                "session store unreachable; the call ends with the technical-problem sentence: %s",
                error,
                extra={"session_id": self.session_id, "leg": self.leg},
            )
        self.mailbox.lost.set()

    def _call_lost(self, mailbox: Mailbox) -> list[concierge_pb2.LegAction]:
        """The store is gone: what the leg still had to hear, then (unless the call had already
        ended for it) the technical-problem sentence and the hang-up; the call is recorded FAILED.

        This process can no longer reach the other leg's, nor know what it did since the
        leg's last event: each leg tells its own caller, and a decision already taken stands.
        """
        actions = []
        while not mailbox.queue.empty():
            actions.append(self._named(mailbox.queue.get_nowait()))
        fallback = self.engine.lost(self.session_id, self.session_copy, FailureReason.DEPENDENCY_REDIS)
        if not self.hung_up:
            actions.append(self._named(concierge_pb2.LegAction(say=concierge_pb2.Say(text=fallback))))
            hang_up = concierge_pb2.HangUp(after_playback=True)
            actions.append(self._named(concierge_pb2.LegAction(hang_up=hang_up)))
        return actions
