"""The gateway's cache of sentences: a repeated Say plays from memory, bit for bit, without a Synthesize
call; bounded by bytes and age; only whole syntheses kept. Real gRPC to the fake speech service."""

from __future__ import annotations

import grpc
import pytest

from porteiro_common.channels import create_channel
from porteiro_gateway import metrics
from porteiro_gateway.speech import GrpcSpeechClient
from porteiro_gateway.synthesis_cache import CachingSpeechClient, SynthesisCache
from tests.gateway.fakes import FakeSpeech, serve_speech, tone

QUESTION = "Qual é o apartamento e o nome do morador?"


def cached(result: str) -> float:
    return metrics.SYNTHESIS_CACHE.labels(result)._value.get()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_least_recently_used_sentences_go_first_when_the_bytes_run_out():
    cache = SynthesisCache(max_bytes=1000, ttl_seconds=60)
    cache.put("a", "", bytes(400))
    cache.put("b", "", bytes(400))
    assert cache.get("a", "") == bytes(400)  # a is now the most recent
    cache.put("c", "", bytes(400))  # over 1000: b goes
    assert cache.get("b", "") is None and cache.get("a", "") is not None and cache.get("c", "") is not None
    assert cache.bytes == 800 and len(cache) == 2
    cache.put("huge", "", bytes(1001))  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge", "") is None and len(cache) == 2
    cache.put("a", "", bytes(100))  # replaced, not counted twice
    assert cache.bytes == 500


def test_a_sentence_is_played_from_memory_only_within_its_age_and_per_voice():
    clock = Clock()
    cache = SynthesisCache(max_bytes=10_000, ttl_seconds=600, now=clock)
    cache.put(QUESTION, "pt-br+f2", b"\x01\x02" * 100)
    assert cache.get(QUESTION, "pt-br+m3") is None  # another voice, another audio
    clock.now = 600.0
    assert cache.get(QUESTION, "pt-br+f2") == b"\x01\x02" * 100
    clock.now = 600.1
    assert cache.get(QUESTION, "pt-br+f2") is None and cache.bytes == 0


@pytest.fixture
async def speech():
    fake = FakeSpeech()
    fake.texts[QUESTION] = tone(440, 1.5)
    bound = await serve_speech(fake)
    async with create_channel(f"127.0.0.1:{bound.port}", wait_for_ready=True) as channel:
        yield fake, GrpcSpeechClient(channel, 5, recognition_timeout=5, outage_seconds=0.3)
    await bound.server.stop(0)


async def say(client: CachingSpeechClient, text: str = QUESTION, voice: str = "") -> bytes:
    return b"".join([chunk async for chunk in client.synthesize(text, voice)])


async def test_a_repeated_say_plays_the_same_audio_without_a_synthesize_call(speech):
    fake, grpc_speech = speech
    client = CachingSpeechClient(grpc_speech, SynthesisCache(1 << 20, 600))
    hits, misses = cached("hit"), cached("miss")
    first = await say(client)
    second = await say(client)
    assert first == second == fake.texts[QUESTION]  # bit for bit what speech synthesized
    assert fake.synthesize_requests == [QUESTION]  # one call for both
    await say(client, voice="pt-br+m3")
    assert fake.synthesize_requests == [QUESTION, QUESTION]  # another voice is synthesized
    assert cached("hit") - hits == 1 and cached("miss") - misses == 2


async def test_a_synthesis_stopped_or_failed_midway_is_not_kept(speech):
    fake, grpc_speech = speech
    cache = SynthesisCache(1 << 20, 600)
    client = CachingSpeechClient(grpc_speech, cache)
    stream = client.synthesize(QUESTION)
    assert await anext(stream)  # the Say is interrupted after its first piece
    await stream.aclose()
    assert len(cache) == 0
    fake.fail_synthesis.add("Falha")
    with pytest.raises(grpc.aio.AioRpcError):  # speech down past the outage allowance
        await say(client, "Falha")
    assert len(cache) == 0
    assert await say(client) == fake.texts[QUESTION] and len(cache) == 1
