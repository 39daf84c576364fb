"""The concierge's metrics and tracer."""

from __future__ import annotations

from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS

tracer = trace.get_tracer("porteiro.concierge")
# The resident leg's span in the call's trace (lower case: a leg, not a stage of the report).
RESIDENT_LEG_SPAN = "concierge.resident_leg"

TURNS = Counter(
    "porteiro_concierge_turns_total",
    "Caller turns (utterances, key presses) handled, by result",
    ["leg", "outcome"],
)
EXTRACTION_SECONDS = Histogram(
    "porteiro_concierge_extraction_seconds",
    "Time to extract slots from one visitor sentence",
    ["extractor"],
    buckets=VOICE_LATENCY_BUCKETS,
)
CALL_OUTCOMES = Counter("porteiro_concierge_call_outcomes_total", "Finished calls by outcome", ["outcome"])
ACTIVE_SESSIONS = Gauge(
    "porteiro_concierge_active_sessions", "Visitor legs currently attached to this concierge process"
)
