"""Runs one event of one call: lock the session, load it, let the flow act, save, deliver.

Whichever concierge process holds a leg calls the engine; the store's lock
makes events of the two legs (and timers) take turns, even across processes.
Commands are delivered while the lock is held so each leg hears them in order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from porteiro_concierge.flow import Conversation, Effects
from porteiro_concierge.session import RESIDENT, VISITOR, FlowState, Session
from porteiro_concierge.store import SessionStore
from porteiro_concierge.telemetry import TURNS

log = logging.getLogger(__name__)

Handler = Callable[[Session | None, Effects], Awaitable[Session | None]]


class CallEngine:
    def __init__(self, store: SessionStore, conversation: Conversation) -> None:
        self.store = store
        self.conversation = conversation

    async def _run(self, session_id: str, handler: Handler) -> tuple[Session | None, Effects]:
        async with self.store.lock(session_id):
            fx = Effects()
            session = await handler(await self.store.load(session_id), fx)
            if session is not None:
                if session.state == FlowState.FINISHED and not any(session.legs.values()):
                    await self.store.delete(session_id)  # both legs gone: the call is over
                else:
                    await self.store.save(session)
            for leg in (VISITOR, RESIDENT):
                if fx.commands[leg]:
                    await self.store.deliver(session_id, leg, fx.commands[leg])
            return session, fx

    async def leg_started(self, session_id: str, leg: str, traceparent: str) -> str:
        """Attach a leg; returns the call's traceparent (the visitor's) for LegAccepted."""

        async def handle(session: Session | None, fx: Effects) -> Session | None:
            if leg == VISITOR:
                return await self.conversation.visitor_started(session, session_id, traceparent, fx)
            return self.conversation.resident_started(session, fx)

        session, _ = await self._run(session_id, handle)
        return session.traceparent if session is not None else ""

    async def utterance(self, session_id: str, leg: str, text: str) -> None:
        async def handle(session: Session | None, fx: Effects) -> Session | None:
            if session is not None:
                if leg == VISITOR:
                    await self.conversation.visitor_utterance(session, text, fx)
                else:
                    self.conversation.resident_utterance(session, text, fx)
            return session

        _, fx = await self._run(session_id, handle)
        TURNS.labels(leg, fx.turn_outcome).inc()

    async def key(self, session_id: str, leg: str, key: str) -> None:
        async def handle(session: Session | None, fx: Effects) -> Session | None:
            if session is not None:
                if leg == VISITOR:
                    await self.conversation.visitor_key(session, key, fx)
                else:
                    self.conversation.resident_key(session, key, fx)
            return session

        _, fx = await self._run(session_id, handle)
        if fx.turn_outcome != "ignored":
            TURNS.labels(leg, fx.turn_outcome).inc()

    async def leg_idle(self, session_id: str, leg: str) -> None:
        async def handle(session: Session | None, fx: Effects) -> Session | None:
            if session is not None:
                self.conversation.leg_idle(session, leg)
            return session

        await self._run(session_id, handle)

    async def speech_started(self, session_id: str, leg: str) -> None:
        async def handle(session: Session | None, fx: Effects) -> Session | None:
            if session is not None:
                self.conversation.speech_started(session, leg)
            return session

        await self._run(session_id, handle)

    async def deadline_passed(self, session_id: str) -> None:
        async def handle(session: Session | None, fx: Effects) -> Session | None:
            if session is not None:
                await self.conversation.deadline_passed(session, fx)
            return session

        await self._run(session_id, handle)

    async def leg_ended(self, session_id: str, leg: str) -> None:
        async def handle(session: Session | None, fx: Effects) -> Session | None:
            if session is not None:
                self.conversation.leg_ended(session, leg, fx)
            return session

        await self._run(session_id, handle)
