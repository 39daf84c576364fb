"""gRPC server bootstrap shared by every service.

`build_server` assembles a `grpc.aio` server (tracing interceptor, the
library health servicer starting NOT_SERVING, reflection) and binds it;
`serve` runs it with a /metrics endpoint until SIGTERM/SIGINT, then turns
health NOT_SERVING, waits `shutdown_delay_seconds` so load balancers notice,
and stops with the grace period. `run_service` is what each service's
``__main__`` calls.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import filters

from porteiro_common.gc_pauses import watch_gc_pauses
from porteiro_common.health import HealthReporter
from porteiro_common.listening import report_listening
from porteiro_common.logs import configure_logging
from porteiro_common.metrics import MetricsEndpoint
from porteiro_common.reflection import enable_documented_reflection
from porteiro_common.request_decoding import RequestDecodingInterceptor
from porteiro_common.settings import ObservabilitySettings, ServiceSettings, load_settings
from porteiro_common.tracing import configure_tracing, server_tracing_interceptor

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


class ServiceApp(Generic[S]):
    """What a service plugs into the runtime. Override what you need.

    `start` runs after the server is listening; it readies dependencies and
    reports health (the default reports SERVING at once). `stop` runs after
    SIGTERM, while in-flight RPCs get their grace period.
    """

    #: Fully-qualified gRPC service names, e.g. "porteiro.directory.v1.DirectoryService".
    service_names: Sequence[str] = ()

    def __init__(self, settings: S) -> None:
        self.settings = settings

    def register(self, server: grpc.aio.Server) -> None:
        """Add the service's servicers to the server."""

    async def start(self, health_reporter: HealthReporter) -> None:
        await health_reporter.set_serving(True)

    async def drain(self, grace_seconds: float) -> None:
        """After SIGTERM, with health NOT_SERVING and the gRPC server still up: let work in
        progress finish before the server stops (the gateway's calls). The default returns at once."""

    async def stop(self, grace_seconds: float) -> None:
        """Release resources; may take up to `grace_seconds`."""


@dataclass
class BoundServer:
    server: grpc.aio.Server
    port: int
    health: HealthReporter


# Accept the keepalive pings client channels (porteiro_common.channels) send on idle
# connections; gRPC's defaults would answer them with GOAWAY "too_many_pings".
SERVER_OPTIONS = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
]


def build_server(app: ServiceApp, host: str, port: int) -> BoundServer:
    """Create the aio server for `app` and bind it (port 0 picks a free port)."""
    # Health probes and reflection are not traced: they are noise, and the OTel
    # aio interceptor cannot wrap the health servicer's Watch stream.
    untraced = filters.any_of(
        filters.service_prefix(health.SERVICE_NAME), filters.service_prefix("grpc.reflection")
    )
    server = grpc.aio.server(
        # The decoding check is inside the tracing one, so a refused request still has its server span.
        interceptors=[server_tracing_interceptor(filters.negate(untraced)), RequestDecodingInterceptor()],
        options=SERVER_OPTIONS,
    )
    app.register(server)
    reporter = HealthReporter(list(app.service_names))
    health_pb2_grpc.add_HealthServicer_to_server(reporter.servicer, server)
    # Descriptors with their proto comments, so `grpcurl describe` documents the API.
    enable_documented_reflection([*app.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    bound_port = server.add_insecure_port(f"{host}:{port}")
    if bound_port == 0:
        raise OSError(f"cannot bind gRPC server to {host}:{port}")
    return BoundServer(server, bound_port, reporter)


def _stop_event() -> asyncio.Event:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, event.set)
    return event


async def serve(app: ServiceApp, settings: ServiceSettings) -> None:
    bound = build_server(app, settings.grpc_host, settings.grpc_port)
    metrics = MetricsEndpoint(settings.metrics_host, settings.metrics_port)
    stop_requested = _stop_event()
    # The library servicer starts with the overall status SERVING; not yet.
    await bound.health.set_serving(False)
    await bound.health.set_alive()
    await bound.server.start()
    report_listening(settings.ports_file, "grpc", bound.port)
    report_listening(settings.ports_file, "metrics", metrics.port)
    try:
        start = asyncio.create_task(app.start(bound.health))
        stopper = asyncio.create_task(stop_requested.wait())
        await asyncio.wait({start, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if start.done():
            start.result()
            await stopper
        else:
            start.cancel()
        log.info("stopping", extra={"grace_seconds": settings.grace_period_seconds})
        await bound.health.set_serving(False)
        await asyncio.sleep(settings.shutdown_delay_seconds)
        await app.drain(settings.grace_period_seconds)  # health still served meanwhile
        await bound.health.shutdown()
        await asyncio.gather(
            bound.server.stop(settings.grace_period_seconds),
            app.stop(settings.grace_period_seconds),
        )
    finally:
        metrics.close()
        log.info("stopped")


def run_service(service_name: str, settings_cls: type[S], app_factory: Callable[[S], ServiceApp]) -> None:
    """Entry point of every service's ``python -m``: settings, logs, tracing, serve."""
    settings = load_settings(settings_cls)
    observability = load_settings(ObservabilitySettings)
    configure_logging(service_name, observability)
    provider = configure_tracing(service_name, observability)
    watch_gc_pauses()
    try:
        uvloop.run(serve(app_factory(settings), settings))
    finally:
        provider.shutdown()
