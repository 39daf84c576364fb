"""A tiny AudioSocket server for testing the simulators before (and apart from) the gateway.

It greets with a tone, answers each caller sentence with a tone `reply_delay` after
the sentence ended, hangs up (0x00) on DTMF "9" and when stopped with calls open, and
records what it received. After its 0x00 frame it reads until the caller's EOF before
closing, so no unread frame makes the kernel reset the connection.
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

# After its 0x00 frame, how long the bot reads on for the caller's EOF.
HANGUP_DRAIN_SECONDS = 2.0


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
    after_hangup: str = ""  # after the bot's 0x00 frame, how the caller's side ended: eof, reset, timeout


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
        self._handlers: set[asyncio.Task] = set()
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop accepting, hang up the calls still open (0x00 frame) and wait for them to end."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.write(HANGUP_FRAME)
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=HANGUP_DRAIN_SECONDS)
        if self._server is not None:
            await self._server.wait_closed()

    async def wait_calls_ended(self, wait_seconds: float = 5.0) -> None:
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=wait_seconds)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self._open.add(writer)
        try:
            await self._serve_call(reader, writer)
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            self._handlers.discard(handler)

    async def _serve_call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
        if call.ended_by == "bot-hangup":
            call.after_hangup = await _hang_up(reader, writer)

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


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
    """Send 0x00, then read until the caller's EOF: "eof", "reset" or "timeout"."""
    try:
        writer.write(HANGUP_FRAME)
        await writer.drain()
        async with asyncio.timeout(HANGUP_DRAIN_SECONDS):
            while await read_frame(reader) is not None:
                pass
    except TimeoutError:
        return "timeout"
    except (ConnectionError, OSError):
        return "reset"
    return "eof"
