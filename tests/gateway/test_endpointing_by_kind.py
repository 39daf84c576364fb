"""End of speech by question (issue 17): the silence that ends an utterance follows the kind of
answer the concierge expects (RecognitionContext.expected_answer), on real speech.

The endpointer alone, then a real Leg in process and in virtual time (tests/gateway/harness.py)
with the concierge's RecognitionContext: the utterance reaches the concierge that much silence
after the caller's last voiced frame.
"""

from __future__ import annotations

import pytest

from porteiro.concierge.v1 import concierge_pb2
from porteiro_gateway.caller_audio import endpointing_config
from porteiro_gateway.endpointing import (
    Endpointer,
    EndpointingConfig,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    rms,
)
from porteiro_gateway.settings import GatewaySettings
from tests.gateway.harness import FRAME_BYTES, LegHarness, audio_frames, uuid_frame
from tests.gateway.support import silence, spoken, voiced_frames

SESSION = "0d4c3b1e-6a53-4f7e-9a55-2c1f0b9e7d21"
ANSWER = "Sim, pode subir"
WORD = "Entrega"  # no pause inside it
Kind = concierge_pb2.ExpectedAnswer

DEFAULTS = {  # the documented defaults (services/gateway/README.md)
    concierge_pb2.EXPECTED_ANSWER_UNSPECIFIED: 600,
    concierge_pb2.EXPECTED_ANSWER_YES_NO: 300,
    concierge_pb2.EXPECTED_ANSWER_SHORT: 400,
    concierge_pb2.EXPECTED_ANSWER_DIGITS: 900,
    concierge_pb2.EXPECTED_ANSWER_OPEN: 600,
}


def feed_all(endpointer: Endpointer, audio: bytes) -> list:
    events = []
    for offset in range(0, len(audio), FRAME_BYTES):
        events += endpointer.feed(audio[offset : offset + FRAME_BYTES])
    return events


def ended(events: list) -> list[SpeechEnded]:
    return [event for event in events if isinstance(event, SpeechEnded)]


@pytest.mark.parametrize("kind", list(DEFAULTS))
def test_the_default_silence_of_each_kind_ends_the_utterance(kind):
    endpointer = Endpointer(8000, endpointing_config(GatewaySettings()))
    endpointer.expect(kind)
    (end,) = ended(feed_all(endpointer, silence(0.5) + spoken(ANSWER) + silence(1.5)))
    assert end.reason == "silence" and end.silence_ms == DEFAULTS[kind]


def test_each_silence_is_a_setting():
    settings = GatewaySettings(
        end_of_speech_silence_ms=700,
        end_of_speech_yes_no_ms=200,
        end_of_speech_short_ms=260,
        end_of_speech_digits_ms=1200,
        end_of_speech_open_ms=500,
    )
    config = endpointing_config(settings)
    assert [config.end_silence_for(kind) for kind in DEFAULTS] == [700, 200, 260, 1200, 500]
    assert config.end_silence_for(99) == 700  # a kind from a newer concierge: the default


def test_the_kind_applies_from_the_next_utterance_on():
    endpointer = Endpointer(8000, EndpointingConfig(end_silence_ms=600, digits_silence_ms=900))
    audio = silence(0.3) + spoken(ANSWER)
    events = feed_all(endpointer, audio)
    assert any(isinstance(event, SpeechStarted) for event in events)
    endpointer.expect(concierge_pb2.EXPECTED_ANSWER_DIGITS)  # arrives while the caller speaks
    (first,) = ended(feed_all(endpointer, silence(1.5)))
    assert first.silence_ms == 600  # the utterance keeps the silence it started with
    (second,) = ended(feed_all(endpointer, spoken(ANSWER) + silence(1.5)))
    assert second.silence_ms == 900


def test_a_pause_is_reported_once_and_the_resumption_too():
    config = EndpointingConfig(end_silence_ms=600, pause_ms=200, min_speech_ms=250)
    endpointer = Endpointer(8000, config)
    events = feed_all(
        endpointer, silence(0.3) + spoken(ANSWER) + silence(0.4) + spoken(ANSWER) + silence(1.0)
    )
    kinds = [
        type(event).__name__
        for event in events
        if not hasattr(event, "audio") or isinstance(event, SpeechStarted)
    ]
    # A pause within the sentence (the comma) may be reported too: each is followed by a resumption,
    # and the last pause is the end.
    assert kinds[0] == "SpeechStarted" and kinds[-2:] == ["SpeechPaused", "SpeechEnded"]
    pauses = [event for event in events if isinstance(event, SpeechPaused)]
    resumptions = [event for event in events if isinstance(event, SpeechResumed)]
    assert len(pauses) == len(resumptions) + 1 >= 2
    assert all(pause.silence_ms == 200 for pause in pauses)


def test_the_pause_counts_from_the_last_sound_not_from_the_vads_hangover():
    audio = silence(0.3) + spoken(WORD) + silence(1.0)
    frames = [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]
    vad_last = voiced_frames(audio)[-1]
    sound_last = max(i for i in voiced_frames(audio) if rms(frames[i]) >= 200)
    assert vad_last - sound_last >= 3  # webrtcvad calls a few silent frames after speech voiced
    for floor, last in ((200.0, sound_last), (0.0, vad_last)):
        endpointer = Endpointer(
            8000, EndpointingConfig(end_silence_ms=600, pause_ms=200, pause_floor_rms=floor)
        )
        paused_at = None
        for index, frame in enumerate(frames):
            events = endpointer.feed(frame)
            if any(isinstance(event, SpeechPaused) for event in events):
                paused_at = index
            assert not any(isinstance(event, SpeechResumed) for event in events)
        assert paused_at == last + 10, (floor, paused_at, last)  # 10 frames = 200 ms


def test_no_pause_without_enough_speech_or_beyond_the_end():
    short_speech = Endpointer(8000, EndpointingConfig(pause_ms=200, min_speech_ms=5000))
    assert not [
        e for e in feed_all(short_speech, spoken(ANSWER) + silence(1.0)) if isinstance(e, SpeechPaused)
    ]
    late = Endpointer(8000, EndpointingConfig(end_silence_ms=300, pause_ms=300))
    events = feed_all(late, spoken(ANSWER) + silence(1.0))
    assert ended(events) and not [e for e in events if isinstance(e, SpeechPaused)]
    off = Endpointer(8000, EndpointingConfig(pause_ms=0))
    assert not [e for e in feed_all(off, spoken(ANSWER) + silence(1.0)) if isinstance(e, SpeechPaused)]


@pytest.mark.parametrize(
    "kind",
    [
        concierge_pb2.EXPECTED_ANSWER_YES_NO,
        concierge_pb2.EXPECTED_ANSWER_DIGITS,
        concierge_pb2.EXPECTED_ANSWER_UNSPECIFIED,
    ],
)
async def test_a_leg_sends_the_utterance_after_the_silence_of_the_question(kind):
    caller = silence(0.4) + spoken(ANSWER) + silence(2.0)
    last_voiced_frame = voiced_frames(caller)[-1]
    context = concierge_pb2.RecognitionContext(hints=["sim"], language="pt-BR", expected_answer=kind)
    # Speculation off: here the end of speech alone decides when the transcript is taken.
    async with LegHarness(settings={"speculative_recognition_ms": 0}) as h:
        h.receive(uuid_frame(SESSION))
        await h.step()
        h.act(concierge_pb2.LegAction(recognition=context))
        await h.step()
        frames = audio_frames(caller)
        sent_at_frame = None
        for index, frame in enumerate(frames):
            h.receive(frame)
            await h.step()
            if sent_at_frame is None and h.events_of("utterance"):
                sent_at_frame = index
        assert sent_at_frame is not None, "no utterance reached the concierge"
        (transcription,) = h.speech.transcriptions
        assert list(transcription.config.hints) == ["sim"]
    silence_ms = (sent_at_frame - last_voiced_frame) * 20
    # The last voiced frame the VAD hears may differ from webrtcvad's here by a frame or two.
    assert DEFAULTS[kind] - 20 <= silence_ms <= DEFAULTS[kind] + 60, silence_ms
