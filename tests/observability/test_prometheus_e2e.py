"""A real Prometheus scraping a real stack: after N calls the dashboard and the alerts see them.

Prometheus (Debian's package, 2.42) is started by the test with a temporary config that
scrapes every service of a whole stack (real speech: whisper and espeak-ng) once a second
and loads the shipped alerting rules. After N calls:
- `sum(increase(porteiro_concierge_call_outcomes_total[15m]))` is N (the counters exist at
  zero before the first call, so increase() sees every call);
- every dashboard expression returns data or an explicit zero;
- the alerting rules load and evaluate without error;
- the directory's latency histogram carries trace-id exemplars of the calls' traces.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from porteiro_common.report.analysis import build_call_reports
from porteiro_common.report.spans import read_span_file
from porteiro_sim.scenarios import SCENARIOS
from tests.deploy.chart import CHART_DIR
from tests.e2e.conftest import E2E, start_e2e, stop_e2e
from tests.support.processes import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.acoustic,
    pytest.mark.skipif(
        shutil.which("prometheus") is None, reason="prometheus not installed (make setup as root)"
    ),
]

CALLS = 2
DASHBOARD = CHART_DIR / "dashboards" / "porteiro.json"
RULES = CHART_DIR / "files" / "alerts.yaml"
# What Grafana would put in the queries; a 15-minute window covers the whole test.
GRAFANA_VALUES = {
    "$__rate_interval": "15m",
    "$__range": "15m",
    '"$namespace"': '"porteiro"',
    '"$job"': '".*porteiro.*"',
    '"$condominium"': '".*"',
}


class Prometheus:
    """A prometheus process on a temporary config and storage; `query` speaks its HTTP API."""

    def __init__(self, work: Path, targets: dict[str, int]) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {
                    "job_name": f"porteiro-{name}",
                    "static_configs": [
                        {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": "porteiro"}}
                    ],
                }
                for name, port in targets.items()
            ],
        }
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (work / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    async def wait_for_targets(self, jobs: set[str], within_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + within_seconds
        while True:
            try:
                up = {r["metric"]["job"] for r in self.query("up == 1")}
                if jobs <= up:
                    return
            except OSError:
                up = set()
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"targets up: {up}, wanted {jobs}; prometheus exit {self.process.poll()}"
                )
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def scrape_targets(e2e: E2E) -> dict[str, int]:
    return {service.name: service.metrics_port for service in e2e.stack.services}


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VALUES.items():
                expr = expr.replace(variable, value)
            queries.append((panel["title"], expr))
    return queries


def value_of(result: list[dict[str, Any]]) -> float:
    return sum(float(sample["value"][1]) for sample in result)


@pytest.fixture
async def observed(tmp_path):
    """A stack with real speech, Prometheus scraping it, and CALLS finished delivery calls."""
    e2e = await start_e2e(tmp_path, fake=False)
    prometheus = Prometheus(tmp_path, scrape_targets(e2e))
    try:
        await prometheus.wait_for_targets({f"porteiro-{name}" for name in scrape_targets(e2e)})
        await asyncio.sleep(3)  # a few scrapes of the zeros before the first call
        # The apartment on the keypad: espeak-ng's spoken numbers are not recognised (test_real_speech).
        scenario = dataclasses.replace(SCENARIOS["delivery"], spoken_apartment=False)
        for _ in range(CALLS):
            result = await e2e.call(scenario)
            assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        await asyncio.sleep(4)  # the last outcome scraped
        yield e2e, prometheus
    finally:
        prometheus.stop()
        await stop_e2e(e2e)


async def test_prometheus_counts_every_call_and_every_panel_has_data(observed, tmp_path):
    e2e, prometheus = observed
    total = value_of(prometheus.query("sum(increase(porteiro_concierge_call_outcomes_total[15m]))"))
    # increase() extrapolates a little past the last sample; the counters started at zero.
    assert CALLS <= total <= CALLS * 1.25, total
    authorized = prometheus.query(
        'sum(increase(porteiro_concierge_call_outcomes_total{outcome="authorized"}[15m]))'
    )
    assert round(value_of(authorized)) == CALLS

    empty = []
    for title, expr in dashboard_queries():
        result = prometheus.query(expr)
        values = [float(sample["value"][1]) for sample in result]
        if not values or all(math.isnan(v) for v in values):
            empty.append(f"{title}: {expr}")
    assert empty == [], "panels without data:\n" + "\n".join(empty)

    groups = prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len([r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]])
    assert all(rule["health"] == "ok" for rule in rules), [(r["name"], r.get("lastError")) for r in rules]
    firing = [rule["name"] for rule in rules if rule["state"] == "firing"]
    assert firing == [], firing

    exemplars = prometheus.api(
        "query_exemplars",
        query="porteiro_directory_resolve_seconds_bucket",
        start=str(time.time() - 900),
        end=str(time.time()),
    )
    trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    call_traces = {report.trace_id for report in build_call_reports(read_span_file(tmp_path / "spans.jsonl"))}
    assert trace_ids and trace_ids <= call_traces, (trace_ids, call_traces)
    turn_exemplars = prometheus.api(
        "query_exemplars",
        query="porteiro_gateway_turn_latency_seconds_bucket",
        start=str(time.time() - 900),
        end=str(time.time()),
    )
    # The figures, for the record (pytest -s): how close increase() came, what carried exemplars.
    print(
        f"\n{CALLS} calls: increase() = {total:.3f}; directory exemplars {len(trace_ids)}, "
        f"turn-latency exemplars {sum(len(s['exemplars']) for s in turn_exemplars)}"
    )
