"""The directory currently served, and the task that reloads it when the file changes.

A request reads `DirectoryStore.current` once and works on that immutable
snapshot; a reload builds a new `Directory` off the event loop and swaps the
reference, so requests never see a half-loaded directory and never fail
because of a reload. A broken new file leaves the old snapshot in place.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from porteiro_common.periodic import PeriodicTask
from porteiro_directory.data import DirectoryDataError, load_apartments
from porteiro_directory.matching import Directory, Thresholds
from porteiro_directory.metrics import RELOADS

log = logging.getLogger(__name__)

FileSignature = tuple[int, int, int] | None


def file_signature(path: Path) -> FileSignature:
    """What changes when the file is rewritten or replaced (ConfigMap symlink swaps included)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class DirectoryStore:
    def __init__(self, path: Path, thresholds: Thresholds) -> None:
        self.path = path
        self.thresholds = thresholds
        self.current: Directory | None = None
        self.last_error: str = "not loaded yet"

    def load(self) -> Directory:
        """Read, validate and index the file (blocking: run it in a thread)."""
        return Directory(load_apartments(self.path), self.thresholds)

    async def try_load(self) -> bool:
        """Load the file into `current`; on failure keep what is served and log why."""
        try:
            directory = await asyncio.to_thread(self.load)
        except DirectoryDataError as error:
            self.last_error = str(error)
            log.error(
                "directory data rejected, keeping the previous data: %s",
                error,
                extra={"problems": error.problems},
            )
            return False
        self.current = directory
        # The index is long-lived: keep the cyclic GC from walking it on every
        # full collection (those pauses showed up as p99 latency).
        gc.freeze()
        log.info(
            "directory data loaded from %s: %d apartments, %d residents",
            self.path,
            len(directory.apartments),
            directory.resident_count,
        )
        return True


class FileWatcher(PeriodicTask):
    """Polls the data file's signature every `interval` seconds and reloads on change."""

    task_name = "directory-file-watcher"

    def __init__(
        self, store: DirectoryStore, interval: float, on_loaded: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.on_loaded = on_loaded
        self._signature: FileSignature = file_signature(store.path)

    async def tick(self) -> None:
        await self.check()

    async def check(self) -> None:
        signature = file_signature(self.store.path)
        if signature == self._signature:
            return
        self._signature = signature
        if await self.store.try_load():
            RELOADS.labels(result="ok").inc()
            await self.on_loaded()
        else:
            RELOADS.labels(result="failed").inc()
