"""OpenTelemetry tracing configured from the standard OTEL_* variables.

No exporter is installed unless one is asked for: an OTLP exporter when
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set
(or ``OTEL_TRACES_EXPORTER=otlp``), over gRPC or HTTP as
``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL`` say
(``grpc``, the default, or ``http/protobuf``), and/or the local span file when
``PORTEIRO_SPAN_FILE`` is set (read by ``porteiro-report``).

`server_tracing_interceptor` traces gRPC server calls like OpenTelemetry's own
interceptor, but a call its servicer deliberately ends with a client error
(INVALID_ARGUMENT, NOT_FOUND...) keeps its ERROR status and message without an
``exception`` event: its stack trace is the abort machinery, noise in every trace.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from porteiro_common.settings import ObservabilitySettings
from porteiro_common.spanfile import JsonLinesSpanExporter


def otlp_requested(environ: Mapping[str, str]) -> bool:
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").lower()
    if exporters == "none":
        return False
    return (
        "otlp" in exporters
        or bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        or bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    )


# Values of OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL this service can export with.
OTLP_PROTOCOLS = ("grpc", "http/protobuf")


class TracingConfigError(ValueError):
    """An OTEL_* variable asks for something this service cannot do."""


def otlp_protocol(environ: Mapping[str, str]) -> str:
    """The OTLP transport asked for: the traces-specific variable first, then the general one."""
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    if protocol not in OTLP_PROTOCOLS:
        raise TracingConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported (supported: {', '.join(OTLP_PROTOCOLS)})"
        )
    return protocol


def otlp_exporter(environ: Mapping[str, str]) -> SpanExporter:
    """The OTLP span exporter for the protocol asked for; it reads its endpoint from the environment."""
    if otlp_protocol(environ) == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    return GrpcExporter()


def configure_tracing(
    service_name: str,
    settings: ObservabilitySettings,
    extra_exporter: SpanExporter | None = None,
    environ: Mapping[str, str] = os.environ,
) -> TracerProvider:
    """Install the global tracer provider for this process and return it."""
    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    if otlp_requested(environ):
        try:
            exporter = otlp_exporter(environ)
        except TracingConfigError as error:
            # Like a bad PORTEIRO_* setting (settings.load_settings): say which, exit 2.
            print(f"invalid tracing configuration: {error}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if settings.span_file is not None:
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(settings.span_file)))
    if extra_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(extra_exporter))
    trace.set_tracer_provider(provider)
    return provider


def current_traceparent() -> str:
    """W3C traceparent of the current span ('' when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def context_from_traceparent(traceparent: str):
    """An OTel context whose parent is the given traceparent (or the empty context)."""
    if not traceparent:
        return None
    return propagate.extract({"traceparent": traceparent})


# Status codes that say the caller asked for something wrong or absent: expected, not a fault.
CLIENT_ERROR_CODES = frozenset(
    code.value[0]
    for code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.CANCELLED,
    )
)
# The attribute OpenTelemetry's servicer context sets when the servicer aborts.
GRPC_STATUS_ATTRIBUTE = "rpc.grpc.status_code"


class _ClientErrorQuietSpan:
    """A span that drops `record_exception` for a deliberate abort with a client error code."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        if isinstance(exception, grpc.aio.AbortError) and self._status_code() in CLIENT_ERROR_CODES:
            return
        self._span.record_exception(exception, *args, **kwargs)

    def _status_code(self) -> int | None:
        attributes = getattr(self._span, "attributes", None) or {}
        code = attributes.get(GRPC_STATUS_ATTRIBUTE)
        return code if isinstance(code, int) else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._span, name)


class _ClientErrorQuietTracer:
    """The tracer OpenTelemetry's server interceptor gets: the same spans, recorded exceptions
    left to the interceptor (which calls `record_exception` for non-abort errors)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextmanager
    def start_as_current_span(self, name: str, **kwargs: Any) -> Iterator[Any]:
        kwargs["record_exception"] = False
        with self._tracer.start_as_current_span(name, **kwargs) as span:
            yield _ClientErrorQuietSpan(span)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracer, name)


def server_tracing_interceptor(
    filter_: Callable[[Any], bool] | None = None, tracer_provider: trace.TracerProvider | None = None
) -> grpc.aio.ServerInterceptor:
    """OpenTelemetry's aio server interceptor, without exception events for client errors."""
    interceptor = aio_server_interceptor(tracer_provider=tracer_provider, filter_=filter_)
    # The interceptor keeps its tracer in `_tracer` (opentelemetry-instrumentation-grpc 0.66b2);
    # tests/observability/test_tracing.py fails if a new version stops using it.
    interceptor._tracer = _ClientErrorQuietTracer(interceptor._tracer)
    return interceptor
