"""The endpointer: VAD onset, pre-roll and end of speech on real speech at any frame size."""

from __future__ import annotations

import random
import socket

import pytest

from porteiro.concierge.v1 import concierge_pb2
from porteiro_gateway.edge_endpointer import EdgeEndpointer, available
from porteiro_gateway.endpointing import (
    Endpointer,
    EndpointingConfig,
    SpeechAudio,
    SpeechDropped,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
)
from porteiro_gateway.media_engine import MediaEngine
from tests.gateway.endpointer_model import EndpointerModel
from tests.gateway.support import silence, spoken


@pytest.fixture(
    params=[
        "loop",
        pytest.param(
            "edge", marks=pytest.mark.skipif(not available(), reason="the native edge is not built")
        ),
    ]
)
def make_endpointer(request):
    """The loop's endpointer (endpointing.Endpointer), or the native edge's (edge_endpointer.py) on a
    leg of a real engine whose thread is not started (its feed is the one the loop calls)."""
    if request.param == "loop":
        yield Endpointer
        return
    media = MediaEngine()
    pairs = []

    def edge_endpointer(rate, config):
        gateway, asterisk = socket.socketpair()
        pairs.append((gateway, asterisk))
        leg = media.engine.add(gateway.fileno(), b"\x10\x01\x40" + bytes(320), True)
        return EdgeEndpointer(media.engine, leg, rate, config, gather_ms=1000, max_frame_bytes=8192)

    yield edge_endpointer
    for gateway, asterisk in pairs:
        asterisk.close()
        gateway.detach()  # the engine closes the descriptor it was given


@pytest.mark.parametrize("chunk_bytes", [320, 480, 100, 1000])
def test_endpointer_rechunks_any_frame_size_and_keeps_pre_roll(chunk_bytes, make_endpointer):
    config = EndpointingConfig(end_silence_ms=500, pre_roll_ms=300)
    speech = spoken("bom dia, eu vim fazer uma entrega")
    audio = silence(1.0) + speech + silence(1.0)
    endpointer = make_endpointer(8000, config)
    events = []
    for offset in range(0, len(audio), chunk_bytes):
        events += [
            e
            for e in endpointer.feed(audio[offset : offset + chunk_bytes])
            if not hasattr(e, "audio") or isinstance(e, SpeechStarted)
        ]
    started = [e for e in events if isinstance(e, SpeechStarted)]
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(started) == 1 and len(ended) == 1
    # pre-roll (300 ms) + the 60 ms onset
    assert len(started[0].audio) >= (300 + 60) * 16
    assert ended[0].silence_ms == 500


def test_endpointer_at_16k_with_30ms_frames(make_endpointer):
    speech = spoken("sim, pode subir", rate=16000)
    endpointer = make_endpointer(16000, EndpointingConfig(frame_ms=30, end_silence_ms=600))
    events = endpointer.feed(silence(0.5, 16000) + speech + silence(1.0, 16000))
    assert any(isinstance(e, SpeechStarted) for e in events)
    assert any(isinstance(e, SpeechEnded) for e in events)


def coalesced(events: list) -> list:
    """Events with consecutive SpeechAudio merged (a run of frames reports its audio at once)."""
    merged: list = []
    for event in events:
        if isinstance(event, SpeechAudio) and merged and isinstance(merged[-1], SpeechAudio):
            merged[-1] = SpeechAudio(merged[-1].audio + event.audio)
        else:
            merged.append(event)
    return merged


def a_conversation() -> bytes:
    """Two utterances, the first with a pause inside it, and a cough too short to count."""
    return (
        silence(0.7)
        + spoken("eu vim entregar uma encomenda")
        + silence(0.45)
        + spoken("para o apartamento cento e dois")
        + silence(1.2)
        + spoken("sim")[:1600]
        + silence(1.0)
        + spoken("pode subir")
        + silence(1.0)
    )


CONFIGS = {
    "pauses, floor": EndpointingConfig(
        end_silence_ms=600, pause_ms=240, pause_floor_rms=300, max_utterance_ms=3000
    ),
    "pauses, no floor": EndpointingConfig(end_silence_ms=500, pause_ms=200, max_utterance_ms=3000),
    "no pauses, 30 ms": EndpointingConfig(frame_ms=30, end_silence_ms=600, max_utterance_ms=3000),
    "10 ms, short onset": EndpointingConfig(frame_ms=10, onset_ms=30, pause_ms=150, pause_floor_rms=300),
}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", CONFIGS)
def test_runs_of_frames_give_the_events_of_the_frame_by_frame_model(name, seed, make_endpointer):
    """The native edge hands a leg 40 ms or more at once: the events (and whether voice was heard
    in each read) must be those of the model fed one VAD frame at a time."""
    config = CONFIGS[name]
    audio = a_conversation()
    model, endpointer = EndpointerModel(8000, config), make_endpointer(8000, config)
    rng, expected, got, offset = random.Random(seed), [], [], 0
    while offset < len(audio):
        size = rng.choice([320, 640, 960, 3200, rng.randint(1, 2000)])
        piece = audio[offset : offset + size]
        frames_before = len(model.heard_frames)
        expected += model.feed(piece)
        got += endpointer.feed(piece)
        if len(model.heard_frames) > frames_before:
            assert endpointer.heard == any(model.heard_frames[frames_before:])
        offset += size
    kinds = [type(e) for e in expected]
    assert kinds.count(SpeechStarted) >= 3 and SpeechEnded in kinds and SpeechDropped in kinds
    if config.pause_ms:
        assert SpeechPaused in kinds and SpeechResumed in kinds
    assert coalesced(got) == coalesced(expected)
    assert_each_utterance_is_a_stretch_of(audio, expected)


def assert_each_utterance_is_a_stretch_of(audio: bytes, events: list) -> None:
    """An utterance's audio (pre-roll, onset, then every SpeechAudio) is one unbroken stretch of the
    input, as long as its SpeechEnded says."""
    stretch = b""
    for event in events:
        if isinstance(event, SpeechStarted):
            stretch = event.audio
        elif isinstance(event, SpeechAudio):
            stretch += event.audio
        elif isinstance(event, SpeechEnded | SpeechDropped):
            assert audio.find(stretch) > 0
            if isinstance(event, SpeechEnded):
                assert len(stretch) == event.utterance_ms * 16
    assert stretch


def test_the_pre_roll_is_the_audio_right_before_the_onset(make_endpointer):
    config = EndpointingConfig(pre_roll_ms=300, onset_ms=60)
    audio = silence(1.0) + spoken("bom dia") + silence(1.0)
    endpointer = make_endpointer(8000, config)
    events = endpointer.feed(audio)
    started = next(e for e in events if isinstance(e, SpeechStarted))
    following = b"".join(e.audio for e in events if isinstance(e, SpeechAudio))
    # pre-roll + onset + the rest of the utterance: one stretch of the input, ending at the end of speech
    whole = started.audio + following
    assert len(started.audio) == (300 + 60 + 20) * 16
    assert audio.find(whole) > 0 and audio.find(whole) % 320 == 0


def test_the_expected_answer_sets_the_end_silence_from_the_next_onset(make_endpointer):
    config = EndpointingConfig(end_silence_ms=600, yes_no_silence_ms=300, digits_silence_ms=900)
    endpointer = make_endpointer(8000, config)
    endpointer.expect(concierge_pb2.EXPECTED_ANSWER_YES_NO)
    events = endpointer.feed(silence(0.5) + spoken("sim") + silence(0.1))
    assert any(isinstance(e, SpeechStarted) for e in events) and endpointer.end_silence_ms == 300
    endpointer.expect(concierge_pb2.EXPECTED_ANSWER_DIGITS)  # the utterance in progress keeps its silence
    ended = [e for e in endpointer.feed(silence(1.0)) if isinstance(e, SpeechEnded)]
    assert [e.silence_ms for e in ended] == [300] and endpointer.end_silence_ms == 300
    events = endpointer.feed(spoken("cento e dois") + silence(1.2))
    assert endpointer.end_silence_ms == 900
    assert [e.silence_ms for e in events if isinstance(e, SpeechEnded)] == [900]
