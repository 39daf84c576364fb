"""Span records, and the two places they are read from."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ReportError(Exception):
    """A source could not be read; the message says where and why."""


@dataclass
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class SpanRecord:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    status: str = "UNSET"
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


_REQUIRED = ("trace_id", "span_id", "name", "start_ns", "end_ns")


def _record_from_json(data: Any, where: str) -> SpanRecord:
    if not isinstance(data, dict):
        raise ReportError(f"{where}: expected a JSON object per line")
    missing = [key for key in _REQUIRED if data.get(key) in (None, "")]
    if missing:
        raise ReportError(f"{where}: span without {', '.join(missing)}")
    try:
        events = [
            SpanEvent(str(event["name"]), int(event.get("time_ns") or 0), dict(event.get("attributes") or {}))
            for event in data.get("events") or []
        ]
        return SpanRecord(
            trace_id=str(data["trace_id"]),
            span_id=str(data["span_id"]),
            parent_span_id=data.get("parent_span_id") or None,
            name=str(data["name"]),
            service=str(data.get("service") or ""),
            start_ns=int(data["start_ns"]),
            end_ns=int(data["end_ns"]),
            status=str(data.get("status") or "UNSET"),
            status_message=str(data.get("status_message") or ""),
            attributes=dict(data.get("attributes") or {}),
            events=events,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ReportError(f"{where}: malformed span ({error})") from error


def read_span_file(path: Path | str) -> list[SpanRecord]:
    """Spans from a JSON-lines span file (see porteiro_common.spanfile)."""
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ReportError(f"cannot read span file {source}: {error.strerror or error}") from error
    spans = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ReportError(f"{source}:{number}: not valid JSON ({error.msg})") from error
        spans.append(_record_from_json(data, f"{source}:{number}"))
    return spans


# ---- Jaeger query API (/api/traces) ----


def _jaeger_tags(items: list[dict]) -> dict[str, Any]:
    return {item["key"]: item.get("value") for item in items or [] if "key" in item}


def _jaeger_span(span: dict, processes: dict) -> SpanRecord:
    parent = next(
        (ref["spanID"] for ref in span.get("references") or [] if ref.get("refType") == "CHILD_OF"), None
    )
    tags = _jaeger_tags(span.get("tags") or [])
    status = (
        "ERROR" if tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR" else "UNSET"
    )
    events = []
    for log in span.get("logs") or []:
        fields = _jaeger_tags(log.get("fields") or [])
        name = str(fields.pop("event", "log"))
        events.append(SpanEvent(name, int(log.get("timestamp", 0)) * 1000, fields))
    start_ns = int(span["startTime"]) * 1000
    service = processes.get(span.get("processID"), {}).get("serviceName", "")
    return SpanRecord(
        trace_id=span["traceID"],
        span_id=span["spanID"],
        parent_span_id=parent,
        name=span["operationName"],
        service=service,
        start_ns=start_ns,
        end_ns=start_ns + int(span.get("duration", 0)) * 1000,
        status=status,
        status_message=str(tags.get("otel.status_description", "")),
        attributes=tags,
        events=events,
    )


def spans_from_jaeger_payload(payload: dict) -> list[SpanRecord]:
    spans: list[SpanRecord] = []
    for trace in payload.get("data") or []:
        processes = trace.get("processes") or {}
        spans.extend(_jaeger_span(span, processes) for span in trace.get("spans") or [])
    return spans


def fetch_jaeger(
    base_url: str,
    service: str = "gateway",
    lookback: str = "1h",
    limit: int = 100,
    trace_id: str | None = None,
    session_id: str | None = None,
    timeout: float = 10.0,
) -> list[SpanRecord]:
    """Spans of the calls Jaeger's query service knows (one trace, or a search)."""
    base = base_url.rstrip("/")
    if trace_id:
        url = f"{base}/api/traces/{urllib.parse.quote(trace_id)}"
    else:
        query = {"service": service, "lookback": lookback, "limit": str(limit)}
        if session_id:
            query["tags"] = json.dumps({"porteiro.session_id": session_id})
        url = f"{base}/api/traces?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = json.load(response)
    except urllib.error.HTTPError as error:
        raise ReportError(f"Jaeger answered {error.code} for {url}") from error
    except (urllib.error.URLError, OSError) as error:
        raise ReportError(f"cannot reach Jaeger at {base}: {error}") from error
    except json.JSONDecodeError as error:
        raise ReportError(f"Jaeger returned invalid JSON from {url}") from error
    try:
        return spans_from_jaeger_payload(payload)
    except (KeyError, TypeError, ValueError) as error:
        raise ReportError(f"unexpected Jaeger payload from {url}: {error}") from error
