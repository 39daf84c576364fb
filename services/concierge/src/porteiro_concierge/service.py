"""The gRPC servicer: one `Converse` stream per call leg.

On SIGTERM (`hand_over`) every open stream is ended with the handover status: the
gateways reopen them on another replica, which carries each call on from the
shared session store.
"""

from __future__ import annotations

import asyncio

from porteiro.concierge.v1 import concierge_pb2_grpc
from porteiro_concierge.engine import CallDispatcher
from porteiro_concierge.leg import LegHandler
from porteiro_concierge.store import SessionStore


class ConciergeServicer(concierge_pb2_grpc.ConciergeServiceServicer):
    def __init__(self, engine: CallDispatcher, store: SessionStore, deadline_reread_seconds: float) -> None:
        self._engine = engine
        self._store = store
        self._reread_seconds = deadline_reread_seconds
        self._stopping = asyncio.Event()
        self._open_streams = 0
        self._all_closed = asyncio.Event()
        self._all_closed.set()

    async def Converse(self, request_iterator, context):  # noqa: N802 - gRPC method name
        handler = LegHandler(self._engine, self._store, self._reread_seconds, self._stopping)
        self._open_streams += 1
        self._all_closed.clear()
        try:
            async for action in handler.converse(request_iterator, context):
                yield action
        finally:
            self._open_streams -= 1
            if self._open_streams == 0:
                self._all_closed.set()

    async def hand_over(self, within_seconds: float) -> bool:
        """End every stream with the handover status; True if all closed within the time."""
        self._stopping.set()
        try:
            async with asyncio.timeout(within_seconds):
                await self._all_closed.wait()
                return True
        except TimeoutError:
            return False
