"""One gateway stream (one call leg): events in, actions out, and the leg's timer.

The handler turns LegEvents into engine calls, sends the leg the commands
its mailbox receives (from this process or, through Redis, from the process
holding the other leg), and re-reads the session's deadline so timeouts fire
even when the process that set them has died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import grpc
from opentelemetry import trace

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.ids import canonical_session_id
from porteiro_common.stages import record_error
from porteiro_common.tracing import context_from_traceparent, current_traceparent
from porteiro_concierge.engine import CallEngine
from porteiro_concierge.session import RESIDENT, VISITOR
from porteiro_concierge.store import Command, SessionStore
from porteiro_concierge.telemetry import ACTIVE_SESSIONS, RESIDENT_LEG_SPAN, TURNS, tracer

log = logging.getLogger(__name__)

LEGS = {common_pb2.LEG_VISITOR: VISITOR, common_pb2.LEG_RESIDENT: RESIDENT}
FIRST_EVENT_TIMEOUT_SECONDS = 10.0


def to_action(command: Command) -> concierge_pb2.LegAction:
    kind = command["type"]
    if kind == "say":
        say = concierge_pb2.Say(
            say_id=uuid.uuid4().hex[:12],
            text=str(command["text"]),
            allow_barge_in=bool(command["allow_barge_in"]),
        )
        return concierge_pb2.LegAction(say=say)
    if kind == "hang_up":
        return concierge_pb2.LegAction(
            hang_up=concierge_pb2.HangUp(after_playback=bool(command["after_playback"]))
        )
    if kind == "recognition":
        hints = [str(hint) for hint in command["hints"]]  # type: ignore[union-attr]
        return concierge_pb2.LegAction(
            recognition=concierge_pb2.RecognitionContext(hints=hints, language="pt-BR")
        )
    return concierge_pb2.LegAction(stop_playback=concierge_pb2.StopPlayback())


class LegHandler:
    def __init__(self, engine: CallEngine, store: SessionStore, timer_poll_seconds: float) -> None:
        self.engine = engine
        self.store = store
        self.poll = timer_poll_seconds
        self.session_id = ""
        self.leg = ""
        self.unplayed: set[str] = set()
        self.ended = False
        self.call_span: trace.Span | None = None  # resident leg: its work in the call's trace

    async def converse(
        self, events: AsyncIterator[concierge_pb2.LegEvent], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[concierge_pb2.LegAction]:
        first = await self._first_event(events, context)
        self.session_id, self.leg = first
        stream_span = trace.get_current_span()
        stream_span.set_attribute("porteiro.leg", self.leg)
        mailbox = await self.store.open_mailbox(self.session_id, self.leg)
        if self.leg == RESIDENT:
            self.call_span = await self._join_call_trace(stream_span)
        # The session id tags a span of the call's trace, so a search by it finds that one trace.
        (self.call_span or stream_span).set_attribute("porteiro.session_id", self.session_id)
        if self.leg == VISITOR:
            ACTIVE_SESSIONS.inc()
        reader = timer = None
        try:
            try:
                with self._in_call_trace():
                    traceparent = await self.engine.leg_started(
                        self.session_id, self.leg, current_traceparent()
                    )
            except Exception as error:  # the session store is unreachable: the gateway plays its fallback
                log.exception("leg not attached", extra={"session_id": self.session_id, "leg": self.leg})
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"session store unavailable: {error}")
            yield concierge_pb2.LegAction(accepted=concierge_pb2.LegAccepted(traceparent=traceparent))
            with self._in_call_trace():  # the tasks keep the context they are created in
                reader = asyncio.create_task(self._read(events))
                timer = asyncio.create_task(self._watch_deadline())
            while True:
                command = asyncio.ensure_future(mailbox.get())
                await asyncio.wait({command, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not command.done():
                    command.cancel()
                    break
                action = to_action(command.result())
                if action.HasField("say"):
                    self.unplayed.add(action.say.say_id)
                yield action
        finally:
            for task in (reader, timer):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            await self.store.close_mailbox(self.session_id, self.leg, mailbox)
            if self.leg == VISITOR:
                ACTIVE_SESSIONS.dec()
            if self.call_span is not None:
                self.call_span.end()

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
        return session_id, LEGS[started.leg]

    async def _read(self, events: AsyncIterator[concierge_pb2.LegEvent]) -> None:
        """Handle events until leg_ended or the gateway half-closes."""
        async for event in events:
            try:
                await self._handle(event)
            except Exception as error:  # one bad event must not end the leg
                log.exception("event failed", extra={"session_id": self.session_id, "leg": self.leg})
                record_error(trace.get_current_span(), error)
                TURNS.labels(self.leg, "error").inc()
            if self.ended:
                return
        if not self.ended:  # half-closed without leg_ended: the line is gone all the same
            self.ended = True
            await self.engine.leg_ended(self.session_id, self.leg)

    async def _handle(self, event: concierge_pb2.LegEvent) -> None:
        kind = event.WhichOneof("event")
        if kind == "utterance" and event.utterance.text.strip():
            await self.engine.utterance(self.session_id, self.leg, event.utterance.text.strip()[:500])
        elif kind == "dtmf" and event.dtmf.digit:
            await self.engine.key(self.session_id, self.leg, event.dtmf.digit[:1])
        elif kind == "playback_finished":
            self.unplayed.discard(event.playback_finished.say_id)
            if not self.unplayed:
                await self.engine.leg_idle(self.session_id, self.leg)
        elif kind == "speech_started":
            await self.engine.speech_started(self.session_id, self.leg)
        elif kind == "leg_ended":
            self.ended = True
            await self.engine.leg_ended(self.session_id, self.leg)

    async def _watch_deadline(self) -> None:
        """Fire the session's deadline when it passes, whoever set it."""
        while True:
            try:
                session = await self.store.load(self.session_id)
                deadline = session.deadline if session is not None else None
                now = time.time()
                if deadline is not None and deadline.at <= now:
                    await self.engine.deadline_passed(self.session_id)
                    continue
                wait = self.poll if deadline is None else min(self.poll, deadline.at - now)
            except Exception:  # the store may be briefly unreachable: try again
                log.exception("deadline check failed", extra={"session_id": self.session_id})
                wait = self.poll
            await asyncio.sleep(max(wait, 0.01))
