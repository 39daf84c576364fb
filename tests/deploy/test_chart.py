"""The Helm chart rendered by Helm's engine, linted, and checked against the Kubernetes schemas."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.deploy.chart import (
    CHART_DIR,
    COMPONENTS,
    FAKE_SECRETS,
    KUBERNETES_VERSION,
    REPO,
    SERVICE_MONITOR_API,
    component_of,
    containers,
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

# Custom resources have no schema in kubernetes-validate; these are the only ones the chart makes.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}

VALUE_SETS = {
    "defaults": ({}, ()),
    "production": (production_values(), (SERVICE_MONITOR_API,)),
    "inline-secrets": (values_with_inline_secrets(), ()),
}


@pytest.fixture(scope="module", params=list(VALUE_SETS), ids=list(VALUE_SETS))
def rendered_docs(request) -> list[dict[str, Any]]:
    values, api_versions = VALUE_SETS[request.param]
    return manifests(render(values, api_versions))


# ---- lint and schemas ---------------------------------------------------------------


@pytest.mark.parametrize("values", [None, production_values()], ids=["defaults", "production"])
def test_lint_strict_reports_no_error(values):
    report = helm_python.lint(CHART_DIR, values, strict=True)
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == []


def test_every_manifest_is_valid_for_kubernetes(rendered_docs):
    validated = 0
    for doc in rendered_docs:
        if doc["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        validated += 1
    assert validated >= 20


def test_a_broken_manifest_is_caught_by_the_validator():
    # Guards the check above: the validator really rejects an unknown field.
    doc = copy.deepcopy(deployment(manifests(render()), "speech"))
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["grpcc"] = {"port": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_one_workload_per_service(rendered_docs):
    assert {component_of(d) for d in of_kind(rendered_docs, "Deployment").values()} == set(COMPONENTS)


# ---- pods: probes, resources, secure defaults ---------------------------------------


def test_every_container_has_grpc_probes_and_resource_requests(rendered_docs):
    for name, spec in pod_specs(rendered_docs):
        for container in spec["containers"]:
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"]["port"] == ports["grpc"], f"{name} {probe}"
            requests = container["resources"]["requests"]
            assert requests.get("cpu") and requests.get("memory"), name
    for name, container in containers(rendered_docs):
        assert container["resources"]["requests"], name


def test_every_pod_and_container_is_locked_down(rendered_docs):
    for name, spec in pod_specs(rendered_docs):
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp, name
    for name, container in containers(rendered_docs):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"]["drop"] == ["ALL"], name
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
    for account in of_kind(rendered_docs, "ServiceAccount").values():
        assert account["automountServiceAccountToken"] is False


def test_ports_are_named_for_the_services(rendered_docs):
    services = of_kind(rendered_docs, "Service")
    for component in COMPONENTS:
        port_names = {p["name"] for p in services[f"porteiro-{component}"]["spec"]["ports"]}
        assert port_names == {"grpc", "metrics"}
    audiosocket = services["porteiro-gateway-audiosocket"]["spec"]["ports"]
    assert {p["name"]: p["port"] for p in audiosocket} == {
        "audiosocket-visitor": 8080,
        "audiosocket-resident": 8081,
    }


def test_service_env_uses_the_settings_names(rendered_docs):
    # Headless Services by default: clients resolve every ready pod (round_robin).
    def target(service: str, port: int) -> str:
        return f"dns:///porteiro-{service}.porteiro.svc.cluster.local:{port}"

    gateway = env_of(main_container(rendered_docs, "gateway"))
    assert gateway["PORTEIRO_GATEWAY_SPEECH_TARGET"]["value"] == target("speech", 50051)
    assert gateway["PORTEIRO_GATEWAY_CONCIERGE_TARGET"]["value"] == target("concierge", 50052)
    assert gateway["PORTEIRO_GATEWAY_VISITOR_PORT"]["value"] == "8080"
    concierge = env_of(main_container(rendered_docs, "concierge"))
    assert concierge["PORTEIRO_CONCIERGE_DIRECTORY_TARGET"]["value"] == target("directory", 50053)
    assert concierge["PORTEIRO_CONCIERGE_DIALER_TARGET"]["value"] == target("dialer", 50054)
    for component in COMPONENTS:
        env = env_of(main_container(rendered_docs, component))
        prefix = f"PORTEIRO_{component.upper()}_"
        assert {f"{prefix}GRPC_PORT", f"{prefix}METRICS_PORT", f"{prefix}GRACE_PERIOD_SECONDS"} <= env.keys()
        assert {
            "PORTEIRO_LOG_LEVEL",
            "PORTEIRO_LOG_FORMAT",
            "OTEL_SERVICE_NAME",
            "OTEL_RESOURCE_ATTRIBUTES",
        } <= env.keys()


def test_gateway_waits_for_calls_to_drain():
    docs = manifests(render())
    spec = deployment(docs, "gateway")["spec"]["template"]["spec"]
    env = env_of(spec["containers"][0])
    grace = float(env["PORTEIRO_GATEWAY_GRACE_PERIOD_SECONDS"]["value"])
    delay = float(env["PORTEIRO_GATEWAY_SHUTDOWN_DELAY_SECONDS"]["value"])
    assert grace >= 30
    assert spec["terminationGracePeriodSeconds"] > grace + delay


# ---- gateway exposure and network policies -----------------------------------------


def test_gateway_exposure_is_configurable():
    default = of_kind(manifests(render()), "Service")["porteiro-gateway-audiosocket"]["spec"]
    assert default["type"] == "LoadBalancer"
    assert default["externalTrafficPolicy"] == "Local"
    node_port = {
        "gateway": {
            "audiosocketService": {
                "type": "NodePort",
                "externalTrafficPolicy": "Cluster",
                "visitorNodePort": 30080,
            }
        }
    }
    spec = of_kind(manifests(render(node_port)), "Service")["porteiro-gateway-audiosocket"]["spec"]
    assert spec["type"] == "NodePort"
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["ports"][0]["nodePort"] == 30080
    internal = of_kind(
        manifests(render({"gateway": {"audiosocketService": {"type": "ClusterIP"}}})), "Service"
    )
    assert "externalTrafficPolicy" not in internal["porteiro-gateway-audiosocket"]["spec"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"gateway": {"audiosocketService": {"type": "Ingress"}}},
            "must be one of 'LoadBalancer', 'NodePort'",
        ),
        ({"gateway": {"replica": 3}}, "additional properties 'replica' not allowed"),
        ({"speech": {"grpcPort": "50051"}}, "/speech/grpcPort"),
    ],
    ids=["service-type", "typo", "wrong-type"],
)
def test_the_values_schema_refuses_bad_values(values, message):
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        render(values)


def ingress_rules(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return policy["spec"]["ingress"]


def test_only_the_pbx_network_reaches_the_audiosocket_ports():
    docs = manifests(render({"gateway": {"pbx": {"cidrs": ["10.20.0.0/24", "192.168.7.0/28"]}}}))
    policy = of_kind(docs, "NetworkPolicy")["porteiro-gateway"]
    audiosocket_rules = [
        rule
        for rule in ingress_rules(policy)
        if {p["port"] for p in rule["ports"]} == {"visitor", "resident"}
    ]
    assert len(audiosocket_rules) == 1
    assert audiosocket_rules[0]["from"] == [
        {"ipBlock": {"cidr": "10.20.0.0/24"}},
        {"ipBlock": {"cidr": "192.168.7.0/28"}},
    ]
    ports = {p["name"]: p["containerPort"] for p in main_container(docs, "gateway")["ports"]}
    assert ports["visitor"] == 8080 and ports["resident"] == 8081
    # Nothing else reaches the gateway except the metrics scrape.
    others = [rule for rule in ingress_rules(policy) if rule is not audiosocket_rules[0]]
    assert [[p["port"] for p in rule["ports"]] for rule in others] == [["metrics"]]


def test_gateway_allowed_networks_are_passed_to_the_service():
    assert "PORTEIRO_GATEWAY_ALLOWED_NETWORKS" not in env_of(main_container(manifests(render()), "gateway"))
    docs = manifests(render({"gateway": {"allowedNetworks": "10.20.0.0/24"}}))
    assert (
        env_of(main_container(docs, "gateway"))["PORTEIRO_GATEWAY_ALLOWED_NETWORKS"]["value"]
        == "10.20.0.0/24"
    )


def test_without_pbx_networks_nothing_reaches_the_audiosocket_ports():
    rendered = render()
    policy = of_kind(manifests(rendered), "NetworkPolicy")["porteiro-gateway"]
    assert all(p["port"] == "metrics" for rule in ingress_rules(policy) for p in rule["ports"])
    assert "NOTHING can reach the" in rendered["porteiro/templates/NOTES.txt"]


@pytest.mark.parametrize(
    ("component", "callers"),
    [
        ("speech", {"gateway"}),
        ("concierge", {"gateway"}),
        ("directory", {"concierge"}),
        ("dialer", {"concierge"}),
    ],
)
def test_each_service_is_reachable_only_by_its_callers(component, callers):
    policy = of_kind(manifests(render()), "NetworkPolicy")[f"porteiro-{component}"]
    grpc_rules = [
        rule for rule in ingress_rules(policy) if rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    ]
    assert len(grpc_rules) == 1
    allowed = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in grpc_rules[0]["from"]
    }
    assert allowed == callers
    metrics_rule = next(rule for rule in ingress_rules(policy) if rule["ports"][0]["port"] == "metrics")
    assert metrics_rule["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
    }
    assert len(ingress_rules(policy)) == 2


def test_network_policies_can_be_turned_off():
    assert of_kind(manifests(render({"networkPolicy": {"enabled": False}})), "NetworkPolicy") == {}


# ---- autoscaling and disruption budgets --------------------------------------------


def test_autoscaled_deployments_leave_replicas_to_the_hpa():
    docs = manifests(render(production_values()))
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {"porteiro-speech", "porteiro-concierge", "porteiro-directory"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert "replicas" not in of_kind(docs, "Deployment")[name]["spec"]
    assert of_kind(docs, "Deployment")["porteiro-gateway"]["spec"]["replicas"] == 2
    assert set(of_kind(docs, "PodDisruptionBudget")) == {f"porteiro-{c}" for c in COMPONENTS}


def test_several_concierges_without_redis_are_refused():
    with pytest.raises(helm_python.HelmError, match="redis.host"):
        render({"concierge": {"replicas": 2}})
    docs = manifests(render({"concierge": {"replicas": 2}, "redis": {"host": "redis.data.svc"}}))
    env = env_of(main_container(docs, "concierge"))
    assert env["PORTEIRO_CONCIERGE_REDIS_URL"]["value"] == "redis://redis.data.svc:6379/0"


# ---- credentials --------------------------------------------------------------------


def test_no_credential_appears_in_clear():
    rendered = render(values_with_inline_secrets())
    text = "\n".join(rendered.values())
    for secret in FAKE_SECRETS.values():
        assert secret not in text
    docs = manifests(rendered)
    secrets = of_kind(docs, "Secret")
    assert list(secrets) == ["porteiro-credentials"]
    stored = {
        key: base64.b64decode(value).decode()
        for key, value in secrets["porteiro-credentials"]["data"].items()
    }
    assert sorted(stored.values()) == sorted(FAKE_SECRETS.values())
    # The encoded values live in the Secret only.
    for doc in docs:
        if doc["kind"] == "Secret":
            continue
        for encoded in secrets["porteiro-credentials"]["data"].values():
            assert encoded not in str(doc)


def test_credentials_reach_containers_only_through_secret_refs():
    docs = manifests(render(values_with_inline_secrets()))
    by_env = {}
    for _, container in containers(docs):
        by_env.update(env_of(container))
    for name in (
        "PORTEIRO_SPEECH_AZURE_KEY",
        "PORTEIRO_CONCIERGE_LLM_API_KEY",
        "PORTEIRO_DIALER_LICENSE",
        "REDIS_PASSWORD",
        "AMQP_USERNAME",
        "AMQP_PASSWORD",
    ):
        entry = by_env[name]
        assert "value" not in entry, name
        assert entry["valueFrom"]["secretKeyRef"]["name"] == "porteiro-credentials", name
    assert by_env["PORTEIRO_DIALER_AMQP_URL"]["value"] == (
        "amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@rabbitmq.pbx.svc:5672/%2F"
    )
    for name in ("PORTEIRO_CONCIERGE_REDIS_URL", "PORTEIRO_DIALER_REDIS_URL"):
        assert by_env[name]["value"] == "redis://:$(REDIS_PASSWORD)@redis.data.svc:6379/0"


def test_existing_secrets_are_referenced_and_none_is_created():
    docs = manifests(render(production_values(), (SERVICE_MONITOR_API,)))
    assert of_kind(docs, "Secret") == {}
    azure = env_of(main_container(docs, "speech"))["PORTEIRO_SPEECH_AZURE_KEY"]["valueFrom"]["secretKeyRef"]
    assert azure == {"name": "porteiro-secrets", "key": "azure-speech-key"}


def test_defaults_need_no_secret():
    docs = manifests(render())
    assert of_kind(docs, "Secret") == {}
    for _, container in containers(docs):
        assert not any("secretKeyRef" in entry.get("valueFrom", {}) for entry in container["env"])


# ---- config maps and their checksums -----------------------------------------------


def pod_annotations(docs: list[dict[str, Any]], component: str) -> dict[str, str]:
    return deployment(docs, component)["spec"]["template"]["metadata"].get("annotations", {})


def test_directory_data_and_prompts_are_mounted_from_config_maps():
    docs = manifests(render())
    maps = of_kind(docs, "ConfigMap")
    residents = json.loads(maps["porteiro-directory-data"]["data"]["apartamentos.json"])
    assert residents and {"apartment_number", "residents"} <= residents[0].keys()
    prompts = yaml.safe_load(maps["porteiro-prompts"]["data"]["prompts.yaml"])
    assert prompts["greeting"]
    directory_env = env_of(main_container(docs, "directory"))
    assert (
        directory_env["PORTEIRO_DIRECTORY_DATA_FILE"]["value"] == "/etc/porteiro/directory/apartamentos.json"
    )
    for component in ("gateway", "speech", "concierge"):
        env = env_of(main_container(docs, component))
        assert (
            env[f"PORTEIRO_{component.upper()}_PROMPTS_FILE"]["value"] == "/etc/porteiro/prompts/prompts.yaml"
        )


def test_checksums_change_when_the_data_changes():
    before = manifests(render())
    after = manifests(
        render(
            {
                "directory": {
                    "data": '[{"apartment_number": "9", "residents": ["Teste"], "voip_number": "9"}]'
                },
                "prompts": {"content": 'greeting: "Olá"\n'},
            }
        )
    )
    assert (
        pod_annotations(before, "directory")["checksum/directory-data"]
        != (pod_annotations(after, "directory")["checksum/directory-data"])
    )
    for component in ("gateway", "speech", "concierge"):
        assert (
            pod_annotations(before, component)["checksum/prompts"]
            != pod_annotations(after, component)["checksum/prompts"]
        )
    again = manifests(render())
    assert pod_annotations(again, "directory") == pod_annotations(before, "directory")


# ---- observability ------------------------------------------------------------------


def test_service_monitors_only_with_the_crd_and_when_enabled():
    enabled = {"serviceMonitor": {"enabled": True}}
    with_crd = of_kind(manifests(render(enabled, (SERVICE_MONITOR_API,))), "ServiceMonitor")
    assert set(with_crd) == {f"porteiro-{c}" for c in COMPONENTS}
    for monitor in with_crd.values():
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert of_kind(manifests(render(enabled)), "ServiceMonitor") == {}
    assert of_kind(manifests(render({}, (SERVICE_MONITOR_API,))), "ServiceMonitor") == {}


def test_otlp_endpoint_is_wired_to_the_standard_variables():
    docs = manifests(
        render(
            {
                "otel": {
                    "endpoint": "http://collector.obs:4317",
                    "resourceAttributes": {"deployment.environment": "staging"},
                }
            }
        )
    )
    for component in COMPONENTS:
        env = env_of(main_container(docs, component))
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://collector.obs:4317"
        assert "deployment.environment=staging" in env["OTEL_RESOURCE_ATTRIBUTES"]["value"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(main_container(manifests(render()), "speech"))


def test_dashboard_config_map_is_labelled_for_the_grafana_sidecar():
    dashboard = of_kind(manifests(render()), "ConfigMap")["porteiro-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["porteiro.json"])["panels"]


def test_speech_uses_the_baked_model_or_assembles_it_at_start():
    baked = main_container(manifests(render()), "speech")
    assert env_of(baked)["PORTEIRO_SPEECH_WHISPER_MODEL"]["value"] == "/models/whisper-base"
    docs = manifests(render({"speech": {"model": {"assembleAtStart": True}}}))
    spec = deployment(docs, "speech")["spec"]["template"]["spec"]
    env = env_of(spec["containers"][0])
    assert "PORTEIRO_SPEECH_WHISPER_MODEL" not in env
    assert env["PORTEIRO_MODEL_CACHE"]["value"] == "/models"
    assert {"name": "model", "mountPath": "/models"} in spec["containers"][0]["volumeMounts"]
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == "model")


def test_headless_services_give_dns_targets():
    docs = manifests(render({"headlessServices": True}))
    assert of_kind(docs, "Service")["porteiro-speech"]["spec"]["clusterIP"] == "None"
    env = env_of(main_container(docs, "gateway"))
    assert (
        env["PORTEIRO_GATEWAY_SPEECH_TARGET"]["value"]
        == "dns:///porteiro-speech.porteiro.svc.cluster.local:50051"
    )


def test_chart_sample_files_are_the_services_shipped_defaults():
    # The chart cannot read outside its folder, so it carries copies; they must not drift.
    files = CHART_DIR / "files"
    shipped_residents = REPO / "services/directory/src/porteiro_directory/data/apartamentos.json"
    shipped_prompts = REPO / "libs/porteiro-common/src/porteiro_common/data/prompts.pt-BR.yaml"
    assert (files / "apartamentos.json").read_bytes() == shipped_residents.read_bytes()
    assert (files / "prompts.pt-BR.yaml").read_bytes() == shipped_prompts.read_bytes()


def test_service_links_are_off_so_kubernetes_adds_no_porteiro_variables(rendered_docs):
    # A Service named porteiro-speech would otherwise inject PORTEIRO_SPEECH_PORT=tcp://...
    # into every pod, inside the services' own settings prefix.
    for name, spec in pod_specs(rendered_docs):
        assert spec["enableServiceLinks"] is False, name


def test_in_cluster_pbx_peers_are_allowed_next_to_the_cidrs():
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "asterisk"}}}
    docs = manifests(render({"gateway": {"pbx": {"cidrs": ["10.20.0.0/24"], "peers": [peer]}}}))
    policy = of_kind(docs, "NetworkPolicy")["porteiro-gateway"]
    rule = next(r for r in ingress_rules(policy) if r["ports"][0]["port"] == "visitor")
    assert rule["from"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}, peer]
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_service_can_be_left_out(component):
    docs = manifests(render({component: {"enabled": False}}))
    assert f"porteiro-{component}" not in of_kind(docs, "Deployment")
    assert not [
        doc for doc in docs if doc["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_existing_config_maps_are_mounted_instead_of_the_chart_ones():
    docs = manifests(
        render(
            {
                "prompts": {"existingConfigMap": "my-prompts"},
                "directory": {"existingConfigMap": "my-residents"},
            }
        )
    )
    assert {"porteiro-prompts", "porteiro-directory-data"}.isdisjoint(of_kind(docs, "ConfigMap"))
    directory = deployment(docs, "directory")["spec"]["template"]["spec"]
    assert {"name": "data", "configMap": {"name": "my-residents"}} in directory["volumes"]
    for component in ("gateway", "speech", "concierge"):
        volumes = deployment(docs, component)["spec"]["template"]["spec"]["volumes"]
        assert {"name": "prompts", "configMap": {"name": "my-prompts"}} in volumes
        assert "checksum/prompts" not in pod_annotations(docs, component)
