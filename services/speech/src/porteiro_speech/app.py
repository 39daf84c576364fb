"""Wires the speech service into the shared runtime.

Start-up order: the prompts file is read (a bad file stops the service, naming
it); the recognizer (whisper model load) and the synthesizer start in
parallel, and the fixed prompts are synthesized into the cache while the model
loads. Health turns SERVING only when the model is loaded AND the warm-up has
finished (or hit `warmup_timeout_seconds`), so the first call's greeting is
already cached. A warm-up sentence that fails is logged and counted; it does
not keep the service down.
"""

from __future__ import annotations

import asyncio
import logging

import grpc
from opentelemetry import trace

from porteiro.speech.v1 import speech_pb2_grpc
from porteiro_common.health import HealthReporter
from porteiro_common.prompts import fixed_sentences, load_prompts
from porteiro_common.redaction import Redactor
from porteiro_common.server import ServiceApp
from porteiro_common.settings import ObservabilitySettings
from porteiro_speech import metrics
from porteiro_speech.backends import BackendError, Backends
from porteiro_speech.factory import build_backends
from porteiro_speech.servicer import SpeechServicer
from porteiro_speech.settings import SpeechSettings
from porteiro_speech.tenancy import SpeechTenants

log = logging.getLogger(__name__)


class SpeechApp(ServiceApp[SpeechSettings]):
    service_names = ("porteiro.speech.v1.SpeechService",)

    def __init__(
        self,
        settings: SpeechSettings,
        backends: Backends | None = None,
        observability: ObservabilitySettings | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        super().__init__(settings)
        self.backends = backends or build_backends(settings)
        metrics.create_backend_label_values(self.backends.recognizer.name, self.backends.synthesizer.name)
        observability = observability or ObservabilitySettings()
        self.servicer = SpeechServicer(
            self.backends, settings, Redactor(observability.trace_personal_data), tracer
        )
        self.tenants = SpeechTenants(settings, self.servicer)

    def register(self, server: grpc.aio.Server) -> None:
        speech_pb2_grpc.add_SpeechServiceServicer_to_server(self.servicer, server)

    async def start(self, health_reporter: HealthReporter) -> None:
        # The library health servicer reports "" SERVING from birth; say NOT_SERVING until ready.
        await health_reporter.set_serving(False)
        sentences = fixed_sentences(load_prompts(self.settings.prompts_file)) if self.settings.warmup else []
        await asyncio.gather(self.backends.recognizer.start(), self._start_synthesis(sentences))
        await self.tenants.start()  # voices checked now; their sentences warmed in the background
        log.info(
            "speech ready",
            extra={
                "recognizer": self.backends.recognizer.name,
                "synthesizer": self.backends.synthesizer.name,
                "cached_prompts": len(self.servicer.cache),
            },
        )
        await health_reporter.set_serving(True)

    async def _start_synthesis(self, sentences: list[str]) -> None:
        await self.backends.synthesizer.start()
        try:
            await asyncio.wait_for(self._warm_up(sentences), self.settings.warmup_timeout_seconds)
        except TimeoutError:
            log.warning(
                "prompt warm-up timed out", extra={"timeout_seconds": self.settings.warmup_timeout_seconds}
            )

    async def _warm_up(self, sentences: list[str]) -> None:
        for sentence in sentences:
            try:
                await self.servicer.synthesize_into_cache(sentence)
            except BackendError as error:
                metrics.ERRORS.labels(self.backends.synthesizer.name, "warmup").inc()
                log.warning("prompt warm-up failed", extra={"reason": str(error)})

    async def stop(self, grace_seconds: float) -> None:
        await self.tenants.stop()
        await asyncio.gather(self.backends.recognizer.close(), self.backends.synthesizer.close())
