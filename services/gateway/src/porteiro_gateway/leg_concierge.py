"""A leg's Converse stream over its life: opened, pumped, handed over, lost.

Opened on the UUID with LegStarted first, inside the leg's span (the concierge's
spans join the call's trace); pumped both ways by two of the leg's kept tasks
(they may deliver LegEnded after the leg ends); reopened at once when a
concierge replica hands the call over on purpose (another replica resumes it
from the shared session, the caller hears no fallback); any other loss is
reported to the leg, which decides what the caller hears.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from opentelemetry import trace

from porteiro.concierge.v1 import concierge_pb2
from porteiro_gateway.concierge_link import ConciergeGone, ConciergeHandover, ConciergeStream, LegAction
from porteiro_gateway.leg_trace import LegTrace

log = logging.getLogger(__name__)


class LegConcierge:
    def __init__(
        self,
        link: ConciergeStream,
        trace: LegTrace,
        spawn_kept: Callable[[Coroutine[Any, Any, Any]], object],
        on_action: Callable[[LegAction], None],
        on_gone: Callable[[str], None],
        wanted: Callable[[], bool],
    ) -> None:
        self._link = link
        self._trace = trace
        self._spawn_kept = spawn_kept  # a task of the leg that may outlive its end (LegEnded)
        self._on_action = on_action
        self._on_gone = on_gone  # the stream failed or ended unasked (after HangUp it may: leg decides)
        self._wanted = wanted  # whether a handed-over stream is still worth reopening
        self._started = concierge_pb2.LegStarted()

    def open(self, started: concierge_pb2.LegStarted) -> None:
        """(Re)open the stream, LegStarted first, and start pumping it."""
        self._started = started
        with trace.use_span(self._trace.span, end_on_exit=False):  # Converse joins the CALL trace
            self._link.open(started)
        self._spawn_kept(self._pump_in())

    async def _pump_in(self) -> None:
        self._spawn_kept(self._pump_out())  # ends by itself once the link is abandoned
        try:
            await self._link.pump_in(self._on_action)
        except ConciergeHandover as error:
            self._handed_over(error)
        except ConciergeGone as error:
            self._gone(error)

    async def _pump_out(self) -> None:
        try:
            await self._link.pump_out()
        except ConciergeGone as error:
            self._gone(error)

    def _handed_over(self, error: ConciergeHandover) -> None:
        self._link.abandon()
        if not self._wanted():
            return
        log.info("concierge handed the leg over: %s", error, extra={"session_id": self._started.session_id})
        self._trace.event("CONCIERGE_HANDOVER")
        self.open(self._started)

    def _gone(self, error: ConciergeGone) -> None:
        self._link.abandon()
        self._on_gone(str(error))
