"""Sentences already synthesized, kept in the gateway: a repeated prompt plays without a Synthesize call.

A doorman asks the same few questions all day ("Qual é o apartamento e o nome do morador?"), and
synthesis of a text in a voice is deterministic (every speech replica runs the same engine, which
the Synthesize retries already rely on). So the gateway keeps what it played: a Say whose text and
voice were synthesized whole before starts from memory, without a gRPC call (about half a
millisecond of the gateway's CPU each, and the round trip before its first frame).

Bounded by bytes (`SYNTHESIS_CACHE_MB`, the least recently used out first) and by age
(`SYNTHESIS_CACHE_TTL_SECONDS`: a voice changed in the speech service is heard within that time).
Only a synthesis that completed is kept; a Say stopped mid-synthesis or a failed call leaves
nothing. Counted in porteiro_gateway_synthesis_cache_total{result="hit"|"miss"}; a hit is an event
on the leg's span ("synthesis from the gateway's cache") where a miss has its Synthesize span.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

from opentelemetry import trace

from porteiro.speech.v1 import speech_pb2
from porteiro_gateway import metrics
from porteiro_gateway.speech import SpeechClient, Transcription


class SynthesisCache:
    """Audio by (text, voice), at most `max_bytes` in all, each entry for `ttl_seconds`."""

    def __init__(self, max_bytes: int, ttl_seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._now = now
        self._entries: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()
        self.bytes = 0

    def get(self, text: str, voice: str) -> bytes | None:
        key = (text, voice)
        entry = self._entries.get(key)
        if entry is None:
            return None
        audio, stored_at = entry
        if self._now() - stored_at > self.ttl_seconds:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return audio

    def put(self, text: str, voice: str, audio: bytes) -> None:
        if not audio or len(audio) > self.max_bytes:
            return
        key = (text, voice)
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (audio, self._now())
        self.bytes += len(audio)
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: tuple[str, str]) -> None:
        audio, _ = self._entries.pop(key)
        self.bytes -= len(audio)


class CachingSpeechClient:
    """A SpeechClient whose syntheses come from `cache` when it has them (recognition passes through)."""

    def __init__(self, speech: SpeechClient, cache: SynthesisCache) -> None:
        self._speech = speech
        self._cache = cache

    async def synthesize(self, text: str, voice: str = "") -> AsyncIterator[bytes]:
        audio = self._cache.get(text, voice)
        if audio is not None:
            metrics.SYNTHESIS_CACHE.labels("hit").inc()
            trace.get_current_span().add_event("synthesis from the gateway's cache", {"bytes": len(audio)})
            yield audio
            return
        metrics.SYNTHESIS_CACHE.labels("miss").inc()
        pieces: list[bytes] = []
        async for chunk in self._speech.synthesize(text, voice):
            pieces.append(chunk)
            yield chunk
        self._cache.put(text, voice, b"".join(pieces))  # reached only when the stream completed

    def transcription(self, config: speech_pb2.TranscriptionConfig) -> Transcription:
        return self._speech.transcription(config)
