"""The native media edge, driven from the event loop: the clock of the legs when it is built.

`porteiro_gateway._media` (a C extension built by `make setup`) reads and writes every leg's
AudioSocket connection in a thread of its own, on the same 20 ms schedule as `PlaybackClock`:
per leg and per tick one frame out (the next one queued, or silence) and one read. The event
loop is woken once per `batch_ticks` ticks for all legs (an eventfd): it hands what was read to
each leg's `CallerSocket` (the same parser and endpointer as the pure-Python path) and tops up
the frames of the Says playing, `lookahead_frames` ahead. So the loop's work no longer sits on
the frame schedule, and on the wire a frame costs one system call each way and no Python.

What differs from `PlaybackClock`, on the wire nothing (bit-exact audio, 20 ms frames, silence
when idle); in the leg, a Say's start is seen when its first frame is queued (at most a tick
before it goes out when nothing else is queued), its end once its last frame is sent, and caller
audio arrives in batches of `batch_ticks` ticks.
A stopped Say's queued frames are dropped at once (barge-in), a closed leg's are sent first (the
end of a goodbye), then the hangup frame.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable
from typing import Any

from porteiro_common.audiosocket import encode_audio, frame_bytes
from porteiro_gateway import edge_endpointer, metrics
from porteiro_gateway.caller_socket import MAX_UNSENT_BYTES, CallerSocket
from porteiro_gateway.edge_endpointer import EdgeEndpointer
from porteiro_gateway.endpointing import Endpointer, EndpointingConfig
from porteiro_gateway.playback import FRAME_MS, Player
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.time_source import MONOTONIC, TimeSource

try:
    from porteiro_gateway import _media  # type: ignore[attr-defined]
except ImportError:  # not built (no C compiler): the pure-Python media path (playback.PlaybackClock)
    _media = None

log = logging.getLogger(__name__)

# Each leg's connection is looked at 5 times a second: a stalled peer, the frame counts (the caller's
# frames the edge endpointed reach the leg's count within 200 ms: its audio timeout watches it).
CHECK_TICKS = 10


def native_available() -> bool:
    return _media is not None


def media_engine_for(settings: GatewaySettings) -> MediaEngine | None:
    """The native media edge the settings ask for; None: the event loop's (playback.PlaybackClock)."""
    wanted = settings.media_engine
    if wanted == "python" or (wanted == "auto" and _media is None):
        log.info("media path: the event loop (python)")
        return None
    if _media is None:
        raise RuntimeError("PORTEIRO_GATEWAY_MEDIA_ENGINE=native, but porteiro_gateway._media is not built")
    batch_ticks = max(1, settings.media_batch_ms // FRAME_MS)
    # Frames queued must last past the next top-up, with a tick to spare.
    lookahead = max(settings.playback_lookahead_ms // FRAME_MS, batch_ticks + 2)
    listening = settings.edge_listening and edge_endpointer.available()
    log.info(
        "media path: the native media edge",
        extra={"batch_ms": batch_ticks * FRAME_MS, "edge_listening": listening},
    )
    engine = MediaEngine(settings.playback_resync_ms, lookahead_frames=lookahead, batch_ticks=batch_ticks)
    if listening:
        engine.listen_in_edge(settings.transcribe_chunk_ms, settings.max_frame_bytes)
    return engine


def endpointer_factory(transport: Any) -> Callable[[int, EndpointingConfig], Endpointer | EdgeEndpointer]:
    """How a leg on `transport` makes its endpointer: the native edge's when it runs the leg."""
    return transport.make_endpointer if isinstance(transport, EngineTransport) else Endpointer


class EngineTransport:
    """A leg's connection once the engine owns it: the part of asyncio.Transport a leg uses."""

    def __init__(self, media: MediaEngine, leg_id: int, frame_size: int) -> None:
        self._media = media
        self.leg_id = leg_id
        self._frame_size = frame_size
        self._final = b""  # written by the engine after the queued frames, at close (the hangup frame)
        self._closing = False
        # Frames written during a top-up, handed to the engine at its end with every leg's (one lock).
        self.pending = bytearray()
        self.socket: CallerSocket | None = None  # what reads from it (set by the listener)
        self.frames_counted = 0  # frames the engine sent that the socket's counter has
        self.listening = False  # the edge endpoints the caller's audio (the loop gets events)
        self.frames_listened = 0  # caller frames the edge endpointed that the socket's counter has

    def make_endpointer(self, rate: int, config: EndpointingConfig) -> Endpointer | EdgeEndpointer:
        """The leg's endpointer: kept in the edge when it listens for legs (edge_endpointer.py)."""
        listening = self._media.listening
        if listening is None:
            return Endpointer(rate, config)
        gather_ms, max_frame_bytes = listening
        return EdgeEndpointer(self._media.engine, self.leg_id, rate, config, gather_ms, max_frame_bytes)

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        if len(data) % self._frame_size:  # not frames: the hangup frame, sent last
            self._final += data
            return
        self.pending += data

    def flush(self) -> None:
        """The frames written since the last top-up, to the engine now (a close)."""
        if self.pending:
            self._media.engine.push(self.leg_id, bytes(self.pending))
            self.pending.clear()

    def close(self) -> None:
        if not self._closing:
            self.flush()
            self._closing = True
            self._media.engine.close(self.leg_id, self._final)

    def abort(self) -> None:
        self._final = b""
        self.close()

    def is_closing(self) -> bool:
        return self._closing

    def get_write_buffer_size(self) -> int:
        return self._media.engine.leg_state(self.leg_id)[2]

    def drop_queued(self) -> int:
        """Drop the frames not sent yet (a Say stopped); how many."""
        pending = len(self.pending) // self._frame_size
        self.pending.clear()
        return pending + self._media.engine.drop(self.leg_id)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class MediaEngine:
    """The clock of the legs when the native edge runs: same interface as `PlaybackClock`."""

    def __init__(
        self,
        resync_ms: int = 60,
        phases: int = 10,
        lookahead_frames: int = 5,
        batch_ticks: int = 1,
        time_source: TimeSource = MONOTONIC,
    ) -> None:
        if _media is None:
            raise RuntimeError("the native media edge is not built (make setup)")
        self.time_source = time_source
        self.lookahead_frames = lookahead_frames
        self.engine = _media.Engine(
            phases=phases,
            frame_ms=FRAME_MS,
            resync_ms=resync_ms,
            notify_every=phases * batch_ticks,  # Python once per `batch_ticks` 20 ms ticks
            bounds=metrics.PLAYBACK_LATENESS_BUCKETS,
            max_unsent=2 * MAX_UNSENT_BYTES,
        )
        self.resyncs = 0
        self.skipped_frames = 0
        self._transports: dict[int, EngineTransport] = {}
        self._players: dict[Player, EngineTransport] = {}
        self._playing: dict[Player, None] = {}  # those with a Say queued or playing (insertion-ordered)
        self._ticks = 0
        self._check_every = max(1, CHECK_TICKS // batch_ticks)
        self.listening: tuple[int, int] | None = None  # (gather_ms, max_frame_bytes) when the edge listens

    def listening_legs(self) -> int:
        """How many legs the edge endpoints now."""
        return sum(transport.listening for transport in self._transports.values())

    def listen_in_edge(self, gather_ms: int, max_frame_bytes: int) -> None:
        """Endpoint the legs' audio in the edge (edge_endpointer.py), handing the loop the utterance's
        audio in `gather_ms` pieces; frames over `max_frame_bytes` go to the loop (to be refused)."""
        self.listening = (gather_ms, max_frame_bytes)

    # ---- the legs' connections ----------------------------------------------------------------

    def adopt(
        self, transport: asyncio.Transport, idle_silence: bool, sample_rate: int = 8000
    ) -> EngineTransport:
        """Take a new connection from the event loop (before it has read anything)."""
        sock = transport.get_extra_info("socket")
        fd = os.dup(sock.fileno())
        transport.pause_reading()
        transport.abort()  # closes the loop's descriptor only: the engine's keeps the connection
        silence = encode_audio(bytes(frame_bytes(sample_rate, FRAME_MS)), sample_rate)
        adopted = EngineTransport(self, self.engine.add(fd, silence, idle_silence), len(silence))
        self._transports[adopted.leg_id] = adopted
        return adopted

    def release(self, transport: EngineTransport) -> None:
        """The leg is over: the engine sends what is queued (if closing), then frees it."""
        if self._transports.pop(transport.leg_id, None) is not None:
            self._sync_count(transport, self.engine.leg_state(transport.leg_id))
            self.engine.remove(transport.leg_id)

    # ---- the clock interface (Leg) --------------------------------------------------------------

    def add(self, player: Player, transport: Any = None) -> None:
        if isinstance(transport, EngineTransport):
            self._players[player] = transport
            player.drop_queued = transport.drop_queued
            player.on_enqueue = self._now_playing
            if player.busy:
                self._playing[player] = None

    def discard(self, player: Player) -> None:
        self._players.pop(player, None)
        self._playing.pop(player, None)

    def _now_playing(self, player: Player) -> None:
        transport = self._players.get(player)
        if transport is not None:
            self._playing[player] = None
            if transport.listening:  # a Say the caller may interrupt: the loop weighs their audio
                self._listen(transport)

    def _listen(self, transport: EngineTransport) -> None:
        """Let the edge endpoint the leg's audio when its socket is ready for it, or take it back."""
        caller = transport.socket
        wanted = caller is not None and caller.ready_for_edge()
        if (
            wanted != transport.listening
            and transport.leg_id in self._transports
            and not transport.is_closing()
        ):
            self.engine.set_listening(transport.leg_id, wanted)
            transport.listening = wanted

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.engine.start()
        loop.add_reader(self.engine.notify_fd, self._on_tick)
        try:
            await asyncio.Future()  # until cancelled
        finally:
            loop.remove_reader(self.engine.notify_fd)
            self.engine.stop()

    # ---- once per tick ----------------------------------------------------------------------

    def _on_tick(self) -> None:
        self._deliver(self.engine.take())
        self._top_up()
        self._observe()

    def _deliver(self, taken: list[tuple[int, bytes, int, int, list[tuple] | None]]) -> None:
        """What each leg's connection gave since the last tick, to its socket: the events of the
        edge's endpointer (while it listened), then the bytes (while it did not), then the end."""
        for leg_id, data, state, error, found in taken:
            transport = self._transports.get(leg_id)
            caller = transport.socket if transport is not None else None
            if transport is None or caller is None:
                continue
            try:
                if found is not None:
                    caller.edge_events(found)
                if data:
                    transport.listening = False  # bytes come only once the edge has stopped listening
                    caller.data_received(data)
                if state == _media.END_EOF:
                    caller.eof_received()
                elif state == _media.END_ERROR:
                    caller.connection_lost(OSError(error, os.strerror(error or errno.EPIPE)))
                elif not transport.listening and self.listening is not None:
                    self._listen(transport)
            except Exception:  # noqa: BLE001 - one broken leg must not stop the others
                log.exception("media delivery failed", extra={"leg_id": leg_id})

    def _top_up(self) -> None:
        """Queue the next frames of every Say playing, `lookahead_frames` ahead of the wire: the
        engine is asked how much each has queued, and given their new frames, in one call each."""
        players = self._players
        for player in [player for player in self._playing if not player.busy]:  # done since the last tick
            del self._playing[player]
            if self.listening is not None:
                self._listen(players[player])
        playing = [(player, players[player]) for player in self._playing]
        if not playing:
            return
        lookahead = self.lookahead_frames
        queued = self.engine.queued_many([transport.leg_id for _, transport in playing])
        underruns = 0
        for (player, _transport), frames in zip(playing, queued, strict=True):
            if player.paused:
                continue
            if not frames and player.audio_waiting():  # the edge ran dry mid-Say: it sent silence
                underruns += 1
            try:
                player.fill(lookahead, frames)
            except Exception as error:  # noqa: BLE001 - one broken leg must not stop the others
                log.exception("player failed")
                self.discard(player)
                player.sink.on_player_error(error)
        if underruns:
            metrics.PLAYBACK_UNDERRUNS.inc(underruns)
        written = [
            (transport.leg_id, bytes(transport.pending)) for _, transport in playing if transport.pending
        ]
        for _, transport in playing:
            transport.pending.clear()
        if written:
            self.engine.push_many(written)

    def _observe(self) -> None:
        """The engine's lateness and rebases into the metrics; once a second, its frame counts."""
        counts, total, rebases, skipped, _sent = self.engine.lateness()
        metrics.PLAYBACK_LATENESS.add_counts(counts, total)
        if rebases:
            self.resyncs += rebases
            self.skipped_frames += skipped
            metrics.PLAYBACK_RESYNCS.inc(rebases)
            metrics.SKIPPED_FRAMES.inc(skipped)
        self._ticks += 1
        if self._ticks % self._check_every == 0:
            for transport in list(self._transports.values()):
                self._check(transport)

    def _check(self, transport: EngineTransport) -> None:
        """Once a second: a peer that stopped reading ends its leg; the silence frames the engine
        sent on its own go to the leg's out counter."""
        caller = transport.socket
        if caller is None:
            return
        state = self.engine.leg_state(transport.leg_id)
        if state[2] > MAX_UNSENT_BYTES:  # bytes the peer has not taken
            caller.peer_stalled()
        self._sync_count(transport, state)

    def _sync_count(self, transport: EngineTransport, state: tuple[int, int, int, bool, int]) -> None:
        """The leg's counters from the engine's `leg_state`: the silence frames it sent on its own, the
        caller's frames it endpointed."""
        if transport.socket is None:
            return
        sent, queued_sent, _unsent, _closed, listened = state
        if listened > transport.frames_listened:
            transport.socket.count_received(listened - transport.frames_listened)
            transport.frames_listened = listened
        silence = sent - queued_sent
        if silence > transport.frames_counted:
            transport.socket.count_sent(silence - transport.frames_counted)
            transport.frames_counted = silence
