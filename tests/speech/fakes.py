"""A scripted `Recognizer` for servicer tests (the real interface; no model)."""

from __future__ import annotations

import asyncio

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
        return Recognition(text=self.recognizer.reply, confidence=0.9)

    async def cancel(self) -> None:
        self.cancelled = True


class ScriptedRecognizer:
    """Answers `reply`; `release` gates finish() so tests can hold workers busy; `failure` fails it."""

    name = "scripted"

    def __init__(self, reply: str = "Sim, pode subir.") -> None:
        self.reply = reply
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
