"""Warnings a peer can repeat at will, written once with a count.

A peer can repeat a bad thing a thousand times a second (0xFF frames, say):
the first occurrence is logged at once, the rest only counted, and when the
leg ends one line says how many there were. Warnings about connections refused
before any leg exists are written at most once per period, with the count since.
Metrics still count every one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any


class LegWarnings:
    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._counts: dict[str, int] = {}
        self.session_id = ""

    def warn(self, kind: str, message: str, *args: Any, **extra: Any) -> None:
        """Log `message` the first time `kind` happens on this leg; count it every time."""
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count == 1:
            self._log.warning(message, *args, extra={"session_id": self.session_id, "warning": kind, **extra})

    def count(self, kind: str) -> int:
        return self._counts.get(kind, 0)

    def flush(self) -> None:
        """At the leg's end: one line per kind that repeated, with its count."""
        for kind, count in self._counts.items():
            if count > 1:
                extra = {"session_id": self.session_id, "warning": kind, "count": count}
                self._log.warning("%s: %d times on this leg (logged once)", kind, count, extra=extra)
        self._counts.clear()


class PeriodicWarnings:
    """Process-wide warnings (refused connections), at most one line per kind per `period` seconds.

    A flood of 500 connections refused at once writes one line, then one line per period with how
    many more there were.
    """

    def __init__(
        self, log: logging.Logger, period: float = 10.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._log, self._period, self._now = log, period, now
        self._last: dict[str, float] = {}  # kind -> when its last line was written
        self._unlogged: dict[str, int] = {}  # kind -> occurrences since that line

    def warn(self, kind: str, message: str, **extra: Any) -> None:
        now = self._now()
        last = self._last.get(kind)
        if last is not None and now - last < self._period:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return
        more = self._unlogged.pop(kind, 0)
        self._last[kind] = now
        suffix = f" (and {more} more in the last {now - last:.0f} s)" if more and last is not None else ""
        self._log.warning("%s%s", message, suffix, extra={**extra, "warning": kind, "unlogged": more})
