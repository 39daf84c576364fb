"""The AudioSocket TCP listeners (visitor and resident) and the set of live legs.

Connections are read with an asyncio Protocol: the loop hands each read to the
leg's frame parser directly (no StreamReader, no reader task woken per frame).

A connection is refused before any leg exists when its source address is not
in the allowlist (closed without a word), when the gateway already carries
`max_legs` legs or is shutting down (a hangup frame, then close: the dialplan
continues).

While the gateway drains (SIGTERM, a rollout) both listeners stay open: a new
visitor leg is refused with a hangup frame, and a resident leg is taken only
for a call whose visitor leg is on this gateway (checked when its UUID arrives),
so the calls in progress can finish.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Sequence
from typing import cast

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.audiosocket import HANGUP_FRAME
from porteiro_gateway import metrics
from porteiro_gateway.caller_socket import CallerSocket
from porteiro_gateway.deps import LEG_NAMES, LegDeps
from porteiro_gateway.leg import Leg

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class LegRegistry:
    """Every live leg of the process, across both listeners."""

    def __init__(self, max_legs: int) -> None:
        self.max_legs = max_legs
        self.legs: set[Leg] = set()
        self.accepting = True  # False once stopping: every connection is refused
        self.draining = False  # True on SIGTERM: only resident legs of calls in progress here
        self._empty = asyncio.Event()
        self._empty.set()

    def refusal(self, leg: common_pb2.Leg = common_pb2.LEG_VISITOR) -> str | None:
        """Why a new connection for a `leg` leg is refused (None: take it)."""
        if not self.accepting or (self.draining and leg == common_pb2.LEG_VISITOR):
            return "shutting_down"
        if len(self.legs) >= self.max_legs:
            return "max_legs"
        return None

    def admits(self, leg: Leg, session_id: str) -> bool:
        """Whether a leg that just told its UUID may go on: while draining, only a resident leg
        whose call's visitor leg is here."""
        if not self.draining or leg.leg == common_pb2.LEG_VISITOR:
            return True
        return any(
            other.leg == common_pb2.LEG_VISITOR
            and other.session_id == session_id
            and other.end_reason is None
            for other in self.legs
        )

    async def wait_empty(self, seconds: float) -> bool:
        """Wait up to `seconds` for every leg to end; True if they did."""
        try:
            async with asyncio.timeout(seconds):
                await self._empty.wait()
                return True
        except TimeoutError:
            return False

    def add(self, leg: Leg) -> None:
        self.legs.add(leg)
        self._empty.clear()

    def remove(self, leg: Leg) -> None:
        self.legs.discard(leg)
        if not self.legs:
            self._empty.set()

    async def drain(self, grace_seconds: float) -> None:
        """Let legs finish for the grace period, then end the rest (SHUTDOWN)."""
        self.accepting = False
        try:
            async with asyncio.timeout(grace_seconds):
                await self._empty.wait()
                return
        except TimeoutError:
            pass
        for leg in list(self.legs):
            leg.end(concierge_pb2.LEG_END_REASON_SHUTDOWN, "gateway shutting down")
        try:
            async with asyncio.timeout(5.0):
                await self._empty.wait()
        except TimeoutError:
            log.warning("legs still open after shutdown", extra={"legs": len(self.legs)})


def is_allowed(host: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class LegListener:
    def __init__(
        self,
        leg: common_pb2.Leg,
        host: str,
        port: int,
        deps: LegDeps,
        registry: LegRegistry,
        networks: Sequence[Network],
    ) -> None:
        self.leg = leg
        self.host = host
        self.port = port
        self._deps = deps
        self._registry = registry
        self._networks = list(networks)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: AudioSocketProtocol(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("audiosocket listening", extra={"leg": LEG_NAMES[self.leg], "port": self.port})

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    def accept(self, transport: asyncio.Transport) -> Leg | None:
        """A new connection: refuse it, or start its leg (run in a task until the leg ends)."""
        peer = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not is_allowed(str(peer[0]), self._networks):
            metrics.REFUSALS.labels("not_allowed").inc()
            log.warning("connection from a network not allowed", extra={"peer": str(peer[0])})
            transport.abort()
            return None
        reason = self._registry.refusal(self.leg)
        if reason is not None:
            metrics.REFUSALS.labels(reason).inc()
            log.warning("connection refused", extra={"reason": reason})
            transport.write(HANGUP_FRAME)
            transport.close()
            return None
        leg = Leg(self._deps, self.leg, transport)
        leg.admits = self._registry.admits
        self._registry.add(leg)
        task = asyncio.get_running_loop().create_task(self._run(leg))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        return leg

    async def _run(self, leg: Leg) -> None:
        try:
            await leg.run()
        finally:
            self._registry.remove(leg)


class AudioSocketProtocol(asyncio.Protocol):
    """One TCP connection: passes the loop's callbacks to its leg's socket."""

    def __init__(self, listener: LegListener) -> None:
        self._listener = listener
        self._socket: CallerSocket | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        leg = self._listener.accept(cast(asyncio.Transport, transport))  # uvloop's is no subclass
        self._socket = leg.socket if leg is not None else None

    def data_received(self, data: bytes) -> None:
        if self._socket is not None:
            self._socket.data_received(data)

    def eof_received(self) -> bool:
        if self._socket is not None:
            self._socket.eof_received()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._socket is not None:
            self._socket.connection_lost(exc)
