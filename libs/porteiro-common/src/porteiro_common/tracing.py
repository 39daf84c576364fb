"""OpenTelemetry tracing configured from the standard OTEL_* variables.

No exporter is installed unless one is asked for: an OTLP exporter when
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set
(or ``OTEL_TRACES_EXPORTER=otlp``), and/or the local span file when
``PORTEIRO_SPAN_FILE`` is set (read by ``porteiro-report``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import propagate, trace
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
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
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
