"""Client side of the speech service: streaming synthesis and streaming recognition.

A leg sees speech through the `SpeechClient` and `Transcription` protocols;
`GrpcSpeechClient` is the real one (tests/gateway/harness.py has an in-process fake).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

import grpc

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc

PLAYBACK_RATE = 8000


class Transcription(Protocol):
    """One utterance streamed to recognition while the caller is still speaking."""

    audio_bytes: int  # audio sent so far

    def start(self, max_utterance_seconds: float) -> None: ...

    def send(self, pcm: bytes) -> None: ...

    def finish(self) -> None:
        """No more audio: the utterance ended."""
        ...

    async def result(self) -> speech_pb2.TranscribeResponse:
        """The transcript; raises grpc.aio.AioRpcError when recognition fails."""
        ...

    def cancel(self) -> None: ...


class SpeechClient(Protocol):
    def synthesize(self, text: str, voice: str = "") -> AsyncIterator[bytes]:
        """Audio chunks (slin 8 kHz) as they are produced; raises grpc.aio.AioRpcError or ValueError."""
        ...

    def transcription(
        self, sample_rate: int, session_id: str, hints: Iterable[str], language: str = ""
    ) -> Transcription: ...


class GrpcSpeechClient:
    def __init__(self, channel: grpc.aio.Channel, rpc_timeout: float, recognition_timeout: float) -> None:
        self._stub = speech_pb2_grpc.SpeechServiceStub(channel)
        self.rpc_timeout = rpc_timeout
        self.recognition_timeout = recognition_timeout

    async def synthesize(self, text: str, voice: str = "") -> AsyncIterator[bytes]:
        """Audio chunks (slin 8 kHz) as the service produces them."""
        request = speech_pb2.SynthesizeRequest(text=text, voice=voice, sample_rate_hz=PLAYBACK_RATE)
        call = self._stub.Synthesize(request, timeout=self.rpc_timeout)
        try:
            async for response in call:
                if response.sample_rate_hz not in (0, PLAYBACK_RATE):
                    raise ValueError(f"speech answered {response.sample_rate_hz} Hz, asked {PLAYBACK_RATE}")
                if response.audio:
                    yield response.audio
        finally:
            call.cancel()

    async def synthesize_all(self, text: str) -> bytes:
        return b"".join([chunk async for chunk in self.synthesize(text)])

    def transcription(
        self, sample_rate: int, session_id: str, hints: Iterable[str], language: str = ""
    ) -> Transcription:
        config = speech_pb2.TranscriptionConfig(
            sample_rate_hz=sample_rate, language=language, hints=list(hints), session_id=session_id
        )
        return GrpcTranscription(self._stub, config, self.recognition_timeout)


# Audio goes to speech in 200 ms messages: one gRPC write per 20 ms frame costs
# ten times the CPU for no gain in recognition latency (the rest is flushed at
# the end of speech).
CHUNK_MS = 200


class GrpcTranscription:
    """One utterance streamed to Transcribe while the caller is still speaking."""

    def __init__(
        self,
        stub: speech_pb2_grpc.SpeechServiceStub,
        config: speech_pb2.TranscriptionConfig,
        recognition_timeout: float,
    ) -> None:
        self._stub = stub
        self._config = config
        self._recognition_timeout = recognition_timeout
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._call: grpc.aio.StreamUnaryCall | None = None
        self._pending = bytearray()
        self._chunk_bytes = (config.sample_rate_hz or 8000) * 2 * CHUNK_MS // 1000
        self.audio_bytes = 0

    def start(self, max_utterance_seconds: float) -> None:
        self._call = self._stub.Transcribe(
            self._requests(), timeout=max_utterance_seconds + self._recognition_timeout
        )

    def send(self, pcm: bytes) -> None:
        self.audio_bytes += len(pcm)
        self._pending += pcm
        if len(self._pending) >= self._chunk_bytes:
            self._flush()

    def finish(self) -> None:
        self._flush()
        self._chunks.put_nowait(None)

    def _flush(self) -> None:
        if self._pending:
            self._chunks.put_nowait(bytes(self._pending))
            self._pending.clear()

    async def result(self) -> speech_pb2.TranscribeResponse:
        assert self._call is not None, "start() first"
        return await self._call

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()
        # End the request stream too: when the call had already ended, cancel() leaves
        # gRPC's task that reads our requests waiting on the queue forever.
        self._chunks.put_nowait(None)

    async def _requests(self) -> AsyncIterator[speech_pb2.TranscribeRequest]:
        yield speech_pb2.TranscribeRequest(config=self._config)
        while (chunk := await self._chunks.get()) is not None:
            yield speech_pb2.TranscribeRequest(audio=chunk)
