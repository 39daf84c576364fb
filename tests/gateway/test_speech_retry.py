"""GrpcSpeechClient over real gRPC (issue 15): retries, another replica, wait-for-ready.

The speech service is a fake at its gRPC boundary (`FlakySpeech`, a real servicer of the
real proto) that fails chosen attempts the way a busy or dying replica does: at the end of
a Transcribe stream (RESOURCE_EXHAUSTED, UNAVAILABLE), in the middle of a Synthesize stream.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from prometheus_client import REGISTRY

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.channels import create_channel
from porteiro_common.server import build_server
from porteiro_gateway.speech import GrpcSpeechClient, transcription_config
from tests.gateway.fakes import FakeSpeech, _FakeApp, audio_for_text, serve_speech

UTTERANCE = audio_for_text("Entrega.", seconds=1.3)  # 1.3 s: several 200 ms messages and a rest


class FlakySpeech(FakeSpeech):
    """FakeSpeech whose first `failures` attempts of each RPC fail with `code`."""

    def __init__(self, failures: int = 0, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        super().__init__()
        self.failures = failures
        self.code = code
        self.transcribe_attempts = 0
        self.synthesize_attempts = 0

    async def Transcribe(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        self.transcribe_attempts += 1
        if self.transcribe_attempts <= self.failures:
            async for _ in request_iterator:  # the whole utterance came, then the failure
                pass
            await context.abort(self.code, "all recognizer workers busy")
        return await super().Transcribe(request_iterator, context)

    async def Synthesize(self, request, context):  # noqa: N802
        self.synthesize_attempts += 1
        failing = self.synthesize_attempts <= self.failures
        sent = 0
        async for response in super().Synthesize(request, context):
            if failing and sent == 2:  # two chunks out, then the replica dies
                await context.abort(self.code, "replica going away")
            sent += 1
            yield response


def retries(rpc: str, code: str) -> float:
    value = REGISTRY.get_sample_value("porteiro_gateway_speech_retries_total", {"rpc": rpc, "code": code})
    return value or 0.0


async def transcribe(client: GrpcSpeechClient, audio: bytes = UTTERANCE) -> speech_pb2.TranscribeResponse:
    transcription = client.transcription(transcription_config(8000, "session", ["entrega"], "pt-BR"))
    transcription.start(max_utterance_seconds=15)
    for start in range(0, len(audio), 320):  # 20 ms frames, as the leg sends them
        transcription.send(audio[start : start + 320])
    transcription.finish()
    return await transcription.result()


@pytest.fixture
async def flaky():
    servers = []

    async def serve(fake: FlakySpeech, port: int = 0):
        bound = build_server(
            _FakeApp(fake, speech_pb2_grpc.add_SpeechServiceServicer_to_server), "127.0.0.1", port
        )
        await bound.server.start()
        servers.append(bound)
        return bound

    yield serve
    for bound in servers:
        await bound.server.stop(0)


async def test_a_failed_recognition_is_retried_with_the_whole_utterance(flaky):
    fake = FlakySpeech(failures=2, code=grpc.StatusCode.RESOURCE_EXHAUSTED)
    bound = await flaky(fake)
    before = retries("transcribe", "RESOURCE_EXHAUSTED")
    async with create_channel(f"127.0.0.1:{bound.port}", wait_for_ready=True) as channel:
        response = await transcribe(GrpcSpeechClient(channel, 5, recognition_timeout=5))
    assert response.text == fake.transcript
    assert fake.transcribe_attempts == 3
    (record,) = fake.transcribe_records  # the attempt that answered got every byte, once
    assert bytes(record.audio) == UTTERANCE
    assert record.config.hints == ["entrega"] and record.config.language == "pt-BR"
    assert retries("transcribe", "RESOURCE_EXHAUSTED") - before == 2


@pytest.mark.parametrize("chunk_ms", [100, 1000])
async def test_the_utterance_goes_in_whole_messages_of_chunk_ms_and_the_rest_at_the_end(flaky, chunk_ms):
    fake = FlakySpeech(failures=0, code=grpc.StatusCode.UNAVAILABLE)
    bound = await flaky(fake)
    async with create_channel(f"127.0.0.1:{bound.port}", wait_for_ready=True) as channel:
        client = GrpcSpeechClient(channel, 5, recognition_timeout=5, transcribe_chunk_ms=chunk_ms)
        await transcribe(client, UTTERANCE + bytes(960))  # 320-byte frames, then 960 bytes more
    (record,) = fake.transcribe_records
    assert bytes(record.audio) == UTTERANCE + bytes(960)
    chunk = 8000 * 2 * chunk_ms // 1000
    *whole, last = record.message_bytes
    assert whole and all(size == chunk for size in whole) and 0 < last <= chunk


async def test_a_rejected_utterance_is_not_retried(flaky):
    fake = FlakySpeech(failures=5, code=grpc.StatusCode.INVALID_ARGUMENT)
    bound = await flaky(fake)
    async with create_channel(f"127.0.0.1:{bound.port}", wait_for_ready=True) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await transcribe(GrpcSpeechClient(channel, 5, recognition_timeout=5))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fake.transcribe_attempts == 1


async def test_a_synthesis_cut_mid_stream_resumes_without_repeating_or_losing_audio(flaky):
    fake = FlakySpeech(failures=1, code=grpc.StatusCode.UNAVAILABLE)
    bound = await flaky(fake)
    text = "Qual é o apartamento?"
    async with create_channel(f"127.0.0.1:{bound.port}", wait_for_ready=True) as channel:
        audio = await GrpcSpeechClient(channel, 5, 5).synthesize_all(text)
    assert fake.synthesize_attempts == 2
    assert audio == fake.audio(text)  # byte for byte: the first two chunks once, then the rest


async def test_a_busy_replica_is_passed_over_for_another(flaky):
    busy = await flaky(FlakySpeech(failures=10**6, code=grpc.StatusCode.RESOURCE_EXHAUSTED))
    healthy_fake = FlakySpeech()
    healthy = await flaky(healthy_fake)
    target = f"ipv4:127.0.0.1:{busy.port},127.0.0.1:{healthy.port}"  # what a headless Service resolves to
    async with create_channel(target, wait_for_ready=True) as channel:
        client = GrpcSpeechClient(channel, 5, recognition_timeout=5)
        responses = await asyncio.gather(*(transcribe(client) for _ in range(10)))
    assert all(response.text == healthy_fake.transcript for response in responses)
    assert len(healthy_fake.transcribe_records) == 10


async def test_speech_down_past_the_limit_is_a_deadline_error_naming_the_wait():
    async with create_channel("127.0.0.1:1", wait_for_ready=True) as channel:
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await transcribe(GrpcSpeechClient(channel, 5, recognition_timeout=1.0))
        waited = time.monotonic() - started
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    details = raised.value.details() or ""
    assert "no transcript within 1 s of the end of speech (" in details and " attempts)" in details
    assert "last failure: " in details  # the first attempt failed fast; the retries waited
    assert 0.9 <= waited < 3.0
    await asyncio.sleep(0.1)  # the last attempt's own deadline ends its tasks (no leak)


async def test_a_synthesis_waits_for_speech_restarting_within_its_deadline():
    fake = FakeSpeech()
    first = await serve_speech(fake)
    port = first.port
    await first.server.stop(0)
    async with create_channel(f"127.0.0.1:{port}", wait_for_ready=True) as channel:
        client = GrpcSpeechClient(channel, rpc_timeout=5, recognition_timeout=5)
        pending = asyncio.ensure_future(client.synthesize_all("Olá"))
        await asyncio.sleep(1.0)  # speech is down meanwhile: the call waits instead of failing
        assert not pending.done()
        restarted = build_server(
            _FakeApp(fake, speech_pb2_grpc.add_SpeechServiceServicer_to_server), "127.0.0.1", port
        )
        await restarted.server.start()
        try:
            audio = await asyncio.wait_for(pending, 4)
        finally:
            await restarted.server.stop(0)
    assert audio == fake.audio("Olá")


async def test_a_synthesis_failing_past_the_outage_limit_raises(flaky):
    fake = FlakySpeech(failures=10**6, code=grpc.StatusCode.UNAVAILABLE)
    bound = await flaky(fake)
    async with create_channel(f"127.0.0.1:{bound.port}", wait_for_ready=True) as channel:
        client = GrpcSpeechClient(channel, 5, 5, outage_seconds=1.0)
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.synthesize_all("Olá")
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert 0.5 <= time.monotonic() - started < 2.0
    assert fake.synthesize_attempts >= 3


class RefusingSpeech(FakeSpeech):
    """Refuses a Transcribe at its first message, while the caller is still speaking."""

    async def Transcribe(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown language")


def request_readers() -> list[asyncio.Task]:
    """gRPC's tasks that read a call's request stream, still waiting for a message."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and "_consume_request_iterator" in repr(task.get_coro())
    ]


async def test_an_attempt_that_fails_mid_utterance_ends_its_request_stream(flaky):
    """A failed attempt left without finish() or cancel() (the leg dropped it) must not leave
    gRPC's request reader waiting forever (under load: "Task was destroyed but it is pending")."""
    bound = await flaky(RefusingSpeech())
    async with create_channel(f"127.0.0.1:{bound.port}") as channel:
        transcription = GrpcSpeechClient(channel, 5, recognition_timeout=5).transcription(
            transcription_config(8000, "session", [], "pt-BR")
        )
        transcription.start(max_utterance_seconds=15)
        transcription.send(UTTERANCE[:3200])  # mid-utterance: no finish()
        with pytest.raises(grpc.aio.AioRpcError):
            await transcription.result()
        for _ in range(50):
            if not request_readers():
                break
            await asyncio.sleep(0.01)
        assert request_readers() == []
