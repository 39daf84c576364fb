"""Chart items of issue 18: credentials checksum, metrics scrape sources, topology spread,
the gateway's Guaranteed QoS profile, OTLP protocol, and docs that match values.yaml."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import yaml

from tests.deploy.chart import (
    CHART_DIR,
    COMPONENTS,
    KUBERNETES_VERSION,
    REPO,
    deployment,
    env_of,
    main_container,
    manifests,
    of_kind,
    pod_specs,
    production_values,
    render,
    values_with_inline_secrets,
)

DEFAULT_VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())


def annotations(docs: list[dict[str, Any]], component: str) -> dict[str, str]:
    return deployment(docs, component)["spec"]["template"]["metadata"]["annotations"]


def test_changing_an_inline_credential_rolls_every_pod():
    values = values_with_inline_secrets()
    before = manifests(render(values))
    changed = copy.deepcopy(values)
    changed["redis"]["auth"]["password"] = "another-fake-pass"
    after = manifests(render(changed))
    for component in COMPONENTS:
        assert (
            annotations(before, component)["checksum/credentials"]
            != annotations(after, component)["checksum/credentials"]
        ), component
    # The same values give the same checksum: no needless rollout.
    assert annotations(manifests(render(values)), "dialer") == annotations(before, "dialer")


def test_existing_secrets_do_not_change_the_checksum():
    base = manifests(render())
    existing = manifests(
        render({"redis": {"host": "redis", "auth": {"existingSecret": "redis-credentials"}}})
    )
    assert (
        annotations(base, "concierge")["checksum/credentials"]
        == annotations(existing, "concierge")["checksum/credentials"]
    )


def metrics_rule(policy: dict[str, Any]) -> dict[str, Any]:
    return next(rule for rule in policy["spec"]["ingress"] if rule["ports"][0]["port"] == "metrics")


def test_metrics_sources_are_configurable_and_said_in_the_notes():
    extra = [{"ipBlock": {"cidr": "10.30.0.0/24"}}]
    rendered = render(
        {
            "networkPolicy": {
                "metrics": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
                    "extraFrom": extra,
                }
            }
        }
    )
    policies = of_kind(manifests(rendered), "NetworkPolicy")
    assert len(policies) >= len(COMPONENTS)
    for policy in policies.values():
        sources = metrics_rule(policy)["from"]
        assert sources[0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "observability"
        }
        assert sources[1:] == extra
        kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)
    notes = rendered["porteiro/templates/NOTES.txt"]
    assert '"kubernetes.io/metadata.name":"observability"' in notes
    assert "10.30.0.0/24" in notes and "networkPolicy.metrics" in notes
    default_notes = render()["porteiro/templates/NOTES.txt"]
    assert '"kubernetes.io/metadata.name":"monitoring"' in default_notes


def test_replicas_spread_over_nodes_by_default_with_the_release_label():
    docs = manifests(render())
    for component, spec in pod_specs(docs):
        constraints = spec["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in constraints} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }
        for constraint in constraints:
            labels = constraint["labelSelector"]["matchLabels"]
            assert labels["app.kubernetes.io/instance"] == "porteiro"
            assert f"porteiro-{labels['app.kubernetes.io/component']}" == component
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"


def test_a_service_own_spread_replaces_the_default_and_it_can_be_turned_off():
    own = [{"maxSkew": 2, "topologyKey": "rack", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {}}]
    docs = manifests(render({"speech": {"topologySpreadConstraints": own}}))
    specs = dict(pod_specs(docs))
    assert specs["porteiro-speech"]["topologySpreadConstraints"] == own
    assert len(specs["porteiro-gateway"]["topologySpreadConstraints"]) == 2
    off = dict(pod_specs(manifests(render({"topologySpread": {"enabled": False}}))))
    assert all("topologySpreadConstraints" not in spec for spec in off.values())


def test_guaranteed_qos_profile_gives_the_gateway_equal_requests_and_limits():
    docs = manifests(render({"gateway": {"guaranteedQoS": {"enabled": True, "cpu": "2", "memory": "1Gi"}}}))
    gateway = deployment(docs, "gateway")
    for container in gateway["spec"]["template"]["spec"]["containers"]:
        resources = container["resources"]
        assert resources["requests"] == resources["limits"] == {"cpu": "2", "memory": "1Gi"}
    kubernetes_validate.validate(gateway, KUBERNETES_VERSION, strict=True)
    # Off by default: requests without a CPU limit (no CFS throttling), as before.
    default = main_container(manifests(render()), "gateway")["resources"]
    assert "cpu" not in default.get("limits", {})


def test_otlp_protocol_is_passed_to_every_service():
    docs = manifests(render({"otel": {"endpoint": "http://collector:4318", "protocol": "http/protobuf"}}))
    for component in COMPONENTS:
        env = env_of(main_container(docs, component))
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "http/protobuf"


def test_production_example_still_renders_valid_manifests():
    docs = manifests(render(production_values()))
    assert of_kind(docs, "Deployment")
    for doc in docs:
        if doc["kind"] not in {"ServiceMonitor", "PrometheusRule"}:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def documented_defaults() -> dict[str, str]:
    """{value path: default} of the single-value rows of deploy/README.md's values table."""
    readme = (REPO / "deploy" / "README.md").read_text()
    table = readme.split("| value | default | meaning |", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^\| `([\w.]+)` \| `([^`]*)` \|", table, re.M))


def value_at(path: str) -> Any:
    node: Any = DEFAULT_VALUES
    for key in path.split("."):
        node = node[key]
    return node


def test_deploy_readme_defaults_match_values_yaml():
    documented = documented_defaults()
    assert "headlessServices" in documented and len(documented) >= 5
    for path, default in documented.items():
        actual = value_at(path)
        shown = str(actual).lower() if isinstance(actual, bool) else str(actual)
        assert shown == default, (
            f"deploy/README.md says {path} defaults to {default}, values.yaml has {actual!r}"
        )
