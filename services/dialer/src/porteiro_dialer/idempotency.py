"""Remembers which (session, attempt) pairs were already published, for a while.

By default in this process's memory; with Redis configured, also in Redis, so a
retry that lands on another replica is recognised too.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from porteiro_common.metrics import DEPENDENCY_UP

log = logging.getLogger(__name__)

CallKey = tuple[str, int]
REDIS = "redis"
REDIS_ERRORS = (RedisError, OSError)


@dataclass(frozen=True)
class PublishedCommand:
    command_id: str
    published_at: float  # unix seconds when the broker confirmed


class IdempotencyStore(Protocol):
    async def get(self, key: CallKey) -> PublishedCommand | None: ...

    async def put(self, key: CallKey, command: PublishedCommand) -> None: ...


class MemoryIdempotencyStore:
    """Per-process map with a time-to-live; expired entries are dropped as they are met."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[CallKey, tuple[float, PublishedCommand]] = {}

    async def get(self, key: CallKey) -> PublishedCommand | None:
        self._drop_expired()
        entry = self._entries.get(key)
        return entry[1] if entry else None

    async def put(self, key: CallKey, command: PublishedCommand) -> None:
        self._drop_expired()
        self._entries.setdefault(key, (self._clock() + self._ttl, command))

    def __len__(self) -> int:
        return len(self._entries)

    def _drop_expired(self) -> None:
        now = self._clock()
        # Insertion order is expiry order (constant TTL), so stop at the first live entry.
        for key, (expires_at, _) in list(self._entries.items()):
            if expires_at > now:
                break
            del self._entries[key]


class SharedIdempotencyStore:
    """The local map, backed by Redis so every replica knows what was already published.

    Redis trouble never blocks a call: a failed read falls back to the local map
    (a retry landing on another replica might then publish twice, which beats not
    calling the resident at all) and writes are best effort. The
    ``porteiro_dependency_up{dependency="redis"}`` gauge shows Redis's state.
    """

    def __init__(
        self,
        local: MemoryIdempotencyStore,
        client: redis.asyncio.Redis,
        ttl_seconds: float,
        key_prefix: str,
    ) -> None:
        self._local = local
        self._client = client
        self._ttl = max(1, math.ceil(ttl_seconds))
        self._prefix = key_prefix
        self._up: bool | None = None

    @classmethod
    def from_url(
        cls, url: str, local: MemoryIdempotencyStore, ttl_seconds: float, key_prefix: str, timeout: float
    ) -> SharedIdempotencyStore:
        client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # the caller's deadline is short; no hidden retries
        )
        return cls(local, client, ttl_seconds, key_prefix)

    async def get(self, key: CallKey) -> PublishedCommand | None:
        found = await self._local.get(key)
        if found is not None:
            return found
        try:
            raw = await self._client.get(self._name(key))
        except REDIS_ERRORS as error:
            self._mark(False, error)
            return None
        self._mark(True)
        if raw is None:
            return None
        command = PublishedCommand(**json.loads(raw))
        await self._local.put(key, command)
        return command

    async def put(self, key: CallKey, command: PublishedCommand) -> None:
        await self._local.put(key, command)
        value = json.dumps({"command_id": command.command_id, "published_at": command.published_at})
        try:
            await self._client.set(self._name(key), value, nx=True, ex=self._ttl)
        except REDIS_ERRORS as error:
            self._mark(False, error)
            return
        self._mark(True)

    async def check(self) -> bool:
        """Ping Redis and update the gauge."""
        try:
            await self._client.ping()
        except REDIS_ERRORS as error:
            self._mark(False, error)
            return False
        self._mark(True)
        return True

    async def close(self) -> None:
        await self._client.aclose()

    def _name(self, key: CallKey) -> str:
        session_id, attempt = key
        return f"{self._prefix}{session_id}:{attempt}"

    def _mark(self, up: bool, error: BaseException | None = None) -> None:
        if up != self._up:
            if up:
                log.info("redis reachable: deduplicating across replicas")
            else:
                log.warning("redis unavailable, deduplicating in this process only: %s", error)
        self._up = up
        DEPENDENCY_UP.labels(REDIS).set(1 if up else 0)
