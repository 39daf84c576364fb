"""In-process speech servers on loopback for the speech suite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.server import BoundServer, build_server
from porteiro_common.settings import ObservabilitySettings
from porteiro_speech.app import SpeechApp
from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from porteiro_speech.settings import SpeechSettings
from tests.speech.fakes import ScriptedRecognizer


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def transcribe_messages(audio: bytes, chunk: int = 320, **config) -> list[speech_pb2.TranscribeRequest]:
    messages = [speech_pb2.TranscribeRequest(config=speech_pb2.TranscriptionConfig(**config))]
    messages += [
        speech_pb2.TranscribeRequest(audio=audio[i : i + chunk]) for i in range(0, len(audio), chunk)
    ]
    return messages


async def transcribe(stub, messages: list[speech_pb2.TranscribeRequest], deadline: float = 30):
    """One Transcribe call sending `messages`; its answer, or its error raised.

    Writing stops once the service has answered. Still, a write already under way when the
    service refuses can fail on the client as INTERNAL ("Failed execute_batch") before the
    service's own status arrives (CI, under load): a test of a refusal ends its messages with
    the one refused (a config refused is sent alone).
    """
    call = None

    async def requests():
        for message in messages:
            if call is not None and call.done():
                return
            yield message
            await asyncio.sleep(0)

    call = stub.Transcribe(requests(), timeout=deadline)
    return await call


@dataclass
class RunningSpeech:
    app: SpeechApp
    bound: BoundServer
    channel: grpc.aio.Channel
    spans: InMemorySpanExporter

    @property
    def stub(self) -> speech_pb2_grpc.SpeechServiceStub:
        return speech_pb2_grpc.SpeechServiceStub(self.channel)


@pytest.fixture
async def start_speech() -> AsyncIterator[Callable[..., object]]:
    """Factory: a real speech server on a free loopback port with the given backends and settings."""
    running: list[RunningSpeech] = []

    async def start(
        backends: Backends | None = None, trace_personal_data: bool = False, **overrides
    ) -> RunningSpeech:
        settings = SpeechSettings(**{"grpc_host": "127.0.0.1", "grpc_port": 0, "warmup": False, **overrides})
        if backends is None:
            backends = Backends(ScriptedRecognizer(), EspeakSynthesizer(chunk_ms=settings.synthesis_chunk_ms))
        spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(spans))
        app = SpeechApp(
            settings,
            backends,
            ObservabilitySettings(trace_personal_data=trace_personal_data),
            tracer=provider.get_tracer("porteiro.speech"),
        )
        bound = build_server(app, settings.grpc_host, settings.grpc_port)
        await bound.server.start()
        await app.start(bound.health)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}")
        service = RunningSpeech(app, bound, channel, spans)
        running.append(service)
        return service

    yield start
    for service in running:
        await service.channel.close()
        await service.bound.server.stop(0)
        await service.app.stop(0)
