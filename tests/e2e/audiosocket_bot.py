"""A tiny AudioSocket server for testing the simulators before (and apart from) the gateway.

It greets with a tone, answers each caller sentence with a tone `reply_delay` after
the sentence ended, hangs up (0x00) on DTMF "9", and records what it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from porteiro_common.audiosocket import (
    FRAME_SECONDS,
    HANGUP_FRAME,
    SILENCE_FRAME,
    Kind,
    encode_audio,
    read_frame,
)
from porteiro_sim import audio


@dataclass
class BotCall:
    first_kind: int | None = None
    uuid_payload: bytes = b""
    audio_arrivals: list[float] = field(default_factory=list)
    frame_sizes: set[int] = field(default_factory=set)
    dtmf: list[str] = field(default_factory=list)
    speech_ends: list[float] = field(default_factory=list)
    replies_sent: list[float] = field(default_factory=list)
    ended_by: str = ""


class AudioSocketBot:
    def __init__(
        self,
        greeting_seconds: float = 0.4,
        reply_seconds: float = 0.3,
        reply_delay: float = 0.3,
        end_silence: float = 0.3,
    ) -> None:
        self.greeting = audio.tone(440, greeting_seconds)
        self.reply = audio.tone(660, reply_seconds)
        self.reply_delay, self.end_silence = reply_delay, end_silence
        self.calls: list[BotCall] = []
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        call = BotCall()
        self.calls.append(call)
        first = await read_frame(reader)
        if first is None:
            return
        call.first_kind, call.uuid_payload = first.kind, first.payload
        outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        for frame in audio.frames_of(self.greeting):
            outgoing.put_nowait(frame)
        player = asyncio.create_task(self._play(writer, outgoing))
        try:
            await self._listen(reader, writer, call, outgoing)
        finally:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
            writer.close()

    async def _listen(self, reader, writer, call: BotCall, outgoing: asyncio.Queue[bytes]) -> None:
        last_voiced: float | None = None
        while True:
            frame = await read_frame(reader)
            now = time.monotonic()
            if frame is None:
                call.ended_by = "eof"
                return
            if frame.kind == Kind.HANGUP:
                call.ended_by = "hangup-frame"
                return
            if frame.kind == Kind.DTMF:
                call.dtmf.append(frame.payload.decode())
                if frame.payload == b"9":
                    writer.write(HANGUP_FRAME)
                    await writer.drain()
                    call.ended_by = "bot-hangup"
                    return
            if frame.kind == Kind.AUDIO_8K:
                call.audio_arrivals.append(now)
                call.frame_sizes.add(len(frame.payload))
                if audio.is_speech(frame.payload):
                    last_voiced = now
                elif last_voiced is not None and now - last_voiced >= self.end_silence:
                    call.speech_ends.append(last_voiced)
                    last_voiced = None
                    asyncio.get_running_loop().call_later(
                        self.reply_delay - self.end_silence, self._queue_reply, call, outgoing
                    )

    def _queue_reply(self, call: BotCall, outgoing: asyncio.Queue[bytes]) -> None:
        call.replies_sent.append(time.monotonic())
        for frame in audio.frames_of(self.reply):
            outgoing.put_nowait(frame)

    async def _play(self, writer: asyncio.StreamWriter, outgoing: asyncio.Queue[bytes]) -> None:
        start = time.monotonic()
        tick = 0
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                frame = SILENCE_FRAME if outgoing.empty() else outgoing.get_nowait()
                writer.write(encode_audio(frame))
                await writer.drain()
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * FRAME_SECONDS - time.monotonic()))
