"""From spans to call reports and the aggregate summary."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from porteiro_common.report.spans import SpanRecord

SESSION_ATTRIBUTE = "porteiro.session_id"
# Span events whose `duration_ms` is a figure of its own (VAD), as in the prototype.
MEASURED_EVENTS = ("SPEECH_ENDED", "SILENCE_DETECTED")
# Span attributes that are a stage's duration of their own. TRANSCRIPTION spans last while
# the audio streams in; their `recognition_ms` is the recognizer's processing time alone,
# the figure the prototype reported as the transcription time.
DURATION_ATTRIBUTES = {"recognition_ms": "RECOGNITION"}
# The gateway's visitor-leg span: a trace with one is a call (it ends, and is exported, when
# the call ends); any other trace with a session id is a direct RPC (grpcurl) or an unfinished call.
CALL_SPAN = "CALL"
# Attributes left out of the timeline's data (already shown elsewhere).
TIMELINE_SKIPPED_ATTRIBUTES = {SESSION_ATTRIBUTE}


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear-interpolated percentile of already sorted values."""
    if not sorted_values:
        return 0.0
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return sorted_values[low]
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def statistics(values: list[float]) -> dict[str, float]:
    """min/max/avg/median/p90/p95/p99 in the unit of the values, plus the count."""
    ordered = sorted(values)
    if not ordered:
        return {
            "count": 0,
            "min": 0.0,
            "max": 0.0,
            "avg": 0.0,
            "median": 0.0,
            "p90": 0.0,
            "p95": 0.0,
            "p99": 0.0,
        }
    return {
        "count": len(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "avg": sum(ordered) / len(ordered),
        "median": percentile(ordered, 0.5),
        "p90": percentile(ordered, 0.9),
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
    }


def is_stage(span: SpanRecord) -> bool:
    """Stage spans carry the prototype vocabulary: upper-case names (TRANSCRIPTION, TURN...)."""
    return span.name.isupper()


@dataclass
class CallReport:
    call_id: str
    trace_id: str
    session_id: str | None
    services: list[str]
    call_duration_ms: float
    outcome: str | None
    span_count: int
    stage_values: dict[str, list[float]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    # False for traces without the gateway's CALL span: direct RPCs, unfinished calls.
    is_call: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "is_call": self.is_call,
            "trace_id": self.trace_id,
            "session_id": self.session_id,
            "services": self.services,
            "call_duration_ms": self.call_duration_ms,
            "outcome": self.outcome,
            "span_count": self.span_count,
            "stages": {name: statistics(values) for name, values in sorted(self.stage_values.items())},
            "errors": self.errors,
            "timeline": self.timeline,
        }


def _stage_key(span: SpanRecord, services_by_name: dict[str, set[str]]) -> str:
    # The same stage name measured by two services (client and server side) stays apart.
    if len(services_by_name[span.name]) > 1:
        return f"{span.name} ({span.service})"
    return span.name


def _stage_values(spans: list[SpanRecord]) -> dict[str, list[float]]:
    services_by_name: dict[str, set[str]] = defaultdict(set)
    for span in spans:
        if is_stage(span):
            services_by_name[span.name].add(span.service)
    values: dict[str, list[float]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: s.start_ns):
        if is_stage(span):
            values[_stage_key(span, services_by_name)].append(span.duration_ms)
        for name, value in span.attributes.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if name.endswith("_latency_ms"):
                values[name.removesuffix("_ms").upper()].append(float(value))
            elif name in DURATION_ATTRIBUTES:
                values[DURATION_ATTRIBUTES[name]].append(float(value))
        for event in span.events:
            duration = event.attributes.get("duration_ms")
            if event.name in MEASURED_EVENTS and isinstance(duration, (int, float)):
                values[event.name].append(float(duration))
    return dict(values)


def _errors(spans: list[SpanRecord], call_start_ns: int) -> list[dict[str, Any]]:
    errors = []
    for span in spans:
        error_events = [event for event in span.events if event.name == "ERROR"]
        for event in error_events:
            errors.append(
                {
                    "at_ms": round((event.time_ns - call_start_ns) / 1e6, 3),
                    "service": span.service,
                    "span": span.name,
                    "error_type": str(event.attributes.get("error_type", "error")),
                    "message": str(event.attributes.get("message", "")),
                }
            )
        if span.status == "ERROR" and not error_events:
            errors.append(
                {
                    "at_ms": round((span.end_ns - call_start_ns) / 1e6, 3),
                    "service": span.service,
                    "span": span.name,
                    "error_type": "status",
                    "message": span.status_message,
                }
            )
    return sorted(errors, key=lambda error: error["at_ms"])


def _outcome(spans: list[SpanRecord]) -> str | None:
    for span in spans:
        for event in span.events:
            if event.name == "CALL_ENDED" and event.attributes.get("outcome"):
                return str(event.attributes["outcome"])
    return None


def _call_duration_ms(spans: list[SpanRecord]) -> float:
    roots = [span for span in spans if span.name == "CALL"] or [
        span for span in spans if not span.parent_span_id
    ]
    if roots:
        return max(root.duration_ms for root in roots)
    return (max(s.end_ns for s in spans) - min(s.start_ns for s in spans)) / 1e6


def _offset_ms(time_ns: int, call_start_ns: int) -> float:
    return round((time_ns - call_start_ns) / 1e6, 3)


def _entry(at_ns: int, start_ns: int, event: str, span: SpanRecord, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "at_ms": _offset_ms(at_ns, start_ns),
        "event": event,
        "service": span.service,
        "span": span.name,
        "data": data,
    }


def _span_data(span: SpanRecord) -> dict[str, Any]:
    return {k: v for k, v in span.attributes.items() if k not in TIMELINE_SKIPPED_ATTRIBUTES}


def _span_timeline(span: SpanRecord, call_start_ns: int) -> list[dict[str, Any]]:
    """The span's events; a stage's _COMPLETE event also carries the span's data (transcript...)."""
    entries = []
    for event in span.events:
        data = dict(event.attributes)
        if event.name == f"{span.name}_COMPLETE":
            data = {**_span_data(span), **data}
        entries.append(_entry(event.time_ns, call_start_ns, event.name, span, data))
    if not is_stage(span) or any(event.name == f"{span.name}_COMPLETE" for event in span.events):
        return entries
    # A stage without its own _COMPLETE event (TURN, CALL, or spans of other tracers): its end,
    # with its data (a turn's transcript and latency), and its start when nothing else marks it.
    if not span.events:
        entries.append(_entry(span.start_ns, call_start_ns, f"{span.name}_START", span, {}))
    data = {**_span_data(span), "duration_ms": round(span.duration_ms, 3)}
    entries.append(_entry(span.end_ns, call_start_ns, f"{span.name}_COMPLETE", span, data))
    return entries


def _timeline(spans: list[SpanRecord], call_start_ns: int) -> list[dict[str, Any]]:
    """Every event of the call in time order, with its offset from the start and its data:
    the prototype's per-call log, rebuilt from the traces."""
    entries = [entry for span in spans for entry in _span_timeline(span, call_start_ns)]
    return sorted(entries, key=lambda entry: entry["at_ms"])


def build_call_report(trace_id: str, spans: list[SpanRecord]) -> CallReport:
    session_id = next(
        (str(span.attributes[SESSION_ATTRIBUTE]) for span in spans if span.attributes.get(SESSION_ATTRIBUTE)),
        None,
    )
    start_ns = min(span.start_ns for span in spans)
    return CallReport(
        call_id=session_id or trace_id,
        trace_id=trace_id,
        session_id=session_id,
        services=sorted({span.service for span in spans if span.service}),
        call_duration_ms=_call_duration_ms(spans),
        outcome=_outcome(spans),
        span_count=len(spans),
        stage_values=_stage_values(spans),
        errors=_errors(spans, start_ns),
        timeline=_timeline(spans, start_ns),
        is_call=any(span.name == CALL_SPAN for span in spans),
    )


def is_call_trace(spans: list[SpanRecord]) -> bool:
    """A call's trace has the gateway's CALL root or a session id (not, e.g., start-up warm-up)."""
    return any(span.name == "CALL" or span.attributes.get(SESSION_ATTRIBUTE) for span in spans)


def build_call_reports(spans: list[SpanRecord]) -> list[CallReport]:
    """One report per trace of a call or session (see `is_call_trace`), oldest first;
    `is_call` tells real calls from direct RPCs and unfinished calls."""
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    by_trace = {
        trace_id: trace_spans for trace_id, trace_spans in by_trace.items() if is_call_trace(trace_spans)
    }
    reports = [build_call_report(trace_id, trace_spans) for trace_id, trace_spans in by_trace.items()]
    first_start = {
        trace_id: min(s.start_ns for s in trace_spans) for trace_id, trace_spans in by_trace.items()
    }
    return sorted(reports, key=lambda report: first_start[report.trace_id])


def find_call(reports: list[CallReport], call_id: str) -> CallReport | None:
    wanted = call_id.strip().lower()
    return next((r for r in reports if wanted in (r.trace_id.lower(), (r.session_id or "").lower())), None)


def other_trace(report: CallReport) -> dict[str, Any]:
    """A line about a trace that is not a call, for the list apart."""
    return {
        "trace_id": report.trace_id,
        "session_id": report.session_id,
        "services": report.services,
        "duration_ms": report.call_duration_ms,
        "errors": len(report.errors),
    }


def summarize(all_reports: list[CallReport]) -> dict[str, Any]:
    """Aggregate over the real calls: every stage's values pooled, outcomes counted.
    Other traces (direct RPCs, unfinished calls) are only listed."""
    reports = [report for report in all_reports if report.is_call]
    pooled: dict[str, list[float]] = defaultdict(list)
    for report in reports:
        for name, values in report.stage_values.items():
            pooled[name].extend(values)
    return {
        "calls": len(reports),
        "errors": sum(len(report.errors) for report in reports),
        "outcomes": dict(Counter(report.outcome or "unknown" for report in reports)),
        "call_duration_ms": statistics([report.call_duration_ms for report in reports]),
        "stages": {name: statistics(values) for name, values in sorted(pooled.items())},
        "other_traces": [other_trace(report) for report in all_reports if not report.is_call],
    }
