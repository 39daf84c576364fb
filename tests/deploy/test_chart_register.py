"""The register in the Helm chart: off by default; when on, its Deployment, Service, PDB and
NetworkPolicy, PostgreSQL's URL from a Secret only, and the concierge told to publish."""

from __future__ import annotations

import copy
import re
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from porteiro_concierge.settings import ConciergeSettings
from porteiro_register.settings import RegisterSettings
from tests.deploy.chart import (
    CHART_DIR,
    SERVICE_MONITOR_API,
    deployment,
    env_of,
    kubelet_env,
    main_container,
    manifests,
    of_kind,
    production_values,
    render,
    secret_data,
    settings_from_env,
    values_with_inline_secrets,
)

KUBERNETES_VERSION = "1.30"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
FAKE_DATABASE_URL = "postgresql://porteiro:fake-db-pass-42c7@postgres.data.svc:5432/porteiro"
REGISTER_VARIABLES = re.compile(r"PORTEIRO_CONCIERGE_REGISTER_|PORTEIRO_REGISTER_")


def with_register(values: dict[str, Any], **register: Any) -> dict[str, Any]:
    values = copy.deepcopy(values)
    values["register"] = {"enabled": True, **register}
    return values


def inline_register_values(**register: Any) -> dict[str, Any]:
    return with_register(values_with_inline_secrets(), database={"url": FAKE_DATABASE_URL}, **register)


def production_register_values() -> dict[str, Any]:
    values = production_values()
    values["register"]["enabled"] = True
    return values


def names_of(container: dict[str, Any]) -> set[str]:
    return set(env_of(container))


# ---- off by default ------------------------------------------------------------------


def test_by_default_there_is_no_register_and_the_concierge_does_not_publish():
    docs = manifests(render())
    assert "porteiro-register" not in of_kind(docs, "Deployment")
    assert "porteiro-register" not in of_kind(docs, "Service")
    assert not {
        name for name in names_of(main_container(docs, "concierge")) if REGISTER_VARIABLES.match(name)
    }
    docs = manifests(render(production_values(), (SERVICE_MONITOR_API,)))  # the example keeps it off
    assert "porteiro-register" not in of_kind(docs, "Deployment")


def test_enabled_without_a_database_is_refused():
    with pytest.raises(helm_python.HelmError, match="register.database.existingSecret"):
        render({"register": {"enabled": True}})


# ---- the workload ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "api_versions"),
    [(inline_register_values(), ()), (production_register_values(), (SERVICE_MONITOR_API,))],
    ids=["inline-secret", "production"],
)
def test_register_manifests_are_valid_for_kubernetes_and_lint_clean(values, api_versions):
    docs = manifests(render(values, api_versions))
    kinds = {doc["kind"] for doc in docs if doc["metadata"]["name"] == "porteiro-register"}
    assert {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    report = helm_python.lint(CHART_DIR, values, strict=True)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []


def test_register_runs_its_image_ports_and_probes_like_the_other_services():
    docs = manifests(render(production_register_values(), (SERVICE_MONITOR_API,)))
    register = deployment(docs, "register")
    assert register["spec"]["replicas"] == 2
    container = main_container(docs, "register")
    assert container["image"] == "registry.example.com/porteiro/register:0.1.0"
    assert {port["name"]: port["containerPort"] for port in container["ports"]} == {
        "grpc": 50055,
        "metrics": 9105,
    }
    assert container["readinessProbe"]["grpc"] == {"port": 50055}  # the whole server: follows PostgreSQL
    assert container["livenessProbe"]["grpc"] == {"port": 50055, "service": "liveness"}
    assert container["startupProbe"]["grpc"] == {"port": 50055, "service": "liveness"}
    assert "checksum/credentials" in register["spec"]["template"]["metadata"]["annotations"]
    service = of_kind(docs, "Service")["porteiro-register"]
    assert {port["name"]: port["port"] for port in service["spec"]["ports"]} == {
        "grpc": 50055,
        "metrics": 9105,
    }
    assert "porteiro-register" in of_kind(docs, "ServiceMonitor")


# ---- PostgreSQL's URL: a Secret only ---------------------------------------------------


def test_inline_database_url_goes_into_the_chart_secret_and_nowhere_else():
    rendered = render(inline_register_values())
    docs = manifests(rendered)
    assert secret_data(docs)["porteiro-credentials"]["register-database-url"] == FAKE_DATABASE_URL
    for path, text in rendered.items():
        if not path.endswith("secret.yaml"):
            assert "fake-db-pass" not in text, path
    entry = env_of(main_container(docs, "register"))["PORTEIRO_REGISTER_DATABASE_URL"]
    assert "value" not in entry
    assert entry["valueFrom"]["secretKeyRef"] == {
        "name": "porteiro-credentials",
        "key": "register-database-url",
    }


def test_existing_database_secret_is_referenced_and_not_copied():
    docs = manifests(render(production_register_values(), (SERVICE_MONITOR_API,)))
    assert of_kind(docs, "Secret") == {}
    entry = env_of(main_container(docs, "register"))["PORTEIRO_REGISTER_DATABASE_URL"]
    assert entry["valueFrom"]["secretKeyRef"] == {
        "name": "porteiro-register-db",
        "key": "register-database-url",
    }


def test_a_new_database_url_rolls_the_register_pods():
    before = deployment(manifests(render(inline_register_values())), "register")
    values = inline_register_values()
    values["register"]["database"]["url"] = FAKE_DATABASE_URL.replace("42c7", "42c8")
    after = deployment(manifests(render(values)), "register")

    def checksum(doc: dict[str, Any]) -> str:
        return doc["spec"]["template"]["metadata"]["annotations"]["checksum/credentials"]

    assert checksum(before) != checksum(after)


# ---- settings reach both services -----------------------------------------------------


def test_the_register_loads_its_settings_from_the_rendered_env(monkeypatch):
    values = inline_register_values(
        storeVisitorName=True,
        retentionDays=180,
        retentionDaysByCondominium={"aurora": 90, "museu": 0},
        prefetch=50,
        migrateAtStart=False,
        queue="calls-finished",
    )
    docs = manifests(render(values))
    secrets = secret_data(docs)
    env = kubelet_env(main_container(docs, "register"), secrets)
    settings = settings_from_env(RegisterSettings, env, monkeypatch)
    assert settings.database_url.get_secret_value() == FAKE_DATABASE_URL
    assert settings.amqp_url.get_secret_value() == (
        "amqp://fake-amqp-user-3c1:fake-amqp-pass-8e4d@rabbitmq.pbx.svc:5672/%2F"
    )
    assert (settings.grpc_port, settings.metrics_port) == (50055, 9105)
    assert settings.queue == "calls-finished" and settings.prefetch == 50
    assert settings.store_visitor_name is True and settings.migrate_at_start is False
    assert settings.retention_days == 180
    assert settings.retention_days_by_condominium == {"aurora": 90, "museu": 0}


def test_the_concierge_publishes_to_the_registers_queue_when_the_register_is_on(monkeypatch):
    docs = manifests(render(inline_register_values(queue="calls-finished")))
    env = kubelet_env(main_container(docs, "concierge"), secret_data(docs))
    settings = settings_from_env(ConciergeSettings, env, monkeypatch)
    assert settings.register_enabled is True
    assert settings.register_queue == "calls-finished"
    assert settings.register_amqp_url.get_secret_value() == (
        "amqp://fake-amqp-user-3c1:fake-amqp-pass-8e4d@rabbitmq.pbx.svc:5672/%2F"
    )
    concierge = env_of(main_container(docs, "concierge"))
    assert concierge["AMQP_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "rabbitmq-password"


# ---- network policy and schema -------------------------------------------------------------


def grpc_peers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    policy = of_kind(docs, "NetworkPolicy")["porteiro-register"]
    return [
        peer
        for rule in policy["spec"]["ingress"]
        if any(port["port"] == "grpc" for port in rule["ports"])
        for peer in rule["from"]
    ]


def test_only_the_configured_api_clients_reach_the_read_api():
    assert grpc_peers(manifests(render(inline_register_values()))) == []
    backoffice = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "backoffice"}}}
    docs = manifests(render(inline_register_values(apiClients=[backoffice])))
    assert grpc_peers(docs) == [backoffice]
    kubernetes_validate.validate(
        of_kind(docs, "NetworkPolicy")["porteiro-register"], KUBERNETES_VERSION, strict=True
    )


@pytest.mark.parametrize(
    ("register", "message"),
    [
        ({"retentionDays": -1}, "/register/retentionDays"),
        ({"retentionDaysByCondominium": {"aurora": "90"}}, "/register/retentionDaysByCondominium/aurora"),
        ({"database": {"uri": FAKE_DATABASE_URL}}, "additional properties 'uri' not allowed"),
        ({"prefetch": 0}, "/register/prefetch"),
    ],
    ids=["negative-retention", "retention-as-text", "typo", "prefetch"],
)
def test_the_values_schema_checks_the_register_block(register, message):
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        render({"register": register})


def test_notes_tell_how_to_read_the_register_only_when_it_is_on():
    assert "porteiro-register" not in render()["porteiro/templates/NOTES.txt"]
    notes = render(inline_register_values(storeVisitorName=True))["porteiro/templates/NOTES.txt"]
    assert 'queue "porteiro-call-finished"' in notes
    assert "exec deploy/porteiro-register -- porteiro-register list" in notes
    assert "visitor names (personal data) are kept for\n   365 days" in notes
