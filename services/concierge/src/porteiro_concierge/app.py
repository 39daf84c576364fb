"""Wires the concierge service into the shared runtime."""

from __future__ import annotations

import asyncio
import logging

import grpc

from porteiro.concierge.v1 import concierge_pb2_grpc
from porteiro_common.call_register import CallFinishedPublisher
from porteiro_common.health import HealthReporter
from porteiro_common.redaction import Redactor
from porteiro_common.server import ServiceApp
from porteiro_common.settings import ObservabilitySettings
from porteiro_common.tenants import (
    Condominium,
    CondominiumLabels,
    TenantRegistry,
    TenantWatcher,
    default_condominium,
)
from porteiro_concierge.call_register import CallRegister, NoCallRegister, PublishingCallRegister
from porteiro_concierge.core import Conversation, Rules
from porteiro_concierge.dependencies import DialerClient, DirectoryClient
from porteiro_concierge.engine import CallEngine
from porteiro_concierge.extraction.factory import build_extractors
from porteiro_concierge.hints import Vocabulary
from porteiro_concierge.prompts import Prompts
from porteiro_concierge.reading import SentenceReader
from porteiro_concierge.service import ConciergeServicer
from porteiro_concierge.settings import ConciergeSettings
from porteiro_concierge.store import build_store
from porteiro_concierge.tenancy import (
    CallTenant,
    CondominiumDialer,
    CondominiumDirectory,
    TenantCalls,
    tenant_builder,
)
from porteiro_concierge.understanding import Answers

log = logging.getLogger(__name__)


class ConciergeApp(ServiceApp[ConciergeSettings]):
    service_names = ("porteiro.concierge.v1.ConciergeService",)

    def __init__(
        self, settings: ConciergeSettings, observability: ObservabilitySettings | None = None
    ) -> None:
        super().__init__(settings)
        self.servicer: ConciergeServicer | None = None
        observability = observability or ObservabilitySettings()
        self.prompts = Prompts(settings.prompts_file)
        self.store = build_store(
            settings.redis_url, settings.session_ttl_seconds, settings.redis_timeout_seconds
        )
        self.directory = DirectoryClient(settings.directory_target, settings.dependency_timeout_seconds)
        self.dialer = DialerClient(settings.dialer_target, settings.dependency_timeout_seconds)
        # An extractor that asks the directory may make up to three calls per sentence.
        self._reading_budget = settings.llm_timeout_seconds + 3 * settings.dependency_timeout_seconds
        self._redactor = Redactor(observability.trace_personal_data)
        self.call_register = build_call_register(settings)
        answers = Answers.load(settings.answers_file)
        # One conversation and engine per condominium (a single `default` one without TENANTS_DIR).
        self.tenants: TenantRegistry[CallTenant] = TenantRegistry(
            settings.tenants_dir,
            tenant_builder(
                self._engine_for,
                lambda prompts, vocabulary: Rules(settings, prompts, vocabulary, answers),
                self.directory,
                CondominiumLabels(settings.metrics_condominiums, settings.metrics_condominiums_limit),
            ),
            self.prompts.sentences(),
            default_condominium(self.prompts.sentences()),
        )
        self.tenants.refresh()  # at startup, before any call can arrive
        self.calls = TenantCalls(self.tenants, self.store)
        self.watcher = TenantWatcher(self.tenants, settings.reload_interval_seconds)

    @property
    def reader(self) -> SentenceReader:
        """The sentence reader of the first condominium (the single-condominium deployment's)."""
        first = next(iter(self.tenants.current.by_id.values()))
        return first.data.engine.reader

    def _engine_for(
        self, condominium: Condominium, conversation: Conversation, vocabulary: Vocabulary
    ) -> CallEngine:
        """A condominium's engine: its conversation, and directory and dialer clients that name it."""
        directory = CondominiumDirectory(self.directory, condominium.id)
        extractor, fallback = build_extractors(self.settings, directory)
        return CallEngine(
            self.store,
            conversation,
            directory,
            CondominiumDialer(self.dialer, condominium.id),
            SentenceReader(extractor, fallback, self._redactor, self._reading_budget),
            vocabulary,
            call_register=self.call_register,
        )

    def register(self, server: grpc.aio.Server) -> None:
        self.servicer = ConciergeServicer(self.calls, self.store, self.settings.deadline_reread_seconds)
        concierge_pb2_grpc.add_ConciergeServiceServicer_to_server(self.servicer, server)

    async def start(self, health_reporter: HealthReporter) -> None:
        # Sessions are the one hard dependency; directory and dialer being down
        # only degrades calls (spoken apologies), so they do not gate health.
        while not await self.store.ping():
            log.warning("session store unreachable, retrying")
            await asyncio.sleep(1.0)
        await self.call_register.start()  # connects in the background; calls never wait for it
        self.watcher.start()  # condominiums added, changed or removed in TENANTS_DIR, without restart
        await health_reporter.set_serving(True)

    async def stop(self, grace_seconds: float) -> None:
        # The server takes no new streams now; the open ones are handed over to the other
        # replicas (the gateways reopen them; the calls live on in the shared session store).
        if self.servicer is not None and not await self.servicer.hand_over(grace_seconds):
            log.warning("streams still open after the handover")
        await self.watcher.stop()
        # No call finishes here any more: flush the register events of those that did.
        await self.call_register.close(grace_seconds)
        await asyncio.gather(self.directory.close(), self.dialer.close(), return_exceptions=True)
        await self.store.close()


def build_call_register(settings: ConciergeSettings) -> CallRegister:
    """The visitor register's publisher when enabled; otherwise finished calls are not published."""
    if not settings.register_enabled:
        return NoCallRegister()
    publisher = CallFinishedPublisher(
        settings.register_amqp_url.get_secret_value(),
        settings.register_queue,
        buffer_size=settings.register_buffer_size,
    )
    log.info("visitor register enabled: finished calls are published to queue %s", settings.register_queue)
    return PublishingCallRegister(publisher)
