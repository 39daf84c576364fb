"""slin helpers: durations, chunking, and resampling with a real low-pass filter (soxr)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import soxr

SUPPORTED_RATES = (8000, 16000)
BYTES_PER_SAMPLE = 2


def duration_seconds(audio_bytes: int, sample_rate_hz: int) -> float:
    return audio_bytes / (BYTES_PER_SAMPLE * sample_rate_hz)


def chunk_bytes(sample_rate_hz: int, chunk_ms: int) -> int:
    """Bytes of `chunk_ms` of slin at `sample_rate_hz` (always even)."""
    return max(1, sample_rate_hz * chunk_ms // 1000) * BYTES_PER_SAMPLE


def split(audio: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(audio), size):
        yield audio[start : start + size]


def slin_to_float(audio: bytes) -> np.ndarray:
    return np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0


def resample_slin(audio: bytes, from_hz: int, to_hz: int) -> bytes:
    """Resample a whole slin buffer (soxr high quality; no aliasing)."""
    if from_hz == to_hz or not audio:
        return audio
    samples = np.frombuffer(audio, dtype="<i2")
    return soxr.resample(samples, from_hz, to_hz, quality="HQ").astype("<i2").tobytes()


def to_float_16k(audio: bytes, sample_rate_hz: int) -> np.ndarray:
    """slin at 8/16 kHz → float32 at 16 kHz, what whisper takes."""
    samples = slin_to_float(audio)
    if sample_rate_hz == 16000:
        return samples
    return soxr.resample(samples, sample_rate_hz, 16000, quality="HQ").astype(np.float32)


class StreamResampler:
    """Resamples slin arriving in pieces; keeps the odd trailing byte for the next piece."""

    def __init__(self, from_hz: int, to_hz: int) -> None:
        self._same = from_hz == to_hz
        self._stream = (
            None if self._same else soxr.ResampleStream(from_hz, to_hz, 1, dtype="int16", quality="HQ")
        )
        self._carry = b""

    def push(self, data: bytes, last: bool = False) -> bytes:
        data = self._carry + data
        usable = len(data) - (len(data) % BYTES_PER_SAMPLE)
        self._carry = data[usable:]
        samples = np.frombuffer(data[:usable], dtype="<i2")
        if self._same:
            return samples.tobytes()
        assert self._stream is not None
        return self._stream.resample_chunk(samples, last=last).astype("<i2").tobytes()
