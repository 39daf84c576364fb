"""A leg's warnings, once per kind with a count.

A peer can repeat a bad thing a thousand times a second (0xFF frames, say):
the first occurrence is logged at once, the rest only counted, and when the
leg ends one line says how many there were. Metrics still count every one.
"""

from __future__ import annotations

import logging
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
