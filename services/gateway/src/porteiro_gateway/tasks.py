"""The tasks a leg owns, in one TaskGroup.

A task that raises ends the leg (not the process); when the leg ends, its work
is cancelled at once, while the concierge stream's tasks (`keep_on_end`) get a
moment to deliver LegEnded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class LegTasks:
    def __init__(self, on_failure: Callable[[Exception], None]) -> None:
        self._on_failure = on_failure  # called inside the except block: log.exception works there
        self._group: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task] = set()
        self._kept: set[asyncio.Task] = set()  # allowed to finish after the leg ends
        self.closed = False

    def open(self, group: asyncio.TaskGroup) -> None:
        self._group = group

    def spawn(self, coroutine: Coroutine[Any, Any, Any], keep_on_end: bool = False) -> asyncio.Task | None:
        """Start a task; None (and the coroutine closed) before `open` or after `close`."""
        if self._group is None or self.closed:
            coroutine.close()
            return None
        task = self._group.create_task(self._guarded(coroutine))
        # A task cancelled before it ran never awaited `coroutine`: close it (no "never awaited" warning).
        task.add_done_callback(lambda _: coroutine.close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if keep_on_end:
            self._kept.add(task)
            task.add_done_callback(self._kept.discard)
        return task

    async def _guarded(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a bug in one task must end the leg, not the process
            self._on_failure(error)

    def close(self) -> None:
        """No new tasks from now on (the leg is ending)."""
        self.closed = True

    def stop_work(self) -> None:
        """Cancel all but the kept tasks."""
        for task in list(self._tasks - self._kept):
            task.cancel()

    async def wait_kept(self, within: float) -> None:
        if self._kept:
            await asyncio.wait(set(self._kept), timeout=within)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
