"""Small PCM helpers: silence, tones, audio files, energy, and local espeak-ng speech.

All audio is slin: signed 16-bit little-endian mono, 8 kHz unless said otherwise.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
import wave
from pathlib import Path

import numpy as np

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is missing; WAV files never need it.
    warnings.filterwarnings("ignore", "Couldn't find ffmpeg", RuntimeWarning)
    from pydub import AudioSegment

from porteiro_common.audiosocket import FRAME_BYTES, SLIN_RATE

# RMS of a 20 ms frame above which it counts as speech (about -42 dBFS).
DEFAULT_SPEECH_RMS = 260.0


def silence(seconds: float, rate: int = SLIN_RATE) -> bytes:
    return bytes(2 * int(round(seconds * rate)))


def tone(frequency_hz: float, seconds: float, amplitude: float = 0.3, rate: int = SLIN_RATE) -> bytes:
    t = np.arange(int(round(seconds * rate))) / rate
    samples = amplitude * 32767 * np.sin(2 * np.pi * frequency_hz * t)
    return samples.astype("<i2").tobytes()


def frames_of(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Split into whole frames, padding the last one with silence."""
    if len(pcm) % frame_bytes:
        pcm = pcm + bytes(frame_bytes - len(pcm) % frame_bytes)
    return [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]


def rms(pcm: bytes) -> float:
    if len(pcm) < 2:
        return 0.0
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))


def is_speech(pcm: bytes, threshold: float = DEFAULT_SPEECH_RMS) -> bool:
    return rms(pcm) >= threshold


def seconds_of(pcm: bytes, rate: int = SLIN_RATE) -> float:
    return len(pcm) / 2 / rate


def resample(pcm: bytes, from_rate: int, to_rate: int = SLIN_RATE) -> bytes:
    """Band-limited resampling (soxr), so nothing aliases."""
    if from_rate == to_rate or not pcm:
        return pcm
    import soxr

    samples = np.frombuffer(pcm, dtype="<i2")
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.clip(out, -32768, 32767).astype("<i2").tobytes()


def write_wav(path: Path | str, pcm: bytes, rate: int = SLIN_RATE, channels: int = 1) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return target


def wav_to_slin(data: bytes, rate: int = SLIN_RATE) -> bytes:
    """Decode a PCM WAV (any rate, sample width and channel count) into slin at `rate`."""
    return _segment_to_slin(AudioSegment.from_file(io.BytesIO(data), format="wav"), rate)


def read_wav(path: Path | str, rate: int = SLIN_RATE) -> bytes:
    """Slin at `rate` from a WAV file; other formats (MP3, OGG, ...) when ffmpeg is installed."""
    path = Path(path)
    audio_format = path.suffix.lstrip(".").lower() or "wav"
    return _segment_to_slin(AudioSegment.from_file(path, format=audio_format), rate)


def _segment_to_slin(segment: AudioSegment, rate: int) -> bytes:
    # pydub mixes down and converts the sample width; soxr resamples, because pydub's
    # set_frame_rate (audioop.ratecv) has no anti-aliasing filter.
    mono = segment.set_channels(1).set_sample_width(2)
    return resample(mono.raw_data, mono.frame_rate, rate)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_pcm(text: str, voice: str = "pt-br", words_per_minute: int = 150, rate: int = SLIN_RATE) -> bytes:
    """Speak `text` with the local espeak-ng (deterministic for one text and settings)."""
    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return trim_silence(wav_to_slin(result.stdout, rate))


def trim_silence(pcm: bytes, threshold: float = DEFAULT_SPEECH_RMS) -> bytes:
    """Drop leading and trailing silent frames (the sender adds its own pauses)."""
    frames = frames_of(pcm)
    voiced = [i for i, frame in enumerate(frames) if is_speech(frame, threshold)]
    if not voiced:
        return b""
    return b"".join(frames[voiced[0] : voiced[-1] + 1])
