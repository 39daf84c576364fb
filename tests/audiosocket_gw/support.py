"""Test helpers: real speech audio, an AudioSocket client playing Asterisk, the stack."""

from __future__ import annotations

import asyncio
import io
import shutil
import struct
import subprocess
import time
import uuid
import wave
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import soxr
import webrtcvad

from porteiro_common.health import HealthReporter
from porteiro_common.server import BoundServer
from porteiro_gateway.app import GatewayApp
from porteiro_gateway.settings import GatewaySettings
from tests.audiosocket_gw.fakes import FakeConcierge, FakeSpeech, serve_concierge, serve_speech

RATE = 8000
FRAME = 320  # 20 ms at 8 kHz
HEADER = struct.Struct(">BH")


@lru_cache(maxsize=8)
def spoken(text: str, rate: int = RATE) -> bytes:
    """Real speech: espeak-ng pt-BR, resampled with soxr, leading/trailing silence trimmed."""
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is required (Debian package espeak-ng)"
    wav = subprocess.run([espeak, "-v", "pt-br", "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        source_rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    audio = soxr.resample(samples.astype(np.float32) / 32768, source_rate, rate)
    audio = audio / max(1e-6, float(np.max(np.abs(audio)))) * 0.7
    loud = np.nonzero(np.abs(audio) > 0.02)[0]
    audio = audio[loud[0] : loud[-1] + 1]
    return (audio * 32767).astype("<i2").tobytes()


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(int(rate * seconds) * 2)


def voiced_frames(pcm: bytes, aggressiveness: int = 2, rate: int = RATE) -> list[int]:
    """Indexes of the 20 ms frames webrtcvad calls speech."""
    vad = webrtcvad.Vad(aggressiveness)
    size = rate // 50 * 2
    return [i for i in range(len(pcm) // size) if vad.is_speech(pcm[i * size : (i + 1) * size], rate)]


def frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


@dataclass
class Received:
    at: float
    kind: int
    payload: bytes

    @property
    def silent(self) -> bool:
        return not any(self.payload)


@dataclass
class AsteriskClient:
    """Plays Asterisk's side of AudioSocket: UUID first, then audio at 50 frames/s."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    session_id: str
    received: list[Received] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    sent_at: list[float] = field(default_factory=list)  # send time of each audio frame
    _task: asyncio.Task | None = None

    @classmethod
    async def connect(cls, port: int, session_id: str | None = None, send_uuid: bool = True) -> AsteriskClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer, session_id or str(uuid.uuid4()))
        client._task = asyncio.create_task(client._receive())
        if send_uuid:
            writer.write(frame(0x01, uuid.UUID(client.session_id).bytes))
        return client

    async def _receive(self) -> None:
        buffer = b""
        try:
            while data := await self.reader.read(65536):
                now = time.monotonic()
                buffer += data
                while len(buffer) >= 3:
                    kind, length = HEADER.unpack_from(buffer)
                    if len(buffer) < 3 + length:
                        break
                    self.received.append(Received(now, kind, buffer[3 : 3 + length]))
                    buffer = buffer[3 + length :]
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    async def play(self, pcm: bytes, frame_bytes: int = FRAME, kind: int = 0x10) -> None:
        """Send audio in real time, frame n at start + n x frame duration."""
        frame_seconds = frame_bytes / 2 / {0x10: 8000, 0x12: 16000}[kind]
        start = time.monotonic()
        for n, offset in enumerate(range(0, len(pcm), frame_bytes)):
            delay = start + n * frame_seconds - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.writer.is_closing():
                return
            self.sent_at.append(time.monotonic())
            self.writer.write(frame(kind, pcm[offset : offset + frame_bytes]))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def audio_since(self, since: float = 0.0) -> bytes:
        return b"".join(r.payload for r in self.received if r.kind == 0x10 and r.at >= since)

    def kinds(self) -> list[int]:
        return [r.kind for r in self.received]

    async def wait_closed(self, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            await self.closed.wait()

    async def wait_for_sound(self, within: float = 5.0) -> float:
        """Arrival time of the first non-silent frame."""
        async with asyncio.timeout(within):
            while True:
                for item in self.received:
                    if item.kind == 0x10 and not item.silent:
                        return item.at
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        self.writer.close()
        if self._task is not None:
            try:
                async with asyncio.timeout(2):
                    await self._task
            except TimeoutError:
                self._task.cancel()


@dataclass
class Stack:
    app: GatewayApp
    speech: FakeSpeech
    concierge: FakeConcierge
    speech_server: BoundServer
    concierge_server: BoundServer

    @property
    def visitor_port(self) -> int:
        return self.app.visitor.port

    @property
    def resident_port(self) -> int:
        return self.app.resident.port

    async def wait_fallback_ready(self, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while True:
                if self.app.fallback.ready:
                    return
                await asyncio.sleep(0.02)

    async def wait_no_legs(self, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while True:
                if not self.app.registry.legs:
                    return
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self.app.stop(1.0)
        await self.speech_server.server.stop(None)
        await self.concierge_server.server.stop(None)


def gateway_settings(speech_port: int, concierge_port: int, **overrides) -> GatewaySettings:
    values = dict(
        visitor_host="127.0.0.1", visitor_port=0, resident_host="127.0.0.1", resident_port=0,
        speech_target=f"127.0.0.1:{speech_port}", concierge_target=f"127.0.0.1:{concierge_port}",
        fallback_retry_seconds=0.2,
    )
    values.update(overrides)
    return GatewaySettings(**values)


async def start_stack(tracer=None, **overrides) -> Stack:
    speech, concierge = FakeSpeech(), FakeConcierge()
    speech_server = await serve_speech(speech)
    concierge_server = await serve_concierge(concierge)
    app = GatewayApp(gateway_settings(speech_server.port, concierge_server.port, **overrides), tracer=tracer)
    await app.start(HealthReporter([]))
    return Stack(app, speech, concierge, speech_server, concierge_server)
