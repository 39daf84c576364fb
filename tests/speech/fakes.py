"""A scripted `Recognizer` for servicer tests (the real interface; no model)."""

from __future__ import annotations

import asyncio
import threading
import time

from porteiro_speech.backends import BackendError, Recognition, RecognitionConfig


class ScriptedSession:
    def __init__(self, recognizer: ScriptedRecognizer, config: RecognitionConfig) -> None:
        self.recognizer = recognizer
        self.config = config
        self.chunks: list[bytes] = []
        self.cancelled = False

    async def feed(self, audio: bytes) -> None:
        self.chunks.append(audio)
        self.recognizer.fed.set()

    async def finish(self) -> Recognition:
        await self.recognizer.entered_finish(+1)
        try:
            await self.recognizer.release.wait()
        finally:
            await self.recognizer.entered_finish(-1)
        if self.recognizer.failure:
            raise BackendError(self.recognizer.failure)
        recognizer = self.recognizer
        return Recognition(text=recognizer.reply, confidence=0.9, phrase_scores=recognizer.phrase_scores)

    async def cancel(self) -> None:
        self.cancelled = True


class ScriptedRecognizer:
    """Answers `reply`; `release` gates finish() so tests can hold workers busy; `failure` fails it."""

    name = "scripted"

    def __init__(self, reply: str = "Sim, pode subir.") -> None:
        self.reply = reply
        self.phrase_scores: tuple[tuple[str, float], ...] = ()  # what every recognition scores
        self.failure: str | None = None
        self.sessions: list[ScriptedSession] = []
        self.fed = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.finishing = 0
        self._finishing_changed = asyncio.Condition()

    async def entered_finish(self, delta: int) -> None:
        async with self._finishing_changed:
            self.finishing += delta
            self._finishing_changed.notify_all()

    async def wait_finishing(self, count: int) -> None:
        """Until `count` sessions are inside finish() at once."""
        async with self._finishing_changed:
            await self._finishing_changed.wait_for(lambda: self.finishing >= count)

    async def start(self) -> None:
        return None

    async def open(self, config: RecognitionConfig) -> ScriptedSession:
        session = ScriptedSession(self, config)
        self.sessions.append(session)
        return session

    async def close(self) -> None:
        return None


def seconds_for(caller: int) -> float:
    """100-300 ms, varied, so the order of completion differs from the order of arrival."""
    return 0.1 + (caller * 7 % 21) / 100


class TimedSession:
    def __init__(self, recognizer: TimedRecognizer) -> None:
        self.recognizer = recognizer
        self.audio = bytearray()

    async def feed(self, audio: bytes) -> None:
        self.audio += audio

    async def finish(self) -> Recognition:
        caller = int.from_bytes(self.audio[:2], "little")
        if self.recognizer.started_at is not None:
            self.recognizer.started_at[caller] = time.perf_counter()
        return await asyncio.to_thread(self.recognizer.infer, caller)

    async def cancel(self) -> None:
        self.audio.clear()


class TimedRecognizer:
    """Takes `seconds_for(caller)` of thread time per utterance (the caller is the audio's first
    sample); records start order and concurrency, and in `started_at` (when given) the moment
    each caller's finish() began. Answers `{text} {caller}`."""

    name = "timed"

    def __init__(self, text: str = "visitante", started_at: dict[int, float] | None = None) -> None:
        self.text = text
        self.started_at = started_at
        self.started: list[int] = []
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()
        # Cleared, the workers wait before working (a test holds them until a burst has arrived).
        self.gate = threading.Event()
        self.gate.set()

    def infer(self, caller: int) -> Recognition:
        with self._lock:
            self.started.append(caller)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.gate.wait(timeout=60)
        time.sleep(seconds_for(caller))
        with self._lock:
            self.running -= 1
        return Recognition(text=f"{self.text} {caller}", confidence=0.9)

    async def start(self) -> None:
        return None

    async def open(self, config: RecognitionConfig) -> TimedSession:
        return TimedSession(self)

    async def close(self) -> None:
        return None
