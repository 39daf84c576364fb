"""The callers' voices: espeak-ng variants and rates ("pt-br+m3@150"), optional line noise, recordings.

Noise (`--noise`) is white noise band-limited to the telephone band (300-3400 Hz), added at a
fixed signal-to-noise ratio while the caller speaks, seeded by the sentence so a run repeats.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from porteiro_common.audiosocket import SLIN_RATE
from porteiro_sim.speech import EspeakVoice, Voice, WavVoice

DEFAULT_VOICES = ("pt-br+m3@150", "pt-br+f2@140", "pt-br@160", "pt-br+m1@140")
TELEPHONE_BAND_HZ = (300.0, 3400.0)


@dataclass(frozen=True)
class VoiceSpec:
    voice: str  # espeak-ng voice and variant
    words_per_minute: int

    @classmethod
    def parse(cls, spec: str) -> VoiceSpec:
        """ "pt-br+m3@150" -> VoiceSpec("pt-br+m3", 150); the rate defaults to 150."""
        name, _, rate = spec.strip().partition("@")
        if not name:
            raise ValueError(f"voice {spec!r}: expected an espeak-ng voice such as pt-br+m3@150")
        try:
            words_per_minute = int(rate) if rate else 150
        except ValueError:
            raise ValueError(f"voice {spec!r}: the rate after '@' must be words per minute") from None
        if not 80 <= words_per_minute <= 450:
            raise ValueError(f"voice {spec!r}: rate {words_per_minute} is outside 80..450 words per minute")
        return cls(name, words_per_minute)


def parse_voices(text: str) -> list[str]:
    """A comma-separated list, each checked; returned in their written form (personas keep that)."""
    specs = [item.strip() for item in text.split(",") if item.strip()]
    if not specs:
        raise ValueError("--voices is empty")
    for spec in specs:
        VoiceSpec.parse(spec)
    return specs


class NoisyVoice:
    """Another voice with telephone-band noise added at `snr_db`."""

    def __init__(self, voice: Voice, snr_db: float) -> None:
        self.voice, self.snr_db = voice, snr_db

    async def speak(self, text: str) -> bytes:
        return add_line_noise(await self.voice.speak(text), self.snr_db, seed=zlib.crc32(text.encode()))


def add_line_noise(pcm: bytes, snr_db: float, seed: int) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not samples.size:
        return pcm
    noise = _band_limited_noise(samples.size, np.random.default_rng(seed))
    signal_power = float(np.mean(samples**2)) or 1.0
    noise *= np.sqrt(signal_power / (10 ** (snr_db / 10)) / (float(np.mean(noise**2)) or 1.0))
    return np.clip(samples + noise, -32768, 32767).astype("<i2").tobytes()


def _band_limited_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(length))
    frequencies = np.fft.rfftfreq(length, 1 / SLIN_RATE)
    low, high = TELEPHONE_BAND_HZ
    spectrum[(frequencies < low) | (frequencies > high)] = 0
    return np.fft.irfft(spectrum, length)


class VoiceBox:
    """One Voice per spec, built once (each caches its sentences)."""

    def __init__(self, noise_snr_db: float | None = None, wav_dir: Path | None = None) -> None:
        self.noise_snr_db, self.wav_dir = noise_snr_db, wav_dir
        self._voices: dict[str, Voice] = {}

    def get(self, spec: str) -> Voice:
        if spec not in self._voices:
            parsed = VoiceSpec.parse(spec)
            voice: Voice = EspeakVoice(parsed.voice, parsed.words_per_minute)
            if self.wav_dir is not None:
                voice = WavVoice(self.wav_dir, fallback=voice)
            if self.noise_snr_db is not None:
                voice = NoisyVoice(voice, self.noise_snr_db)
            self._voices[spec] = voice
        return self._voices[spec]
