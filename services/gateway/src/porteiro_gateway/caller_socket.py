"""A leg's AudioSocket connection: frames in (checked, dispatched), frames out (paced by the player).

The listener's asyncio Protocol hands it every read (`data_received`,
`eof_received`, `connection_lost`) straight from the event loop's read
callback: no reader task, no stream buffer, no wake-up per frame. Caller audio
goes to `on_audio` (the leg's CallerAudio.feed: the hot path); UUID, DTMF and the end of the
connection go to its `SocketOwner`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.audiosocket import (
    AUDIO_RATES,
    HANGUP_FRAME,
    Frame,
    FrameParser,
    Kind,
    ProtocolError,
    check_frame,
)
from porteiro_common.ids import session_id_from_bytes
from porteiro_gateway import metrics
from porteiro_gateway.leg_warnings import LegWarnings

log = logging.getLogger(__name__)

Reason = concierge_pb2.LegEndReason
# Ending the leg ourselves: tell Asterisk with a hangup frame so the dialplan continues.
REASONS_WITH_HANGUP_FRAME = {
    Reason.LEG_END_REASON_HANGUP_REQUESTED,
    Reason.LEG_END_REASON_MAX_DURATION,
    Reason.LEG_END_REASON_SHUTDOWN,
    Reason.LEG_END_REASON_PROTOCOL_ERROR,
    Reason.LEG_END_REASON_DEPENDENCY_FAILURE,
}
# ~2 s of audio the peer has not taken, past the kernel's small send buffer (SEND_BUFFER_BYTES): gone.
MAX_UNSENT_BYTES = 32 * 1024
COUNT_FLUSH_FRAMES = 50  # frame counters reach Prometheus once a second per leg, not per frame
CHECK_EVERY_FRAMES = 5  # outgoing: the transport's state is looked at every 100 ms


class Transport(Protocol):
    """The part of asyncio.Transport a leg uses."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def is_closing(self) -> bool: ...

    def get_write_buffer_size(self) -> int: ...


class SocketOwner(Protocol):
    """What the socket reports to (the leg)."""

    def identified(self, session_id: str) -> None:
        """The UUID frame: the call's session id."""
        ...

    def key_pressed(self, digit: str) -> None: ...

    def end(self, reason: Reason, detail: str = "") -> None:
        """The connection is over (hangup, EOF, reset, bad frames, a peer that stopped reading)."""
        ...

    def failed(self, error: Exception) -> None:
        """A bug while handling a frame (called inside the except block): end the leg."""
        ...


class _Detached:
    """The owner of a socket whose leg is over: reports go nowhere."""

    def identified(self, session_id: str) -> None:
        pass

    def key_pressed(self, digit: str) -> None:
        pass

    def end(self, reason: Reason, detail: str = "") -> None:
        pass

    def failed(self, error: Exception) -> None:
        pass


DETACHED: SocketOwner = _Detached()


class FrameCount:
    """A per-leg frame counter: a plain int, added to the Prometheus child every `every` frames.

    The child's lock costs more than the rest of a frame's bookkeeping.
    """

    __slots__ = ("_child", "_every", "_count", "_flushed")

    def __init__(self, child: Any, every: int = COUNT_FLUSH_FRAMES) -> None:
        self._child, self._every, self._count, self._flushed = child, every, 0, 0

    @property
    def total(self) -> int:
        """Frames counted on this leg so far."""
        return self._flushed + self._count

    def add(self, frames: int = 1) -> None:
        self._count += frames
        if self._count >= self._every:
            self.flush()

    def flush(self) -> None:
        if self._count:
            self._child.inc(self._count)
            self._flushed += self._count
            self._count = 0


def ignore_audio(pcm: bytes, rate: int) -> None:
    """Caller audio before the leg has connected `on_audio`."""


def ignore_events(found: list[tuple]) -> None:
    """The edge's endpointer events before the leg has connected `on_edge_events`."""


def never() -> bool:
    return False


class CallerSocket:
    def __init__(
        self,
        transport: Transport,
        owner: SocketOwner,
        leg_name: str,
        max_frame_bytes: int,
    ) -> None:
        self._transport = transport
        self._owner = owner
        self.on_audio: Callable[[bytes, int], None] = ignore_audio  # pcm, sample rate
        # Listening in the native edge (edge_endpointer.py): its endpointer's events, and whether
        # the leg lets it listen now.
        self.on_edge_events: Callable[[list[tuple]], None] = ignore_events
        self.may_listen_in_edge: Callable[[], bool] = never
        self._parser = FrameParser(max_frame_bytes)
        self._frames_in = FrameCount(metrics.FRAMES.labels("in", leg_name))
        self._frames_out = FrameCount(metrics.FRAMES.labels("out", leg_name))
        self._write = transport.write  # bound once: the one call per outgoing frame
        # Outgoing frames left before the next look at the transport (0: the next frame looks),
        # and how many the current period started with (what the frame counter gets at the check).
        self._out_until_check = self._out_period = 0
        self._max_frame_bytes = max_frame_bytes
        # What arrives before the leg is ready (`start`): bytes, and maybe the end of the connection.
        self._early: bytearray | None = bytearray()
        self._early_end: tuple[Exception | None] | None = None  # (the connection's error,)
        self.warnings = LegWarnings(log)  # bad input is logged once per leg, with a count at the end
        self.session_id = ""
        self.ended = False  # set by the leg when it ends: later bytes are ignored

    def start(self) -> None:
        """The leg is ready: handle what arrived before."""
        early, self._early = self._early, None
        if early:
            self.data_received(bytes(early))
        if self._early_end is not None:
            self._connection_ended(self._early_end[0])

    # ---- in ----------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Bytes from Asterisk: every complete frame is handled at once, in order."""
        if self.ended:
            return
        if self._early is not None:
            self._early += data
            return
        # The hot path: whole audio frames of an identified leg, nothing left over from the previous
        # read (nearly every read holds exactly one frame; a few, after the loop was busy). They go
        # to `on_audio` without the parser (no Frame objects, no list, no buffer copy); the first
        # thing that is not a whole, valid audio frame, and all after it, take the general path.
        if self.session_id and not self._parser.pending_bytes:
            start = self._audio_frames(data)
            if start == len(data) or self.ended:
                return
            if start:
                data = data[start:]
        try:
            for frame in self._parser.feed(data):
                self._on_frame(frame)
                if self.ended:
                    return
        except ProtocolError as error:
            self.protocol_error(error)
        except Exception as error:  # noqa: BLE001 - a bug in one leg must end it, not the process
            self._owner.failed(error)

    def _audio_frames(self, data: bytes) -> int:
        """Hand the whole audio frames at the start of `data` to `on_audio`; return where they stop.

        Consecutive frames of one rate go as one run of samples (the native media edge delivers a
        leg's `MEDIA_BATCH_MS` of frames in one read): the caller's audio path then runs once per
        read, not once per frame.
        """
        size, start, limit = len(data), 0, self._max_frame_bytes
        payloads: list[bytes] = []
        run_rate = 0
        try:
            while size - start > 3:
                rate = AUDIO_RATES.get(data[start])
                length = data[start + 1] << 8 | data[start + 2]
                end = start + 3 + length
                if rate is None or length & 1 or length > limit or end > size:
                    break  # not audio, odd, oversized or cut: the general path decides
                if rate != run_rate and payloads:  # another rate: the run so far goes first
                    self._hand_over(payloads, run_rate)
                    payloads = []
                    if self.ended:
                        return start
                payloads.append(data[start + 3 : end])
                run_rate = rate
                start = end
            if payloads:
                self._hand_over(payloads, run_rate)
        except Exception as error:  # noqa: BLE001 - a bug in one leg must end it, not the process
            self._owner.failed(error)
            return size
        return start

    def _hand_over(self, payloads: list[bytes], rate: int) -> None:
        """A run of audio frames of one rate to `on_audio`, as one piece (one frame: not copied)."""
        self._frames_in.add(len(payloads))
        self.on_audio(b"".join(payloads), rate)

    def edge_events(self, found: list[tuple]) -> None:
        """What the native edge's endpointer found in this leg's audio frames (counted by `count_received`)."""
        if self.ended:
            return
        try:
            self.on_edge_events(found)
        except Exception as error:  # noqa: BLE001 - a bug in one leg must end it, not the process
            self._owner.failed(error)

    def ready_for_edge(self) -> bool:
        """The native edge may take this leg's audio frames now: identified, going on, no piece of a
        frame waiting here, and the leg lets it."""
        return (
            bool(self.session_id)
            and not self.ended
            and self._early is None
            and not self._parser.pending_bytes
            and self.may_listen_in_edge()
        )

    def count_received(self, frames: int) -> None:
        """Audio frames the native edge endpointed for this leg (they never reached `data_received`)."""
        self._frames_in.add(frames)
        if self.ended:
            self._frames_in.flush()

    def eof_received(self) -> None:
        self._connection_ended(None)

    def connection_lost(self, error: Exception | None) -> None:
        self._connection_ended(error)

    def _connection_ended(self, error: Exception | None) -> None:
        """EOF or a reset: the caller is gone.

        After Asterisk's hangup frame the leg has already ended (CALLER_HANGUP, the first
        reason wins): a reset that follows (Asterisk closing with our frames unread) changes nothing.
        """
        if self._early is not None:  # the leg is not ready: it ends after the early bytes
            if self._early_end is None:
                self._early_end = (error,)
            return
        if error is None:
            detail = "EOF" if self.session_id else "EOF before UUID"
            self._owner.end(Reason.LEG_END_REASON_CALLER_HANGUP, detail)
        else:
            self._owner.end(Reason.LEG_END_REASON_CONNECTION_ERROR, f"{type(error).__name__}: {error}")

    @property
    def transport(self) -> Transport:
        return self._transport

    def peer_stalled(self) -> None:
        """The native media edge holds more than `MAX_UNSENT_BYTES` the peer has not taken."""
        self._owner.end(Reason.LEG_END_REASON_CONNECTION_ERROR, "peer stopped reading")

    def count_sent(self, frames: int) -> None:
        """Frames sent for this leg without `send` (the native media edge's silence); once the leg
        has ended (its counters flushed already), straight to Prometheus."""
        self._frames_out.add(frames)
        if self.ended:
            self._frames_out.flush()

    @property
    def frames_received(self) -> int:
        """Audio frames received so far (the leg's timers watch it move)."""
        return self._frames_in.total

    def protocol_error(self, error: ProtocolError) -> None:
        metrics.PROTOCOL_ERRORS.labels(error.code).inc()
        self.warnings.warn("protocol error", "protocol error: %s", error, error=str(error))
        self._owner.end(Reason.LEG_END_REASON_PROTOCOL_ERROR, str(error))

    def _on_frame(self, frame: Frame) -> None:
        kind = frame.kind
        rate = AUDIO_RATES.get(kind)
        if rate is not None and self.session_id:  # the hot path: caller audio
            if len(frame.payload) & 1:
                raise ProtocolError("odd_audio", f"audio frame with odd length {len(frame.payload)}")
            self._frames_in.add()
            self.on_audio(frame.payload, rate)
            return
        if not self.session_id:
            if kind != Kind.UUID:
                raise ProtocolError("no_uuid_first", f"first frame kind 0x{kind:02x}, not UUID")
            check_frame(frame)
            self.session_id = self.warnings.session_id = session_id_from_bytes(frame.payload)
            self._owner.identified(self.session_id)
            return
        check_frame(frame)
        if kind == Kind.DTMF:
            self._owner.key_pressed(chr(frame.payload[0]))
        elif kind == Kind.HANGUP:
            self._owner.end(Reason.LEG_END_REASON_CALLER_HANGUP, "hangup frame")
        elif kind == Kind.ERROR:
            code = frame.payload[0] if frame.payload else 0
            metrics.PROTOCOL_ERRORS.labels("error_frame").inc()
            self.warnings.warn("error frame", "error frame from Asterisk (code 0x%02x)", code, code=code)
            if code == 0x01:  # Asterisk's "call hangup" error
                self._owner.end(Reason.LEG_END_REASON_CALLER_HANGUP, "error frame: hangup")
        elif kind == Kind.UUID:
            metrics.PROTOCOL_ERRORS.labels("duplicate_uuid").inc()

    # ---- out ---------------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """One outgoing frame (the player's, once per tick): one transport write.

        The state of the transport (closing, unsent bytes) is looked at every
        `CHECK_EVERY_FRAMES` frames, not on each: a peer that stops reading takes
        seconds to fill `MAX_UNSENT_BYTES`, and a write to a transport that is
        already closing is dropped by asyncio (ours always ends the leg first).
        """
        if not self._out_until_check and not self._check_out():
            return
        self._out_until_check -= 1
        try:
            self._write(frame)
        except RuntimeError:  # uvloop: the connection is gone (connection_lost ends the leg too)
            self._owner.end(Reason.LEG_END_REASON_CONNECTION_ERROR, "socket closed")

    def _check_out(self) -> bool:
        """Every few frames: may this leg still write? Also passes the out counter to Prometheus."""
        self._frames_out.add(self._out_period)  # the frames written since the last check
        transport = self._transport
        if transport.is_closing():
            problem = "socket closed"
        elif transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            problem = "peer stopped reading"
        else:
            self._out_period = self._out_until_check = CHECK_EVERY_FRAMES
            return True
        # Nothing more is written: every later frame checks again (until the player leaves the clock).
        self._out_period = self._out_until_check = 0
        self._owner.end(Reason.LEG_END_REASON_CONNECTION_ERROR, problem)
        return False

    def close(self, reason: Reason) -> None:
        """Close the connection, after a hangup frame when we end the leg (the dialplan continues)."""
        self.ended = True
        transport = self._transport
        try:
            if reason in REASONS_WITH_HANGUP_FRAME and not transport.is_closing():
                transport.write(HANGUP_FRAME)
            transport.close()
        except (OSError, RuntimeError):
            pass

    def detach(self) -> None:
        """The leg is over and lets go of this socket: whatever the connection still reports goes
        nowhere (the socket no longer holds the leg, so the two do not keep each other alive)."""
        self.ended = True
        self._owner = DETACHED
        self.on_audio = ignore_audio
        self.on_edge_events = ignore_events
        self.may_listen_in_edge = never

    def flush_counts(self) -> None:
        """At the leg's end: frame counters to Prometheus, repeated warnings' counts to the log."""
        self.warnings.flush()
        self._frames_in.flush()
        self._frames_out.add(self._out_period - self._out_until_check)  # written since the last check
        self._out_period = self._out_until_check
        self._frames_out.flush()
