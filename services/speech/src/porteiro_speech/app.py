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
        self._watchdog: asyncio.Task[None] | None = None

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
        if self.settings.stt_stuck_seconds > 0:
            self._watchdog = asyncio.create_task(self._watch_workers(health_reporter))

    async def _watch_workers(self, health: HealthReporter) -> None:
        """Report NOT_SERVING (readiness and liveness) while a recognition worker is stuck.

        A native call that never returns keeps its worker for good, and the service answered every
        later transcription with "no recognition worker freed up" while its health said SERVING
        (make eval, 2026-12-02: both whisper workers stuck after a few hundred transcriptions, six
        minutes of calls ended on the technical-problem sentence). A thread cannot be stopped from
        Python: the orchestrator restarts the pod (its liveness probe), and its Service stops
        sending it calls at once (readiness). A job that ends after all brings SERVING back.
        """
        limit = self.settings.stt_stuck_seconds
        queue = self.servicer.recognition_queue
        reported = False
        while True:
            await asyncio.sleep(min(5.0, limit / 4))
            stuck = queue.running_longer_than(limit)
            metrics.WORKERS_STUCK.labels("recognition").set(stuck)
            if bool(stuck) == reported:
                continue
            reported = bool(stuck)
            if stuck:
                log.error(
                    "recognition worker stuck: NOT_SERVING until it returns (restart the service)",
                    extra={"stuck": stuck, "workers": queue.workers, "limit_seconds": limit},
                )
            else:
                log.warning("recognition workers free again: SERVING")
            await health.set_alive(not stuck)
            await health.set_serving(not stuck)

    def _stop_watching(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()

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

    async def drain(self, grace_seconds: float) -> None:
        self._stop_watching()  # NOT_SERVING from now on, whatever the workers do

    async def stop(self, grace_seconds: float) -> None:
        self._stop_watching()
        await self.tenants.stop()
        await asyncio.gather(self.backends.recognizer.close(), self.backends.synthesizer.close())
