"""An AudioSocket client that behaves like Asterisk's AudioSocket() application.

- sends the UUID frame (0x01, 16 raw bytes) first;
- then sends one 20 ms slin frame (0x10, 320 bytes) every 20 ms on an absolute
  monotonic schedule for the whole call: queued speech when there is some,
  silence otherwise (an answered channel always carries audio);
- DTMF keys as 0x03 frames; hanging up sends a 0x00 frame and EOF, as Asterisk does,
  then reads until the server closes too, so no unread frame makes the kernel reset
  the connection (EOF alone on request, to test that path);
- receives concurrently, records everything received, and splits the received
  audio into speech segments by energy so a caller can wait for each reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from porteiro_common.audiosocket import (
    FRAME_BYTES,
    FRAME_SECONDS,
    HANGUP_FRAME,
    SILENCE_FRAME,
    SLIN_RATE,
    Kind,
    encode_audio,
    encode_dtmf,
    encode_uuid,
    read_frame,
)
from porteiro_sim import audio

log = logging.getLogger(__name__)

# After hanging up, how long to keep reading until the server closes its side.
HANGUP_DRAIN_SECONDS = 2.0

# If the sender falls this far behind its schedule (a stalled loop), it resyncs
# instead of bursting the backlog: Asterisk never bursts either.
MAX_LAG_SECONDS = 0.2


@dataclass
class ReceivedSegment:
    """One stretch of received speech (from the first to the last voiced frame)."""

    start: float  # monotonic arrival time of the first voiced frame
    end: float  # monotonic arrival time of the last voiced frame, plus one frame
    pcm: bytes
    offset_seconds: float  # where it starts in the received recording

    @property
    def seconds(self) -> float:
        return audio.seconds_of(self.pcm)


@dataclass
class _Playback:
    frames: deque[bytes]
    done: asyncio.Future[float]
    voiced_end: float | None = None


@dataclass
class _SegmentTracker:
    """Energy-based speech segmentation of the received audio."""

    threshold: float
    end_silence: float
    current: list[bytes] = field(default_factory=list)
    start: float = 0.0
    offset: float = 0.0
    last_voiced: float = 0.0
    trailing_silent: int = 0

    @property
    def open(self) -> bool:
        return bool(self.current)

    def feed(self, pcm: bytes, arrival: float, offset: float) -> ReceivedSegment | None:
        voiced = audio.is_speech(pcm, self.threshold)
        if not self.current:
            if voiced:
                self.current, self.start, self.offset = [pcm], arrival, offset
                self.last_voiced, self.trailing_silent = arrival, 0
            return None
        self.current.append(pcm)
        if voiced:
            self.last_voiced, self.trailing_silent = arrival, 0
            return None
        self.trailing_silent += 1
        if arrival - self.last_voiced >= self.end_silence:
            return self.close()
        return None

    def expired(self, now: float) -> ReceivedSegment | None:
        """Closes the segment when frames stopped coming (the server sends nothing while idle)."""
        if self.current and now - self.last_voiced >= self.end_silence + FRAME_SECONDS:
            return self.close()
        return None

    def close(self) -> ReceivedSegment | None:
        if not self.current:
            return None
        frames = self.current[: len(self.current) - self.trailing_silent]
        segment = ReceivedSegment(self.start, self.last_voiced + FRAME_SECONDS, b"".join(frames), self.offset)
        self.current, self.trailing_silent = [], 0
        return segment


class AudioSocketClient:
    """One call leg as Asterisk would place it. Use `async with` or connect()/close()."""

    def __init__(
        self,
        host: str,
        port: int,
        session_id: str | None = None,
        *,
        speech_rms: float = audio.DEFAULT_SPEECH_RMS,
        reply_end_silence: float = 0.8,
        send_silence: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.session_id = str(uuid.UUID(session_id)) if session_id else str(uuid.uuid4())
        self.send_silence = send_silence
        self._tracker = _SegmentTracker(speech_rms, reply_end_silence)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self._playbacks: deque[_Playback] = deque()
        self._controls: deque[tuple[bytes, asyncio.Future[float]]] = deque()
        self._changed = asyncio.Condition()
        self._sending = False
        # What happened on the line, for timelines and checks.
        self.uuid_sent_at: float | None = None
        self.first_frame_at: float | None = None
        self.segments: list[ReceivedSegment] = []
        self.received_pcm = bytearray()
        self.received_frames = 0
        self.sent_frames = 0
        self.sent_log: list[tuple[float, bytes]] = []  # (send time, frame) of voiced frames
        self.closed_at: float | None = None
        self.close_reason: str | None = None  # "hangup-frame", "eof", "error-frame", "local"
        self.error_payloads: list[bytes] = []

    # ---- lifecycle -------------------------------------------------------

    async def connect(self, wait_seconds: float = 5.0) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), wait_seconds)
        self._reader, self._writer = reader, writer
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(encode_uuid(self.session_id))
        self.uuid_sent_at = time.monotonic()
        await writer.drain()
        self._sending = True
        self._tasks = [
            asyncio.create_task(self._send_loop(), name=f"as-send-{self.session_id[:8]}"),
            asyncio.create_task(self._receive_loop(), name=f"as-recv-{self.session_id[:8]}"),
        ]

    async def __aenter__(self) -> AudioSocketClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def hang_up(self, send_hangup_frame: bool = True) -> None:
        """The caller hangs up: a 0x00 frame (unless told not to) and EOF, then wait for the server's EOF."""
        if self._writer is None or self._writer.is_closing() or self.closed:
            await self.close()
            return
        await self._stop_sending()
        self._mark_closed("local")
        with contextlib.suppress(ConnectionError, OSError):
            if send_hangup_frame:
                self._writer.write(HANGUP_FRAME)
            self._writer.write_eof()
            await self._writer.drain()
            await self._drain_until_server_closes()
        await self.close()

    async def _stop_sending(self) -> None:
        """Stop the frame clock before the last frames, so no audio follows the hang-up."""
        self._sending = False
        for task in self._tasks_named("as-send"):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _drain_until_server_closes(self) -> None:
        """Keep receiving (what is left unread would make the kernel reset) until EOF or the time limit."""
        receiving = self._tasks_named("as-recv")
        if receiving:
            await asyncio.wait(receiving, timeout=HANGUP_DRAIN_SECONDS)

    def _tasks_named(self, prefix: str) -> list[asyncio.Task]:
        return [task for task in self._tasks if task.get_name().startswith(prefix)]

    async def close(self) -> None:
        """End the call: hang up first if the line is still open, then release the socket."""
        if self._writer is not None and not self.closed and not self._writer.is_closing():
            await self.hang_up()
            return
        self._sending = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._mark_closed("local")
        self._fail_pending()

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    # ---- sending ---------------------------------------------------------

    async def play(self, pcm: bytes) -> float:
        """Queue audio; return the monotonic time its last voiced frame went out.

        Frames are sent at the moment their 20 ms are complete, as a live
        source would, so that time is when the speech ended on the wire.
        """
        return await self.enqueue(pcm)

    def enqueue(self, pcm: bytes) -> asyncio.Future[float]:
        """Queue audio without waiting (a live source such as a microphone)."""
        if not self._sending:
            raise ConnectionError("the call is not connected")
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._playbacks.append(_Playback(deque(audio.frames_of(pcm)), done))
        return done

    async def pause(self, seconds: float) -> None:
        """Silence on the line (the sender keeps sending silence frames)."""
        await asyncio.sleep(seconds)

    async def send_dtmf(self, digits: str, gap_seconds: float = 0.25) -> float:
        """One 0x03 frame per key, interleaved with the audio, `gap_seconds` apart.

        Returns the monotonic time the last key went out.
        """
        sent_at = time.monotonic()
        for index, digit in enumerate(digits):
            if index:
                await asyncio.sleep(gap_seconds)
            done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self._controls.append((encode_dtmf(digit), done))
            sent_at = await done
        return sent_at

    async def _send_loop(self) -> None:
        assert self._writer is not None
        start = time.monotonic()
        tick = 0
        try:
            while self._sending:
                tick += 1
                due = start + tick * FRAME_SECONDS
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif -delay > MAX_LAG_SECONDS:
                    start, tick = time.monotonic(), 0
                now = time.monotonic()
                await self._send_due_frames(now)
                await self._expire_segment(now)
        except (ConnectionError, OSError) as error:
            log.debug("send loop ended: %s", error)
            self._mark_closed("eof")
            self._fail_pending()

    async def _send_due_frames(self, now: float) -> None:
        assert self._writer is not None
        while self._controls:
            control, done = self._controls.popleft()
            self._writer.write(control)
            if not done.done():
                done.set_result(now)
        frame = self._next_audio_frame(now)
        if frame is not None:
            self._writer.write(encode_audio(frame))
            self.sent_frames += 1
        await self._writer.drain()

    def _next_audio_frame(self, now: float) -> bytes | None:
        while self._playbacks:
            playback = self._playbacks[0]
            if playback.frames:
                frame = playback.frames.popleft()
                if audio.is_speech(frame):
                    playback.voiced_end = now
                    self.sent_log.append((now, frame))
                if not playback.frames:
                    self._playbacks.popleft()
                    if not playback.done.done():
                        playback.done.set_result(playback.voiced_end or now)
                return frame
            self._playbacks.popleft()
        return SILENCE_FRAME if self.send_silence else None

    def _fail_pending(self) -> None:
        error = ConnectionError("the call ended")
        for playback in self._playbacks:
            if not playback.done.done():
                playback.done.set_exception(error)
        for _, done in self._controls:
            if not done.done():
                done.set_exception(error)
        self._playbacks.clear()
        self._controls.clear()

    # ---- receiving -------------------------------------------------------

    async def _receive_loop(self) -> None:
        assert self._reader is not None
        while True:
            frame = await read_frame(self._reader)
            if frame is None:
                await self._finish("eof")
                return
            now = time.monotonic()
            if frame.kind == Kind.HANGUP:
                await self._finish("hangup-frame")
                return
            if frame.kind == Kind.ERROR:
                self.error_payloads.append(frame.payload)
                await self._finish("error-frame")
                return
            if frame.kind == Kind.AUDIO_8K:
                await self._on_audio(frame.payload, now)
            elif frame.kind == Kind.DTMF:
                log.debug("server sent DTMF %r", frame.payload)

    async def _on_audio(self, pcm: bytes, arrival: float) -> None:
        if self.first_frame_at is None:
            self.first_frame_at = arrival
        offset = len(self.received_pcm) / 2 / SLIN_RATE
        self.received_pcm.extend(pcm)
        self.received_frames += 1
        segment = self._tracker.feed(pcm, arrival, offset)
        if segment is not None:
            await self._add_segment(segment)
        elif len(self._tracker.current) == 1:
            await self._notify()  # a reply just started

    async def _expire_segment(self, now: float) -> None:
        segment = self._tracker.expired(now)
        if segment is not None:
            await self._add_segment(segment)

    async def _add_segment(self, segment: ReceivedSegment) -> None:
        if segment.pcm:
            self.segments.append(segment)
        await self._notify()

    async def _finish(self, reason: str) -> None:
        segment = self._tracker.close()
        if segment is not None and segment.pcm:
            self.segments.append(segment)
        self._mark_closed(reason)
        self._sending = False
        self._fail_pending()
        await self._notify()

    def _mark_closed(self, reason: str) -> None:
        if self.closed_at is None:
            self.closed_at, self.close_reason = time.monotonic(), reason

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- waiting ---------------------------------------------------------

    async def _wait_until(self, predicate, wait_seconds: float | None) -> bool:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        try:
            await asyncio.wait_for(wait(), wait_seconds)
        except TimeoutError:
            return False
        return True

    async def wait_for_reply(self, after: float, wait_seconds: float = 30.0) -> ReceivedSegment | None:
        """The first complete received segment starting after `after`; None on timeout or hang-up."""

        def found() -> bool:
            return self._segment_after(after) is not None or self.closed

        await self._wait_until(found, wait_seconds)
        return self._segment_after(after)

    async def wait_for_reply_start(self, after: float, wait_seconds: float = 30.0) -> float | None:
        """Arrival time of the first voiced frame received after `after`."""

        def started() -> bool:
            return self.first_voiced_after(after) is not None or self.closed

        await self._wait_until(started, wait_seconds)
        return self.first_voiced_after(after)

    async def wait_closed(self, wait_seconds: float = 60.0) -> bool:
        """True when the server hung up (0x00 frame or EOF) within `wait_seconds`."""
        return await self._wait_until(lambda: self.closed, wait_seconds)

    def _segment_after(self, after: float) -> ReceivedSegment | None:
        return next((segment for segment in self.segments if segment.start > after), None)

    def first_voiced_after(self, after: float) -> float | None:
        segment = self._segment_after(after)
        if segment is not None:
            return segment.start
        if self._tracker.open and self._tracker.start > after:
            return self._tracker.start
        return None

    # ---- recordings ------------------------------------------------------

    def write_received_wav(self, path: Path | str) -> Path:
        """Everything received, in arrival order, as a mono 8 kHz WAV."""
        return audio.write_wav(path, bytes(self.received_pcm))

    def write_conversation_wav(self, path: Path | str, sent_start: float | None = None) -> Path:
        """Stereo WAV on one time axis: left = what we sent (voiced frames), right = what we received."""
        start = sent_start or self.uuid_sent_at or 0.0
        end = max([self.closed_at or 0.0, time.monotonic() if not self.closed else 0.0])
        total = int((end - start) * SLIN_RATE) + SLIN_RATE
        left = np.zeros(total, dtype="<i2")
        for sent_at, frame in self.sent_log:
            _place(left, frame, sent_at - FRAME_SECONDS - start)
        right = np.zeros(total, dtype="<i2")
        for segment in self.segments:
            _place(right, segment.pcm, segment.start - FRAME_SECONDS - start)
        stereo = np.stack([left, right], axis=1).astype("<i2").tobytes()
        return audio.write_wav(path, stereo, channels=2)


def _place(track: np.ndarray, pcm: bytes, at_seconds: float) -> None:
    samples = np.frombuffer(pcm, dtype="<i2")
    first = max(0, int(at_seconds * SLIN_RATE))
    last = min(len(track), first + len(samples))
    if last > first:
        track[first:last] = samples[: last - first]


__all__ = ["AudioSocketClient", "ReceivedSegment", "FRAME_BYTES"]
