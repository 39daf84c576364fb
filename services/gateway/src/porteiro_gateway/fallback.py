"""The sentences the gateway says on its own, rendered ahead of time.

The fallback (prompt key ``fallback``), heard when speech or concierge fails
mid-call, is synthesized once at start and kept in memory. While speech is down
the synthesis is retried in the background; until it succeeds, a Brazilian busy
tone stands in, so the caller never hears silence. The holding sentence (prompt
key ``holding``, holding.py) is rendered the same way, so it plays even when
speech is slow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from porteiro_common.metrics import DEPENDENCY_UP
from porteiro_common.prompts import load_prompts

log = logging.getLogger(__name__)

FALLBACK_KEY = "fallback"
HOLDING_KEY = "holding"


def busy_tone(sample_rate: int = 8000, seconds: float = 2.0) -> bytes:
    """425 Hz, 250 ms on / 250 ms off (the Brazilian busy tone), slin."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 425 * t)
    tone[(t % 0.5) >= 0.25] = 0.0
    return (tone * 32767).astype("<i2").tobytes()


def fallback_text(prompts_file: Path | None) -> str:
    return load_prompts(prompts_file)[FALLBACK_KEY]


def holding_text(prompts_file: Path | None) -> str:
    """The prompts file's holding sentence; the shipped one when the file has none."""
    prompts = load_prompts(prompts_file)
    return prompts.get(HOLDING_KEY) or load_prompts()[HOLDING_KEY]


class FallbackAudio:
    """A sentence synthesized once and kept (the fallback, the holding sentence)."""

    def __init__(
        self,
        text: str,
        synthesize: Callable[[str], Awaitable[bytes]],
        retry_seconds: float,
        name: str = FALLBACK_KEY,
    ) -> None:
        self.text = text
        self.name = name
        self._synthesize = synthesize
        self._retry_seconds = retry_seconds
        self.audio: bytes | None = None
        self._tone = busy_tone()

    @property
    def ready(self) -> bool:
        return self.audio is not None

    def sound(self) -> bytes:
        return self.audio if self.audio is not None else self._tone

    async def keep_trying(self) -> None:
        """Synthesize the sentence, retrying until speech answers."""
        while self.audio is None:
            try:
                audio = await self._synthesize(self.text)
                if audio:
                    self.audio = audio
                    DEPENDENCY_UP.labels("speech").set(1)
                    log.info("%s sentence ready", self.name, extra={"audio_bytes": len(audio)})
                    return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure means "retry later"
                DEPENDENCY_UP.labels("speech").set(0)
                log.warning("%s synthesis failed; retrying", self.name, extra={"error": str(error)[:200]})
            await asyncio.sleep(self._retry_seconds)
