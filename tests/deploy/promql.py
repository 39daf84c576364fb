"""PromQL checks shared by the alert and dashboard tests: Prometheus's own parser (promtool)
and the metric names the services really export (their prometheus_client registries)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

PROMTOOL = shutil.which("promtool")
# Grafana's variables, replaced by values PromQL accepts so Prometheus's parser can read the query.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "${namespace}": "porteiro",
    "$namespace": "porteiro",
    "${job}": "porteiro-gateway",
    "$job": "porteiro-gateway",
    "${condominium}": "jacaranda",  # the per-condominium row's repeat variable
    "$condominium": "jacaranda",
}


def promtool(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL, "promtool not installed: run `make setup` as root (Debian package prometheus)"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=timeout, check=False)


def without_grafana_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


def parse_errors(exprs: list[str], workdir: Path) -> str:
    """'' if Prometheus's parser accepts every expression, else promtool's complaint.

    The expressions become recording rules of a throw-away file, which `promtool check rules`
    parses with Prometheus's own PromQL parser.
    """
    rules = [{"record": f"porteiro:check_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = workdir / "parse-check.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "parse-check", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    return "" if result.returncode == 0 else result.stdout + result.stderr


def exported_series_names() -> set[str]:
    """Every sample name the five services' metrics modules put in the default registry."""
    import porteiro_concierge.telemetry  # noqa: F401
    import porteiro_dialer.metrics  # noqa: F401
    import porteiro_directory.metrics  # noqa: F401
    import porteiro_gateway.metrics  # noqa: F401
    import porteiro_speech.metrics  # noqa: F401
    from porteiro_common.gc_pauses import watch_gc_pauses

    watch_gc_pauses()  # every service's run_service does it

    # Every series name of every collector (x_total, x_bucket, x_sum, ...), including labelled
    # metrics whose children do not exist yet; the registry keeps this map to refuse duplicates.
    names = set(REGISTRY._names_to_collectors)
    return {name for name in names if name.startswith("porteiro_")}


PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "by",
    "without",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "vector",
    "or",
    "and",
    "unless",
    "le",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "clamp_min",
    "clamp_max",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "absent",
    "topk",
    "time",
}


def metric_names(expr: str) -> set[str]:
    """Identifiers used as metrics: not label names, label values, functions or keywords."""
    without_strings = re.sub(r'"[^"]*"|\'[^\']*\'', '""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_groupings = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_matchers
    )
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_groupings)
    without_numbers = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?\b", "", without_ranges)
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", without_numbers))
    return {name for name in names if name not in PROMQL_WORDS}
