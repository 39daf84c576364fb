"""Fake speech and concierge services: real grpc.aio servicers of the real protos.

Each is served by `build_server` on a loopback port 0 so the gateway talks to
them over real gRPC. The gateway under test is the only real component.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field

import grpc
import numpy as np

from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc
from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.server import BoundServer, ServiceApp, build_server

RATE = 8000


def tone(frequency: float, seconds: float, amplitude: float = 0.3, rate: int = RATE) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def audio_for_text(text: str, seconds: float = 1.0) -> bytes:
    """Deterministic 'synthesis': a tone whose pitch depends on the text."""
    pitch = 300 + int(hashlib.sha256(text.encode()).hexdigest()[:4], 16) % 900
    return tone(pitch, seconds)


@dataclass
class TranscribeRecord:
    config: speech_pb2.TranscriptionConfig
    audio: bytearray = field(default_factory=bytearray)
    message_bytes: list[int] = field(default_factory=list)  # the audio of each request, in order
    first_audio_at: float | None = None
    closed_at: float | None = None


class FakeSpeech(speech_pb2_grpc.SpeechServiceServicer):
    def __init__(self) -> None:
        self.texts: dict[str, bytes] = {}  # text -> audio; unknown texts get audio_for_text
        self.transcript = "quero falar com o apartamento cento e dois"
        self.transcribe_records: list[TranscribeRecord] = []
        self.transcribed = asyncio.Queue()
        self.synthesize_requests: list[str] = []
        self.fail_synthesis: set[str] = set()
        self.chunk_bytes = 1600

    def audio(self, text: str) -> bytes:
        return self.texts.get(text) or audio_for_text(text)

    async def Synthesize(self, request, context):
        self.synthesize_requests.append(request.text)
        if request.text in self.fail_synthesis:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "synthesis backend down")
        audio = self.audio(request.text)
        for start in range(0, len(audio), self.chunk_bytes):
            yield speech_pb2.SynthesizeResponse(
                audio=audio[start : start + self.chunk_bytes], sample_rate_hz=RATE
            )

    async def Transcribe(self, request_iterator, context):
        record: TranscribeRecord | None = None
        async for request in request_iterator:
            if record is None:
                if not request.HasField("config"):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "config first")
                record = TranscribeRecord(request.config)
                self.transcribe_records.append(record)
                continue
            if record.first_audio_at is None:
                record.first_audio_at = time.monotonic()
            record.audio += request.audio
            record.message_bytes.append(len(request.audio))
        if record is None or not record.audio:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty audio")
        record.closed_at = time.monotonic()
        self.transcribed.put_nowait(record)
        return speech_pb2.TranscribeResponse(
            text=self.transcript,
            confidence=0.9,
            audio_duration_seconds=len(record.audio) / (2 * RATE),
            backend="fake",
        )


@dataclass
class FakeLeg:
    """One Converse stream as the concierge sees it."""

    started: concierge_pb2.LegStarted
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    actions: asyncio.Queue = field(default_factory=asyncio.Queue)
    received: list = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def say(self, say_id: str, text: str, allow_barge_in: bool = True) -> None:
        self.actions.put_nowait(
            concierge_pb2.LegAction(
                say=concierge_pb2.Say(say_id=say_id, text=text, allow_barge_in=allow_barge_in)
            )
        )

    def hang_up(self, after_playback: bool = True) -> None:
        self.actions.put_nowait(
            concierge_pb2.LegAction(hang_up=concierge_pb2.HangUp(after_playback=after_playback))
        )

    async def next_event(self, kind: str, within: float = 5.0):
        """The next event of the given oneof kind (others are kept in `received`)."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event.WhichOneof("event") == kind:
                    return getattr(event, kind)


class FakeConcierge(concierge_pb2_grpc.ConciergeServiceServicer):
    def __init__(self, hints: tuple[str, ...] = ("Apoena", "entrega")) -> None:
        self.legs: asyncio.Queue[FakeLeg] = asyncio.Queue()
        self.hints = hints
        self.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    async def Converse(self, request_iterator, context):
        # An async generator: the OTel server interceptor requires one for streaming responses.
        events = request_iterator.__aiter__()
        first = await anext(events, None)
        if first is None or first.WhichOneof("event") != "leg_started":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "leg_started first")
        leg = FakeLeg(first.leg_started)
        self.legs.put_nowait(leg)
        reader = asyncio.create_task(self._read(events, leg))
        try:
            yield concierge_pb2.LegAction(accepted=concierge_pb2.LegAccepted(traceparent=self.traceparent))
            yield concierge_pb2.LegAction(
                recognition=concierge_pb2.RecognitionContext(hints=list(self.hints))
            )
            while (action := await leg.actions.get()) is not None:
                yield action
        finally:
            reader.cancel()

    async def _read(self, events, leg: FakeLeg) -> None:
        try:
            async for event in events:
                leg.received.append(event)
                leg.events.put_nowait(event)
        finally:
            leg.closed.set()
            leg.actions.put_nowait(None)


class _FakeApp(ServiceApp):
    def __init__(self, servicer, adder) -> None:
        self._servicer, self._adder = servicer, adder

    def register(self, server: grpc.aio.Server) -> None:
        self._adder(self._servicer, server)


async def serve_fake(servicer, adder) -> BoundServer:
    bound = build_server(_FakeApp(servicer, adder), "127.0.0.1", 0)
    await bound.server.start()
    return bound


async def serve_speech(fake: FakeSpeech) -> BoundServer:
    return await serve_fake(fake, speech_pb2_grpc.add_SpeechServiceServicer_to_server)


async def serve_concierge(fake: FakeConcierge, port: int = 0) -> BoundServer:
    bound = build_server(
        _FakeApp(fake, concierge_pb2_grpc.add_ConciergeServiceServicer_to_server), "127.0.0.1", port
    )
    await bound.server.start()
    return bound
