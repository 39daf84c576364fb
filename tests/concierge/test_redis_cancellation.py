"""Tasks that read real Redis end when cancelled, wherever the cancel lands.

On Python 3.11 redis-py's send (asyncio.wait_for, the store's client has a socket timeout)
swallows a cancel that lands just as the command has been written: the task goes on as if it
had not been cancelled. A leg's timer did, so the leg's stream never ended (the two-replica
bug); the session lock's renewer would have held the lock for good. Each test cancels at
every step of the loop's turns around one command, so some cancels land in that window.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio.lock import Lock

from porteiro_concierge.leg_timer import LegTimer
from porteiro_concierge.store import RedisSessionStore

REDIS_URL = "redis://127.0.0.1:6379/0"
# Loop turns between the start of a command and the cancel: the window lies within these.
STEPS = range(16)


@pytest.fixture
async def store():
    store = RedisSessionStore(REDIS_URL, ttl_seconds=60)
    yield store
    await store.close()


async def ended_when_cancelled(task: asyncio.Task) -> bool:
    """Cancel `task`; True if it ended within a second (otherwise it is cancelled again, for good)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    while not task.done():  # a task that went on: stop it so the test can report
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    return bool(done)


async def steps(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_leg_timer_reading_redis_ends_wherever_its_cancel_lands(store):
    session_id = str(uuid.uuid4())
    went_on = []
    reading = asyncio.Event()

    async def reread():
        reading.set()
        return await store.load(session_id)

    async def fire():
        return None

    for count in STEPS:
        reading.clear()
        task = asyncio.create_task(LegTimer(fire, reread, reread_seconds=0.0).run())
        await reading.wait()
        await steps(count)
        if not await ended_when_cancelled(task):
            went_on.append(count)
    assert went_on == [], f"the timer went on after a cancel {went_on} loop turns into a store read"


async def test_leaving_the_session_lock_ends_its_renewer_wherever_the_cancel_lands(store, monkeypatch):
    extending = asyncio.Event()
    extend = Lock.do_extend

    async def noticed_extend(self, additional_time, replace_ttl):
        extending.set()
        return await extend(self, additional_time, replace_ttl)

    monkeypatch.setattr(Lock, "do_extend", noticed_extend)  # only tells the test when it runs
    store._lease_seconds = 0.03  # renewed every 10 ms
    session_id = str(uuid.uuid4())
    went_on = []
    for count in STEPS:
        extending.clear()

        async def hold_until_a_renewal(count: int = count) -> None:
            async with store.lock(session_id):
                await extending.wait()
                await steps(count)  # leaving the lock cancels the renewer

        holder = asyncio.create_task(hold_until_a_renewal())
        done, _ = await asyncio.wait({holder}, timeout=1.0)
        if not done:
            went_on.append(count)
            await ended_when_cancelled(holder)
    assert went_on == [], f"leaving the lock {went_on} loop turns into a renewal never returned"
