"""Per-stage timings of one call, read from the services' JSON-lines span file (PORTEIRO_SPAN_FILE)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpanRecord:
    name: str
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    attributes: dict
    events: list[dict]

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def event_ns(self, name: str) -> int | None:
        return next((int(event["time_ns"]) for event in self.events if event["name"] == name), None)


def read_spans(path: Path | str) -> list[SpanRecord]:
    spans: list[SpanRecord] = []
    source = Path(path)
    if not source.exists():
        return spans
    for line in source.read_text(errors="replace").splitlines():
        try:
            raw = json.loads(line)
            spans.append(
                SpanRecord(
                    raw["name"],
                    raw.get("service", ""),
                    raw["trace_id"],
                    raw["span_id"],
                    raw.get("parent_span_id"),
                    int(raw["start_ns"]),
                    int(raw["end_ns"] or raw["start_ns"]),
                    raw.get("attributes") or {},
                    raw.get("events") or [],
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return spans


def call_spans(spans: list[SpanRecord], session_id: str) -> list[SpanRecord]:
    """Every span of the traces that carry this session id (both legs share the call's trace)."""
    traces = {span.trace_id for span in spans if span.attributes.get("porteiro.session_id") == session_id}
    return sorted((span for span in spans if span.trace_id in traces), key=lambda span: span.start_ns)


def stage_table(spans: list[SpanRecord]) -> list[tuple[str, int, float, float]]:
    """(stage "NAME (service)", count, mean ms, max ms) in order of first appearance."""
    groups: dict[str, list[float]] = defaultdict(list)
    for span in spans:
        groups[f"{span.name} ({span.service})"].append(span.duration_ms)
    return [(name, len(values), sum(values) / len(values), max(values)) for name, values in groups.items()]


def format_stage_table(spans: list[SpanRecord], include_rpcs: bool = False) -> str:
    """The stage spans (TURN, TRANSCRIPTION, AI_PROCESSING...); gRPC client/server spans only if asked."""
    rows = stage_table([span for span in spans if include_rpcs or not span.name.startswith("/")])
    if not rows:
        return "(no spans recorded for this call)"
    width = max(len(name) for name, *_ in rows)
    lines = [f"{'stage':<{width}}  count   mean ms    max ms"]
    lines += [f"{name:<{width}}  {count:5d}  {mean:8.1f}  {peak:8.1f}" for name, count, mean, peak in rows]
    return "\n".join(lines)


def leg_transcripts(spans: list[SpanRecord], session_id: str, leg: str) -> list[str]:
    """What the gateway recognised on one leg, turn by turn (needs PORTEIRO_TRACE_PERSONAL_DATA=true)."""
    turns = [
        span
        for span in spans
        if span.name == "TURN"
        and span.attributes.get("porteiro.session_id") == session_id
        and span.attributes.get("porteiro.leg") == leg
    ]
    turns.sort(key=lambda span: (span.attributes.get("porteiro.turn", 0), span.start_ns))
    return [str(span.attributes.get("porteiro.transcript", "")) for span in turns]
