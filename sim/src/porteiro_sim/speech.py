"""Where the simulated callers' voices come from, and how received audio is turned into text.

Voices: the speech service's Synthesize RPC (what `make demo` uses), the local
espeak-ng, or a folder of WAV files. Recognition: the speech service's Transcribe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import grpc

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.audiosocket import FRAME_BYTES, SLIN_RATE
from porteiro_common.ptbr import plain
from porteiro_sim import audio


class Voice(Protocol):
    async def speak(self, text: str) -> bytes:
        """8 kHz slin for `text`, without leading or trailing silence."""
        ...


class Recogniser(Protocol):
    async def transcribe(self, pcm: bytes) -> str: ...


class EspeakVoice:
    """The local espeak-ng; deterministic, so tests can recognise the exact audio later."""

    def __init__(self, voice: str = "pt-br", words_per_minute: int = 150) -> None:
        self.voice, self.words_per_minute = voice, words_per_minute
        self._cache: dict[str, bytes] = {}

    async def speak(self, text: str) -> bytes:
        if text not in self._cache:
            import asyncio

            self._cache[text] = await asyncio.to_thread(
                audio.espeak_pcm, text, self.voice, self.words_per_minute
            )
        return self._cache[text]


class WavVoice:
    """Sentences from WAV files: `<folder>/<slug of the sentence>.wav` (any rate, 16-bit)."""

    def __init__(self, folder: Path | str, fallback: Voice | None = None) -> None:
        self.folder, self.fallback = Path(folder), fallback

    async def speak(self, text: str) -> bytes:
        path = self.folder / f"{slug(text)}.wav"
        if path.exists():
            return audio.trim_silence(audio.read_wav(path))
        if self.fallback is None:
            raise FileNotFoundError(f"no recording for {text!r}: expected {path}")
        return await self.fallback.speak(text)


class SpeechServiceVoice:
    """Sentences synthesized by Porteiro's own speech service (Synthesize RPC)."""

    def __init__(self, target: str, voice: str = "", timeout_seconds: float = 20.0) -> None:
        # A plain channel: the simulators sit idle for minutes, and keepalive pings from an
        # idle client make the server answer GOAWAY "too_many_pings".
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = speech_pb2_grpc.SpeechServiceStub(self._channel)
        self.voice, self.timeout_seconds = voice, timeout_seconds
        # One request per text, even from calls asking at the same time: two syntheses of a text
        # not yet in the service's cache can differ by a sample value (its streamed resampling),
        # and a caller identifies sentences by their exact samples.
        self._cache: dict[str, asyncio.Task[bytes]] = {}

    async def speak(self, text: str) -> bytes:
        task = self._cache.get(text)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._cache[text] = asyncio.ensure_future(self._synthesize(text))
        return await asyncio.shield(task)

    async def _synthesize(self, text: str) -> bytes:
        chunks = []
        request = speech_pb2.SynthesizeRequest(text=text, voice=self.voice, sample_rate_hz=SLIN_RATE)
        async for response in self._stub.Synthesize(request, timeout=self.timeout_seconds):
            chunks.append(response.audio)
        return audio.trim_silence(b"".join(chunks))

    async def close(self) -> None:
        await self._channel.close()


class SpeechServiceRecogniser:
    """Received audio to text through the speech service's Transcribe RPC."""

    def __init__(self, target: str, hints: Iterable[str] = (), timeout_seconds: float = 30.0) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = speech_pb2_grpc.SpeechServiceStub(self._channel)
        self.hints, self.timeout_seconds = list(hints), timeout_seconds

    async def transcribe(self, pcm: bytes) -> str:
        if len(pcm) < FRAME_BYTES:
            return ""

        async def requests():
            config = speech_pb2.TranscriptionConfig(
                sample_rate_hz=SLIN_RATE, language="pt-BR", hints=self.hints
            )
            yield speech_pb2.TranscribeRequest(config=config)
            # Half a second of silence either side helps the recogniser with clipped edges.
            padded = audio.silence(0.3) + pcm + audio.silence(0.3)
            for start in range(0, len(padded), 3200):
                yield speech_pb2.TranscribeRequest(audio=padded[start : start + 3200])

        response = await self._stub.Transcribe(requests(), timeout=self.timeout_seconds)
        return response.text.strip()

    async def close(self) -> None:
        await self._channel.close()


def slug(text: str) -> str:
    """File name of a sentence's recording: "Meu nome é Pedro." -> "meu-nome-e-pedro"."""
    return plain(text).replace(" ", "-")[:80] or "sentence"
