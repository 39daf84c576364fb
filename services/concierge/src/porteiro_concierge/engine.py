"""The shell around the conversation core: lock, load, prepare, handle, perform, save, deliver.

Whichever concierge process holds a leg dispatches that leg's events here. The
store's lock makes events of the two legs (and timers) take turns, even across
processes. Under the lock the shell reads a visitor's sentence (extractor) and
refreshes the hint vocabulary, lets the core handle the event, performs the
directory or dialer request the core returns and feeds the result back as the
next event, then saves the session and delivers the legs' actions in order.
A call that finished is handed to the visitor register once its session is saved.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from opentelemetry import trace

from porteiro.concierge.v1 import concierge_pb2
from porteiro.dialer.v1 import dialer_pb2
from porteiro.directory.v1 import directory_pb2
from porteiro_common.stages import record_error, stage_span
from porteiro_common.tenants import LABEL_OFF
from porteiro_concierge.call_register import CallRegister, NoCallRegister
from porteiro_concierge.core import (
    CancelCallRequest,
    Conversation,
    Effects,
    PlaceCallRequest,
    Request,
    ResolveRequest,
    TurnOutcome,
)
from porteiro_concierge.core.events import (
    CallFailed,
    CallPlaced,
    DeadlinePassed,
    DirectoryAnswered,
    DirectoryFailed,
    Event,
    Key,
    Utterance,
    VisitorStarted,
)
from porteiro_concierge.dependencies import DependencyError
from porteiro_concierge.holding import VisitorWait
from porteiro_concierge.reading import SentenceReader
from porteiro_concierge.session import RESIDENT, VISITOR, Deadline, FailureReason, FlowState, Session
from porteiro_concierge.store import SessionStore, StoreUnavailable
from porteiro_concierge.telemetry import (
    CALL_FAILURES,
    CALL_OUTCOMES,
    CONDOMINIUM_CALL_OUTCOMES,
    HOLDING_EVENT,
    HOLDING_SENTENCES,
    TURNS,
    tracer,
)

log = logging.getLogger(__name__)

# An event leads to at most a directory answer and a placed call: more means a loop.
MAX_STEPS_PER_EVENT = 4
# Finished calls remembered per process, against recording a lost call after its decision.
REMEMBERED_CALLS = 10_000


class RecentIds:
    """The last `limit` ids remembered, oldest forgotten first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def remember(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._ids


class Directory(Protocol):
    async def resolve(self, apartment: str, resident_name: str) -> directory_pb2.ResolveResponse: ...


class Dialer(Protocol):
    async def place_call(
        self, session_id: str, destination: str, attempt: int, intent: str, apartment: str
    ) -> dialer_pb2.PlaceCallResponse: ...

    async def cancel_call(self, session_id: str, attempt: int) -> dialer_pb2.CancelCallResponse: ...


class VocabularyCache(Protocol):
    async def refresh(self) -> None: ...


@dataclass(frozen=True)
class Dispatched:
    """What a leg learns from one of its events."""

    traceparent: str  # the call's (the visitor's), "" when there is no such call
    next_deadline: Deadline | None
    turn_outcome: TurnOutcome
    # The session as this event left it (None: no such call): the leg's copy should the store go.
    session: Session | None = None


class CallDispatcher(Protocol):
    """What a leg dispatches its events to: a CallEngine, or porteiro_concierge.tenancy.TenantCalls
    (each call to its condominium's engine)."""

    async def dispatch(self, session_id: str, event: Event) -> Dispatched: ...

    def lost(self, session_id: str, session: Session | None, reason: FailureReason) -> str:
        """Record a call lost outside the core (`CallEngine.lost`); the sentence its callers hear."""
        ...


class CallEngine:
    def __init__(
        self,
        store: SessionStore,
        conversation: Conversation,
        directory: Directory,
        dialer: Dialer,
        reader: SentenceReader,
        vocabulary: VocabularyCache,
        clock: Callable[[], float] = time.time,
        call_register: CallRegister | None = None,
    ) -> None:
        self.store = store
        self.conversation = conversation
        self.directory = directory
        self.dialer = dialer
        self.reader = reader
        self.vocabulary = vocabulary
        self.clock = clock
        self.call_register = call_register or NoCallRegister()
        # A dependency the visitor waits on answers later than this: the holding sentence (0: never).
        self.holding_after_seconds = conversation.rules.settings.holding_after_seconds
        # The `condominium` label of the call counters (set per condominium by porteiro_concierge.tenancy).
        self.condominium_label = LABEL_OFF
        # Calls this process saw finish (or recorded lost): a lost leg never records them again.
        self._finished_here = RecentIds(REMEMBERED_CALLS)

    async def dispatch(self, session_id: str, event: Event) -> Dispatched:
        """Run one event of one call under the session's lock.

        Raises StoreUnavailable when the session store cannot be reached (the leg then ends
        the call with words: leg.py).
        """
        async with self.store.lock(session_id):
            session = await self.store.load(session_id)
            wait = VisitorWait(lambda: self._say_holding(session_id), self.holding_after_seconds)
            with self._turn_span(session, event) as span:
                event = await self._prepare(session, event, wait)
                session, effects = await self._handle(session_id, session, event, wait)
                if span is not None:
                    span.set_attribute("outcome", effects.turn_outcome.value)
            if session is not None:
                await self._keep(session_id, session, effects)
            await self._deliver(session_id, effects)
        self._count_turn(event, effects.turn_outcome)
        return Dispatched(
            traceparent=session.traceparent if session is not None else "",
            next_deadline=session.deadline if session is not None else None,
            turn_outcome=effects.turn_outcome,
            session=session,
        )

    async def _keep(self, session_id: str, session: Session, effects: Effects) -> None:
        """Save the session (delete it once both legs are gone) and register a finished call.

        A decision is never lost to the store: when the save of the event that finished the
        call fails, the call is registered and its last sentences delivered all the same.
        """
        try:
            if session.state == FlowState.FINISHED and not any(session.legs.values()):
                await self.store.delete(session_id)  # both legs gone: the call is over
            else:
                await self.store.save(session)
        except StoreUnavailable as error:
            if effects.finished is None:
                raise
            log.warning(
                "finished call not saved (session store unreachable); told and registered all the same",
                extra={"session_id": session_id, "error": str(error)},
            )
        if effects.finished is not None:
            self._finished_here.remember(session_id)
            self.call_register.record(session)

    def lost(self, session_id: str, session: Session | None, reason: FailureReason) -> str:
        """A call lost to a failure its legs saw outside the core (the session store went away);
        returns the sentence its callers hear (the technical problem).

        It is counted and registered FAILED with `reason` from `session`, the last copy this
        process handled, unless it had finished already: a decision taken is never contradicted.
        Each process that loses the call's legs records it at most once.
        """
        sentence = self.conversation.rules.prompts["fallback"]
        if session is None or session.state == FlowState.FINISHED or session_id in self._finished_here:
            return sentence
        self._finished_here.remember(session_id)
        lost = copy.deepcopy(session)
        handled = self.conversation.abandon(lost, reason, self.clock())
        self._record(lost, handled.effects)
        self.call_register.record(lost)
        return sentence

    async def _prepare(self, session: Session | None, event: Event, wait: VisitorWait) -> Event:
        """Do the core's reading for it: the sentence's extraction, a fresh hint vocabulary."""
        if session is None or session.state != FlowState.COLLECTING:
            return event
        if isinstance(event, Utterance) and event.leg == VISITOR:
            # The vocabulary (for the next question's hints) is refreshed while the sentence is read.
            extraction, _ = await wait.around(
                asyncio.gather(self.reader.read(event.text, session), self.vocabulary.refresh())
            )
            return replace(event, extraction=extraction)
        if isinstance(event, (VisitorStarted, DeadlinePassed)) or (
            isinstance(event, Key) and event.leg == VISITOR and event.key == "#"
        ):
            await self.vocabulary.refresh()
        return event

    async def _deliver(self, session_id: str, effects: Effects) -> None:
        """Hand each leg the actions gathered so far, in order, and forget them."""
        for leg in (VISITOR, RESIDENT):
            if effects.actions[leg]:
                await self.store.deliver(session_id, leg, effects.actions[leg])
                effects.actions[leg] = []

    async def _deliver_ahead(self, session_id: str, session: Session | None, effects: Effects) -> None:
        """Deliver before a request is performed, saving first: what a leg has heard is never lost
        with a process that dies during the request (a replica resumes from the saved state)."""
        if session is not None:
            await self.store.save(session)
        await self._deliver(session_id, effects)

    async def _handle(
        self, session_id: str, session: Session | None, event: Event, wait: VisitorWait
    ) -> tuple[Session | None, Effects]:
        """Let the core handle `event`, and the results of the requests it makes.

        What the legs are to hear before a request (the visitor's "Certo, vou chamar...")
        is saved and delivered before the request is performed: it need not wait for the dialer.
        """
        merged = Effects()
        for _ in range(MAX_STEPS_PER_EVENT):
            handled = self.conversation.handle(session, event, self.clock())
            session, effects = handled.session, handled.effects
            self._record(session, effects)
            for leg, actions in effects.actions.items():
                merged.actions[leg].extend(actions)
            if effects.cancels:  # the legs' sentences need not wait for the dialer either
                await self._deliver_ahead(session_id, session, merged)
                for cancel in effects.cancels:
                    await self._cancel_call(cancel)
            if effects.turn_outcome != TurnOutcome.IGNORED:
                merged.turn_outcome = effects.turn_outcome
            merged.finished = merged.finished or effects.finished
            if effects.request is None:
                return session, merged
            await self._deliver_ahead(session_id, session, merged)
            if isinstance(effects.request, ResolveRequest):  # the visitor waits for the answer
                event = await wait.around(self._perform(effects.request))
            else:  # the call to the resident: the visitor has just been told to wait
                event = await self._perform(effects.request)
        raise RuntimeError(f"more than {MAX_STEPS_PER_EVENT} requests for one event")

    async def _say_holding(self, session_id: str) -> None:
        """A dependency is slow: the visitor hears the holding sentence while it goes on."""
        HOLDING_SENTENCES.inc()
        trace.get_current_span().add_event(HOLDING_EVENT)
        say = concierge_pb2.Say(text=self.conversation.rules.prompts["holding"], allow_barge_in=False)
        await self.store.deliver(session_id, VISITOR, [concierge_pb2.LegAction(say=say)])

    async def _perform(self, request: Request) -> Event:
        if isinstance(request, ResolveRequest):
            return await self._resolve(request)
        if isinstance(request, PlaceCallRequest):
            return await self._place_call(request)
        raise TypeError(f"unknown request {request!r}")

    async def _resolve(self, request: ResolveRequest) -> Event:
        with stage_span(tracer, "FUZZY_VALIDATION", {"porteiro.leg": VISITOR}) as span:
            try:
                response = await self.directory.resolve(request.apartment, request.resident_name)
            except DependencyError as error:
                record_error(span, error)
                return DirectoryFailed(str(error))
            span.set_attribute("outcome", directory_pb2.ResolveStatus.Name(response.status))
        return DirectoryAnswered(response)

    async def _place_call(self, request: PlaceCallRequest) -> Event:
        with stage_span(tracer, "CALL_MORADOR", {"attempt": request.attempt}) as span:
            try:
                await self.dialer.place_call(
                    request.session_id,
                    request.destination,
                    request.attempt,
                    request.intent,
                    request.apartment,
                )
            except DependencyError as error:
                record_error(span, error)
                return CallFailed(str(error))
        return CallPlaced()

    async def _cancel_call(self, request: CancelCallRequest) -> None:
        """Cancel a superseded click-to-call; a failure is recorded, the conversation goes on."""
        with stage_span(tracer, "CANCEL_MORADOR_CALL", {"attempt": request.attempt}) as span:
            try:
                await self.dialer.cancel_call(request.session_id, request.attempt)
            except DependencyError as error:
                record_error(span, error)
                log.warning(
                    "click-to-call not cancelled: %s",
                    error,
                    extra={"session_id": request.session_id, "attempt": request.attempt},
                )

    def _record(self, session: Session | None, effects: Effects) -> None:
        span = trace.get_current_span()
        for noted in effects.span_events:
            span.add_event(noted.name, noted.attributes)
        if effects.finished is not None:
            CALL_OUTCOMES.labels(effects.finished.value).inc()
            CONDOMINIUM_CALL_OUTCOMES.labels(self.condominium_label, effects.finished.value).inc()
            ended = {
                "session_id": session.session_id if session is not None else "",
                "outcome": effects.finished.value,
            }
            if effects.failure is not None:
                CALL_FAILURES.labels(effects.failure.value).inc()
                ended["failure"] = effects.failure.value
            log.info("call finished", extra=ended)

    @contextlib.contextmanager
    def _turn_span(self, session: Session | None, event: Event) -> Iterator[trace.Span | None]:
        """AI_PROCESSING around a sentence the core reads (the visitor's while collecting, the
        resident's answer); other events run in the current span."""
        if session is None or not isinstance(event, Utterance) or not _is_read(session, event):
            yield None
            return
        with stage_span(tracer, "AI_PROCESSING", {"porteiro.leg": event.leg}) as span:
            yield span

    def _count_turn(self, event: Event, outcome: TurnOutcome) -> None:
        if isinstance(event, Utterance) or (isinstance(event, Key) and outcome != TurnOutcome.IGNORED):
            TURNS.labels(event.leg, outcome.value).inc()


def _is_read(session: Session, event: Utterance) -> bool:
    if event.leg == VISITOR:
        return session.state == FlowState.COLLECTING
    return session.state == FlowState.WAITING_RESIDENT
