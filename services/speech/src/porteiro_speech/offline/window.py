"""Whisper's encoder window in mel frames: the 30 s it was trained on, or fitted to an utterance."""

from __future__ import annotations

import math

FRAMES_PER_SECOND = 100  # whisper's mel hop is 10 ms at 16 kHz
FULL_WINDOW_FRAMES = 3000  # the 30 s window whisper was trained on


def fitted_window_frames(audio_frames: int, margin_seconds: float) -> int:
    """Mel frames the encoder sees: the audio plus `margin_seconds`, rounded up to a whole second,
    at most the full 30 s window."""
    wanted = audio_frames + margin_seconds * FRAMES_PER_SECOND
    return min(FULL_WINDOW_FRAMES, math.ceil(wanted / FRAMES_PER_SECOND) * FRAMES_PER_SECOND)
