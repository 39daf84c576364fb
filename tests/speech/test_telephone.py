"""Telephone shaping of synthesized speech: band, compression, no clipping, streaming, wiring."""

from __future__ import annotations

import numpy as np
import pytest

from porteiro_speech.factory import build_backends
from porteiro_speech.offline.espeak import EspeakSynthesizer, espeak_args
from porteiro_speech.settings import SpeechSettings
from porteiro_speech.telephone import TelephoneShaper

RATE = 22050  # espeak-ng's rate: the shaper runs before the resampling to 8 kHz


def tone(hz: float, dbfs: float, seconds: float = 0.5, rate: int = RATE) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * 32767 * 10 ** (dbfs / 20)).astype("<i2").tobytes()


def level_db(pcm: bytes, skip_seconds: float = 0.1, rate: int = RATE) -> float:
    """RMS in dBFS, after the filter's and the compressor's settling time."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)[int(skip_seconds * rate) :] / 32768
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


def filter_only() -> TelephoneShaper:
    return TelephoneShaper(RATE, ratio=1.0, makeup_db=0.0)  # no compression, no gain


@pytest.mark.parametrize(("hz", "loss_db"), [(1000, (-1.0, 1.0)), (2500, (-1.0, 1.0)), (100, (25.0, 200.0))])
def test_the_band_keeps_the_voice_and_drops_what_the_line_drops(hz, loss_db):
    source = tone(hz, -20)
    loss = level_db(source) - level_db(filter_only().push(source, last=True))
    low, high = loss_db
    assert low <= loss <= high, f"{hz} Hz lost {loss:.1f} dB"


def test_above_the_band_is_cut_too():
    source = tone(6000, -20)
    assert level_db(source) - level_db(filter_only().push(source, last=True)) >= 20.0


def test_compression_brings_quiet_sounds_closer_to_loud_ones():
    loud, quiet = tone(1000, -6), tone(1000, -36)
    shaped_loud = TelephoneShaper(RATE).push(loud, last=True)
    shaped_quiet = TelephoneShaper(RATE).push(quiet, last=True)
    gap_before = level_db(loud) - level_db(quiet)
    gap_after = level_db(shaped_loud) - level_db(shaped_quiet)
    assert gap_before == pytest.approx(30.0, abs=0.5)
    assert gap_after < 20.0  # ratio 3 above -30 dBFS: 24 dB above the threshold become 8


def test_full_scale_input_never_wraps_around():
    square = (np.sign(np.sin(2 * np.pi * 500 * np.arange(RATE) / RATE)) * 32767).astype("<i2").tobytes()
    samples = np.frombuffer(TelephoneShaper(RATE).push(square, last=True), dtype="<i2").astype(int)
    assert samples.max() <= 32767 and samples.min() >= -32767  # limited, not clipped past full scale
    # A wrapped sample would jump across the range between neighbours.
    assert np.abs(np.diff(samples)).max() < 40000


def test_pieces_of_any_size_give_the_same_audio_as_one_push():
    rng = np.random.default_rng(3)
    source = tone(700, -12, 0.8) + tone(1800, -30, 0.4)
    whole = TelephoneShaper(RATE).push(source, last=True)
    shaper, pieces, start = TelephoneShaper(RATE), [], 0
    while start < len(source):
        size = int(rng.integers(1, 900))  # odd sizes split samples between pieces
        pieces.append(shaper.push(source[start : start + size]))
        start += size
    pieces.append(shaper.push(b"", last=True))
    assert b"".join(pieces) == whole
    assert len(whole) == len(source)


def test_word_gap_goes_to_espeak_only_when_set():
    assert "-g" not in espeak_args("espeak-ng", "pt-br", 160)
    args = espeak_args("espeak-ng", "pt-br", 150, word_gap=3)
    assert args[args.index("-g") + 1] == "3"


def test_settings_reach_the_synthesizer(monkeypatch):
    monkeypatch.setenv("PORTEIRO_SPEECH_TTS_TELEPHONE_SHAPING", "true")
    monkeypatch.setenv("PORTEIRO_SPEECH_ESPEAK_WORD_GAP", "2")
    synthesizer = build_backends(SpeechSettings()).synthesizer
    assert isinstance(synthesizer, EspeakSynthesizer)
    assert (synthesizer.telephone, synthesizer.word_gap) == (True, 2)


async def espeak_8k(telephone: bool) -> bytes:
    synthesizer = EspeakSynthesizer(telephone=telephone)
    await synthesizer.start()
    return b"".join([piece async for piece in synthesizer.synthesize("Para qual apartamento?", "", 8000)])


def low_share(pcm: bytes, rate: int = 8000) -> float:
    """Share of the energy below 300 Hz."""
    spectrum = np.abs(np.fft.rfft(np.frombuffer(pcm, dtype="<i2").astype(np.float64))) ** 2
    return float(spectrum[np.fft.rfftfreq(len(pcm) // 2, 1 / rate) < 300].sum() / spectrum.sum())


async def test_espeak_speech_shaped_for_the_line_keeps_its_length_and_loses_its_low_end():
    plain, shaped = await espeak_8k(False), await espeak_8k(True)
    assert len(shaped) == len(plain)
    assert low_share(plain) > 0.05
    assert low_share(shaped) < low_share(plain) / 4
