"""The two small interfaces every speech backend implements.

A `Recognizer` opens one `RecognitionSession` per utterance: audio is fed as it
arrives (Azure streams it on at once; whisper buffers it) and `finish` returns
the text. A `Synthesizer` yields slin chunks as soon as they exist. Backends
raise `BackendError` for anything that is the backend's fault; the servicer
turns it into UNAVAILABLE with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


class BackendError(RuntimeError):
    """The backend failed (process died, model error, cloud refused...)."""


@dataclass(frozen=True)
class RecognitionConfig:
    sample_rate_hz: int
    language: str  # BCP-47, e.g. "pt-BR"
    hints: tuple[str, ...] = field(default_factory=tuple)
    # Phrases the answer is expected to hold; a backend that can scores each against the audio.
    candidate_phrases: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Recognition:
    text: str
    confidence: float | None = None
    # (phrase, score) for the config's candidate phrases, best first (offline backend only).
    phrase_scores: tuple[tuple[str, float], ...] = ()


class RecognitionSession(Protocol):
    async def feed(self, audio: bytes) -> None:
        """Take the next chunk of slin audio (even byte count, may be empty)."""

    async def finish(self) -> Recognition:
        """The caller stopped sending: recognise everything fed so far."""

    async def cancel(self) -> None:
        """Abandon the session (bad input, client gone); must not raise."""


class Recognizer(Protocol):
    name: str

    async def start(self) -> None:
        """Load models / check the backend; called once before SERVING."""

    async def open(self, config: RecognitionConfig) -> RecognitionSession:
        """Begin recognising one utterance."""

    async def close(self) -> None:
        """Release resources at shutdown."""


class Synthesizer(Protocol):
    name: str
    default_voice: str

    async def start(self) -> None:
        """Check the backend; called once before SERVING."""

    def synthesize(self, text: str, voice: str, sample_rate_hz: int) -> AsyncIterator[bytes]:
        """Yield slin chunks (even byte counts) at `sample_rate_hz` as soon as they exist."""

    async def close(self) -> None:
        """Release resources at shutdown."""


@dataclass
class Backends:
    recognizer: Recognizer
    synthesizer: Synthesizer
