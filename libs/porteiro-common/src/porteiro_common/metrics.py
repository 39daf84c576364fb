"""Prometheus helpers: the /metrics endpoint and buckets for voice latency."""

from __future__ import annotations

from prometheus_client import Gauge, start_http_server

# Seconds; from a few ms (directory lookups) to several seconds (recognition).
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
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
)


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
