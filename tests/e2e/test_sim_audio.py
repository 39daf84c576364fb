"""The simulators' WAV-file voices: any WAV becomes 8 kHz mono slin without aliasing."""

from __future__ import annotations

import wave

import numpy as np

from porteiro_sim import audio

SOURCE_RATE = 44100


def write_stereo_24bit_wav(path, left: np.ndarray, right: np.ndarray) -> None:
    """Float channels in [-1, 1] as a 44.1 kHz, 24-bit, two-channel WAV."""
    interleaved = np.stack([left, right], axis=1).reshape(-1)
    as_int32 = np.round(interleaved * (2**23 - 1)).astype("<i4")
    three_bytes = as_int32.view(np.uint8).reshape(-1, 4)[:, :3]  # little-endian: drop the top byte
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(3)
        out.setframerate(SOURCE_RATE)
        out.writeframes(three_bytes.tobytes())


def amplitude_at(samples: np.ndarray, frequency_hz: float, rate: int) -> float:
    """Peak amplitude of one frequency (Hann-windowed spectrum, one-second signal)."""
    window = np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(samples * window)) / (window.sum() / 2)
    bin_index = int(round(frequency_hz * len(samples) / rate))
    return float(spectrum[bin_index - 2 : bin_index + 3].max())


def test_a_stereo_44k_24bit_wav_becomes_8k_mono_slin_without_aliasing(tmp_path):
    t = np.arange(SOURCE_RATE) / SOURCE_RATE
    tone = np.sin(2 * np.pi * 440 * t)
    above_nyquist = 0.3 * np.sin(2 * np.pi * 6000 * t)  # naive decimation would fold it to 2 kHz
    path = tmp_path / "voice.wav"
    write_stereo_24bit_wav(path, 0.6 * tone + above_nyquist, 0.2 * tone + above_nyquist)

    pcm = audio.read_wav(path)

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
    assert abs(len(samples) - 8000) <= 1  # one second at 8 kHz
    assert abs(amplitude_at(samples, 440, 8000) - 0.4) < 0.01  # the channels' mean
    assert amplitude_at(samples, 2000, 8000) < 0.001  # the 6 kHz tone was filtered, not folded


def test_wav_bytes_decode_like_the_file(tmp_path):
    pcm = audio.tone(440, 0.5, rate=16000)
    path = audio.write_wav(tmp_path / "tone.wav", pcm, rate=16000)
    assert audio.wav_to_slin(path.read_bytes()) == audio.read_wav(path) == audio.resample(pcm, 16000)
