"""The concierge's metrics and tracer."""

from __future__ import annotations

from opentelemetry import trace
from prometheus_client import Counter, Gauge

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, set_build_info
from porteiro_common.tenants import LABEL_OFF
from porteiro_concierge.session import FailureReason, Outcome

tracer = trace.get_tracer("porteiro.concierge")
# The resident leg's span in the call's trace (lower case: a leg, not a stage of the report).
RESIDENT_LEG_SPAN = "concierge.resident_leg"

TURNS = Counter(
    "porteiro_concierge_turns_total",
    "Caller turns (utterances, key presses) handled, by result",
    ["leg", "outcome"],
)
EXTRACTION_SECONDS = TracedHistogram(
    "porteiro_concierge_extraction_seconds",
    "Time to extract slots from one visitor sentence",
    ["extractor"],
    buckets=VOICE_LATENCY_BUCKETS,
)
CALL_OUTCOMES = Counter("porteiro_concierge_call_outcomes_total", "Finished calls by outcome", ["outcome"])
# The same calls by condominium: its label is bounded by PORTEIRO_CONCIERGE_METRICS_CONDOMINIUMS
# ("-" for every call when that is off; "other" past the configured ones).
CONDOMINIUM_CALL_OUTCOMES = Counter(
    "porteiro_concierge_condominium_call_outcomes_total",
    "Finished calls by condominium and outcome",
    ["condominium", "outcome"],
)
CALL_FAILURES = Counter(
    "porteiro_concierge_call_failures_total",
    "Calls that ended failed, by why (a dependency, a malformed stream, the conversation)",
    ["reason"],
)
HOLDING_SENTENCES = Counter(
    "porteiro_concierge_holding_sentences_total",
    "Holding sentences said because a dependency the visitor waited on was slow (holding_after_seconds)",
)
# The span event of one (on the span of the event being handled).
HOLDING_EVENT = "HOLDING_SENTENCE"
ACTIVE_SESSIONS = Gauge(
    "porteiro_concierge_active_sessions", "Visitor legs currently attached to this concierge process"
)

# The label values the code uses, created at zero so increase() sees each first event
# (a counter born with its first increment is invisible to increase()).
LEGS = ("visitor", "resident")
# The flow's turn outcomes (flow.py sets them; "ignored" turns of the visitor are not counted).
TURN_OUTCOMES = (
    "ignored",
    "waiting",
    "progress",
    "no_progress",
    "error",
    "ambiguous",
    "rejected",
    "validated",
    "unclear",
    "decision",
)
EXTRACTORS = ("deterministic", "crewai")
for _leg in LEGS:
    for _outcome in TURN_OUTCOMES:
        TURNS.labels(_leg, _outcome)
for _call_outcome in Outcome:
    CALL_OUTCOMES.labels(_call_outcome.value)
    CONDOMINIUM_CALL_OUTCOMES.labels(LABEL_OFF, _call_outcome.value)
for _reason in FailureReason:
    CALL_FAILURES.labels(_reason.value)
for _extractor in EXTRACTORS:
    EXTRACTION_SECONDS.labels(_extractor)
set_build_info("concierge", "porteiro-concierge")
