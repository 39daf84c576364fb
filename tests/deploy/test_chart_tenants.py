"""Many condominiums in the Helm chart (values `tenants`): off by default; when given, one folder
projected from the chart's ConfigMap and existing ones, mounted into the five services that read
it, with their TENANTS_DIR, reload interval and bounded metric label; the rendered condominium
files load with the services' own tenants loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from porteiro_common.prompts import load_prompts
from porteiro_common.tenants import TenantRegistry
from porteiro_concierge.settings import ConciergeSettings
from porteiro_dialer.settings import DialerSettings
from porteiro_gateway.settings import GatewaySettings
from tests.deploy.chart import (
    CHART_DIR,
    COMPONENTS,
    KUBERNETES_VERSION,
    REPO,
    deployment,
    env_of,
    kubelet_env,
    main_container,
    manifests,
    of_kind,
    pod_specs,
    render,
    secret_data,
    settings_from_env,
)

EXAMPLES = REPO / "services" / "directory" / "examples" / "tenants"
TENANTS_DIR = "/etc/porteiro/tenants"
CONFIGMAP = "porteiro-tenants"
IPE = {
    "code": "0000a1be",
    "name": "Edifício Ipê Amarelo",
    "prompts": {"greeting": "Edifício Ipê Amarelo, em que posso ajudar?"},
    "apartments": [{"number": "12", "destination": "sip:12@ipe.example", "residents": ["Ana Lima"]}],
}


def tenant_values(**tenants: Any) -> dict[str, Any]:
    condominiums = {"jacaranda": (EXAMPLES / "jacaranda.yaml").read_text(encoding="utf-8"), "ipe": IPE}
    return {"tenants": {"condominiums": condominiums, **tenants}}


def tenants_volume(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next((volume for volume in pod.get("volumes", []) if volume["name"] == "tenants"), None)


def test_by_default_no_service_reads_a_tenants_folder():
    docs = manifests(render())
    assert CONFIGMAP not in of_kind(docs, "ConfigMap")
    for component, pod in pod_specs(docs):
        assert tenants_volume(pod) is None, component
    for component in COMPONENTS:
        assert not [name for name in env_of(main_container(docs, component)) if "TENANTS" in name]


def test_inline_condominiums_are_one_file_each_in_the_charts_configmap():
    docs = manifests(render(tenant_values()))
    data = of_kind(docs, "ConfigMap")[CONFIGMAP]["data"]
    assert sorted(data) == ["ipe.yaml", "jacaranda.yaml"]
    assert data["jacaranda.yaml"] == (EXAMPLES / "jacaranda.yaml").read_text(encoding="utf-8").rstrip("\n")


def test_the_rendered_files_load_as_condominiums(tmp_path: Path):
    data = of_kind(manifests(render(tenant_values())), "ConfigMap")[CONFIGMAP]["data"]
    for key, text in data.items():
        (tmp_path / key).write_text(text, encoding="utf-8")
    registry: TenantRegistry[None] = TenantRegistry(tmp_path, lambda _condominium: None, load_prompts())
    report = registry.refresh()
    assert report.failed == {}
    assert sorted(registry.current.by_id) == ["ipe", "jacaranda"]
    assert registry.current.for_code("0000a1be").condominium.prompts["greeting"] == IPE["prompts"]["greeting"]


def test_every_service_mounts_the_folder_and_is_told_where_it_is():
    docs = manifests(render(tenant_values(existingConfigMaps=["more-condominiums"])))
    for component in COMPONENTS:
        pod = deployment(docs, component)["spec"]["template"]["spec"]
        sources = [source["configMap"]["name"] for source in tenants_volume(pod)["projected"]["sources"]]
        assert sources == [CONFIGMAP, "more-condominiums"], component
        container = main_container(docs, component)
        mount = next(m for m in container["volumeMounts"] if m["name"] == "tenants")
        assert mount == {"name": "tenants", "mountPath": TENANTS_DIR, "readOnly": True}
        env = env_of(container)
        prefix = f"PORTEIRO_{component.upper()}_"
        assert env[f"{prefix}TENANTS_DIR"]["value"] == TENANTS_DIR
        assert env[f"{prefix}RELOAD_INTERVAL_SECONDS"]["value"] == "10"


def test_existing_configmaps_alone_are_enough():
    docs = manifests(render({"tenants": {"existingConfigMaps": ["condominiums-a", "condominiums-b"]}}))
    assert CONFIGMAP not in of_kind(docs, "ConfigMap")
    pod = deployment(docs, "concierge")["spec"]["template"]["spec"]
    assert [s["configMap"]["name"] for s in tenants_volume(pod)["projected"]["sources"]] == [
        "condominiums-a",
        "condominiums-b",
    ]


def test_the_services_load_their_tenant_settings_from_the_rendered_env(monkeypatch):
    docs = manifests(render(tenant_values(metricsCondominiums="jacaranda,ipe", reloadIntervalSeconds=5)))
    secrets = secret_data(docs)
    for component, cls in (("concierge", ConciergeSettings), ("gateway", GatewaySettings)):
        settings = settings_from_env(cls, kubelet_env(main_container(docs, component), secrets), monkeypatch)
        assert settings.tenants_dir == Path(TENANTS_DIR)
        assert settings.reload_interval_seconds == 5
        assert settings.metrics_condominiums == "jacaranda,ipe"
    dialer = settings_from_env(
        DialerSettings, kubelet_env(main_container(docs, "dialer"), secrets), monkeypatch
    )
    assert dialer.tenants_dir == Path(TENANTS_DIR)


@pytest.mark.parametrize(
    "tenants",
    [
        {"condominiums": {"Jacaranda": "code: '1aca0da0'"}},  # not an id
        {"metricsCondominiums": "jacaranda, ipe"},  # a space is not part of an id
        {"reloadIntervalSeconds": -1},
    ],
    ids=["bad-id", "bad-label-setting", "negative-interval"],
)
def test_the_schema_refuses_bad_tenant_values(tenants):
    with pytest.raises(helm_python.HelmError):
        render({"tenants": tenants})


def test_tenant_manifests_are_valid_for_kubernetes_and_lint_clean():
    values = tenant_values(existingConfigMaps=["more-condominiums"])
    for doc in manifests(render(values)):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    report = helm_python.lint(CHART_DIR, values, strict=True)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []
