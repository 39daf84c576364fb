"""porteiro-report on known spans: per-call and summary figures, sources, errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import set_span_in_context

from porteiro_common.report.analysis import percentile, statistics
from porteiro_common.report.cli import main
from porteiro_common.report.spans import ReportError, read_span_file
from porteiro_common.spanfile import JsonLinesSpanExporter

MS = 1_000_000
CALL_A = "11111111-2222-3333-4444-555555555555"
CALL_B = "66666666-7777-8888-9999-000000000000"


def span(trace, span_id, name, start_ms, end_ms, parent=None, service="gateway", **extra):
    record = {
        "trace_id": trace,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "service": service,
        "start_ns": start_ms * MS,
        "end_ns": end_ms * MS,
        "status": extra.pop("status", "UNSET"),
        "attributes": extra.pop("attributes", {}),
        "events": extra.pop("events", []),
    }
    return record


def known_spans() -> list[dict]:
    a, b = "a" * 32, "b" * 32
    return [
        span(
            a,
            "a1",
            "CALL",
            0,
            20_000,
            attributes={"porteiro.session_id": CALL_A},
            events=[{"name": "SPEECH_ENDED", "time_ns": 2_000 * MS, "attributes": {"duration_ms": 1500}}],
        ),
        span(a, "a2", "TURN", 1_000, 4_000, "a1", attributes={"turn_latency_ms": 900}),
        span(
            a,
            "a3",
            "TRANSCRIPTION",
            2_000,
            2_100,
            "a2",
            service="speech",
            attributes={"transcript": "entrega para o 101", "recognition_ms": 40.0},
        ),
        span(a, "a4", "TRANSCRIPTION", 5_000, 5_300, "a1", service="speech"),
        span(
            a,
            "a5",
            "AI_PROCESSING",
            2_100,
            2_150,
            "a2",
            service="concierge",
            events=[{"name": "CALL_ENDED", "time_ns": 19_000 * MS, "attributes": {"outcome": "authorized"}}],
        ),
        span(a, "a6", "Converse", 0, 20_000, "a1", service="concierge"),
        span(b, "b1", "CALL", 30_000, 40_000, attributes={"porteiro.session_id": CALL_B}),
        span(b, "b2", "TRANSCRIPTION", 31_000, 31_200, "b1", service="speech"),
        span(
            b,
            "b3",
            "CALL_MORADOR",
            32_000,
            32_010,
            "b1",
            service="dialer",
            status="ERROR",
            events=[
                {
                    "name": "ERROR",
                    "time_ns": 32_010 * MS,
                    "attributes": {"error_type": "UNAVAILABLE", "message": "broker down"},
                }
            ],
        ),
    ]


@pytest.fixture
def span_file(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in known_spans()))
    return path


def run(*argv) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_statistics_match_hand_computed_figures():
    assert percentile([100.0, 200.0, 300.0], 0.5) == 200.0
    assert percentile([100.0, 300.0], 0.9) == pytest.approx(280.0)
    stats = statistics([100.0, 300.0, 200.0])
    assert (stats["min"], stats["max"], stats["avg"], stats["median"]) == (100.0, 300.0, 200.0, 200.0)
    assert stats["p99"] == pytest.approx(298.0)
    assert statistics([])["count"] == 0


def test_one_call_by_session_id(span_file):
    code, text = run("--span-file", str(span_file), "--call-id", CALL_A, "--json")
    assert code == 0
    report = json.loads(text)
    assert report["trace_id"] == "a" * 32 and report["outcome"] == "authorized"
    assert report["call_duration_ms"] == 20_000
    assert report["stages"]["TRANSCRIPTION"]["count"] == 2
    assert report["stages"]["TRANSCRIPTION"]["avg"] == pytest.approx(200.0)
    assert report["stages"]["TURN_LATENCY"]["max"] == 900
    assert report["stages"]["SPEECH_ENDED"]["avg"] == 1500
    assert "Converse" not in report["stages"]  # only vocabulary stages are figures
    assert report["errors"] == []


def test_all_calls_summary_pools_every_call(span_file, tmp_path):
    output = tmp_path / "report.json"
    code, text = run("--span-file", str(span_file), "--all", "--summary", "--output", str(output))
    assert code == 0 and "SUMMARY OF ALL CALLS" in text
    summary = json.loads(output.read_text())["summary"]
    assert summary["calls"] == 2 and summary["errors"] == 1
    assert summary["outcomes"] == {"authorized": 1, "unknown": 1}
    transcription = summary["stages"]["TRANSCRIPTION"]
    assert transcription["count"] == 3
    assert (transcription["min"], transcription["median"], transcription["max"]) == (100.0, 200.0, 300.0)
    assert summary["call_duration_ms"]["avg"] == pytest.approx(15_000)


def test_traces_that_are_not_calls_are_left_out(span_file):
    with span_file.open("a") as handle:  # e.g. the gateway's start-up synthesis of its fallback
        handle.write(json.dumps(span("d" * 32, "d1", "SYNTHESIS", 0, 500, service="speech")) + "\n")
    code, text = run("--span-file", str(span_file), "--all", "--json")
    assert code == 0 and json.loads(text)["summary"]["calls"] == 2


def test_errors_are_listed_with_their_time(span_file):
    code, text = run("--span-file", str(span_file), "--call-id", "b" * 32)
    assert code == 0
    assert "dialer/CALL_MORADOR UNAVAILABLE: broker down" in text
    assert "+2010 ms" in text


def test_malformed_file_gives_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "spans.jsonl"
    bad.write_text(json.dumps(known_spans()[0]) + "\n{not json\n")
    assert run("--span-file", str(bad), "--all")[0] == 2
    assert f"{bad}:2: not valid JSON" in capsys.readouterr().err
    bad.write_text(json.dumps({"name": "CALL"}) + "\n")
    with pytest.raises(ReportError, match="span without trace_id"):
        read_span_file(bad)
    assert run("--span-file", str(tmp_path / "missing.jsonl"), "--all")[0] == 2
    assert "cannot read span file" in capsys.readouterr().err


def test_unknown_call_id_is_an_error(span_file, capsys):
    assert run("--span-file", str(span_file), "--call-id", "nope")[0] == 2
    assert "no call nope" in capsys.readouterr().err


def test_span_file_written_by_the_exporter_reads_back(tmp_path):
    path = tmp_path / "spans.jsonl"
    provider = TracerProvider(resource=Resource.create({"service.name": "speech"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    root = tracer.start_span("CALL", start_time=1_000 * MS, attributes={"porteiro.session_id": CALL_A})
    child = tracer.start_span("SYNTHESIS", context=set_span_in_context(root), start_time=1_100 * MS)
    child.add_event("SYNTHESIS_COMPLETE", {"duration_ms": 250.0}, timestamp=1_350 * MS)
    child.end(end_time=1_350 * MS)
    root.end(end_time=3_000 * MS)
    code, text = run("--span-file", str(path), "--call-id", CALL_A, "--json")
    report = json.loads(text)
    assert code == 0 and report["services"] == ["speech"]
    assert report["stages"]["SYNTHESIS"]["avg"] == pytest.approx(250.0)
    assert report["call_duration_ms"] == pytest.approx(2_000.0)


def jaeger_payload() -> dict:
    return {
        "data": [
            {
                "traceID": "c" * 32,
                "processes": {"p1": {"serviceName": "gateway"}, "p2": {"serviceName": "speech"}},
                "spans": [
                    {
                        "traceID": "c" * 32,
                        "spanID": "c1",
                        "operationName": "CALL",
                        "references": [],
                        "startTime": 1_000_000,
                        "duration": 5_000_000,
                        "processID": "p1",
                        "tags": [{"key": "porteiro.session_id", "type": "string", "value": CALL_B}],
                        "logs": [],
                    },
                    {
                        "traceID": "c" * 32,
                        "spanID": "c2",
                        "operationName": "TRANSCRIPTION",
                        "references": [{"refType": "CHILD_OF", "traceID": "c" * 32, "spanID": "c1"}],
                        "startTime": 2_000_000,
                        "duration": 400_000,
                        "processID": "p2",
                        "tags": [{"key": "error", "type": "bool", "value": True}],
                        "logs": [
                            {
                                "timestamp": 2_400_000,
                                "fields": [
                                    {"key": "event", "value": "ERROR"},
                                    {"key": "error_type", "value": "UNAVAILABLE"},
                                    {"key": "message", "value": "whisper failed"},
                                ],
                            }
                        ],
                    },
                ],
            }
        ]
    }


@contextmanager
def json_server(payload: Callable[[], object]) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that answers every GET with `payload()` as JSON: its URL and the paths asked."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server naming
            requests.append(self.path)
            body = json.dumps(payload()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()


@pytest.fixture
def jaeger():
    with json_server(jaeger_payload) as served:
        yield served


def test_jaeger_query_api_source(jaeger):
    url, requests = jaeger
    code, text = run("--jaeger", url, "--call-id", CALL_B, "--json")
    report = json.loads(text)
    assert code == 0 and report["call_duration_ms"] == pytest.approx(5_000.0)
    assert report["stages"]["TRANSCRIPTION"]["avg"] == pytest.approx(400.0)
    assert report["errors"][0]["message"] == "whisper failed"
    assert report["is_call"] is True
    assert [(e["at_ms"], e["service"], e["event"]) for e in report["timeline"]] == [
        (0.0, "gateway", "CALL_START"),
        (1_400.0, "speech", "ERROR"),
        (1_400.0, "speech", "TRANSCRIPTION_COMPLETE"),
        (5_000.0, "gateway", "CALL_COMPLETE"),
    ]
    assert requests and requests[0].startswith("/api/traces?") and "porteiro.session_id" in requests[0]


def test_jaeger_unreachable_is_a_clear_error(capsys):
    assert run("--jaeger", "http://127.0.0.1:9", "--all")[0] == 2
    assert "cannot reach Jaeger" in capsys.readouterr().err


def pokes_and_unfinished() -> list[dict]:
    """A grpcurl Resolve with a session id, and a call whose CALL span never ended."""
    poke, unfinished = "e" * 32, "f" * 32
    return [
        span(
            poke, "e1", "porteiro.directory.v1.DirectoryService/Resolve", 50_000, 50_005, service="directory"
        ),
        span(
            poke,
            "e2",
            "FUZZY_VALIDATION",
            50_001,
            50_004,
            "e1",
            service="directory",
            attributes={"porteiro.session_id": "poke"},
        ),
        span(
            unfinished,
            "f2",
            "TRANSCRIPTION",
            60_000,
            60_300,
            "f1",
            service="speech",
            attributes={"porteiro.session_id": "unfinished"},
        ),
    ]


def test_call_timeline_lists_every_event_in_order_with_its_data(span_file):
    code, text = run("--span-file", str(span_file), "--call-id", CALL_A, "--json")
    timeline = json.loads(text)["timeline"]
    assert [entry["at_ms"] for entry in timeline] == sorted(entry["at_ms"] for entry in timeline)
    events = [(entry["at_ms"], entry["service"], entry["event"]) for entry in timeline]
    assert (2_000.0, "gateway", "SPEECH_ENDED") in events
    assert (2_000.0, "speech", "TRANSCRIPTION_START") in events
    assert (
        events[-1] == (20_000.0, "concierge", "Converse") or (19_000.0, "concierge", "CALL_ENDED") in events
    )
    completed = next(e for e in timeline if e["event"] == "TRANSCRIPTION_COMPLETE" and e["at_ms"] == 2_100)
    assert completed["data"]["transcript"] == "entrega para o 101"
    assert completed["data"]["duration_ms"] == 100.0
    assert "porteiro.session_id" not in completed["data"]
    # The text report prints the same timeline.
    code, text = run("--span-file", str(span_file), "--call-id", CALL_A)
    assert code == 0 and "timeline (ms from the start of the call):" in text
    assert 'TRANSCRIPTION_COMPLETE     transcript="entrega para o 101"' in text
    assert '+  19000.0  concierge  CALL_ENDED                 outcome="authorized"' in text


def test_recognition_time_is_apart_from_the_streamed_audio(span_file):
    report = json.loads(run("--span-file", str(span_file), "--call-id", CALL_A, "--json")[1])
    assert report["stages"]["RECOGNITION"] == pytest.approx({**report["stages"]["RECOGNITION"], "avg": 40.0})
    assert report["stages"]["RECOGNITION"]["count"] == 1
    assert report["stages"]["TRANSCRIPTION"]["avg"] == pytest.approx(200.0)  # streaming + recognition


def test_pokes_and_unfinished_calls_are_listed_apart(span_file):
    with span_file.open("a") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in pokes_and_unfinished())
    code, text = run("--span-file", str(span_file), "--all", "--json")
    document = json.loads(text)
    assert code == 0 and document["summary"]["calls"] == 2
    assert len(document["calls"]) == 2
    others = {other["session_id"] for other in document["summary"]["other_traces"]}
    assert others == {"poke", "unfinished"}
    assert document["summary"]["stages"]["TRANSCRIPTION"]["count"] == 3  # the unfinished one's is left out
    code, text = run("--span-file", str(span_file), "--all", "--summary")
    assert "calls 2, errors 1" in text
    assert "not counted: 2 traces without a finished call" in text
    # Such a trace can still be looked at on its own, flagged.
    code, text = run("--span-file", str(span_file), "--call-id", "poke")
    assert code == 0 and "TRACE (not a call" in text


def test_several_span_files_and_the_latest_demo(tmp_path, span_file):
    older, newer = tmp_path / "var" / "demo-1", tmp_path / "var" / "demo-2"
    older.mkdir(parents=True)
    newer.mkdir()
    (older / "spans.jsonl").write_text(span_file.read_text())
    (newer / "spans.jsonl").write_text(json.dumps(known_spans()[0]) + "\n")
    os.utime(older / "spans.jsonl", (1_000, 1_000))
    code, text = run("--latest", str(tmp_path / "var"), "--all", "--json")
    assert code == 0 and json.loads(text)["summary"]["calls"] == 1
    code, text = run("--span-file", str(older / "spans.jsonl"), str(newer / "spans.jsonl"), "--all", "--json")
    assert code == 0 and json.loads(text)["summary"]["calls"] == 2  # call A appears in both files: one trace


def test_latest_without_a_demo_is_a_clear_error(tmp_path, capsys):
    assert run("--latest", str(tmp_path), "--all")[0] == 2
    assert f"no demo span file under {tmp_path}" in capsys.readouterr().err


def test_a_closed_pipe_ends_the_report_quietly(tmp_path):
    many = tmp_path / "spans.jsonl"
    with many.open("w") as handle:
        for number in range(600):  # far more output than a pipe buffers
            handle.write(json.dumps(span(f"{number:032x}", "s1", "CALL", 0, 1_000)) + "\n")
    report = subprocess.Popen(
        [sys.executable, "-m", "porteiro_common.report", "--span-file", str(many), "--all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert report.stdout is not None and report.stderr is not None
    first = report.stdout.readline() + report.stdout.readline()
    report.stdout.close()  # like `| head -1`
    assert report.wait(timeout=60) == 0
    assert b"CALL" in first
    assert report.stderr.read() == b""


def test_a_turn_ends_in_the_timeline_with_its_transcript(tmp_path):
    turn_events = [{"name": "SPEECH_DETECTED", "time_ns": 1_000 * MS, "attributes": {"pre_roll_ms": 300}}]
    path = tmp_path / "spans.jsonl"
    records = [
        span("a" * 32, "a1", "CALL", 0, 5_000, attributes={"porteiro.session_id": CALL_A}),
        span(
            "a" * 32,
            "a2",
            "TURN",
            1_000,
            2_500,
            "a1",
            attributes={"porteiro.transcript": "sou o Pedro", "turn_latency_ms": 420.0},
            events=turn_events,
        ),
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    timeline = json.loads(run("--span-file", str(path), "--call-id", CALL_A, "--json")[1])["timeline"]
    assert [(e["at_ms"], e["event"]) for e in timeline] == [
        (0.0, "CALL_START"),
        (1_000.0, "SPEECH_DETECTED"),
        (2_500.0, "TURN_COMPLETE"),
        (5_000.0, "CALL_COMPLETE"),
    ]
    assert timeline[2]["data"] == {
        "porteiro.transcript": "sou o Pedro",
        "turn_latency_ms": 420.0,
        "duration_ms": 1500.0,
    }


def as_jaeger_payload(records: list[dict]) -> dict:
    """The same spans as Jaeger's query API returns them (µs times, tags, logs, processes)."""
    traces: dict[str, dict] = {}
    for record in records:
        trace = traces.setdefault(
            record["trace_id"], {"traceID": record["trace_id"], "processes": {}, "spans": []}
        )
        process_id = f"p-{record['service']}"
        trace["processes"][process_id] = {"serviceName": record["service"]}
        tags = [{"key": key, "value": value} for key, value in record["attributes"].items()]
        if record["status"] == "ERROR":
            tags.append({"key": "otel.status_code", "value": "ERROR"})
        parent = record["parent_span_id"]
        trace["spans"].append(
            {
                "traceID": record["trace_id"],
                "spanID": record["span_id"],
                "operationName": record["name"],
                "references": [{"refType": "CHILD_OF", "spanID": parent}] if parent else [],
                "startTime": record["start_ns"] // 1000,
                "duration": (record["end_ns"] - record["start_ns"]) // 1000,
                "processID": process_id,
                "tags": tags,
                "logs": [
                    {
                        "timestamp": event["time_ns"] // 1000,
                        "fields": [{"key": "event", "value": event["name"]}]
                        + [{"key": k, "value": v} for k, v in event["attributes"].items()],
                    }
                    for event in record["events"]
                ],
            }
        )
    return {"data": list(traces.values())}


def test_jaeger_and_the_span_file_give_the_same_report(span_file, tmp_path):
    records = known_spans() + pokes_and_unfinished()
    span_file.write_text("".join(json.dumps(record) + "\n" for record in records))
    from_file = json.loads(run("--span-file", str(span_file), "--all", "--json")[1])

    payload = as_jaeger_payload(records)
    with json_server(lambda: payload) as (url, _):
        from_jaeger = json.loads(run("--jaeger", url, "--all", "--json")[1])
    assert from_jaeger["summary"] == from_file["summary"]
    for by_jaeger, by_file in zip(from_jaeger["calls"], from_file["calls"], strict=True):
        assert by_jaeger["stages"] == by_file["stages"] and by_jaeger["outcome"] == by_file["outcome"]
        assert [(e["at_ms"], e["event"]) for e in by_jaeger["timeline"]] == [
            (e["at_ms"], e["event"]) for e in by_file["timeline"]
        ]
