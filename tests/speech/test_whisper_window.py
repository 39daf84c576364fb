"""The fitted encoder window (`PORTEIRO_SPEECH_WHISPER_WINDOW_MARGIN_SECONDS`) with the real model.

The encoder sees the utterance plus a margin of silence instead of 30 s; a short answer must
come out as with the 30 s window (an echoed transcript is recognised again over it), and noise
must still be dropped by the no-speech filter. Sizes of the window are checked without the model.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from porteiro_common.ptbr import plain
from porteiro_speech.backends import RecognitionConfig
from porteiro_speech.offline.espeak import synthesize_slin
from porteiro_speech.offline.whisper import (
    FULL_WINDOW_FRAMES,
    WhisperRecognizer,
    fitted_window_frames,
    repeats_itself,
)

DECISION = RecognitionConfig(
    8000, "pt-BR", ("Sim, pode subir.", "Não.", "Não conheço.", "Deixa na portaria.")
)


@pytest.mark.parametrize(
    ("audio_frames", "margin", "window"),
    [(100, 5.0, 600), (101, 5.0, 700), (150, 2.0, 400), (2600, 5.0, FULL_WINDOW_FRAMES), (3000, 1.0, 3000)],
)
def test_the_window_is_the_audio_plus_the_margin_in_whole_seconds_at_most_30_s(audio_frames, margin, window):
    assert fitted_window_frames(audio_frames, margin) == window


@pytest.mark.parametrize(
    ("text", "echoed"),
    [
        ("Sim, pode subir. Sim, Pode subir.", True),
        ("Entrega. Entregar. Entragar.", True),
        ("Não. Não.", True),
        ("É uma entrega. É uma tira.", True),
        ("Sim, pode subir.", False),
        ("Sim. Pode subir.", False),
        ("Meu nome é Pedro. Vim visitar a Renata Oliveira.", False),
        ("Não conheço.", False),
        ("", False),
    ],
)
def test_a_transcript_whose_sentences_echo_each_other_is_recognised(text, echoed):
    assert repeats_itself(text) is echoed


@pytest.fixture(scope="module")
def recognizer():
    """Loaded once per module; its thread pool is not tied to any event loop."""
    whisper = WhisperRecognizer(workers=1, window_margin_seconds=5.0)
    asyncio.run(whisper.start())
    yield whisper
    asyncio.run(whisper.close())


def padded(audio: bytes) -> bytes:
    silence = b"\x00\x00" * 2400  # the 0.3 s a gateway's pre-roll leaves on each side
    return silence + audio + silence


@pytest.mark.slow
@pytest.mark.acoustic
async def test_a_short_answer_is_recognised_with_the_fitted_window_as_with_the_full_one(recognizer):
    # The whole path runs: features padded to the window, hints as the previous text, greedy
    # decode, confidence; an answer whisper echoes ("Sim, pode subir. Sim, pode subir.") is
    # recognised again over the full window.
    said = "Sim, pode subir."
    audio = padded(synthesize_slin(said, speed=130))
    fitted = await recognizer.transcribe(audio, DECISION)
    recognizer.window_margin_seconds = 0.0  # faster-whisper's own 30 s path
    try:
        full = await recognizer.transcribe(audio, DECISION)
    finally:
        recognizer.window_margin_seconds = 5.0
    assert plain(fitted.text) == plain(said), fitted.text
    assert plain(fitted.text) == plain(full.text)
    assert fitted.confidence is not None and 0 < fitted.confidence <= 1


@pytest.mark.slow
@pytest.mark.acoustic
async def test_loud_noise_is_still_dropped_by_the_no_speech_filter(recognizer):
    noise = np.random.default_rng(1).normal(0, 3000, 16000).astype("<i2").tobytes()  # 2 s at 8 kHz
    heard = await recognizer.transcribe(noise, DECISION)
    assert heard.text == "" and heard.confidence is None
