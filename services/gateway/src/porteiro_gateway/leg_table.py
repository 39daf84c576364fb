"""The gateway's live legs: who may connect, one leg per call UUID and side, the drain.

Three rules keep the table from being held hostage (issue 15):

- A share of `max_legs` (`resident_reserve`) is kept for the resident port: visitor
  connections are refused once only the reserve is left, so the resident of a call in
  progress still gets in when visitor connections (or a flood of them) fill the rest.
- One UUID, one leg per side: a second connection telling the UUID of a live leg on the
  same side is refused (hangup frame, close, `refusals_total{reason="uuid_in_use"}`); the
  first leg keeps the call. Asterisk's AudioSocket() never reconnects by itself, so a
  second connection is a dialplan mistake, a replay or a hijack; a first leg that is
  really gone ends on its own (EOF, reset, or `AUDIO_TIMEOUT_SECONDS` without audio),
  and a retry after that gets in. The check is per gateway replica: two replicas do not
  see each other's legs.
- Legs that send no audio do not stay (leg_timers.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_gateway import metrics

if TYPE_CHECKING:
    from porteiro_gateway.leg import Leg

log = logging.getLogger(__name__)

UUID_IN_USE = "uuid_in_use"
SHUTTING_DOWN = "shutting_down"
Reason = concierge_pb2.LegEndReason
# How a leg refused once its UUID is known ends: Leg.end's (reason, detail). Both send a hangup frame.
Refusal = tuple[Reason, str]


def resident_reserve(max_legs: int, share: float) -> int:
    """The legs kept for the resident port: `share` of `max_legs`, rounded down."""
    return int(max_legs * share)


class LegRegistry:
    """Every live leg of the process, across both listeners."""

    def __init__(self, max_legs: int, resident_reserve: int = 0) -> None:
        self.max_legs = max_legs
        self.resident_reserve = resident_reserve
        self.legs: set[Leg] = set()
        self._by_uuid: dict[tuple[int, str], Leg] = {}  # (side, session id) -> its live leg
        self.accepting = True  # False once stopping: every connection is refused
        self.draining = False  # True on SIGTERM: only resident legs of calls in progress here
        self._empty = asyncio.Event()
        self._empty.set()

    def refusal(self, leg: common_pb2.Leg = common_pb2.LEG_VISITOR) -> str | None:
        """Why a new connection for a `leg` leg is refused (None: take it)."""
        visitor = leg == common_pb2.LEG_VISITOR
        if not self.accepting or (self.draining and visitor):
            return SHUTTING_DOWN
        if len(self.legs) >= self.max_legs:
            return "max_legs"
        if visitor and len(self.legs) >= self.max_legs - self.resident_reserve:
            return "resident_reserve"
        return None

    def admit(self, leg: Leg, session_id: str) -> Refusal | None:
        """A leg just told its UUID: how it ends if refused (None: it is now the UUID's leg on its side).

        While draining, only a resident leg whose call's visitor leg is here goes on.
        """
        if self.draining and leg.leg != common_pb2.LEG_VISITOR:
            if not self._live(common_pb2.LEG_VISITOR, session_id):
                metrics.REFUSALS.labels(SHUTTING_DOWN).inc()
                return Reason.LEG_END_REASON_SHUTDOWN, "gateway draining: no call in progress here"
        if self._live(leg.leg, session_id):
            metrics.REFUSALS.labels(UUID_IN_USE).inc()
            return Reason.LEG_END_REASON_PROTOCOL_ERROR, f"refused: the UUID has a live {leg.leg_name} leg"
        self._by_uuid[(leg.leg, session_id)] = leg
        return None

    def _live(self, side: int, session_id: str) -> bool:
        other = self._by_uuid.get((side, session_id))
        return other is not None and other.end_reason is None

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
        key = (leg.leg, leg.session_id)
        if self._by_uuid.get(key) is leg:
            del self._by_uuid[key]
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
            leg.end(Reason.LEG_END_REASON_SHUTDOWN, "gateway shutting down")
        try:
            async with asyncio.timeout(5.0):
                await self._empty.wait()
        except TimeoutError:
            log.warning("legs still open after shutdown", extra={"legs": len(self.legs)})
