"""Dialer figures against the machine's RabbitMQ: PlaceCall latency, throughput, outage detection.

Run from the repository root: `.venv/bin/python bench/bench_dialer.py [--calls 200]`.
Uses a throw-away queue (deleted at the end) and a TCP proxy to simulate the broker
going away, so the shared broker is never stopped. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.dialer helpers

from porteiro.dialer.v1 import dialer_pb2, dialer_pb2_grpc  # noqa: E402
from porteiro_common.server import build_server  # noqa: E402
from porteiro_common.settings import ObservabilitySettings  # noqa: E402
from porteiro_dialer.app import DialerApp  # noqa: E402
from porteiro_dialer.settings import DialerSettings  # noqa: E402
from tests.dialer.conftest import BrokerQueue, broker_address, url_via_port  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

SERVING = health_pb2.HealthCheckResponse.SERVING


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.5):6.2f} ms  p95 {pick(0.95):6.2f} ms  max {ordered[-1] * 1000:6.2f} ms"


async def wait_status(channel: grpc.aio.Channel, wanted: bool, limit: float = 30.0) -> float:
    stub = health_pb2_grpc.HealthStub(channel)
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        status = (await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)).status
        if (status == SERVING) == wanted:
            return time.perf_counter() - began
        await asyncio.sleep(0.01)
    raise TimeoutError("health did not change")


async def timed_calls(stub, sessions: list[str], attempt: int = 1) -> list[float]:
    samples = []
    for session in sessions:
        began = time.perf_counter()
        await stub.PlaceCall(
            dialer_pb2.PlaceCallRequest(session_id=session, destination="1001", attempt=attempt), timeout=5
        )
        samples.append(time.perf_counter() - began)
    return samples


async def run(calls: int, concurrency: int) -> None:
    queue = BrokerQueue(f"porteiro-bench-dialer-{uuid.uuid4().hex[:12]}")
    proxy = TcpProxy(broker_address()).start()
    settings = DialerSettings(
        grpc_host="127.0.0.1",
        grpc_port=0,
        queue=queue.name,
        amqp_url=url_via_port(proxy.port),
        reconnect_initial_seconds=0.1,
        reconnect_max_seconds=1.0,
    )
    app = DialerApp(settings, ObservabilitySettings())
    bound = build_server(app, settings.grpc_host, settings.grpc_port)
    await bound.server.start()
    began = time.perf_counter()
    await app.start(bound.health)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}")
    try:
        print(
            f"start → SERVING: {(await wait_status(channel, True)) + 0:.3f} s "
            f"(from app.start: {time.perf_counter() - began:.3f} s)"
        )
        stub = dialer_pb2_grpc.DialerServiceStub(channel)
        sessions = [str(uuid.uuid4()) for _ in range(calls)]
        await timed_calls(stub, sessions[:5], attempt=9)  # warm-up
        print(
            f"PlaceCall, new (session, attempt), sequential x{calls}: {percentiles(await timed_calls(stub, sessions))}"
        )
        print(
            f"PlaceCall, duplicate, sequential x{calls}:             "
            f"{percentiles(await timed_calls(stub, sessions))}"
        )

        burst = [str(uuid.uuid4()) for _ in range(calls)]
        began = time.perf_counter()
        for start in range(0, calls, concurrency):
            await asyncio.gather(
                *(
                    stub.PlaceCall(
                        dialer_pb2.PlaceCallRequest(session_id=s, destination="1001", attempt=1), timeout=10
                    )
                    for s in burst[start : start + concurrency]
                )
            )
        elapsed = time.perf_counter() - began
        print(f"PlaceCall throughput, {concurrency} concurrent: {calls / elapsed:7.1f} calls/s")

        proxy.close()
        print(f"broker gone → NOT_SERVING: {await wait_status(channel, False):.3f} s")
        refused = time.perf_counter()
        try:
            await stub.PlaceCall(
                dialer_pb2.PlaceCallRequest(session_id=sessions[0], destination="1", attempt=2), timeout=2
            )
        except grpc.aio.AioRpcError as error:
            print(
                f"PlaceCall while down: {error.code().name} in {(time.perf_counter() - refused) * 1000:.2f} ms"
            )
        await asyncio.sleep(2.0)  # let the backoff grow to its ceiling
        proxy.reopen()
        print(
            f"broker back → SERVING: {await wait_status(channel, True):.3f} s "
            f"(reconnect backoff ceiling {settings.reconnect_max_seconds} s)"
        )
        published = len(queue.drain())
        print(f"messages on the queue: {published} (expected {2 * calls + 5})")
    finally:
        await channel.close()
        await bound.server.stop(0)
        await app.stop(5)
        proxy.close()
        queue.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.concurrency))


if __name__ == "__main__":
    main()
