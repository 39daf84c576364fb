"""Where sessions live and how actions reach a leg, wherever it is attached.

`SessionStore` is the interface; `MemorySessionStore` keeps everything in this
process (default), `RedisSessionStore` keeps sessions in Redis with a TTL and
carries actions (serialized LegAction protos) for a leg attached to another concierge process over Redis
pub/sub. Either way a leg attached to this process gets its actions straight
from a local queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from porteiro.concierge.v1.concierge_pb2 import LegAction
from porteiro_common.metrics import DEPENDENCY_UP
from porteiro_concierge.cancellation import stop_if_cancelled
from porteiro_concierge.session import Session

log = logging.getLogger(__name__)

# Each action of a batch published to another process: 4-byte big-endian length, then the proto.
_LENGTH = struct.Struct(">I")


def encode_actions(actions: list[LegAction]) -> bytes:
    """A batch of LegActions as bytes, in order."""
    return b"".join(_LENGTH.pack(len(data)) + data for data in (a.SerializeToString() for a in actions))


def decode_actions(payload: bytes) -> list[LegAction]:
    """The inverse of `encode_actions`; raises ValueError on a truncated or malformed payload."""
    actions: list[LegAction] = []
    offset = 0
    while offset < len(payload):
        if offset + _LENGTH.size > len(payload):
            raise ValueError("truncated action length")
        (length,) = _LENGTH.unpack_from(payload, offset)
        offset += _LENGTH.size
        if offset + length > len(payload):
            raise ValueError("truncated action")
        actions.append(LegAction.FromString(payload[offset : offset + length]))
        offset += length
    return actions


class StoreUnavailable(Exception):
    """The session store cannot be reached (connection refused or lost, no answer in time)."""


class Mailbox:
    """Actions for one leg attached to this process.

    `lost` is set when the store that carries actions from other processes is gone (its
    subscription broke): the leg cannot hear the other side any more.
    """

    def __init__(self) -> None:
        self.queue: asyncio.Queue[LegAction] = asyncio.Queue()
        self.lost = asyncio.Event()

    async def get(self) -> LegAction:
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

    async def deliver(self, session_id: str, leg: str, actions: list[LegAction]) -> None: ...

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

    def deliver(self, session_id: str, leg: str, actions: list[LegAction]) -> bool:
        box = self._boxes.get((session_id, leg))
        if box is None:
            return False
        for action in actions:
            box.queue.put_nowait(action)
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

    async def deliver(self, session_id: str, leg: str, actions: list[LegAction]) -> None:
        self._mailboxes.deliver(session_id, leg, actions)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._sessions.clear()


@contextlib.asynccontextmanager
async def _reaching_redis(what: str) -> AsyncIterator[None]:
    """Turn any failure to reach Redis into StoreUnavailable (one error type for the legs)."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError, TimeoutError) as error:
        raise StoreUnavailable(f"redis {what}: {type(error).__name__}: {error}") from error


class RedisSessionStore:
    """Sessions in Redis with a TTL; actions to remote legs over pub/sub.

    Every operation answers within `timeout_seconds` or raises StoreUnavailable (a Redis that
    refuses or stops answering must not leave a caller in silence).
    """

    PREFIX = "porteiro:concierge"

    def __init__(
        self,
        url: str,
        ttl_seconds: int,
        lease_seconds: float = 2.0,
        wait_seconds: float = 30.0,
        timeout_seconds: float = 1.0,
    ) -> None:
        self._url = url
        self._timeout = timeout_seconds
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._client: Any = None
        self._binary_client: Any = None  # pub/sub carries proto bytes, not text
        self._ttl = ttl_seconds
        self._mailboxes = _LocalMailboxes()
        self._readers: dict[int, tuple[asyncio.Task, Any]] = {}

    @property
    def _redis(self):
        """The client, created on first use inside the serving event loop."""
        if self._client is None:
            from redis import asyncio as redis_asyncio

            self._client = redis_asyncio.from_url(
                self._url,
                decode_responses=True,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
            )
        return self._client

    @property
    def _binary(self):
        if self._binary_client is None:
            from redis import asyncio as redis_asyncio

            # No read timeout: a subscription waits for messages as long as the leg lasts.
            self._binary_client = redis_asyncio.from_url(
                self._url, decode_responses=False, socket_connect_timeout=self._timeout
            )
        return self._binary_client

    def _key(self, session_id: str) -> str:
        return f"{self.PREFIX}:session:{session_id}"

    def _channel(self, session_id: str, leg: str) -> str:
        return f"{self.PREFIX}:leg:{session_id}:{leg}"

    async def load(self, session_id: str) -> Session | None:
        async with _reaching_redis("load"):
            text = await self._redis.get(self._key(session_id))
        return Session.from_json(text) if text else None

    async def save(self, session: Session) -> None:
        async with _reaching_redis("save"):
            await self._redis.set(self._key(session.session_id), session.to_json(), ex=self._ttl)

    async def delete(self, session_id: str) -> None:
        async with _reaching_redis("delete"):
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
        async with _reaching_redis("lock"):
            acquired = await lock.acquire()
        if not acquired:
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
            # Cancelled as the lock is left: should redis-py swallow that cancel, renewing on
            # would hold the session's lock for good (and the holder waits for this task).
            stop_if_cancelled()

    async def open_mailbox(self, session_id: str, leg: str) -> Mailbox:
        pubsub = self._binary.pubsub()
        try:
            async with _reaching_redis("subscribe"), asyncio.timeout(self._timeout):
                await pubsub.subscribe(self._channel(session_id, leg))
                # Wait for the subscription to be confirmed so no command published after
                # this returns can be missed.
                while (await pubsub.get_message(timeout=self._timeout)) is None:
                    pass
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        box = self._mailboxes.open(session_id, leg)
        self._readers[id(box)] = (asyncio.create_task(self._read(pubsub, box)), pubsub)
        return box

    async def _read(self, pubsub, box: Mailbox) -> None:
        """Pass the leg's channel on to its mailbox; a broken connection marks the mailbox lost."""
        try:
            await self._pass_on(pubsub, box)
        except Exception as error:  # noqa: BLE001 - the connection to Redis broke: the leg must know
            log.warning("leg channel lost", extra={"error": f"{type(error).__name__}: {error}"})
        box.lost.set()

    async def _pass_on(self, pubsub, box: Mailbox) -> None:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                try:
                    actions = decode_actions(message["data"])
                except Exception:  # noqa: BLE001 - a malformed batch is dropped, the leg goes on
                    log.exception("malformed actions on the leg channel")
                    continue
                for action in actions:
                    box.queue.put_nowait(action)

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

    async def deliver(self, session_id: str, leg: str, actions: list[LegAction]) -> None:
        if not self._mailboxes.deliver(session_id, leg, actions):
            async with _reaching_redis("publish"), asyncio.timeout(self._timeout):
                await self._binary.publish(self._channel(session_id, leg), encode_actions(actions))

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
        for client in (self._client, self._binary_client):
            if client is not None:
                await client.aclose()


def build_store(redis_url: str | None, ttl_seconds: int, timeout_seconds: float = 1.0) -> SessionStore:
    if redis_url:
        return RedisSessionStore(redis_url, ttl_seconds, timeout_seconds=timeout_seconds)
    return MemorySessionStore(ttl_seconds)
