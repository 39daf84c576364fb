"""The library health servicer, with one switch for the whole server."""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


# Health name for Kubernetes liveness: SERVING while the process runs, whatever its
# dependencies do, so a broker outage makes a pod unready, never restarted.
LIVENESS = "liveness"


class HealthReporter:
    """Sets the same status for the overall server ("") and each named service.

    The overall status is readiness; `LIVENESS` is reported separately.
    """

    def __init__(self, service_names: list[str]) -> None:
        self.servicer = health.aio.HealthServicer()
        self._names = ["", *service_names]
        self.serving = False

    async def set_alive(self, alive: bool = True) -> None:
        """Liveness: NOT_SERVING only when the process cannot recover by itself (a worker stuck
        for good): the orchestrator then restarts it."""
        await self.servicer.set(LIVENESS, SERVING if alive else NOT_SERVING)

    async def set_serving(self, serving: bool) -> None:
        self.serving = serving
        status = SERVING if serving else NOT_SERVING
        for name in self._names:
            await self.servicer.set(name, status)

    async def shutdown(self) -> None:
        self.serving = False
        await self.servicer.enter_graceful_shutdown()
