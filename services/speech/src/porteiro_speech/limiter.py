"""A bounded FIFO queue in front of a fixed number of workers: busy is not broken.

At most `workers` jobs run at once. Others wait their turn in arrival order, each for at
most `max_wait_seconds` (or the request's own deadline, when that is shorter); a request
is refused (`Overloaded`) only when its wait runs out or when `max_depth` requests are
already waiting. The wait of every admitted request and the number waiting are metrics
(`porteiro_speech_queue_wait_seconds`, `porteiro_speech_queue_depth`) fit for autoscaling.

Slots are handed over directly from the job that ends to the first waiter, so a later
arrival can never overtake an earlier one.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from porteiro_speech import metrics

T = TypeVar("T")


class Overloaded(RuntimeError):
    """The queue was full, or no worker freed up within the wait limit."""


class DeadlinePassed(Overloaded):
    """No worker freed up before the request's own deadline (shorter than the wait limit)."""


class WorkQueue:
    def __init__(
        self, kind: str, workers: int, max_wait_seconds: float, max_depth: int, setting_prefix: str = ""
    ) -> None:
        """`kind` labels the metrics ("recognition" or "synthesis"); `setting_prefix` names the
        settings in refusal messages (e.g. "PORTEIRO_SPEECH_STT")."""
        self.kind = kind
        self.workers = workers
        self.max_wait_seconds = max_wait_seconds
        self.max_depth = max_depth
        self.setting_prefix = setting_prefix
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        # When each job of `run` began (monotonic), while it runs: a job that never ends keeps its
        # worker for good (`running_longer_than`).
        self._running_since: dict[int, float] = {}
        self._jobs = itertools.count()
        self._wait = metrics.QUEUE_WAIT_SECONDS.labels(kind)
        self._depth = metrics.QUEUE_DEPTH.labels(kind)
        self._busy = metrics.WORKERS_BUSY.labels(kind)

    @property
    def depth(self) -> int:
        """Requests waiting for a worker (not counting the running ones)."""
        return len(self._waiters)

    async def acquire(self, deadline_seconds: float | None = None) -> None:
        """Take a worker slot, waiting in FIFO order for at most the wait limit or `deadline_seconds`
        (the request's remaining gRPC deadline), whichever is shorter. Raises `Overloaded`."""
        began = time.perf_counter()
        if self.running < self.workers and not self._waiters:
            self._take()
            self._wait.observe(0.0)
            return
        if len(self._waiters) >= self.max_depth:
            raise Overloaded(
                f"{self.kind} queue full: {len(self._waiters)} requests already wait for "
                f"{self.workers} workers ({self.setting_prefix}_QUEUE_DEPTH)"
            )
        limit = self.max_wait_seconds
        deadline_first = deadline_seconds is not None and deadline_seconds < limit
        if deadline_seconds is not None:
            limit = max(0.0, min(limit, deadline_seconds))
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._depth.inc()
        try:
            async with asyncio.timeout(limit):
                await waiter
        except (TimeoutError, asyncio.CancelledError) as error:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we gave up: pass it on
            else:
                waiter.cancel()
                self._waiters.remove(waiter)
                self._depth.dec()
            if isinstance(error, TimeoutError) and deadline_first:
                raise DeadlinePassed(
                    f"the request's deadline passed after {limit:.3g} s waiting for one of "
                    f"{self.workers} {self.kind} workers"
                ) from None
            if isinstance(error, TimeoutError):
                raise Overloaded(
                    f"no {self.kind} worker of {self.workers} freed up within {limit:.3g} s "
                    f"({self.setting_prefix}_QUEUE_SECONDS)"
                ) from None
            raise
        self._wait.observe(time.perf_counter() - began)

    def release(self) -> None:
        """Give the slot back: to the first waiter, or to the pool."""
        self._release()

    def _take(self) -> None:
        self.running += 1
        self._busy.inc()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            self._depth.dec()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes straight to the oldest waiter
                return
        self.running -= 1
        self._busy.dec()

    @asynccontextmanager
    async def slot(self, deadline_seconds: float | None = None) -> AsyncIterator[None]:
        """`async with queue.slot():` — for work the caller can interrupt (a streaming synthesis)."""
        await self.acquire(deadline_seconds)
        try:
            yield
        finally:
            self.release()

    async def run(self, work: Callable[[], Awaitable[T]], deadline_seconds: float | None = None) -> T:
        """Run `work()` in a slot. If the caller goes away, the slot stays taken until the work ends
        (inference already in a thread cannot be interrupted, so the pool must not be oversubscribed)."""
        await self.acquire(deadline_seconds)
        job = next(self._jobs)
        self._running_since[job] = time.monotonic()
        task = asyncio.ensure_future(work())
        task.add_done_callback(functools.partial(self._release_after, job))
        return await asyncio.shield(task)

    def running_longer_than(self, seconds: float) -> int:
        """Jobs of `run` that began more than `seconds` ago and have not ended."""
        began_before = time.monotonic() - seconds
        return sum(1 for began in self._running_since.values() if began < began_before)

    def _release_after(self, job: int, task: asyncio.Future) -> None:
        self._running_since.pop(job, None)
        self.release()
        if not task.cancelled():
            task.exception()  # retrieved, so an abandoned failure is not reported as "never retrieved"
