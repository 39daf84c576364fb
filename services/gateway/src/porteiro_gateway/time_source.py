"""Where the gateway reads the time and waits: the monotonic clock in production.

Everything time-dependent in a leg (the playback schedule, the echo guard of
barge-in, turn latency, the UUID and call-length timers) goes through one
`TimeSource`, so tests can run a leg in virtual time (tests/gateway/harness.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class TimeSource(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after `seconds` of this clock's time."""
        ...


class MonotonicTime:
    """The real clock: time.monotonic and asyncio.sleep."""

    now = staticmethod(time.monotonic)  # a plain builtin call on the hot path
    sleep = staticmethod(asyncio.sleep)


MONOTONIC = MonotonicTime()
