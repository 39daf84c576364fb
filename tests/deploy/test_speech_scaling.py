"""Speech autoscaling in the chart: an HPA on CPU by default, the queue depth as an opt-in
custom metric; rendered by Helm's engine and checked against the Kubernetes schemas."""

from __future__ import annotations

import re

import helm_python
import kubernetes_validate
import pytest

from tests.deploy.chart import KUBERNETES_VERSION, manifests, of_kind, render


def speech_hpa(values: dict) -> dict:
    return of_kind(manifests(render(values)), "HorizontalPodAutoscaler")["porteiro-speech"]


def test_speech_scales_on_cpu_by_default():
    hpa = speech_hpa({})
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "porteiro-speech",
    }
    (cpu,) = hpa["spec"]["metrics"]
    assert cpu["type"] == "Resource" and cpu["resource"]["name"] == "cpu"
    assert cpu["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_the_queue_depth_option_adds_a_pods_metric_that_validates():
    hpa = speech_hpa(
        {
            "speech": {
                "autoscaling": {"queueDepth": {"enabled": True, "kind": "synthesis", "averageValue": "500m"}}
            }
        }
    )
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
    cpu, depth = hpa["spec"]["metrics"]
    assert cpu["resource"]["name"] == "cpu"  # CPU stays; the queue depth is added
    assert depth == {
        "type": "Pods",
        "pods": {
            "metric": {
                "name": "porteiro_speech_queue_depth",
                "selector": {"matchLabels": {"kind": "synthesis"}},
            },
            "target": {"type": "AverageValue", "averageValue": "500m"},
        },
    }


def test_the_queue_depth_metric_named_in_the_chart_is_the_one_the_service_exports():
    from porteiro_speech import metrics

    hpa = speech_hpa({"speech": {"autoscaling": {"queueDepth": {"enabled": True}}}})
    name = hpa["spec"]["metrics"][1]["pods"]["metric"]["name"]
    assert name == metrics.QUEUE_DEPTH._name
    assert (
        hpa["spec"]["metrics"][1]["pods"]["metric"]["selector"]["matchLabels"]["kind"] in metrics.QUEUE_KINDS
    )


@pytest.mark.parametrize(
    ("queue_depth", "message"),
    [({"kind": "speech"}, "kind"), ({"averageValue": "two"}, "averageValue"), ({"target": 2}, "target")],
    ids=["unknown-kind", "not-a-quantity", "typo"],
)
def test_the_values_schema_refuses_a_bad_queue_depth_option(queue_depth, message):
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        render({"speech": {"autoscaling": {"queueDepth": queue_depth}}})
