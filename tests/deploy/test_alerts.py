"""The alerting rules: parsed and unit-tested by promtool, shipped by the chart unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.chart import (
    CHART_DIR,
    PRODUCTION_VALUES,
    REPO,
    SERVICE_MONITOR_API,
    manifests,
    of_kind,
    render,
)
from tests.deploy.promql import exported_series_names, metric_names, promtool

RULES = CHART_DIR / "files" / "alerts.yaml"
PLAIN_RULES = REPO / "deploy" / "prometheus" / "porteiro-alerts.yaml"
RULE_TESTS = REPO / "tests" / "deploy" / "promtool" / "alerts.test.yaml"
EXPECTED_ALERTS = {
    "PorteiroServiceDown",
    "PorteiroDependencyDown",
    "PorteiroTurnLatencyHigh",
    "PorteiroCallsFailing",
    "PorteiroClickToCallNotConfirmed",
    "PorteiroSpeechOverloaded",
    "PorteiroSpeechBackendFailing",
    "PorteiroGatewayAtLegLimit",
    "PorteiroPlaybackResyncs",
}


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_check_rules_accepts_the_file():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_every_rule_passes_its_promtool_unit_tests():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_issue_alerts_exist_and_each_has_unit_tests():
    names = {rule["alert"] for rule in rules()}
    assert names == EXPECTED_ALERTS
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert tested == names


def test_unit_tests_fail_when_a_rule_is_weakened(tmp_path: Path):
    # Guards the unit tests: a rule whose threshold moves no longer meets its expectations.
    weakened = RULES.read_text().replace(") > 2.5", ") > 10")
    assert weakened != RULES.read_text()
    (tmp_path / "alerts.yaml").write_text(weakened)
    tests = yaml.safe_load(RULE_TESTS.read_text())
    tests["rule_files"] = ["alerts.yaml"]
    (tmp_path / "alerts.test.yaml").write_text(yaml.safe_dump(tests))
    result = promtool("test", "rules", str(tmp_path / "alerts.test.yaml"))
    assert result.returncode != 0
    assert "PorteiroTurnLatencyHigh" in result.stdout + result.stderr


def test_rules_name_only_metrics_the_services_export():
    exported = exported_series_names() | {"up"}
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exported, f"{rule['alert']}: {sorted(names - exported)}"


def test_the_plain_rules_file_is_the_chart_file():
    assert PLAIN_RULES.resolve() == RULES.resolve()


def test_prometheus_rule_carries_the_file_unchanged_when_enabled_with_the_crd():
    values = {"prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}}
    shipped = of_kind(manifests(render(values, (SERVICE_MONITOR_API,))), "PrometheusRule")
    assert list(shipped) == ["porteiro-alerts"]
    rule = shipped["porteiro-alerts"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    # Off by default, and never without the CRD.
    assert of_kind(manifests(render({}, (SERVICE_MONITOR_API,))), "PrometheusRule") == {}
    assert of_kind(manifests(render(values)), "PrometheusRule") == {}


@pytest.mark.parametrize("values_file", [PRODUCTION_VALUES], ids=["production"])
def test_the_production_example_ships_the_rules(values_file: Path):
    values = yaml.safe_load(values_file.read_text())
    assert of_kind(manifests(render(values, (SERVICE_MONITOR_API,))), "PrometheusRule")
