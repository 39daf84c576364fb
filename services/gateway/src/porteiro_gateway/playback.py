"""Real-time playback: one 20 ms frame per tick on an absolute monotonic schedule.

Asterisk does not pace what it receives, so the gateway must: tick n happens
at start + n x 20 ms (never "sleep 20 ms after each write", which drifts), and
every leg's player sends exactly one frame per tick. One process-wide
`PlaybackClock` drives all players, so 300 legs cost one timer wake-up per
20 ms, not 300. If the event loop stalls for longer than `resync_ms`, the
schedule is rebased rather than catching up in a burst. When nothing plays,
silence frames keep the line alive (Asterisk hangs up after 2 s without traffic).

Both read the time through a `TimeSource` (time.monotonic and asyncio.sleep in
production), so tests step them in virtual time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from porteiro_common.audiosocket import encode_audio, frame_bytes
from porteiro_gateway import metrics
from porteiro_gateway.time_source import MONOTONIC, TimeSource

log = logging.getLogger(__name__)

FRAME_MS = 20
FRAME_SECONDS = FRAME_MS / 1000


@dataclass(eq=False)
class SayItem:
    """A sentence to play; its audio is filled in by synthesis while it plays."""

    say_id: str
    allow_barge_in: bool
    sample_rate: int = 8000
    buffer: bytearray = field(default_factory=bytearray)
    synthesis_done: bool = False
    error: BaseException | None = None
    played_bytes: int = 0
    started_at: float | None = None
    queued_at: float = field(default_factory=time.monotonic)
    first_audio_at: float | None = None  # when synthesis gave its first audio (turn latency parts)
    is_fallback: bool = False

    @property
    def played_seconds(self) -> float:
        return self.played_bytes / (2 * self.sample_rate)

    def add_audio(self, pcm: bytes) -> None:
        self.buffer += pcm

    def finish_synthesis(self, error: BaseException | None = None) -> None:
        self.synthesis_done = True
        self.error = error


def _nothing(player: Player) -> None:
    pass


class PlaybackSink:
    """What the player reports to (the leg)."""

    def on_say_started(self, item: SayItem) -> None: ...

    def on_say_finished(self, item: SayItem, interrupted: bool) -> None: ...

    def on_say_failed(self, item: SayItem) -> None: ...

    def on_player_error(self, error: Exception) -> None: ...


class Player:
    """One leg's playback: the Say queue, one frame per tick of the clock, silence when idle."""

    def __init__(
        self,
        send: Callable[[bytes], None],
        sink: PlaybackSink,
        sample_rate: int = 8000,
        idle_silence: bool = True,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._now = now
        self.sink = sink
        self._sink = sink
        self.sample_rate = sample_rate
        self.idle_silence = idle_silence
        self._frame_bytes = frame_bytes(sample_rate, FRAME_MS)
        self._silence = encode_audio(bytes(self._frame_bytes), sample_rate)
        self._header = self._silence[:3]  # kind + length of every frame this player sends
        self._queue: deque[SayItem] = deque()
        self.current: SayItem | None = None
        # The current Say holds its position and silence is sent (a barge-in not confirmed yet).
        self.paused = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.frames_sent = 0
        # Frames sent but not on the wire yet, dropped when the Say stops: the native media edge
        # queues a few ahead (media_engine.py); the event loop's clock sends each on its tick.
        self.drop_queued: Callable[[], int] = lambda: 0
        # Told when a Say is queued (the native edge tops up only the players that play something).
        self.on_enqueue: Callable[[Player], None] = _nothing

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self._queue)

    def says(self) -> list[SayItem]:
        """The Say playing, then those queued."""
        return [item for item in (self.current, *self._queue) if item is not None]

    def enqueue(self, item: SayItem) -> None:
        self._queue.append(item)
        self._idle.clear()
        self.on_enqueue(self)

    def audio_waiting(self) -> bool:
        """The Say playing has begun and has a whole frame of audio not sent yet."""
        item = self.current
        return item is not None and item.started_at is not None and len(item.buffer) >= self._frame_bytes

    def pause(self) -> None:
        """Hold the current Say where it is: silence goes out until `resume` (or `stop`)."""
        if self.current is not None:
            self.paused = True

    def resume(self) -> None:
        """Go on with the paused Say from where it paused."""
        self.paused = False

    def stop(self) -> list[SayItem]:
        """Stop what plays and drop the queue; each dropped Say is reported interrupted."""
        dropped = self.drop_queued() * self._frame_bytes
        if self.current is not None and dropped:  # they were counted played when sent ahead
            self.current.played_bytes = max(0, self.current.played_bytes - dropped)
        stopped = self.says()
        self.current = None
        self.paused = False
        self._queue.clear()
        self._idle.set()
        for item in stopped:
            self._sink.on_say_finished(item, True)
        return stopped

    async def wait_idle(self) -> None:
        await self._idle.wait()

    def tick(self) -> None:
        """Send this tick's frame: audio of the current Say, or silence."""
        if self.current is None and not self._queue:  # idle, most ticks: silence, nothing to decide
            if self.idle_silence:
                self._send(self._silence)
                self.frames_sent += 1
            return
        if self.paused:  # the Say keeps its position; the line keeps its audio
            if self.idle_silence:
                self._send(self._silence)
                self.frames_sent += 1
            return
        frame = self._next_frame(behind=self._silence, idle=self._silence if self.idle_silence else None)
        if frame is not None:
            self._send(frame)
            self.frames_sent += 1

    def fill(self, lookahead: int, queued: int) -> None:
        """Keep `lookahead` frames of the Says queued ahead of the wire, `queued` being there now
        (the native media edge sends one per tick, and silence when none is queued): none while
        paused, none past what synthesis has given yet. A Say is over once its last frame is on
        the wire (nothing queued), as with `tick`: a caller who hangs up at its end heard it all."""
        while not self.paused and (self.current is not None or self._queue) and queued < lookahead:
            frame = self._next_frame(behind=None, idle=None, on_wire=queued == 0)
            if frame is None:
                return
            self._send(frame)
            self.frames_sent += 1
            queued += 1

    def _next_frame(self, behind: bytes | None, idle: bytes | None, on_wire: bool = True) -> bytes | None:
        """The next frame of the Says queued; `behind` when synthesis is behind, `idle` once the
        last Say is over. A Say whose audio is all sent ends only `on_wire` (None until then)."""
        while True:
            item = self.current
            if item is None:
                if not self._queue:
                    self._idle.set()
                    return idle
                item = self.current = self._queue.popleft()
            if item.error is not None:
                self.current = None
                self._sink.on_say_failed(item)
                continue
            chunk = self._take(item)
            if chunk is not None:
                return chunk
            if not item.synthesis_done:
                return behind  # synthesis is behind
            if not on_wire:
                return None
            self.current = None
            self._sink.on_say_finished(item, False)

    def _take(self, item: SayItem) -> bytes | None:
        size = self._frame_bytes
        buffer = item.buffer
        if len(buffer) < size and not (item.synthesis_done and buffer):
            return None
        if len(buffer) < size:  # the last piece of a Say: pad it to a whole frame
            buffer += bytes(size - len(buffer))
        frame = self._header + buffer[:size]
        del buffer[:size]  # bytearray deletes from the front in O(1) (it moves its start)
        if item.started_at is None:
            item.started_at = self._now()
            self._sink.on_say_started(item)
        item.played_bytes += size
        return frame


class PlaybackClock:
    """Drives every player: one frame per player per 20 ms, on an absolute schedule.

    The 20 ms period is split into `phases` slots (2 ms each by default);
    each player lives in one slot (the least busy when it joins) and ticks at
    start + n x 20 ms + slot x 2 ms. Spreading the legs keeps the last player
    of a tick from waiting on hundreds of others' socket writes.
    """

    def __init__(
        self,
        resync_ms: int = 60,
        phases: int = 10,
        time_source: TimeSource = MONOTONIC,
        observe_lateness: Callable[[float], None] | None = None,
    ) -> None:
        self.time_source = time_source  # the legs read the time here too
        if observe_lateness is None:  # production: the loop-only histogram, fed a whole slot at once
            self._observe_slot: Callable[[float, list[float]], None] = metrics.PLAYBACK_LATENESS.observe_since
            self._observe_skipped: Callable[[float, int], None] = metrics.PLAYBACK_LATENESS.observe_many
        else:  # tests: one call per frame, sent or skipped
            observe = observe_lateness

            def observe_slot(deadline: float, sent_at: list[float]) -> None:
                for at in sent_at:
                    observe(max(0.0, at - deadline))

            def observe_skipped(value: float, count: int) -> None:
                for _ in range(count):
                    observe(value)

            self._observe_slot, self._observe_skipped = observe_slot, observe_skipped
        self.resyncs = 0  # schedule rebases (also counted in Prometheus)
        self.skipped_frames = 0  # frames never sent because of rebases, all players (also in Prometheus)
        self._resync = resync_ms / 1000
        self._phase_seconds = FRAME_SECONDS / phases
        self._slots: list[dict[Player, None]] = [{} for _ in range(phases)]  # insertion-ordered sets
        self._slot_of: dict[Player, int] = {}

    def add(self, player: Player, transport: object = None) -> None:
        """Tick `player` from now on (`transport`: for the native media edge's clock, not this one)."""
        if player in self._slot_of:
            return
        slot = min(range(len(self._slots)), key=lambda index: len(self._slots[index]))
        self._slots[slot][player] = None
        self._slot_of[player] = slot

    def discard(self, player: Player) -> None:
        slot = self._slot_of.pop(player, None)
        if slot is not None:
            self._slots[slot].pop(player, None)

    async def run(self) -> None:
        now, sleep = self.time_source.now, self.time_source.sleep
        observe_slot = self._observe_slot
        start = now()
        step = 0
        phases = len(self._slots)
        while True:
            deadline = start + step * self._phase_seconds
            delay = deadline - now()
            if delay > 0:
                await sleep(delay)
            lateness = now() - deadline
            if lateness > self._resync:
                self._rebase(lateness)
                start += lateness
                deadline += lateness
            slot = self._slots[step % phases]
            if slot:
                # The lateness histogram gets the whole slot in one call (off the per-frame path).
                observe_slot(deadline, self._tick_slot(slot, now))
            step += 1

    def _tick_slot(self, slot: dict[Player, None], now: Callable[[], float]) -> list[float]:
        """One pass over the slot's players: a frame each; the time after each frame.

        (A method of its own so that no local of the endless loop above keeps the last player,
        and through it a finished leg, alive.)"""
        sent_at: list[float] = []
        stamp = sent_at.append
        for player in list(slot):
            try:
                player.tick()
            except Exception as error:  # noqa: BLE001 - one broken leg must not stop the others
                log.exception("player failed")
                self.discard(player)
                player.sink.on_player_error(error)
            stamp(now())
        return sent_at

    def _rebase(self, lateness: float) -> None:
        """The loop stalled for `lateness`: the schedule moves on by as much, and the frames of the
        slots jumped over are never sent. They count as frames `lateness` late (every player
        loses about lateness / 20 ms frames), so stalls show in the lateness figures, not only as
        a rebase count."""
        metrics.PLAYBACK_RESYNCS.inc()
        self.resyncs += 1
        skipped = max(1, round(lateness / FRAME_SECONDS)) * len(self._slot_of)
        if skipped:
            self.skipped_frames += skipped
            metrics.SKIPPED_FRAMES.inc(skipped)
            self._observe_skipped(lateness, skipped)
