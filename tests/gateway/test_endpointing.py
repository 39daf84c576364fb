"""The endpointer: VAD onset, pre-roll and end of speech on real speech at any frame size."""

from __future__ import annotations

import pytest

from porteiro_gateway.endpointing import Endpointer, EndpointingConfig, SpeechEnded, SpeechStarted
from tests.gateway.support import silence, spoken


@pytest.mark.parametrize("chunk_bytes", [320, 480, 100, 1000])
def test_endpointer_rechunks_any_frame_size_and_keeps_pre_roll(chunk_bytes):
    config = EndpointingConfig(end_silence_ms=500, pre_roll_ms=300)
    speech = spoken("bom dia, eu vim fazer uma entrega")
    audio = silence(1.0) + speech + silence(1.0)
    endpointer = Endpointer(8000, config)
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


def test_endpointer_at_16k_with_30ms_frames():
    speech = spoken("sim, pode subir", rate=16000)
    endpointer = Endpointer(16000, EndpointingConfig(frame_ms=30, end_silence_ms=600))
    events = endpointer.feed(silence(0.5, 16000) + speech + silence(1.0, 16000))
    assert any(isinstance(e, SpeechStarted) for e in events)
    assert any(isinstance(e, SpeechEnded) for e in events)
