"""The speech service's small parts, without servers: prompt building, WAV parsing,
streamed resampling, the cache and the worker queue."""

from __future__ import annotations

import asyncio
import subprocess

import numpy as np
import pytest

from porteiro_speech.audio import StreamResampler, resample_slin
from porteiro_speech.backends import BackendError
from porteiro_speech.cache import SynthesisCache, SynthesisKey
from porteiro_speech.factory import build_backends
from porteiro_speech.limiter import Overloaded, WorkQueue
from porteiro_speech.offline.espeak import WavHeaderReader, synthesize_slin
from porteiro_speech.offline.whisper import (
    MAX_PROMPT_CHARS,
    WhisperRecognizer,
    initial_prompt,
    max_tokens,
    whisper_language,
)
from porteiro_speech.settings import SpeechSettings


def test_initial_prompt_is_capitalised_sentences_without_duplicates():
    assert initial_prompt(("entrega", "Entrega.", " pode   subir ", "", "101")) == "Entrega. Pode subir. 101."
    assert initial_prompt(()) is None
    assert len(initial_prompt(tuple(f"morador {n}" for n in range(500)))) <= MAX_PROMPT_CHARS


def test_whisper_language_and_token_budget():
    assert whisper_language("pt-BR") == "pt" and whisper_language("en") == "en"
    assert max_tokens(1.0) == 18 and max_tokens(600) == 200


def test_wav_header_found_across_arbitrary_splits():
    wav = subprocess.run(
        ["espeak-ng", "-v", "pt-br", "--stdout", "Olá"], capture_output=True, check=True
    ).stdout
    for split_at in (1, 11, 20, 43, 44, 100):
        reader = WavHeaderReader()
        pcm = reader.feed(wav[:split_at])
        pcm += reader.feed(wav[split_at:]) if not reader.done else wav[split_at:]
        assert reader.done and reader.sample_rate_hz == 22050
        assert pcm == wav[44:]  # espeak-ng writes the canonical 44-byte header


def test_stream_resampler_equals_one_shot_and_carries_odd_bytes():
    audio = synthesize_slin("Condomínio Apoena", rate_hz=16000)
    whole = np.frombuffer(resample_slin(audio, 16000, 8000), dtype="<i2")
    resampler = StreamResampler(16000, 8000)
    pieces = [resampler.push(audio[start : start + 333]) for start in range(0, len(audio), 333)]
    streamed = np.frombuffer(b"".join(pieces) + resampler.push(b"", last=True), dtype="<i2")
    assert all(len(piece) % 2 == 0 for piece in pieces)
    assert abs(len(streamed) - len(whole)) <= 2
    common = min(len(streamed), len(whole))
    assert np.corrcoef(streamed[:common], whole[:common])[0, 1] > 0.99


def test_cache_evicts_the_least_recently_used():
    cache = SynthesisCache(max_entries=2)
    a, b, c = (SynthesisKey(text, "pt-br", 8000) for text in "abc")
    cache.put(a, b"\x00\x01")
    cache.put(b, b"\x00\x02")
    assert cache.get(a) == b"\x00\x01"  # a is now the most recent
    cache.put(c, b"\x00\x03")
    assert a in cache and c in cache and b not in cache

    disabled = SynthesisCache(max_entries=0)
    disabled.put(a, b"\x00\x01")
    assert len(disabled) == 0


async def test_limiter_with_no_queue_serves_free_slots_and_refuses_at_once_when_full():
    limiter = WorkQueue("test", workers=1, max_wait_seconds=0, max_depth=8)
    gate = asyncio.Event()

    async def held() -> str:
        await gate.wait()
        return "done"

    first = asyncio.create_task(limiter.run(held))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await limiter.run(held)
    gate.set()
    assert await first == "done"
    assert await limiter.run(held) == "done"


async def test_limiter_keeps_the_slot_until_abandoned_work_really_ends():
    limiter = WorkQueue("test", workers=1, max_wait_seconds=0, max_depth=8)
    gate = asyncio.Event()

    async def held() -> None:
        await gate.wait()

    caller = asyncio.create_task(limiter.run(held))
    await asyncio.sleep(0)
    caller.cancel()  # the client went away; the work (a thread, in whisper's case) goes on
    with pytest.raises(asyncio.CancelledError):
        await caller
    with pytest.raises(Overloaded):
        await limiter.run(held)
    gate.set()
    await asyncio.sleep(0.01)  # the abandoned work ends and frees the slot
    await limiter.run(held)


async def test_a_configured_model_path_overrides_the_bundled_model_and_a_bad_one_fails_clearly(tmp_path):
    settings = SpeechSettings(whisper_model=str(tmp_path), azure_key=None, azure_region=None)
    recognizer = build_backends(settings).recognizer
    assert isinstance(recognizer, WhisperRecognizer) and recognizer.model_source == str(tmp_path)
    with pytest.raises(BackendError, match=f"cannot load whisper model {tmp_path}"):
        await recognizer.start()
    await recognizer.close()
