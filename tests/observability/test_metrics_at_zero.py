"""Every labelled series exists at zero before its first event, so increase() counts that event.

The label values each metrics module pre-creates are checked against the values the code
really uses (read from the source), so a new outcome added at a call site without its
pre-created series fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, trace_exemplar
from porteiro_concierge import telemetry as concierge_metrics
from porteiro_concierge.session import Outcome
from porteiro_dialer import metrics as dialer_metrics
from porteiro_directory import metrics as directory_metrics
from porteiro_gateway import metrics as gateway_metrics
from porteiro_speech import metrics as speech_metrics
from tests.deploy.promql import PROMTOOL

ROOT = Path(__file__).resolve().parents[2]


def source(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_every_call_outcome_is_a_series_before_any_call():
    for outcome in Outcome:
        assert sample("porteiro_concierge_call_outcomes_total", {"outcome": outcome.value}) is not None, (
            outcome
        )


def concierge_turn_outcomes_in_code() -> set[str]:
    """Turn outcomes the concierge sets: string literals or members of a TurnOutcome enum."""
    used: set[str] = set()
    for path in (ROOT / "services/concierge/src/porteiro_concierge").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'turn_outcome = "(\w+)"', text))
        used |= {member.lower() for member in re.findall(r"TurnOutcome\.([A-Z_]+)", text)}
        used |= set(re.findall(r'TURNS\.labels\(self\.leg, "(\w+)"\)', text))
    return used


def test_concierge_turn_outcomes_cover_every_value_the_code_sets():
    used = concierge_turn_outcomes_in_code()
    assert len(used) >= 5, f"turn outcomes not found in the concierge's code: the pattern is stale ({used})"
    assert used <= set(concierge_metrics.TURN_OUTCOMES)
    for leg in concierge_metrics.LEGS:
        for outcome in used:
            assert sample("porteiro_concierge_turns_total", {"leg": leg, "outcome": outcome}) is not None


def test_gateway_protocol_errors_cover_every_code_raised():
    texts = source("libs/porteiro-common/src/porteiro_common/audiosocket.py") + source(
        "services/gateway/src/porteiro_gateway/leg.py"
    )
    codes = set(re.findall(r'ProtocolError\("(\w+)"', texts))
    codes |= set(re.findall(r'PROTOCOL_ERRORS\.labels\("(\w+)"\)', texts))
    assert len(codes) >= 5, codes
    assert codes <= set(gateway_metrics.PROTOCOL_ERROR_CODES)
    for code in codes:
        assert sample("porteiro_gateway_protocol_errors_total", {"error": code}) is not None


def test_gateway_legs_ended_exist_for_every_leg_and_reason():
    assert "caller_hangup" in gateway_metrics.LEG_END_REASONS
    for leg in ("visitor", "resident"):
        for reason in gateway_metrics.LEG_END_REASONS:
            assert sample("porteiro_gateway_legs_ended_total", {"leg": leg, "reason": reason}) is not None
    refusals = set(re.findall(r'return "(\w+)"', source("services/gateway/src/porteiro_gateway/listener.py")))
    assert refusals <= set(gateway_metrics.REFUSAL_REASONS)
    for reason in gateway_metrics.REFUSAL_REASONS:
        assert sample("porteiro_gateway_refusals_total", {"reason": reason}) is not None
    for reason in ("speech", "concierge"):
        assert sample("porteiro_gateway_fallbacks_total", {"reason": reason}) is not None


def test_speech_rejections_cover_every_invalid_request_reason():
    text = source("services/speech/src/porteiro_speech/servicer.py")
    reasons = set(re.findall(r'InvalidRequest\(\s*"(\w+)"', text))
    reasons |= {f"unknown_{field}" for field in re.findall(r'one_of\(\s*"(?:\w+\.)?(\w+)"', text)}
    assert len(reasons) >= 5, reasons
    declared = set(speech_metrics.TRANSCRIBE_REJECTION_REASONS) | set(
        speech_metrics.SYNTHESIZE_REJECTION_REASONS
    )
    assert reasons <= declared
    assert (
        sample("porteiro_speech_rejections_total", {"operation": "transcribe", "reason": "overloaded"})
        is not None
    )


# Earlier tests in the same process may already have counted events, so "exists" is checked above and
# "is zero" here, in a process that has seen none.
FRESH_PROCESS_SERIES = """
from prometheus_client import REGISTRY
from porteiro_concierge import telemetry
from porteiro_dialer import metrics as dialer
from porteiro_gateway import metrics as gateway
from porteiro_speech import metrics as speech
values = [
    s.value
    for metric in REGISTRY.collect()
    if metric.name.startswith("porteiro_") and metric.type == "counter"
    for s in metric.samples
    if s.name.endswith("_total")
]
print(len(values), sum(values))
"""


def test_every_labelled_counter_is_zero_in_a_fresh_process():
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_SERIES], capture_output=True, text=True, timeout=120, check=True
    )
    series, total = result.stdout.split()
    assert int(series) >= 50, result.stdout
    assert float(total) == 0.0, result.stdout


def test_speech_backend_series_are_created_for_the_backends_in_use():
    speech_metrics.create_backend_label_values("test-recognizer", "test-synthesizer")
    assert (
        sample("porteiro_speech_errors_total", {"backend": "test-recognizer", "operation": "transcribe"}) == 0
    )
    assert (
        sample(
            "porteiro_speech_tts_first_chunk_seconds_count",
            {"backend": "test-synthesizer", "cached": "false"},
        )
        == 0
    )


def test_dialer_and_directory_outcomes_exist():
    outcomes = set(re.findall(r'outcome = "(\w+)"', source("services/dialer/src/porteiro_dialer/placer.py")))
    outcomes |= set(
        re.findall(r'PUBLISHES\.labels\("(\w+)"\)', source("services/dialer/src/porteiro_dialer/placer.py"))
    )
    assert outcomes <= set(dialer_metrics.PUBLISH_OUTCOMES)
    for outcome in dialer_metrics.PUBLISH_OUTCOMES:
        assert sample("porteiro_dialer_publishes_total", {"outcome": outcome}) is not None
    assert sample("porteiro_directory_resolve_outcomes_total", {"status": "match"}) is not None
    assert directory_metrics.RESOLVE_SECONDS is not None


def test_build_info_names_each_service_and_its_version():
    infos = {
        s.labels["service"]: s
        for metric in REGISTRY.collect()
        if metric.name == "porteiro_build_info"
        for s in metric.samples
    }
    assert set(infos) >= {"gateway", "speech", "concierge", "directory", "dialer"}
    for info in infos.values():
        assert info.value == 1
        assert re.fullmatch(r"\d+\.\d+\.\d+.*", info.labels["version"]), info.labels


def test_turn_latency_buckets_are_fine_between_half_a_second_and_five():
    inside = [b for b in VOICE_LATENCY_BUCKETS if 0.5 <= b <= 5.0]
    assert len(inside) >= 12
    assert max(b - a for a, b in zip(inside, inside[1:], strict=False)) <= 1.0
    assert gateway_metrics.TURN_LATENCY._upper_bounds[:-1] == list(VOICE_LATENCY_BUCKETS)


def test_histograms_carry_the_trace_id_as_an_exemplar_in_openmetrics():
    registry = CollectorRegistry()
    histogram = TracedHistogram(
        "porteiro_test_seconds", "test", buckets=VOICE_LATENCY_BUCKETS, registry=registry
    )
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("turn") as span:
        histogram.observe(0.7)
        trace_id = format(span.get_span_context().trace_id, "032x")
    histogram.observe(0.2)  # outside a trace: no exemplar, no error
    text = generate_openmetrics(registry).decode()
    exemplar = f'porteiro_test_seconds_bucket{{le="0.7"}} 2.0 # {{trace_id="{trace_id}"}} 0.7 '
    assert exemplar in text, text
    assert "trace_id" not in generate_latest(registry).decode()  # classic text format: no exemplars
    # Observed outside the span's context, with the span's exemplar given explicitly.
    turn = tracer.start_span("turn")
    histogram.observe(4.5, trace_exemplar(turn))
    turn_id = format(turn.get_span_context().trace_id, "032x")
    assert (
        f'porteiro_test_seconds_bucket{{le="5.0"}} 3.0 # {{trace_id="{turn_id}"}} 4.5 '
        in generate_openmetrics(registry).decode()
    )
    assert isinstance(histogram, Histogram)


def test_the_exposition_of_every_service_passes_promtool_lint():
    exposition = generate_latest(REGISTRY)
    assert PROMTOOL, "promtool not installed: run `make setup` as root (Debian package prometheus)"
    result = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=exposition, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "" and result.stderr.decode().strip() == ""
