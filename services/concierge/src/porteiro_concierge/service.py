"""The gRPC servicer: one `Converse` stream per call leg."""

from __future__ import annotations

from porteiro.concierge.v1 import concierge_pb2_grpc
from porteiro_concierge.engine import CallEngine
from porteiro_concierge.leg import LegHandler
from porteiro_concierge.store import SessionStore


class ConciergeServicer(concierge_pb2_grpc.ConciergeServiceServicer):
    def __init__(self, engine: CallEngine, store: SessionStore, deadline_reread_seconds: float) -> None:
        self._engine = engine
        self._store = store
        self._reread_seconds = deadline_reread_seconds

    async def Converse(self, request_iterator, context):  # noqa: N802 - gRPC method name
        handler = LegHandler(self._engine, self._store, self._reread_seconds)
        async for action in handler.converse(request_iterator, context):
            yield action
