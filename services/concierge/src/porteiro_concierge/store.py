"""Where sessions live and how commands reach a leg, wherever it is attached.

`SessionStore` is the interface; `MemorySessionStore` keeps everything in this
process (default), `RedisSessionStore` keeps sessions in Redis with a TTL and
carries commands for a leg attached to another concierge process over Redis
pub/sub. Either way a leg attached to this process gets its commands straight
from a local queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

from porteiro_common.metrics import DEPENDENCY_UP
from porteiro_concierge.session import Session

log = logging.getLogger(__name__)

Command = dict[str, object]


class Mailbox:
    """Commands for one leg attached to this process."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Command] = asyncio.Queue()

    async def get(self) -> Command:
        return await self.queue.get()


class SessionStore(Protocol):
    async def load(self, session_id: str) -> Session | None: ...

    async def save(self, session: Session) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    def lock(self, session_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Serialize changes to one session across every process sharing the store."""
        ...

    async def open_mailbox(self, session_id: str, leg: str) -> Mailbox: ...

    async def close_mailbox(self, session_id: str, leg: str, mailbox: Mailbox) -> None: ...

    async def deliver(self, session_id: str, leg: str, commands: list[Command]) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class _LocalMailboxes:
    def __init__(self) -> None:
        self._boxes: dict[tuple[str, str], Mailbox] = {}

    def open(self, session_id: str, leg: str) -> Mailbox:
        box = Mailbox()
        self._boxes[(session_id, leg)] = box
        return box

    def close(self, session_id: str, leg: str, box: Mailbox) -> None:
        if self._boxes.get((session_id, leg)) is box:
            del self._boxes[(session_id, leg)]

    def deliver(self, session_id: str, leg: str, commands: list[Command]) -> bool:
        box = self._boxes.get((session_id, leg))
        if box is None:
            return False
        for command in commands:
            box.queue.put_nowait(command)
        return True


class MemorySessionStore:
    """Sessions in this process only (lost on restart)."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._sessions: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._mailboxes = _LocalMailboxes()

    async def load(self, session_id: str) -> Session | None:
        stored = self._sessions.get(session_id)
        if stored is None or stored[1] < time.monotonic():
            self._sessions.pop(session_id, None)
            return None
        return Session.from_json(stored[0])

    async def save(self, session: Session) -> None:
        self._sessions[session.session_id] = (session.to_json(), time.monotonic() + self._ttl)

    async def delete(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self._locks.pop(session_id, None)

    @contextlib.asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            yield

    async def open_mailbox(self, session_id: str, leg: str) -> Mailbox:
        return self._mailboxes.open(session_id, leg)

    async def close_mailbox(self, session_id: str, leg: str, mailbox: Mailbox) -> None:
        self._mailboxes.close(session_id, leg, mailbox)

    async def deliver(self, session_id: str, leg: str, commands: list[Command]) -> None:
        self._mailboxes.deliver(session_id, leg, commands)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._sessions.clear()


class RedisSessionStore:
    """Sessions in Redis with a TTL; commands to remote legs over pub/sub."""

    PREFIX = "porteiro:concierge"

    def __init__(
        self, url: str, ttl_seconds: int, lease_seconds: float = 2.0, wait_seconds: float = 30.0
    ) -> None:
        self._url = url
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._client = None
        self._ttl = ttl_seconds
        self._mailboxes = _LocalMailboxes()
        self._readers: dict[int, tuple[asyncio.Task, object]] = {}

    @property
    def _redis(self):
        """The client, created on first use inside the serving event loop."""
        if self._client is None:
            from redis import asyncio as redis_asyncio

            self._client = redis_asyncio.from_url(self._url, decode_responses=True)
        return self._client

    def _key(self, session_id: str) -> str:
        return f"{self.PREFIX}:session:{session_id}"

    def _channel(self, session_id: str, leg: str) -> str:
        return f"{self.PREFIX}:leg:{session_id}:{leg}"

    async def load(self, session_id: str) -> Session | None:
        text = await self._redis.get(self._key(session_id))
        return Session.from_json(text) if text else None

    async def save(self, session: Session) -> None:
        await self._redis.set(self._key(session.session_id), session.to_json(), ex=self._ttl)

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(self._key(session_id))

    @contextlib.asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        # A short lease renewed while the holder works: if the holder's process
        # dies, the lock frees itself within `lease_seconds`.
        lock = self._redis.lock(
            f"{self.PREFIX}:lock:{session_id}",
            timeout=self._lease_seconds,
            blocking_timeout=self._wait_seconds,
        )
        if not await lock.acquire():
            raise TimeoutError(f"session lock not acquired in {self._wait_seconds}s")
        renewer = asyncio.create_task(self._renew(lock))
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(BaseException):
                await renewer
            with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
                await lock.release()

    async def _renew(self, lock) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            await lock.extend(self._lease_seconds, replace_ttl=True)

    async def open_mailbox(self, session_id: str, leg: str) -> Mailbox:
        box = self._mailboxes.open(session_id, leg)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel(session_id, leg))
        # Wait for the subscription to be confirmed so no command published after
        # this returns can be missed.
        while (await pubsub.get_message(timeout=1.0)) is None:
            pass
        self._readers[id(box)] = (asyncio.create_task(self._read(pubsub, box)), pubsub)
        return box

    async def _read(self, pubsub, box: Mailbox) -> None:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                for command in json.loads(message["data"]):
                    box.queue.put_nowait(command)

    async def close_mailbox(self, session_id: str, leg: str, mailbox: Mailbox) -> None:
        self._mailboxes.close(session_id, leg, mailbox)
        reader = self._readers.pop(id(mailbox), None)
        if reader is None:
            return
        task, pubsub = reader
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        with contextlib.suppress(Exception):
            await pubsub.aclose()

    async def deliver(self, session_id: str, leg: str, commands: list[Command]) -> None:
        if not self._mailboxes.deliver(session_id, leg, commands):
            await self._redis.publish(
                self._channel(session_id, leg), json.dumps(commands, ensure_ascii=False)
            )

    async def ping(self) -> bool:
        try:
            up = bool(await self._redis.ping())
        except Exception as error:  # any connection problem means "down"
            log.warning("redis ping failed", extra={"error": str(error)})
            up = False
        DEPENDENCY_UP.labels("redis").set(1 if up else 0)
        return up

    async def close(self) -> None:
        for key in list(self._readers):
            task, pubsub = self._readers.pop(key)
            task.cancel()
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        if self._client is not None:
            await self._client.aclose()


def build_store(redis_url: str | None, ttl_seconds: int) -> SessionStore:
    if redis_url:
        return RedisSessionStore(redis_url, ttl_seconds)
    return MemorySessionStore(ttl_seconds)
