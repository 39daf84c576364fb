"""Render the Porteiro chart with Helm's own engine (helm-python-sdk) and walk the result."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import yaml
from helm_python import _native

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "deploy" / "helm" / "porteiro"
PRODUCTION_VALUES = CHART_DIR / "values-production.example.yaml"
RELEASE = "porteiro"
NAMESPACE = "porteiro"
# The Kubernetes version the rendered manifests are validated against (kubernetes-validate).
KUBERNETES_VERSION = "1.30"
SERVICE_MONITOR_API = "monitoring.coreos.com/v1"
COMPONENTS = ("gateway", "speech", "concierge", "directory", "dialer")
# $(VAR) references in env values, expanded by the kubelet.
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

# Fake credentials: none of them may appear in clear in any rendered manifest.
FAKE_SECRETS = {
    "azure": "fake-azure-key-7f3a9c",
    "llm": "sk-fake-llm-key-51d0e2",
    "redis": "fake-redis-pass-99ab",
    "amqp_user": "fake-amqp-user-3c1",
    "amqp_password": "fake-amqp-pass-8e4d",
    "license": "fake-license-000111",
}


def values_with_inline_secrets() -> dict[str, Any]:
    return {
        "speech": {"azure": {"region": "brazilsouth", "key": FAKE_SECRETS["azure"]}},
        "concierge": {"llm": {"model": "openai/test-model", "apiKey": FAKE_SECRETS["llm"]}},
        "redis": {"host": "redis.data.svc", "auth": {"password": FAKE_SECRETS["redis"]}},
        "rabbitmq": {
            "host": "rabbitmq.pbx.svc",
            "auth": {"username": FAKE_SECRETS["amqp_user"], "password": FAKE_SECRETS["amqp_password"]},
        },
        "dialer": {"license": {"value": FAKE_SECRETS["license"]}},
    }


def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION_VALUES.read_text())


def render(values: dict[str, Any] | None = None, api_versions: tuple[str, ...] = ()) -> dict[str, str]:
    """{template path: rendered text}, as `helm template` would print it.

    `Chart.render` (helm-python-sdk 0.2.2) exposes no option for extra API versions, but the
    library's render call accepts them (`api_versions`, like `helm template --api-versions`),
    so the ServiceMonitor branch can be rendered with and without the CRD.
    """
    options: dict[str, Any] = {"name": RELEASE, "namespace": NAMESPACE, "is_install": True}
    with helm_python.Chart.load(CHART_DIR) as chart:
        if not api_versions:
            return chart.render(values or {}, **options)
        options["api_versions"] = list(api_versions)
        rendered = _native.call_string(
            "helm_render", chart._raw(), json.dumps(values or {}), json.dumps(options)
        )
    return json.loads(rendered)


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object of a render (NOTES.txt left out)."""
    docs: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def component_of(doc: dict[str, Any]) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(deployment/container, container) for every container and init container."""
    for name, spec in pod_specs(docs):
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            yield f"{name}/{container['name']}", container


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def deployment(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    return of_kind(docs, "Deployment")[f"{RELEASE}-{component}"]


def main_container(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    return deployment(docs, component)["spec"]["template"]["spec"]["containers"][0]


def kubelet_env(
    container: dict[str, Any], secrets: dict[str, dict[str, str]] | None = None
) -> dict[str, str]:
    """Env as the container sees it, $(VAR) expanded in order like the kubelet does.

    Secret references resolve from `secrets` ({secret name: {key: value}}) when given,
    else to stand-ins; field references become stand-ins.
    """
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), entry["value"])
        elif "secretKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["secretKeyRef"]
            if secrets is not None:
                env[entry["name"]] = secrets[ref["name"]][ref["key"]]
            else:
                env[entry["name"]] = f"stand-in-{ref['key']}"
        else:
            env[entry["name"]] = "stand-in-field"
    return env


def secret_data(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The rendered Secrets, decoded: {name: {key: value}}."""
    return {
        doc["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}
        for doc in docs
        if doc["kind"] == "Secret"
    }


def settings_from_env(cls: type, env: dict[str, str], monkeypatch: Any) -> Any:
    """A service's settings class loaded from a rendered container env alone (the test's own
    PORTEIRO_/OTEL_ variables removed), as the pod would load it."""
    for name in list(os.environ):
        if name.startswith(("PORTEIRO_", "OTEL_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return cls()
