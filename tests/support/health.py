"""The gRPC health service of a service under test: its overall status, and a poll until it
reports the one a test waits for (`GrpcHealth` gives a running service's record both)."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


async def health_status(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return (await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)).status


async def wait_health(channel: grpc.aio.Channel, status: int, within: float) -> float:
    """Poll until health reports `status`; returns the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        if await health_status(channel) == status:
            return time.monotonic() - began
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"health not {health_pb2.HealthCheckResponse.ServingStatus.Name(status)} after {within} s"
    )


class GrpcHealth:
    """For a running service's record with a `channel`: its health, and waiting for a status."""

    channel: grpc.aio.Channel
    wait_within: ClassVar[float] = 15.0

    async def health(self) -> int:
        return await health_status(self.channel)

    async def wait_health(self, status: int, within: float | None = None) -> float:
        """Poll until health reports `status` (within `wait_within` s by default); the seconds it took."""
        return await wait_health(self.channel, status, self.wait_within if within is None else within)
