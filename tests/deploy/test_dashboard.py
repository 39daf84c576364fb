"""The Grafana dashboard: valid JSON, the panels issue 10 asks for, only Porteiro metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.deploy.chart import CHART_DIR, REPO
from tests.deploy.promql import exported_series_names, metric_names, parse_errors, without_grafana_variables

DASHBOARD = CHART_DIR / "dashboards" / "porteiro.json"
REPO_COPY = REPO / "deploy" / "grafana" / "porteiro-dashboard.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_the_repository_copy_is_the_chart_copy():
    assert REPO_COPY.read_bytes() == DASHBOARD.read_bytes()


def test_every_expression_queries_porteiro_metrics_or_up(dashboard):
    exprs = expressions(dashboard)
    assert len(exprs) >= 20
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        for name in names:
            assert name.startswith("porteiro_") or name == "up", f"{name!r} in {expr}"


def test_metric_name_extraction_ignores_labels_and_functions():
    expr = 'histogram_quantile(0.95, sum by (le, backend) (rate(porteiro_x_seconds_bucket{a="b"}[5m]))) or vector(0)'
    assert metric_names(expr) == {"porteiro_x_seconds_bucket"}


def test_issue_panels_are_present(dashboard):
    exprs = "\n".join(expressions(dashboard))
    for quantile in ("0.5", "0.95", "0.99"):
        assert (
            f"histogram_quantile({quantile}, sum by (le) (rate(porteiro_gateway_turn_latency_seconds_bucket"
            in exprs
        )
    stages = (
        "porteiro_gateway_endpointing_seconds",
        "porteiro_speech_stt_processing_seconds",
        "porteiro_concierge_extraction_seconds",
        "porteiro_directory_resolve_seconds",
        "porteiro_speech_tts_first_chunk_seconds",
        "porteiro_dialer_publish_seconds",
    )
    for stage in stages:
        assert f"{stage}_bucket" in exprs, stage
    for metric in (
        "porteiro_gateway_active_legs",
        "porteiro_concierge_call_outcomes_total",
        "porteiro_speech_errors_total",
        "porteiro_gateway_fallbacks_total",
        "porteiro_gateway_refusals_total",
        "porteiro_directory_reloads_total",
        "porteiro_dependency_up",
        "up{",
    ):
        assert metric in exprs, metric
    assert (
        'porteiro_dialer_publishes_total{namespace=~"$namespace", job=~"$job", outcome!="confirmed"}' in exprs
    )


def test_panels_use_the_datasource_variable_and_fit_the_grid(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
    assert dashboard["uid"] and dashboard["title"] == "Porteiro"


def defined_metrics() -> set[str]:
    """Metric names the services' code declares (prometheus_client appends _total to counters)."""
    sources = [
        *REPO.glob("services/*/src/**/*.py"),
        *REPO.glob("libs/porteiro-common/src/porteiro_common/**/*.py"),
    ]
    names: set[str] = set()
    for source in sources:
        names.update(re.findall(r"\"(porteiro_[a-z0-9_]+)\"", source.read_text(encoding="utf-8")))
    return names


def test_every_dashboard_metric_is_one_the_services_export(dashboard):
    defined = defined_metrics()
    used = {name for expr in expressions(dashboard) for name in metric_names(expr)} - {"up"}
    missing = set()
    for name in used:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if base not in defined and base.removesuffix("_total") not in defined:
            missing.add(name)
    assert not missing, f"dashboard queries metrics no service declares: {sorted(missing)}"


# ---- issue 18: filters, units, the missing panels, Prometheus's own parser ----------------


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def test_every_selector_filters_on_namespace_and_job(dashboard):
    for expr in expressions(dashboard):
        selectors = re.findall(r"\{[^}]*\}", re.sub(r"\{\{[^}]*\}\}", "", expr))
        assert selectors, expr
        for selector in selectors:
            assert 'namespace=~"$namespace"' in selector and 'job=~"$job"' in selector, expr


def test_every_panel_has_a_unit_and_the_real_time_factor_is_a_ratio(dashboard):
    for panel in panels(dashboard):
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit and unit != "none", panel["title"]
    rtf_panel = next(p for p in panels(dashboard) if "real_time_factor" in str(p["targets"]))
    rtf_ref = next(t["refId"] for t in rtf_panel["targets"] if "real_time_factor" in t["expr"])
    override = next(o for o in rtf_panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == rtf_ref)
    assert {"id": "unit", "value": "percentunit"} in override["properties"]


def test_panels_for_rejections_protocol_errors_legs_ended_dropped_utterances_and_resyncs(dashboard):
    exprs = "\n".join(expressions(dashboard))
    for metric in (
        "porteiro_speech_rejections_total",
        "porteiro_gateway_protocol_errors_total",
        "porteiro_gateway_legs_ended_total",
        "porteiro_gateway_dropped_utterances_total",
        "porteiro_gateway_playback_resyncs_total",
        "porteiro_build_info",
    ):
        assert metric in exprs, metric


def test_every_expression_parses_with_prometheus_own_parser(dashboard, tmp_path):
    exprs = [without_grafana_variables(expr) for expr in expressions(dashboard)]
    assert parse_errors(exprs, tmp_path) == ""
    # Guards the check: a broken expression is reported.
    assert "parse error" in parse_errors(["sum(rate(porteiro_x_total[5m])"], tmp_path)


def test_every_expression_names_only_metrics_the_services_export(dashboard):
    exported = exported_series_names() | {"up"}
    for expr in expressions(dashboard):
        names = metric_names(expr)
        assert names and names <= exported, f"{sorted(names - exported)} in {expr}"
