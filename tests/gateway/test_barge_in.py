"""Interruptions that are sure (issue 16, item 2): a real Leg in process and in virtual time.

Over an interruptible Say, the caller's onset pauses it; a noise burst resumes it where it
paused, speech stops it for good. Utterances that give the concierge nothing are reported
as UtteranceDropped, with whether they had stopped playback.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from porteiro.concierge.v1 import concierge_pb2
from porteiro_gateway import metrics
from tests.gateway.harness import LegHarness, audio_frames, rpc_error, say, uuid_frame
from tests.gateway.support import silence, spoken

RATE = 8000
QUESTION = "Qual o motivo da visita?"
QUESTION_SECONDS = 3.0


def noise_burst(seconds: float) -> bytes:
    """A horn: a 420 Hz tone rich in harmonics, with some noise, at half of full scale."""
    t = np.arange(int(RATE * seconds)) / RATE
    tone = sum(np.sin(2 * np.pi * 420 * k * t) / k for k in range(1, 8))
    hiss = np.random.default_rng(1).standard_normal(t.size)
    samples = tone / np.max(np.abs(tone)) * 0.5 + 0.05 * hiss
    return (samples * 32767).clip(-32768, 32767).astype("<i2").tobytes()


def pauses(result: str) -> float:
    return metrics.BARGE_IN_PAUSES.labels(result)._value.get()


async def asked(h: LegHarness) -> bytes:
    """The leg connects and the question plays for 600 ms (past the 300 ms echo guard)."""
    question = h.speech.audio(QUESTION) * 3  # 3 s
    h.speech.texts[QUESTION] = question
    h.receive(uuid_frame())
    h.act(say("q", QUESTION))
    await h.step(30)
    return question


async def play(h: LegHarness, pcm: bytes, per_read: int = 1) -> float:
    """The caller's audio, one frame per tick, `per_read` frames in each read (the native media edge
    hands a leg 40 ms at once); returns when its first frame arrived."""
    started = h.time.now()
    frames = audio_frames(pcm)
    for start in range(0, len(frames), per_read):
        h.receive(b"".join(frames[start : start + per_read]))
        await h.step(per_read)
    return started


def sound_after(h: LegHarness, since: float) -> list[tuple[float, bool]]:
    """(time, carries sound) of each frame the leg sent from `since` on."""
    return [(at, any(data[3:])) for at, data in h.transport.writes if at >= since]


def heard(h: LegHarness) -> bytes:
    """The non-silent audio the caller got, in order."""
    return b"".join(data[3:] for _, data in h.transport.writes if any(data[3:]))


@pytest.mark.parametrize("per_read", [1, 2])
async def test_a_noise_burst_pauses_the_question_which_resumes_where_it_paused_within_1_s(per_read):
    resumed_before = pauses("resumed")
    async with LegHarness() as h:
        h.speech.transcript = ""  # what a recogniser makes of a horn
        question = await asked(h)
        burst_at = await play(h, noise_burst(0.15) + silence(1.5), per_read)
        await h.until(lambda: bool(h.events_of("playback_finished")), seconds=10)

        frames = sound_after(h, burst_at)
        paused_at = next(at for at, sound in frames if not sound)
        resumed_at = next(at for at, sound in frames if sound and at > paused_at)
        assert paused_at - burst_at <= 0.1, "the onset pauses the Say at once"
        assert resumed_at - burst_at <= 1.0, f"resumed {resumed_at - burst_at:.2f} s after the burst"
        assert heard(h) == question, "the whole question, from where it paused: no frame lost or repeated"
        assert not h.events_of("barge_in")
        (finished,) = h.events_of("playback_finished")
        assert not finished.interrupted and finished.played_seconds == pytest.approx(QUESTION_SECONDS)
        (dropped,) = h.events_of("utterance_dropped")
        assert dropped.reason == concierge_pb2.DROP_REASON_EMPTY_TRANSCRIPT and not dropped.interrupted
    assert pauses("resumed") == resumed_before + 1


async def test_a_burst_too_short_to_recognise_is_reported_dropped_and_the_question_goes_on():
    async with LegHarness() as h:
        question = await asked(h)
        await play(h, noise_burst(0.1) + silence(1.0))
        await h.until(lambda: bool(h.events_of("playback_finished")), seconds=10)

        (dropped,) = h.events_of("utterance_dropped")
        assert dropped.reason == concierge_pb2.DROP_REASON_TOO_SHORT and not dropped.interrupted
        assert 0.1 <= dropped.duration_seconds < 0.25
        assert not h.events_of("utterance") and not h.events_of("barge_in")
        assert heard(h) == question
        assert not h.events_of("playback_finished")[0].interrupted


@pytest.mark.parametrize("per_read", [1, 2])
async def test_speech_over_the_question_stops_it_within_300_ms_for_good(per_read):
    confirmed_before = pauses("confirmed")
    async with LegHarness() as h:
        question = await asked(h)
        h.act(say("next", "depois"))  # queued behind the question: dropped with it
        spoke_at = await play(h, spoken("não, espera, eu vim fazer uma entrega") + silence(1.5), per_read)
        await h.until(lambda: bool(h.events_of("utterance")), seconds=10)
        await h.step(100)  # 2 s more: nothing of the question comes back

        frames = sound_after(h, spoke_at)
        silent_at = next(at for at, sound in frames if not sound)
        assert silent_at - spoke_at <= 0.3
        assert not any(sound for at, sound in frames if at > silent_at), "stopped, never resumed"
        (barge,) = h.events_of("barge_in")
        assert barge.say_id == "q" and barge.played_seconds == pytest.approx(0.62, abs=0.061)
        assert [(f.say_id, f.interrupted) for f in h.events_of("playback_finished")] == [
            ("q", True),
            ("next", True),
        ]
        assert heard(h) == question[: len(heard(h))], "what was heard is the question's beginning"
        kinds = [event.WhichOneof("event") for event in h.concierge.events]
        assert kinds.index("barge_in") < kinds.index("utterance")
        assert not h.events_of("utterance_dropped")
    assert pauses("confirmed") == confirmed_before + 1


async def test_speech_that_gives_nothing_after_stopping_the_question_is_reported_interrupted():
    async with LegHarness() as h:
        h.speech.transcript = ""
        await asked(h)
        await play(h, spoken("não, espera, eu vim fazer uma entrega") + silence(1.5))
        await h.until(lambda: bool(h.events_of("utterance_dropped")), seconds=10)

        (dropped,) = h.events_of("utterance_dropped")
        assert dropped.reason == concierge_pb2.DROP_REASON_EMPTY_TRANSCRIPT and dropped.interrupted
        assert dropped.duration_seconds > 1.0
        assert h.events_of("barge_in") and h.events_of("playback_finished")[0].interrupted


async def test_an_utterance_speech_refuses_is_reported_rejected_and_the_question_resumes():
    async with LegHarness() as h:
        h.speech.recognition_error = rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "audio too long")
        question = await asked(h)
        await play(h, noise_burst(0.15) + silence(1.5))
        await h.until(lambda: bool(h.events_of("playback_finished")), seconds=10)

        (dropped,) = h.events_of("utterance_dropped")
        assert dropped.reason == concierge_pb2.DROP_REASON_REJECTED and not dropped.interrupted
        assert heard(h) == question and not h.ended, "no fallback: a refusal is not a failure"


async def test_a_short_word_is_confirmed_by_its_transcript_after_the_say_resumed():
    """With a confirmation longer than the word, the Say resumes; the transcript then stops it."""
    async with LegHarness(settings={"barge_in_confirm_ms": 2000}) as h:
        h.speech.transcript = "sim"
        await asked(h)
        word_at = await play(h, spoken("sim") + silence(1.5))
        await h.step(25)

        frames = sound_after(h, word_at)
        paused_at = next(at for at, sound in frames if not sound)
        resumed_at = next(at for at, sound in frames if sound and at > paused_at)
        stopped_at = next(at for at, sound in frames if not sound and at > resumed_at)
        assert not any(sound for at, sound in frames if at > stopped_at), "stopped for good"
        assert resumed_at - paused_at >= 0.4, "resumed after BARGE_IN_RESUME_MS without loud audio"
        kinds = [event.WhichOneof("event") for event in h.concierge.events]
        assert kinds.index("barge_in") < kinds.index("utterance")
        assert h.events_of("playback_finished")[0].interrupted
        assert h.events_of("utterance")[0].text == "sim"


async def test_a_pause_lasts_at_most_barge_in_max_pause_ms():
    """Loud frames too sparse to confirm, too close together to let it resume: the cap resumes it."""
    async with LegHarness(settings={"barge_in_max_pause_ms": 600}) as h:
        h.speech.transcript = ""
        await asked(h)
        tick = noise_burst(0.02)
        onset = noise_burst(0.08)
        sparse = (tick + silence(0.3)) * 5  # 20 ms of horn every 320 ms: quiet never reaches 400 ms
        burst_at = await play(h, onset + sparse)

        frames = sound_after(h, burst_at)
        paused_at = next(at for at, sound in frames if not sound)
        resumed_at = next(at for at, sound in frames if sound and at > paused_at)
        assert resumed_at - paused_at == pytest.approx(0.6, abs=0.041)
        assert not h.events_of("barge_in")


async def test_a_say_that_does_not_allow_barge_in_never_pauses():
    async with LegHarness() as h:
        final = h.speech.texts[QUESTION] = h.speech.audio(QUESTION) * 3
        h.receive(uuid_frame())
        h.act(say("final", QUESTION, allow_barge_in=False))
        await h.step(30)
        burst_at = await play(h, noise_burst(0.15) + silence(0.3))
        assert all(sound for at, sound in sound_after(h, burst_at)), "no silent frame: no pause"
        assert heard(h) == final[: len(heard(h))]
        assert not h.events_of("barge_in")
