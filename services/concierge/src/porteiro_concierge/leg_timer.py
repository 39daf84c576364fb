"""A leg's timer: fires the call's deadline locally, and takes over deadlines set elsewhere.

Each event the leg dispatches returns the session's next deadline, and the
timer is armed from it (`arm`), so a timeout fires on time without reading the
store. The deadline is also saved in the session: every `reread_seconds` (slow,
e.g. 2 s) the timer reads it back, so a deadline set by another process -- one
that died, or that holds the other leg -- still fires here (fail-over).
Firing is harmless when nothing is due: the core checks the deadline itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from porteiro_concierge.cancellation import stop_if_cancelled
from porteiro_concierge.session import Deadline

log = logging.getLogger(__name__)

# Shortest wait, so a deadline the clock says is due but was not handled yet cannot spin the loop.
MIN_WAIT_SECONDS = 0.01


class LegTimer:
    def __init__(
        self,
        fire: Callable[[], Awaitable[Deadline | None]],
        reread: Callable[[], Awaitable[Deadline | None]],
        reread_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`fire` handles the deadline and returns the next one; `reread` loads it from the store."""
        self._fire = fire
        self._reread = reread
        self._reread_seconds = reread_seconds
        self._clock = clock
        self._at: float | None = None
        self._changed = asyncio.Event()
        self._failures = 0

    @property
    def at(self) -> float | None:
        """When the timer fires next (epoch seconds), None when it is not armed."""
        return self._at

    def arm(self, deadline: Deadline | None) -> None:
        self._at = deadline.at if deadline is not None else None
        self._changed.set()

    async def run(self) -> None:
        """Fire when due and re-read the store now and then, until cancelled."""
        next_reread = self._clock() + self._reread_seconds
        while True:
            now = self._clock()
            if self._at is not None and self._at <= now:
                self._at = None
                await self._guarded(self._fire, "deadline handling failed")
            elif now >= next_reread:
                next_reread = now + self._reread_seconds
                await self._guarded(self._reread, "deadline re-read failed")
            # Both read the store: a cancel (the leg ended) that redis-py swallowed still stops here.
            stop_if_cancelled()
            wake = next_reread if self._at is None else min(self._at, next_reread)
            self._changed.clear()
            # At least a short wait each round, so a deadline that stays due cannot spin the loop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wake - self._clock(), MIN_WAIT_SECONDS)):
                    await self._changed.wait()

    async def _guarded(self, action: Callable[[], Awaitable[Deadline | None]], what: str) -> None:
        """Run `action` and arm its deadline; a failure (store unreachable) is logged once per streak."""
        try:
            deadline = await action()
        except Exception as error:  # noqa: BLE001 - the store may be briefly unreachable: try at the next re-read
            self._failures += 1
            if self._failures == 1:
                log.warning(what, extra={"error": str(error)})
            return
        if self._failures:
            log.info("deadline checks recovered", extra={"failures": self._failures})
            self._failures = 0
        self.arm(deadline)
