"""A task that does one thing every `interval` seconds until it is stopped (none at all when
the interval is 0 or less): the folder and file watchers of the services."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod


class PeriodicTask(ABC):
    """Subclasses give `task_name` and `tick`; `start` and `stop` run and end the loop."""

    task_name = "periodic-task"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def tick(self) -> object:
        """One round of the work (a subclass's)."""

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.tick()
