"""Bounds how many transcriptions run at once; a short queue, then refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Overloaded(RuntimeError):
    """Every worker stayed busy for the whole queue time."""


class WorkerLimiter:
    def __init__(self, workers: int, queue_seconds: float) -> None:
        self.workers = workers
        self.queue_seconds = queue_seconds
        self._slots = asyncio.Semaphore(workers)

    async def _acquire(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free slot: no wait (also right when queue_seconds is 0)
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.queue_seconds)
        except TimeoutError:
            raise Overloaded(
                f"all {self.workers} recognizer workers stayed busy for {self.queue_seconds:g} s"
            ) from None

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work()` in a slot. If the caller goes away, the slot stays taken until the work ends
        (inference already in a thread cannot be interrupted, so the pool must not be oversubscribed)."""
        await self._acquire()
        task = asyncio.ensure_future(work())
        task.add_done_callback(self._release)
        return await asyncio.shield(task)

    def _release(self, task: asyncio.Future) -> None:
        self._slots.release()
        if not task.cancelled():
            task.exception()  # retrieved, so an abandoned failure is not reported as "never retrieved"
