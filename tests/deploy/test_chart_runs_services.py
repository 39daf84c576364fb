"""Services started as real processes with the environment and ConfigMap files the chart renders.

The container paths (/etc/porteiro/...) become temporary files holding the ConfigMaps'
content, and the ports free loopback ports; everything else is the rendered env.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import grpc
import pytest

from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from porteiro_dialer.settings import LOCAL_AMQP_URL, LOCAL_REDIS_URL
from tests.deploy.chart import kubelet_env, main_container, manifests, of_kind, render, secret_data
from tests.support.services import SERVICES

pytestmark = pytest.mark.slow

SPECS = {spec.module: spec for spec in SERVICES}
COMPONENT_MODULES = {
    "gateway": "porteiro_gateway",
    "concierge": "porteiro_concierge",
    "directory": "porteiro_directory",
}
CONFIG_FILES = {
    "/etc/porteiro/prompts/prompts.yaml": ("porteiro-prompts", "prompts.yaml"),
    "/etc/porteiro/directory/apartamentos.json": ("porteiro-directory-data", "apartamentos.json"),
}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return manifests(render())


def local_env(docs: list[dict[str, Any]], component: str, tmp_path: Path) -> dict[str, str]:
    """The rendered env with ConfigMap paths mapped to files and the ports left to the test fixture."""
    config_maps = of_kind(docs, "ConfigMap")
    env = kubelet_env(main_container(docs, component))
    prefix = SPECS[COMPONENT_MODULES[component]].prefix
    for name in ("GRPC_PORT", "METRICS_PORT", "VISITOR_PORT", "RESIDENT_PORT", "SHUTDOWN_DELAY_SECONDS"):
        env.pop(f"{prefix}{name}", None)
    for name in ("HOME", "POD_NAME", "POD_NAMESPACE"):
        env.pop(name)
    for key, value in env.items():
        if value in CONFIG_FILES:
            config_map, data_key = CONFIG_FILES[value]
            local = tmp_path / data_key
            local.write_text(config_maps[config_map]["data"][data_key], encoding="utf-8")
            env[key] = str(local)
    return env


@pytest.mark.parametrize("component", list(COMPONENT_MODULES))
def test_service_serves_with_the_rendered_configuration(component, docs, run_service, tmp_path):
    spec = SPECS[COMPONENT_MODULES[component]]
    env = {**spec.env, **local_env(docs, component, tmp_path)}
    assert any(value.startswith(str(tmp_path)) for value in env.values())
    service = run_service(spec.module, spec.prefix, env, spec.extra_ports)
    service.wait_serving(timeout=90)
    if component == "directory":
        with grpc.insecure_channel(service.target) as channel:
            stub = directory_pb2_grpc.DirectoryServiceStub(channel)
            listed = stub.ListApartments(directory_pb2.ListApartmentsRequest(), timeout=5)
        shipped = json.loads(
            of_kind(docs, "ConfigMap")["porteiro-directory-data"]["data"]["apartamentos.json"]
        )
        assert {a.number for a in listed.apartments} == {entry["apartment_number"] for entry in shipped}
    assert service.terminate() == 0, service.logs()


def test_dialer_reaches_the_broker_and_redis_through_the_composed_urls(run_service):
    # The machine's broker and Redis, given to the chart as host values and inline
    # credentials: the dialer only turns SERVING once its AMQP URL really connects.
    amqp, redis = urlsplit(LOCAL_AMQP_URL), urlsplit(LOCAL_REDIS_URL)
    values = {
        "rabbitmq": {
            "host": amqp.hostname,
            "port": amqp.port,
            "vhost": unquote(amqp.path.lstrip("/")),
            "auth": {"username": amqp.username, "password": amqp.password},
        },
        "redis": {"host": redis.hostname, "port": redis.port},
    }
    docs = manifests(render(values))
    env = kubelet_env(main_container(docs, "dialer"), secret_data(docs))
    assert env["PORTEIRO_DIALER_AMQP_URL"] == LOCAL_AMQP_URL
    spec = SPECS["porteiro_dialer"]
    for name in ("GRPC_PORT", "METRICS_PORT", "SHUTDOWN_DELAY_SECONDS"):
        env.pop(f"{spec.prefix}{name}")
    service = run_service(spec.module, spec.prefix, env, spec.extra_ports)
    service.wait_serving(timeout=90)
    assert service.terminate() == 0, service.logs()
