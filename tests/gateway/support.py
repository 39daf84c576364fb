"""Test helpers: real speech audio, an AudioSocket client playing Asterisk, the stack."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import webrtcvad

from porteiro_common.audiosocket import (
    AUDIO_RATES,
    FRAME_SECONDS,
    MAX_LENGTH,
    SILENCE_FRAME,
    FrameParser,
    Kind,
    encode,
    encode_audio,
    encode_uuid,
)
from porteiro_common.health import HealthReporter
from porteiro_common.server import BoundServer
from porteiro_gateway.app import GatewayApp
from porteiro_gateway.settings import GatewaySettings
from porteiro_sim import audio
from tests.gateway.fakes import FakeConcierge, FakeSpeech, serve_concierge, serve_speech

RATE = 8000
FRAME = 320  # 20 ms at 8 kHz
ESPEAK_DEFAULT_WPM = 175  # espeak-ng's own speed, the one these tests were tuned with


@lru_cache(maxsize=8)
def spoken(text: str, rate: int = RATE) -> bytes:
    """Real speech: the simulators' espeak-ng pt-BR voice, silence trimmed, peaks at 0.7 of full scale."""
    pcm = audio.espeak_pcm(text, words_per_minute=ESPEAK_DEFAULT_WPM, rate=rate)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    samples = samples / max(1e-6, float(np.max(np.abs(samples)))) * 0.7
    return (samples * 32767).astype("<i2").tobytes()


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(int(rate * seconds) * 2)


def voiced_frames(pcm: bytes, aggressiveness: int = 2, rate: int = RATE) -> list[int]:
    """Indexes of the 20 ms frames webrtcvad calls speech."""
    vad = webrtcvad.Vad(aggressiveness)
    size = rate // 50 * 2
    return [i for i in range(len(pcm) // size) if vad.is_speech(pcm[i * size : (i + 1) * size], rate)]


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
    async def connect(
        cls, port: int, session_id: str | None = None, send_uuid: bool = True
    ) -> AsteriskClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer, session_id or str(uuid.uuid4()))
        client._task = asyncio.create_task(client._receive())
        if send_uuid:
            writer.write(encode_uuid(client.session_id))
        return client

    async def _receive(self) -> None:
        parser = FrameParser(max_payload=MAX_LENGTH)
        try:
            while data := await self.reader.read(65536):
                now = time.monotonic()
                self.received += [Received(now, frame.kind, frame.payload) for frame in parser.feed(data)]
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    async def play(self, pcm: bytes, frame_bytes: int = FRAME, kind: int = Kind.AUDIO_8K) -> None:
        """Send audio in real time, frame n at start + n x frame duration."""
        frame_seconds = frame_bytes / 2 / AUDIO_RATES[kind]
        start = time.monotonic()
        for n, offset in enumerate(range(0, len(pcm), frame_bytes)):
            delay = start + n * frame_seconds - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.writer.is_closing():
                return
            self.sent_at.append(time.monotonic())
            self.writer.write(encode(kind, pcm[offset : offset + frame_bytes]))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def audio_since(self, since: float = 0.0) -> bytes:
        return b"".join(r.payload for r in self.received if r.kind == Kind.AUDIO_8K and r.at >= since)

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
                    if item.kind == Kind.AUDIO_8K and not item.silent:
                        return item.at
                await asyncio.sleep(0.01)

    async def hang_up(self, within: float = 2.0) -> None:
        """Hang up as Asterisk does: a hangup frame, then read until the gateway closes, then close.

        Closing with frames still unread makes the kernel answer with a reset (RST): the
        gateway would see a connection error instead of the caller's hangup.
        """
        if not self.writer.is_closing():
            self.writer.write(encode(Kind.HANGUP))
        await self._drain_and_close(within)

    async def close(self, within: float = 2.0) -> None:
        """End our side (EOF), read until the gateway closes, then close: no reset."""
        if not self.writer.is_closing() and self.writer.can_write_eof():
            try:
                self.writer.write_eof()
            except OSError:
                pass
        await self._drain_and_close(within)

    async def _drain_and_close(self, within: float) -> None:
        if self._task is not None:
            try:
                async with asyncio.timeout(within):
                    await asyncio.shield(self._task)
            except TimeoutError:
                self._task.cancel()
        self.writer.close()


class BlockingCaller:
    """Asterisk's side on blocking sockets in threads, so timestamps do not wait on an event loop.

    Sends the UUID, then a 20 ms silence frame every 20 ms on an absolute schedule,
    and records (arrival time, kind, payload) of every frame received.
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.frames: list[tuple[float, int, bytes]] = []
        self.stop = threading.Event()
        self.sock.sendall(encode_uuid(str(uuid.uuid4())))
        self._sender = threading.Thread(target=self._send_silence, daemon=True)
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._sender.start()
        self._receiver.start()

    @property
    def arrivals(self) -> list[float]:
        return [at for at, _, _ in self.frames]

    @property
    def kinds(self) -> set[int]:
        return {kind for _, kind, _ in self.frames}

    def is_alive(self) -> bool:
        """Still sending: the gateway has not closed the connection."""
        return self._sender.is_alive()

    def _receive(self) -> None:
        parser = FrameParser(max_payload=MAX_LENGTH)
        while not self.stop.is_set():
            try:
                data = self.sock.recv(65536)
            except OSError:  # closed by close()
                return
            if not data:
                return
            now = time.monotonic()
            self.frames += [(now, frame.kind, frame.payload) for frame in parser.feed(data)]

    def _send_silence(self) -> None:
        start, n = time.monotonic(), 0
        while not self.stop.is_set():
            time.sleep(max(0.0, start + n * FRAME_SECONDS - time.monotonic()))
            try:
                self.sock.sendall(encode_audio(SILENCE_FRAME))
            except OSError:
                return
            n += 1

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


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
        visitor_host="127.0.0.1",
        visitor_port=0,
        resident_host="127.0.0.1",
        resident_port=0,
        speech_target=f"127.0.0.1:{speech_port}",
        concierge_target=f"127.0.0.1:{concierge_port}",
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
