"""Prometheus helpers: the /metrics endpoint and buckets for voice latency."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

from opentelemetry import trace
from prometheus_client import Gauge, Histogram, start_http_server
from prometheus_client.utils import floatToGoString

# Seconds; from a few ms (directory lookups) to several seconds (recognition). Fine between
# 0.5 and 5 s, where turn latency lives, so its p95 and the alert thresholds are not blurred.
VOICE_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    1.0,
    1.25,
    1.5,
    1.75,
    2.0,
    2.5,
    3.0,
    3.5,
    4.0,
    5.0,
    7.5,
    10.0,
)


class TracedHistogram(Histogram):
    """A histogram whose observations carry the current trace id as an exemplar.

    Exemplars only travel in the OpenMetrics exposition (what Prometheus asks for
    when its exemplar storage is on); the classic text format leaves them out.
    """

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        super().observe(amount, exemplar if exemplar is not None else current_trace_exemplar())


def trace_exemplar(span: trace.Span) -> dict[str, str] | None:
    """{"trace_id": ...} of `span`, or None when it is not part of a sampled trace. For code
    that observes outside its span's context: `HISTOGRAM.observe(seconds, trace_exemplar(span))`."""
    context = span.get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return {"trace_id": format(context.trace_id, "032x")}


def current_trace_exemplar() -> dict[str, str] | None:
    """The exemplar of the span in context (see `trace_exemplar`)."""
    return trace_exemplar(trace.get_current_span())


class MetricsEndpoint:
    """Serves the default registry on its own port, in a background thread."""

    def __init__(self, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# 1 while a dependency (broker, Redis, another service) answers, else 0.
DEPENDENCY_UP = Gauge(
    "porteiro_dependency_up", "Whether a dependency of this service is reachable", ["dependency"]
)

BUILD_INFO = Gauge(
    "porteiro_build_info",
    "Always 1; the labels say which build of which service runs",
    ["service", "version"],
)


def set_build_info(service: str, distribution: str) -> None:
    """Publish porteiro_build_info{service, version} = 1 (version of the installed distribution)."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = "unknown"
    BUILD_INFO.labels(service=service, version=version).set(1)


def cumulative_buckets(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, int]]:
    """A lock-free histogram's per-bucket counts (the last above every bound) as the cumulative
    `(le, count)` pairs of a HistogramMetricFamily (the gateway's LoopHistogram, GcPauses)."""
    cumulative, running = [], 0
    for bound, count in zip([*bounds, float("inf")], list(counts), strict=True):
        running += count
        cumulative.append((floatToGoString(bound), running))
    return cumulative
