"""The leg's bidirectional Converse stream to the concierge.

Events go through an outbox that the call reads as its request stream (an async
generator handed to gRPC, which writes each event in order); actions are read by one
reader task. The leg owns the tasks that wait on both ends, `pump_out` and `pump_in`.

Why a request generator and not `call.write()`: with a client interceptor (OpenTelemetry's),
gRPC reads written messages through a generator of its own, which only ends on
`done_writing()`, and `done_writing()` is dropped once the call is over. When the concierge
closed the stream first (the usual end of a call), gRPC's task reading it then waited for
ever and was destroyed by the garbage collector ("Task was destroyed but it is pending",
"aclose(): asynchronous generator is already running": 150 in a 10-minute soak at 200
calls). Our generator ends however the call ends: a done callback puts the end marker.

A leg sees the stream through the `ConciergeStream` protocol; `ConciergeLink`
is the real one (tests/gateway/harness.py has an in-process fake).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol, TypeAlias

import grpc

from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc

LegEvent: TypeAlias = concierge_pb2.LegEvent
LegAction: TypeAlias = concierge_pb2.LegAction


class ConciergeGone(Exception):
    """The stream failed or ended without the leg asking for it."""


class ConciergeHandover(ConciergeGone):
    """The concierge replica is stopping and closed the stream on purpose: the call lives on in
    the shared session store, and a new stream (to another replica) carries it on."""


# The status a stopping concierge ends its streams with (porteiro_concierge.leg.HANDOVER_DETAIL).
HANDOVER_CODE = grpc.StatusCode.UNAVAILABLE
HANDOVER_PREFIX = "handover:"


class ConciergeStream(Protocol):
    """One leg's conversation with the concierge: events out, actions in."""

    alive: bool  # opened and not abandoned

    def open(self, started: concierge_pb2.LegStarted) -> None:
        """(Re)open the stream and queue LegStarted first."""
        ...

    def send(self, event: LegEvent) -> None:
        """Queue an event (dropped once the stream is closing or gone)."""
        ...

    async def pump_out(self) -> None:
        """Return once the queued events are sent and the stream half-closed (after `finish`), or
        the stream is over; a failure shows in `pump_in`."""
        ...

    async def pump_in(self, on_action: Callable[[LegAction], None]) -> None:
        """Deliver actions until the stream ends; raises ConciergeGone on an unexpected end."""
        ...

    def finish(self, ended: concierge_pb2.LegEnded) -> None:
        """Queue LegEnded and the half-close after the pending events."""
        ...

    def abandon(self) -> None:
        """Drop a failed stream without talking to it."""
        ...


class ConciergeLink:
    """The real `ConciergeStream`: a Converse call on the concierge's gRPC channel."""

    def __init__(
        self,
        stub: concierge_pb2_grpc.ConciergeServiceStub,
        deadline_seconds: float,
        ready_seconds: float = 3.0,
    ) -> None:
        self._stub = stub
        self._deadline = deadline_seconds
        self._ready_seconds = ready_seconds  # the first action (LegAccepted) must come within this
        self._call: grpc.aio.StreamStreamCall | None = None
        self._outbox: asyncio.Queue[LegEvent | None] = asyncio.Queue()
        self._requests_ended = asyncio.Event()
        self.alive = False
        self.closing = False

    def open(self, started: concierge_pb2.LegStarted) -> None:
        """Open the stream (in the caller's trace context) and queue LegStarted.

        The stream waits for the concierge to be ready (a replica restarting, a reconnection)
        instead of failing at once; `pump_in` gives it `ready_seconds` to answer.
        """
        outbox: asyncio.Queue[LegEvent | None] = asyncio.Queue()
        ended = asyncio.Event()
        self._outbox, self._requests_ended = outbox, ended
        self._call = self._stub.Converse(
            self._requests(outbox, ended), timeout=self._deadline, wait_for_ready=True
        )
        self._call.add_done_callback(lambda _call: self._call_ended(outbox, ended))
        self.alive = True
        self.closing = False
        self.send(LegEvent(leg_started=started))

    def send(self, event: LegEvent) -> None:
        if self.alive and not self.closing:
            self._outbox.put_nowait(event)

    @staticmethod
    async def _requests(
        outbox: asyncio.Queue[LegEvent | None], ended: asyncio.Event
    ) -> AsyncIterator[LegEvent]:
        """The call's request stream: the queued events until `finish`, `abandon` or the call's
        end (gRPC half-closes the stream when it ends)."""
        try:
            while (event := await outbox.get()) is not None:
                yield event
        finally:
            ended.set()

    @staticmethod
    def _call_ended(outbox: asyncio.Queue[LegEvent | None], ended: asyncio.Event) -> None:
        """However the call ends (the concierge closed it, a failure, a cancel), end its request
        stream: gRPC does not stop reading it once the call is over. (gRPC may also have stopped
        reading already, after a failed write: `pump_out` returns either way.)"""
        outbox.put_nowait(None)
        ended.set()

    async def pump_out(self) -> None:
        """Return once the queued events are handed to gRPC and the stream half-closed (after
        `finish`), or the call is over. A failed write shows as the call's error, in `pump_in`."""
        await self._requests_ended.wait()

    async def pump_in(self, on_action: Callable[[LegAction], None]) -> None:
        """Deliver actions until the stream ends; raises ConciergeGone on an unexpected end."""
        call = self._call
        assert call is not None
        accepted = False
        while True:
            try:
                action = await (call.read() if accepted else self._first_read(call))
            except grpc.aio.AioRpcError as error:
                if self.closing:
                    return
                if error.code() == HANDOVER_CODE and (error.details() or "").startswith(HANDOVER_PREFIX):
                    raise ConciergeHandover(describe(error)) from None
                raise ConciergeGone(describe(error)) from None
            if action is grpc.aio.EOF:
                if self.closing:
                    return
                raise ConciergeGone("concierge ended the stream")
            accepted = True
            on_action(action)

    async def _first_read(self, call: grpc.aio.StreamStreamCall) -> LegAction:
        """The stream's first action, within `ready_seconds` (the stream waits for a concierge
        being restarted; the caller must not wait in silence for long)."""
        try:
            async with asyncio.timeout(self._ready_seconds):
                return await call.read()
        except TimeoutError:
            call.cancel()
            raise ConciergeGone(f"concierge not ready within {self._ready_seconds:g} s") from None

    def finish(self, ended: concierge_pb2.LegEnded) -> None:
        """Queue LegEnded and the half-close after the pending events."""
        if self.alive and not self.closing:
            self.closing = True
            self._outbox.put_nowait(LegEvent(leg_ended=ended))
            self._outbox.put_nowait(None)

    def abandon(self) -> None:
        """Drop a failed stream without talking to it; `pump_out` then returns."""
        self.alive = False
        if self._call is not None:
            self._call.cancel()
            self._call = None
            self._outbox.put_nowait(None)  # the request stream ends at once (pump_out returns)


def describe(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}"
