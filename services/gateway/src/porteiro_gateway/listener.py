"""The AudioSocket TCP listeners (visitor and resident) and the set of live legs.

Connections are read with an asyncio Protocol: the loop hands each read to the
leg's frame parser directly (no StreamReader, no reader task woken per frame).

A connection is refused before any leg exists when its source address is not
in the allowlist (closed without a word), when the gateway already carries
`max_legs` legs (visitor port: all but the resident reserve) or is shutting down
(a hangup frame, then close: the dialplan continues). The rules are the
LegRegistry's (leg_table.py), which also refuses a second leg for a UUID.

Accepted sockets get a small send buffer (`SEND_BUFFER_BYTES`): what the peer
does not take piles up in the transport, where the leg sees it within seconds
(caller_socket.py), instead of in megabytes of kernel buffer.

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
from porteiro_common.audiosocket import HANGUP_FRAME
from porteiro_gateway import metrics
from porteiro_gateway.caller_socket import CallerSocket
from porteiro_gateway.deps import LEG_NAMES, LegDeps
from porteiro_gateway.leg import Leg
from porteiro_gateway.leg_table import LegRegistry
from porteiro_gateway.leg_warnings import PeriodicWarnings
from porteiro_gateway.media_engine import EngineTransport

log = logging.getLogger(__name__)
# A flood of refused connections writes a line per reason every 10 s, not one per connection.
REFUSAL_WARNINGS = PeriodicWarnings(log)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
            if self._deps.settings.send_buffer_bytes:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._deps.settings.send_buffer_bytes)
        if not is_allowed(str(peer[0]), self._networks):
            metrics.REFUSALS.labels("not_allowed").inc()
            REFUSAL_WARNINGS.warn("not_allowed", "connection from a network not allowed", peer=str(peer[0]))
            transport.abort()
            return None
        reason = self._registry.refusal(self.leg)
        if reason is not None:
            metrics.REFUSALS.labels(reason).inc()
            REFUSAL_WARNINGS.warn(reason, f"connection refused: {reason}", reason=reason)
            transport.write(HANGUP_FRAME)
            transport.close()
            return None
        media = self._deps.media
        if media is not None:  # the native edge reads and writes it from now on
            adopted = media.adopt(transport, self._deps.settings.idle_silence)
            leg = Leg(self._deps, self.leg, adopted)
            adopted.socket = leg.socket
        else:
            leg = Leg(self._deps, self.leg, transport)
        leg.admit = self._registry.admit
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
            transport = leg.socket.transport
            if isinstance(transport, EngineTransport) and self._deps.media is not None:
                self._deps.media.release(transport)


class AudioSocketProtocol(asyncio.Protocol):
    """One TCP connection: passes the loop's callbacks to its leg's socket."""

    def __init__(self, listener: LegListener) -> None:
        self._listener = listener
        self._socket: CallerSocket | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        leg = self._listener.accept(cast(asyncio.Transport, transport))  # uvloop's is no subclass
        # A connection the native media edge took is no longer the loop's: what the loop still
        # reports (its descriptor closed) is not the leg's.
        self._socket = leg.socket if leg is not None and leg.socket.transport is transport else None

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
