"""A leg's local timer: fires the deadline it was armed with without reading the store; reads the
store only at the slow fail-over rate; survives a store that is down (short real waits, < 1 s)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from porteiro_concierge.leg_timer import LegTimer
from porteiro_concierge.session import Deadline, DeadlineKind


class Calls:
    """The timer's two callbacks, counted; `fire` returns `next_deadline`, `reread` returns `stored`."""

    def __init__(self) -> None:
        self.fired: list[float] = []
        self.rereads = 0
        self.next_deadline: Deadline | None = None
        self.stored: Deadline | None = None
        self.fail = False

    async def fire(self) -> Deadline | None:
        self.fired.append(time.time())
        if self.fail:
            raise ConnectionError("store unreachable")
        deadline, self.next_deadline = self.next_deadline, None  # handled: the core clears it
        return deadline

    async def reread(self) -> Deadline | None:
        self.rereads += 1
        if self.fail:
            raise ConnectionError("store unreachable")
        return self.stored


@contextlib.asynccontextmanager
async def running(timer: LegTimer):
    task = asyncio.create_task(timer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def soon(seconds: float) -> Deadline:
    return Deadline(DeadlineKind.VISITOR_REPLY, time.time() + seconds)


async def test_an_armed_deadline_fires_on_time_without_reading_the_store():
    calls = Calls()
    timer = LegTimer(calls.fire, calls.reread, reread_seconds=60)
    async with running(timer):
        deadline = soon(0.1)
        timer.arm(deadline)
        await asyncio.sleep(0.3)
    assert len(calls.fired) == 1 and calls.fired[0] >= deadline.at  # once, and not early
    assert calls.rereads == 0


async def test_the_next_deadline_returned_by_firing_is_armed():
    calls = Calls()
    timer = LegTimer(calls.fire, calls.reread, reread_seconds=60)
    async with running(timer):
        calls.next_deadline = soon(0.15)
        timer.arm(soon(0.05))
        await asyncio.sleep(0.35)
    assert len(calls.fired) == 2 and timer.at is None


async def test_re_arming_replaces_the_deadline_and_disarming_stops_it():
    calls = Calls()
    timer = LegTimer(calls.fire, calls.reread, reread_seconds=60)
    async with running(timer):
        timer.arm(soon(0.1))
        timer.arm(None)  # e.g. the call ended
        await asyncio.sleep(0.25)
    assert calls.fired == []


async def test_a_deadline_set_by_another_process_is_found_at_the_slow_reread():
    calls = Calls()
    calls.stored = soon(0.0)  # saved in the session by the process holding the other leg
    timer = LegTimer(calls.fire, calls.reread, reread_seconds=0.5)
    async with running(timer):
        await asyncio.sleep(0.1)
        assert calls.rereads == 0 and calls.fired == []  # not before the re-read
        await asyncio.sleep(0.6)
    assert calls.rereads >= 1 and len(calls.fired) == 1


async def test_a_deadline_that_stays_due_cannot_spin_the_loop():
    calls = Calls()
    stuck = soon(0.0)

    async def fire_returning_the_same() -> Deadline | None:
        calls.fired.append(time.time())
        return stuck  # e.g. clocks that disagree: the core has not cleared it

    timer = LegTimer(fire_returning_the_same, calls.reread, reread_seconds=60)
    async with running(timer):
        timer.arm(stuck)
        await asyncio.sleep(0.2)  # the event loop still runs this test
    assert 1 <= len(calls.fired) <= 0.2 / 0.01 + 2


async def test_a_store_that_is_down_is_logged_once_and_the_timer_goes_on(caplog):
    calls = Calls()
    calls.fail = True
    timer = LegTimer(calls.fire, calls.reread, reread_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="porteiro_concierge.leg_timer"):
        async with running(timer):
            timer.arm(soon(0.0))
            await asyncio.sleep(0.3)
            assert calls.rereads >= 2  # still trying
            calls.fail = False
            calls.stored = soon(0.0)
            await asyncio.sleep(0.15)
    assert len(calls.fired) >= 2  # the first firing failed; the deadline re-read later fired again
    assert len([record for record in caplog.records if record.levelno == logging.WARNING]) == 1


class SwallowsOneCancel:
    """A store read (or the firing's dispatch) that swallows the first cancel landing on it, as
    redis-py's send does on Python 3.11: its asyncio.wait_for returns the command's result when
    the cancel lands just as the send completes. Later calls return at once."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.swallowed = False

    async def __call__(self) -> Deadline | None:
        if not self.started.is_set():
            self.started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.swallowed = True
        return None


async def ends_when_cancelled(task: asyncio.Task) -> bool:
    """Cancel `task`; True if it ended within a second (otherwise it is cancelled again, for good)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    return bool(done) and task.cancelled()


async def test_a_cancel_swallowed_by_a_reread_still_stops_the_timer():
    calls, reread = Calls(), SwallowsOneCancel()
    timer = LegTimer(calls.fire, reread, reread_seconds=0.0)
    task = asyncio.create_task(timer.run())
    await reread.started.wait()
    assert await ends_when_cancelled(task), "the timer went on after its leg ended"
    assert reread.swallowed


async def test_a_cancel_swallowed_while_firing_still_stops_the_timer():
    calls, fire = Calls(), SwallowsOneCancel()
    timer = LegTimer(fire, calls.reread, reread_seconds=60)
    task = asyncio.create_task(timer.run())
    timer.arm(soon(0.0))
    await fire.started.wait()
    assert await ends_when_cancelled(task), "the timer went on after its leg ended"
    assert fire.swallowed
