"""Wires the directory service into the shared runtime."""

from __future__ import annotations

import grpc
from opentelemetry import trace

from porteiro.directory.v1 import directory_pb2_grpc
from porteiro_common.health import HealthReporter
from porteiro_common.redaction import Redactor
from porteiro_common.server import ServiceApp
from porteiro_common.settings import ObservabilitySettings, load_settings
from porteiro_common.tenants import Refresh, TenantWatcher
from porteiro_directory.matching import Thresholds
from porteiro_directory.servicer import DirectoryServicer
from porteiro_directory.settings import DirectorySettings
from porteiro_directory.store import DirectoryStore, FileWatcher
from porteiro_directory.tenants import TenantDirectories


def thresholds_from(settings: DirectorySettings) -> Thresholds:
    return Thresholds(
        apartment=settings.apartment_threshold,
        resident=settings.resident_threshold,
        ambiguity_margin=settings.ambiguity_margin,
        max_candidates=settings.max_candidates,
    )


class DirectoryApp(ServiceApp[DirectorySettings]):
    """Serves the data file, or the tenants folder when set.

    NOT_SERVING until a valid data file has been loaded once (or the tenants
    folder has been read once)."""

    service_names = ("porteiro.directory.v1.DirectoryService",)

    def __init__(
        self,
        settings: DirectorySettings,
        observability: ObservabilitySettings | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        super().__init__(settings)
        observability = observability or load_settings(ObservabilitySettings)
        self.store = DirectoryStore(settings.data_file, thresholds_from(settings))
        self.tenants = (
            TenantDirectories(settings.tenants_dir, thresholds_from(settings))
            if settings.tenants_dir is not None
            else None
        )
        self.servicer = DirectoryServicer(
            self.store,
            settings.max_text_length,
            Redactor(observability.trace_personal_data),
            tracer or trace.get_tracer("porteiro.directory"),
            self.tenants,
        )
        self.watcher: FileWatcher | TenantWatcher | None = None
        self._health: HealthReporter | None = None

    def register(self, server: grpc.aio.Server) -> None:
        directory_pb2_grpc.add_DirectoryServiceServicer_to_server(self.servicer, server)

    async def start(self, health_reporter: HealthReporter) -> None:
        self._health = health_reporter
        # grpc's HealthServicer reports the overall service ("") SERVING by
        # default; say NOT_SERVING until the data has loaded.
        await health_reporter.set_serving(False)
        if self.tenants is not None:
            watcher = TenantWatcher(
                self.tenants.registry, self.settings.reload_interval_seconds, self._refreshed
            )
            self.watcher = watcher
            await watcher.refresh()
            watcher.start()
            return
        # The watcher notes the file's signature before the first load, so a
        # change made while loading is picked up by the next poll.
        self.watcher = FileWatcher(self.store, self.settings.reload_interval_seconds, self._loaded)
        if await self.store.try_load():
            await health_reporter.set_serving(True)
        self.watcher.start()

    async def _refreshed(self, report: Refresh) -> None:
        assert self.tenants is not None
        self.tenants.counted(report)
        if self.tenants.ready:
            await self._loaded()

    async def _loaded(self) -> None:
        if self._health is not None and not self._health.serving:
            await self._health.set_serving(True)

    async def stop(self, grace_seconds: float) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
