"""The holding sentence while the visitor waits on a slow dependency.

A visitor's sentence may need the directory (the extractor's lookups, then `Resolve`)
before anything can be answered. A directory that answers slowly, or not at all until
the call's deadline, would leave the caller in silence for seconds. `VisitorWait`
runs that work and, when it is not done `after_seconds` after it started, has the
visitor hear the holding sentence (prompt key ``holding``: "Um momento, por favor.",
synthesized at start by speech) once for the event, while the work goes on. The
answer follows when it comes, or the dependency's apology when it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class VisitorWait:
    """One event's waits on dependencies the visitor is waiting for."""

    def __init__(self, say_holding: Callable[[], Awaitable[None]], after_seconds: float) -> None:
        """`say_holding` delivers the holding sentence; `after_seconds` 0 never says it."""
        self._say_holding = say_holding
        self._after = after_seconds
        self.said = False

    async def around(self, work: Awaitable[T]) -> T:
        """The result of `work`; the holding sentence is said if it takes longer than allowed."""
        if self.said or self._after <= 0:
            return await work
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait({task}, timeout=self._after)
            if not done:
                self.said = True
                await self._say_holding()
            return await task
        finally:
            if not task.done():  # cancelled, or the holding sentence could not be delivered
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
