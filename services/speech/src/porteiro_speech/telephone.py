"""Synthesized speech shaped for the telephone line, as a stream.

A phone line carries 300-3400 Hz. espeak-ng puts much of its energy below 300 Hz (the
voice's fundamental and first harmonics) and leaves consonants quiet; the line then
drops the low part and the consonants drown. `TelephoneShaper`, applied to the
synthesizer's output before it is resampled to the line's 8 kHz:

1. band-pass 300-3400 Hz (a windowed-sinc FIR filter, state kept between pieces);
2. compression: the level of each 5 ms block is followed (fast attack, slow release)
   and anything above `threshold_dbfs` is reduced by `ratio`, so quiet consonants come
   up relative to loud vowels;
3. make-up gain, then a soft limiter so that nothing clips.

Whether it helps is measured, not assumed: `porteiro-eval --prompts` (sim/README.md)
recognises every prompt as the caller receives it, with and without it.
"""

from __future__ import annotations

import numpy as np

BLOCK_SECONDS = 0.005
ATTACK_SECONDS = 0.005
RELEASE_SECONDS = 0.08


def band_pass_taps(rate_hz: int, low_hz: float, high_hz: float, taps: int) -> np.ndarray:
    """A linear-phase FIR band-pass (windowed sinc, Blackman window); `taps` odd."""
    high_hz = min(high_hz, rate_hz / 2 * 0.95)
    n = np.arange(taps) - (taps - 1) / 2
    window = np.blackman(taps)

    def low_pass(cutoff_hz: float) -> np.ndarray:
        kernel = np.sinc(2 * cutoff_hz / rate_hz * n) * window
        return kernel / kernel.sum()

    return (low_pass(high_hz) - low_pass(low_hz)).astype(np.float64)


class TelephoneShaper:
    """Band-pass, compression and limiting of slin arriving in pieces (output as long as input)."""

    def __init__(
        self,
        rate_hz: int,
        low_hz: float = 300.0,
        high_hz: float = 3400.0,
        threshold_dbfs: float = -30.0,
        ratio: float = 3.0,
        makeup_db: float = 12.0,
    ) -> None:
        # About 4 periods of the low edge: a transition narrow enough to keep 300 Hz up.
        taps = int(4 * rate_hz / low_hz) | 1
        self._taps = band_pass_taps(rate_hz, low_hz, high_hz, taps)
        self._history = np.zeros(taps - 1)  # the previous samples the filter still needs
        self._block = max(1, int(rate_hz * BLOCK_SECONDS))
        self._attack = float(np.exp(-BLOCK_SECONDS / ATTACK_SECONDS))
        self._release = float(np.exp(-BLOCK_SECONDS / RELEASE_SECONDS))
        self._threshold = 10 ** (threshold_dbfs / 20)
        self._slope = 1.0 - 1.0 / ratio
        self._makeup = 10 ** (makeup_db / 20)
        self._envelope = 0.0
        self._gain = 1.0  # of the previous block: gains are interpolated between blocks
        self._pending = np.zeros(0)  # filtered samples waiting for a whole block
        self._carry = b""  # an odd trailing byte

    def push(self, pcm: bytes, last: bool = False) -> bytes:
        """Shape the next piece; with `last`, also what was held back for a whole block."""
        data = self._carry + pcm
        usable = len(data) - len(data) % 2
        self._carry = data[usable:]
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float64) / 32768.0
        filtered = self._filter(samples)
        self._pending = np.concatenate([self._pending, filtered])
        whole = len(self._pending) if last else len(self._pending) - len(self._pending) % self._block
        ready, self._pending = self._pending[:whole], self._pending[whole:]
        out = self._limit(self._compress(ready) * self._makeup)
        return (np.round(out * 32767.0)).astype("<i2").tobytes()

    def _filter(self, samples: np.ndarray) -> np.ndarray:
        if not len(samples):
            return samples
        joined = np.concatenate([self._history, samples])
        self._history = joined[-(len(self._taps) - 1) :]
        return np.convolve(joined, self._taps, mode="valid")

    def _compress(self, samples: np.ndarray) -> np.ndarray:
        out = np.empty_like(samples)
        for start in range(0, len(samples), self._block):
            block = samples[start : start + self._block]
            level = float(np.sqrt(np.mean(block * block)))
            coefficient = self._attack if level > self._envelope else self._release
            self._envelope = coefficient * self._envelope + (1 - coefficient) * level
            gain = 1.0
            if self._envelope > self._threshold:
                gain = (self._envelope / self._threshold) ** -self._slope
            ramp = np.linspace(self._gain, gain, len(block), endpoint=False)
            out[start : start + len(block)] = block * ramp
            self._gain = gain
        return out

    @staticmethod
    def _limit(samples: np.ndarray) -> np.ndarray:
        """Soft limiting above 0.7 of full scale (tanh), so that peaks never clip."""
        knee = 0.7
        loud = np.abs(samples) > knee
        out = samples.copy()
        over = np.abs(samples[loud]) - knee
        out[loud] = np.sign(samples[loud]) * (knee + (1 - knee) * np.tanh(over / (1 - knee)))
        return out
