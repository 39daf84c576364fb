"""Busy is not broken: a burst of recognitions and syntheses queues FIFO on a real speech server.

The recognizer (and, for synthesis, the synthesizer) is the one fake boundary: it implements
the real interface and takes 100-300 ms per utterance in a thread, as whisper does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from prometheus_client import REGISTRY

from porteiro.speech.v1 import speech_pb2
from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from tests.speech.conftest import metric, transcribe, transcribe_messages
from tests.speech.fakes import ScriptedRecognizer, TimedRecognizer, seconds_for

CALLERS = 30
WORKERS = 2


def utterance_of(caller: int) -> bytes:
    """Half a second of 8 kHz audio whose first sample names the caller."""
    return caller.to_bytes(2, "little") + b"\x00\x00" * 3999


async def until(condition, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def test_thirty_callers_against_two_workers_are_all_answered_in_arrival_order(start_speech):
    recognizer = TimedRecognizer()
    # A queue time beyond the burst's arrival on a loaded machine (the workers wait for all of it).
    speech = await start_speech(
        Backends(recognizer, EspeakSynthesizer()), stt_workers=WORKERS, stt_queue_seconds=30
    )
    queue = speech.app.servicer.recognition_queue
    waits_before = metric("porteiro_speech_queue_wait_seconds_count", kind="recognition")
    refused_before = metric("porteiro_speech_rejections_total", operation="transcribe", reason="overloaded")

    def admitted() -> float:  # requests that got a worker so far (each observes its wait)
        return metric("porteiro_speech_queue_wait_seconds_count", kind="recognition") - waits_before

    calls = []
    deepest = 0
    # The workers start once the whole burst is in: on a loaded machine callers arrived slower than
    # the workers finished, and the queue never filled (3 deep of 30 in CI at load 6.6).
    recognizer.gate.clear()
    for caller in range(CALLERS):
        # Callers arrive one after another, a few ms apart: each is in the queue before the next comes.
        calls.append(asyncio.create_task(transcribe(speech.stub, transcribe_messages(utterance_of(caller)))))
        await until(lambda caller=caller: admitted() + queue.depth > caller)
        deepest = max(deepest, queue.depth)
    recognizer.gate.set()
    answers = await asyncio.gather(*calls)  # none refused: any refusal would raise here
    assert [answer.text for answer in answers] == [f"visitante {caller}" for caller in range(CALLERS)]
    assert recognizer.started == list(range(CALLERS))  # first come, first served
    assert recognizer.most_running == WORKERS  # the queue never oversubscribes the workers
    # The burst really waited in the queue: all but the two at work.
    assert deepest == CALLERS - WORKERS
    # The last caller waited for the others' work: its processing time includes the queue wait.
    assert answers[-1].processing_seconds > sum(seconds_for(c) for c in range(CALLERS)) / WORKERS / 2
    assert metric("porteiro_speech_queue_wait_seconds_count", kind="recognition") == waits_before + CALLERS
    assert (
        metric("porteiro_speech_rejections_total", operation="transcribe", reason="overloaded")
        == refused_before
    )
    assert metric("porteiro_speech_queue_depth", kind="recognition") == 0
    assert metric("porteiro_speech_workers_busy", kind="recognition") == 0


async def hold_workers(start_speech, **overrides):
    """A server whose every recognizer worker is held busy by a scripted recognition."""
    recognizer = ScriptedRecognizer()
    recognizer.release.clear()
    speech = await start_speech(Backends(recognizer, EspeakSynthesizer()), stt_workers=WORKERS, **overrides)
    busy = [
        asyncio.create_task(transcribe(speech.stub, transcribe_messages(utterance_of(n))))
        for n in range(WORKERS)
    ]
    await asyncio.wait_for(recognizer.wait_finishing(WORKERS), 5)
    return speech, recognizer, busy


async def test_past_the_queue_depth_a_request_is_refused_at_once_and_the_queued_ones_are_served(start_speech):
    speech, recognizer, busy = await hold_workers(start_speech, stt_queue_depth=2)
    queue = speech.app.servicer.recognition_queue
    queued = [
        asyncio.create_task(transcribe(speech.stub, transcribe_messages(utterance_of(n)))) for n in range(2)
    ]
    await until(lambda: queue.depth == 2)
    began = time.perf_counter()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await transcribe(speech.stub, transcribe_messages(utterance_of(9)))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (
        "queue full" in caught.value.details() and "PORTEIRO_SPEECH_STT_QUEUE_DEPTH" in caught.value.details()
    )
    assert time.perf_counter() - began < 1.0  # refused without waiting the 8 s queue time
    recognizer.release.set()
    answers = await asyncio.gather(*busy, *queued)
    assert [answer.text for answer in answers] == ["Sim, pode subir."] * 4


async def test_past_the_wait_limit_a_request_is_refused_and_leaves_the_queue(start_speech):
    speech, recognizer, busy = await hold_workers(start_speech, stt_queue_seconds=0.3)
    began = time.perf_counter()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await transcribe(speech.stub, transcribe_messages(utterance_of(5)))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "PORTEIRO_SPEECH_STT_QUEUE_SECONDS" in caught.value.details()
    assert time.perf_counter() - began >= 0.3
    assert speech.app.servicer.recognition_queue.depth == 0
    recognizer.release.set()
    await asyncio.gather(*busy)


async def test_a_shorter_client_deadline_wins_over_the_queue_time(start_speech):
    speech, recognizer, busy = await hold_workers(start_speech, stt_queue_seconds=8)
    queue = speech.app.servicer.recognition_queue
    began = time.perf_counter()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await transcribe(speech.stub, transcribe_messages(utterance_of(5)), deadline=0.5)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.perf_counter() - began < 3.0  # not the 8 s queue time
    await until(lambda: queue.depth == 0)  # the expired request gave its place up
    recognizer.release.set()
    await asyncio.gather(*busy)
    assert queue.running == 0


class GatedSynthesizer:
    """The real `Synthesizer` interface; every synthesis waits for `release`, then yields 100 ms."""

    name = "gated"
    default_voice = "pt-br"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running = 0

    async def start(self) -> None:
        return None

    async def synthesize(self, text: str, voice: str, sample_rate_hz: int) -> AsyncIterator[bytes]:
        self.running += 1
        try:
            await self.release.wait()
            yield b"\x01\x00" * (sample_rate_hz // 10)
        finally:
            self.running -= 1

    async def close(self) -> None:
        return None


async def first_audio(stub, text: str, deadline: float = 10) -> speech_pb2.SynthesizeResponse:
    async for response in stub.Synthesize(speech_pb2.SynthesizeRequest(text=text), timeout=deadline):
        return response
    raise AssertionError("no audio")


async def test_syntheses_queue_behind_busy_workers_and_cached_sentences_skip_the_queue(start_speech):
    synthesizer = GatedSynthesizer()
    synthesizer.release.set()
    speech = await start_speech(
        Backends(ScriptedRecognizer(), synthesizer), tts_workers=1, tts_queue_seconds=0.3, tts_queue_depth=1
    )
    await first_audio(speech.stub, "Bom dia.")  # now cached
    synthesizer.release.clear()
    queue = speech.app.servicer.synthesis_queue
    held = asyncio.create_task(first_audio(speech.stub, "Um momento, por favor."))
    await until(lambda: synthesizer.running == 1)
    waiting = asyncio.create_task(first_audio(speech.stub, "Pode subir."))
    await until(lambda: queue.depth == 1)
    with pytest.raises(grpc.aio.AioRpcError) as full:
        await first_audio(speech.stub, "Aguarde.")
    assert (
        full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        and "synthesis queue full" in full.value.details()
    )
    cached = await first_audio(speech.stub, "Bom dia.")  # served at once although every worker is busy
    assert cached.cached
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await waiting  # nobody freed the worker within 0.3 s
    assert late.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "PORTEIRO_SPEECH_TTS_QUEUE_SECONDS" in late.value.details()
    synthesizer.release.set()
    assert len((await held).audio) == 1600
    assert (await first_audio(speech.stub, "Pode subir.")).audio  # the worker is free again


async def test_queue_series_exist_at_zero_for_both_kinds(start_speech):
    await start_speech()
    for kind in ("recognition", "synthesis"):
        assert metric("porteiro_speech_queue_depth", kind=kind) == 0
        assert metric("porteiro_speech_workers_busy", kind=kind) == 0
        assert (
            REGISTRY.get_sample_value("porteiro_speech_queue_wait_seconds_count", {"kind": kind}) is not None
        )
