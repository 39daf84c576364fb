"""The chart's rollout defaults (issue 16, item 3): a rolling update or a node drain never cuts a call.

Rendered with Helm's own engine and validated against the Kubernetes schemas. The gateway
keeps its pod for the whole drain (preStop sleep, NOT_SERVING delay, the longest call,
the grace after it); at least two gateways run and the PodDisruptionBudget keeps one;
the concierge hands its streams over within its grace.
"""

from __future__ import annotations

import re

import helm_python
import kubernetes_validate
import pytest

from tests.deploy.chart import KUBERNETES_VERSION, deployment, env_of, manifests, of_kind, render


def pod_spec(docs, component: str) -> dict:
    return deployment(docs, component)["spec"]["template"]["spec"]


def env_number(spec: dict, name: str) -> float:
    return float(env_of(spec["containers"][0])[name]["value"])


def pre_stop_sleep(spec: dict) -> int:
    command = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    return int(command[1])


def test_the_gateway_pod_outlives_its_longest_call():
    docs = manifests(render())
    spec = pod_spec(docs, "gateway")
    max_call = env_number(spec, "PORTEIRO_GATEWAY_MAX_CALL_SECONDS")
    delay = env_number(spec, "PORTEIRO_GATEWAY_SHUTDOWN_DELAY_SECONDS")
    grace = env_number(spec, "PORTEIRO_GATEWAY_GRACE_PERIOD_SECONDS")
    pre_stop = pre_stop_sleep(spec)

    assert pre_stop >= 5  # endpoints and load balancers need a few seconds to stop sending calls
    assert spec["terminationGracePeriodSeconds"] > pre_stop + delay + max_call + grace
    assert spec["terminationGracePeriodSeconds"] == pre_stop + delay + max_call + grace + 15


def test_the_gateway_grace_follows_the_maximum_call_length():
    short = pod_spec(manifests(render({"gateway": {"maxCallSeconds": 120}})), "gateway")
    long = pod_spec(manifests(render({"gateway": {"maxCallSeconds": 900}})), "gateway")

    assert long["terminationGracePeriodSeconds"] - short["terminationGracePeriodSeconds"] == 780
    assert short["terminationGracePeriodSeconds"] > 120


def test_two_gateways_by_default_and_a_disruption_keeps_one():
    docs = manifests(render())
    gateway = deployment(docs, "gateway")["spec"]
    budget = of_kind(docs, "PodDisruptionBudget")["porteiro-gateway"]["spec"]

    assert gateway["replicas"] >= 2
    assert gateway["replicas"] - budget["maxUnavailable"] >= 1
    # A rollout adds the new gateway before it takes an old one away.
    assert gateway["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def test_the_concierge_waits_for_endpoints_then_hands_its_streams_over_within_its_grace():
    spec = pod_spec(manifests(render({"redis": {"host": "redis.data.svc"}})), "concierge")
    delay = env_number(spec, "PORTEIRO_CONCIERGE_SHUTDOWN_DELAY_SECONDS")
    grace = env_number(spec, "PORTEIRO_CONCIERGE_GRACE_PERIOD_SECONDS")
    pre_stop = pre_stop_sleep(spec)

    assert pre_stop >= 1
    assert spec["terminationGracePeriodSeconds"] > pre_stop + delay + grace


def test_a_pre_stop_of_zero_renders_no_hook_and_the_manifests_stay_valid():
    docs = manifests(render({"gateway": {"preStopSleepSeconds": 0}, "concierge": {"preStopSleepSeconds": 0}}))
    for component in ("gateway", "concierge"):
        container = pod_spec(docs, component)["containers"][0]
        assert "lifecycle" not in container
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_rollout_defaults_are_valid_kubernetes():
    docs = manifests(render())
    for component in ("gateway", "concierge"):
        kubernetes_validate.validate(deployment(docs, component), KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("sleep", [-1, 301, "10"])
def test_the_values_schema_refuses_a_bad_pre_stop_sleep(sleep):
    with pytest.raises(helm_python.HelmValuesError, match=re.escape("preStopSleepSeconds")):
        render({"gateway": {"preStopSleepSeconds": sleep}})
