"""The player and the playback clock, stepped in virtual time (no real 20 ms sleeps)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from porteiro_common.audiosocket import encode_audio
from porteiro_gateway.playback import FRAME_SECONDS, PlaybackClock, PlaybackSink, Player, SayItem
from tests.gateway.harness import START, VirtualTime, audio_for_text, settle

FRAME = 320
SILENCE = encode_audio(bytes(FRAME))


@dataclass
class Recorder(PlaybackSink):
    """What a leg would hear from its player, with the virtual time of each call."""

    time: VirtualTime
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    calls: list[tuple[str, str, bool | None]] = field(default_factory=list)  # (callback, say_id, interrupted)

    def send(self, frame: bytes) -> None:
        self.frames.append((self.time.now(), frame))

    def on_say_started(self, item: SayItem) -> None:
        self.calls.append(("started", item.say_id, None))

    def on_say_finished(self, item: SayItem, interrupted: bool) -> None:
        self.calls.append(("finished", item.say_id, interrupted))

    def on_say_failed(self, item: SayItem) -> None:
        self.calls.append(("failed", item.say_id, None))

    def payloads(self) -> list[bytes]:
        return [frame[3:] for _, frame in self.frames]


class SteppedClock:
    """A PlaybackClock on virtual time, running as a task; `tick` moves one 20 ms period."""

    def __init__(self, phases: int = 1, resync_ms: int = 60) -> None:
        self.time = VirtualTime()
        self.lateness: list[float] = []
        self.clock = PlaybackClock(resync_ms, phases, self.time, self.lateness.append)
        self.ticks = 0

    def player(self, idle_silence: bool = True) -> tuple[Player, Recorder]:
        recorder = Recorder(self.time)
        player = Player(recorder.send, recorder, 8000, idle_silence, self.time.now)
        self.clock.add(player)
        return player, recorder

    async def __aenter__(self) -> SteppedClock:
        self._task = asyncio.create_task(self.clock.run())
        await settle()  # tick 0 at START
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def tick(self, periods: int = 1) -> None:
        for _ in range(periods):
            self.ticks += 1
            await self.time.advance_to(START + self.ticks * FRAME_SECONDS)


def say(say_id: str, audio: bytes = b"", done: bool = True, barge_in: bool = True) -> SayItem:
    return SayItem(say_id, barge_in, 8000, bytearray(audio), done)


async def test_one_frame_per_period_on_an_absolute_schedule_and_silence_when_idle():
    async with SteppedClock() as stepped:
        player, recorder = stepped.player()
        await stepped.tick(10)
    times = [at for at, _ in recorder.frames]
    assert times == pytest.approx([START + n * 0.02 for n in range(1, 11)], abs=1e-9)
    assert all(frame == SILENCE for _, frame in recorder.frames)
    assert stepped.lateness == [0.0] * 10 and stepped.clock.resyncs == 0


async def test_no_frames_when_idle_silence_is_off():
    async with SteppedClock() as stepped:
        player, recorder = stepped.player(idle_silence=False)
        await stepped.tick(5)
        assert recorder.frames == []
        player.enqueue(say("s", audio_for_text("x", 0.04)))
        await stepped.tick(5)
    assert len(recorder.frames) == 2


async def test_players_in_different_phases_tick_at_their_offset():
    async with SteppedClock(phases=10) as stepped:
        recorders = [stepped.player()[1] for _ in range(3)]
        await stepped.time.advance(0.1)
    for slot, recorder in enumerate(recorders):
        times = [at - START for at, _ in recorder.frames]
        # They joined after slot 0 of period 0 had ticked: slot 0 starts a period later.
        expected = [n * 0.02 + slot * 0.002 for n in range(6)][0 if slot else 1 :][:5]
        assert times == pytest.approx(expected, abs=1e-9)


async def test_a_say_is_played_bit_exact_padded_to_a_whole_frame_with_callbacks_in_order():
    audio = audio_for_text("olá", 0.05)  # 2.5 frames
    async with SteppedClock() as stepped:
        player, recorder = stepped.player()
        item = say("s1", audio)
        player.enqueue(item)
        assert player.busy
        await stepped.tick(5)
    payloads = recorder.payloads()
    assert b"".join(payloads[:3]) == audio + bytes(3 * FRAME - len(audio))
    assert payloads[3:] == [bytes(FRAME)] * 2
    assert recorder.calls == [("started", "s1", None), ("finished", "s1", False)]
    assert item.started_at == START + 0.02 and item.played_seconds == pytest.approx(0.06)
    assert not player.busy
    await asyncio.wait_for(player.wait_idle(), 0.1)


async def test_synthesis_behind_keeps_the_line_alive_with_silence_then_resumes():
    async with SteppedClock() as stepped:
        player, recorder = stepped.player()
        item = say("s1", done=False)
        player.enqueue(item)
        await stepped.tick(3)
        assert recorder.calls == [] and player.busy
        item.add_audio(b"\x01\x00" * 160)
        await stepped.tick(1)
        item.add_audio(b"\x02\x00" * 100)
        await stepped.tick(2)  # 100 samples are not a frame: silence until the synthesis is done
        item.finish_synthesis()
        await stepped.tick(2)
    payloads = recorder.payloads()
    assert payloads[:3] == [bytes(FRAME)] * 3
    assert payloads[3] == b"\x01\x00" * 160
    assert payloads[4:6] == [bytes(FRAME)] * 2
    assert payloads[6] == b"\x02\x00" * 100 + bytes(120)
    assert recorder.calls == [("started", "s1", None), ("finished", "s1", False)]


async def test_stop_interrupts_the_current_say_and_drops_the_queue_at_the_next_tick():
    async with SteppedClock() as stepped:
        player, recorder = stepped.player()
        first, second = say("s1", audio_for_text("a", 1.0)), say("s2", audio_for_text("b", 1.0))
        player.enqueue(first)
        player.enqueue(second)
        await stepped.tick(5)
        stopped = player.stop()
        await stepped.tick(3)
    assert stopped == [first, second]
    assert recorder.calls == [("started", "s1", None), ("finished", "s1", True), ("finished", "s2", True)]
    assert first.played_seconds == pytest.approx(0.1) and second.started_at is None
    assert recorder.payloads()[5:] == [bytes(FRAME)] * 3, "silence from the tick after stop()"
    assert not player.busy


async def test_a_failed_synthesis_is_reported_and_the_next_say_plays():
    async with SteppedClock() as stepped:
        player, recorder = stepped.player()
        broken = say("bad", done=False)
        player.enqueue(broken)
        player.enqueue(say("good", audio_for_text("c", 0.02)))
        broken.finish_synthesis(RuntimeError("speech down"))
        await stepped.tick(2)
    assert recorder.calls == [("failed", "bad", None), ("started", "good", None), ("finished", "good", False)]


async def test_lateness_is_measured_against_each_frames_slot():
    async with SteppedClock() as stepped:
        player, recorder = stepped.player()
        await stepped.tick(1)
        stepped.time.stall(0.024)  # the loop was busy: the next slot (+20 ms) is served 4 ms late
        await stepped.time.advance(0)
        await stepped.time.advance_to(START + 0.06)  # the following slot is on time again
    assert stepped.lateness == pytest.approx([0.0, 0.004, 0.0], abs=1e-9)
    assert stepped.clock.resyncs == 0
    assert [at - START for at, _ in recorder.frames] == pytest.approx([0.02, 0.044, 0.06], abs=1e-9)


async def test_after_a_stall_longer_than_resync_the_schedule_is_rebased_without_a_burst():
    async with SteppedClock(resync_ms=60) as stepped:
        player, recorder = stepped.player()
        await stepped.tick(1)  # frame at +20 ms
        stepped.time.stall(0.1)  # stalled until +120 ms: the +40 ms slot is 80 ms late
        await stepped.time.advance(0)
        await stepped.time.advance(0.1)
    times = [round((at - START) * 1000, 3) for at, _ in recorder.frames]
    # One frame at the stall's end, then every 20 ms from there: no catch-up burst of 4 frames.
    assert times == [20.0, 120.0, 140.0, 160.0, 180.0, 200.0, 220.0]
    assert stepped.clock.resyncs == 1
    # The +40, +60, +80 and +100 ms slots were jumped over: 4 frames never sent, each counted
    # in the lateness figures as 80 ms late (the stall), then the frame at +120 ms is on time
    # against the rebased schedule.
    assert stepped.clock.skipped_frames == 4
    assert stepped.lateness[1:6] == pytest.approx([0.08] * 4 + [0.0], abs=1e-9)
    assert stepped.lateness[6:] == pytest.approx([0.0] * 5, abs=1e-9)


async def test_a_stall_shorter_than_resync_is_caught_up_on_the_original_schedule():
    async with SteppedClock(resync_ms=60) as stepped:
        player, recorder = stepped.player()
        await stepped.tick(1)
        stepped.time.stall(0.05)  # +70 ms: the +40 and +60 slots are late, not rebased
        await stepped.time.advance(0)
        await stepped.time.advance_to(START + 0.1)
    times = [round((at - START) * 1000, 3) for at, _ in recorder.frames]
    assert times == [20.0, 70.0, 70.0, 80.0, 100.0]
    assert stepped.clock.resyncs == 0
    assert stepped.lateness[1:3] == pytest.approx([0.03, 0.01], abs=1e-9)


async def test_a_player_that_raises_is_dropped_and_its_leg_told():
    errors: list[Exception] = []

    class Broken(Recorder):
        def on_player_error(self, error: Exception) -> None:
            errors.append(error)

    async with SteppedClock() as stepped:
        healthy, healthy_frames = stepped.player()
        sink = Broken(stepped.time)

        def explode(frame: bytes) -> None:
            raise OSError("socket gone")

        stepped.clock.add(Player(explode, sink, 8000, True, stepped.time.now))
        await stepped.tick(3)
    assert len(errors) == 1 and isinstance(errors[0], OSError)
    assert len(healthy_frames.frames) == 3, "the other players kept their schedule"


# ---- Player.fill: frames queued ahead for the native media edge (media_engine.py) ---------------


def filling_player() -> tuple[Player, Recorder]:
    recorder = Recorder(VirtualTime())
    return Player(recorder.send, recorder, 8000, True, recorder.time.now), recorder


def test_fill_queues_up_to_the_lookahead_and_never_silence():
    player, recorder = filling_player()
    player.enqueue(say("a", bytes(range(256)) * 10))  # 2560 bytes: 8 frames
    player.fill(lookahead=5, queued=0)
    assert len(recorder.frames) == 5
    player.fill(lookahead=5, queued=3)  # the edge sent 2 of them
    assert len(recorder.frames) == 7
    assert b"".join(recorder.payloads()) == (bytes(range(256)) * 10)[: 7 * FRAME]
    player.fill(lookahead=5, queued=4)
    assert len(recorder.frames) == 8 and SILENCE not in [frame for _, frame in recorder.frames]


def test_fill_ends_a_say_only_once_its_last_frame_is_on_the_wire():
    player, recorder = filling_player()
    player.enqueue(say("a", bytes(2 * FRAME)))
    player.fill(lookahead=5, queued=0)
    player.fill(lookahead=5, queued=2)  # both frames still queued at the edge
    assert recorder.calls == [("started", "a", None)] and player.busy
    player.fill(lookahead=5, queued=0)  # sent
    assert recorder.calls[-1] == ("finished", "a", False) and not player.busy
    assert len(recorder.frames) == 2  # and no silence after it: the edge sends that


def test_fill_stops_where_synthesis_is_and_while_paused():
    player, recorder = filling_player()
    item = say("a", bytes(FRAME + 100), done=False)
    player.enqueue(item)
    player.fill(lookahead=5, queued=0)
    assert len(recorder.frames) == 1  # the rest is not a whole frame yet: nothing, not silence
    player.pause()
    item.add_audio(bytes(3 * FRAME))
    player.fill(lookahead=5, queued=0)
    assert len(recorder.frames) == 1
    player.resume()
    player.fill(lookahead=5, queued=0)
    assert len(recorder.frames) == 4


def test_stopping_takes_back_the_frames_queued_ahead_from_what_was_played():
    player, recorder = filling_player()
    item = say("a", bytes(10 * FRAME))
    player.enqueue(item)
    player.fill(lookahead=5, queued=0)
    player.drop_queued = lambda: 3  # the edge sent 2 of the 5 and drops the rest
    player.stop()
    assert item.played_bytes == 2 * FRAME
    assert recorder.calls[-1] == ("finished", "a", True)


def test_audio_waiting_is_a_begun_say_with_a_whole_frame_not_sent():
    player, _recorder = filling_player()
    item = say("a", bytes(3 * FRAME), done=False)
    player.enqueue(item)
    assert not player.audio_waiting()  # not begun: nothing the edge could have been late with
    player.fill(lookahead=1, queued=0)
    assert player.audio_waiting()  # begun, two frames ready
    player.fill(lookahead=3, queued=1)
    assert not player.audio_waiting()  # all of it queued; synthesis is what is behind
