"""Command line: ``porteiro-report --latest --all --summary``, ``--span-file FILE --call-id ID``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from porteiro_common.report.analysis import build_call_reports, find_call, summarize
from porteiro_common.report.spans import ReportError, SpanRecord, fetch_jaeger, read_span_file

STAT_KEYS = ("min", "max", "avg", "median", "p90", "p95", "p99")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="porteiro-report", description="Per-call and aggregate reports from Porteiro's traces."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--span-file", type=Path, nargs="+", help="JSON-lines span file(s) (PORTEIRO_SPAN_FILE)"
    )
    source.add_argument(
        "--latest",
        type=Path,
        nargs="?",
        const=Path("var"),
        metavar="WORK_DIR",
        help="the span file of the newest demo run under WORK_DIR (default var: var/demo-*/spans.jsonl)",
    )
    source.add_argument("--jaeger", metavar="URL", help="Jaeger query base URL, e.g. http://jaeger:16686")
    parser.add_argument("--service", default="gateway", help="Jaeger service to search (default %(default)s)")
    parser.add_argument("--lookback", default="1h", help="Jaeger search window (default %(default)s)")
    parser.add_argument("--limit", type=int, default=100, help="Jaeger: at most this many calls")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--call-id", help="one call: its session id (AudioSocket UUID) or trace id")
    which.add_argument("--all", action="store_true", help="every call in the source")
    parser.add_argument("--summary", action="store_true", help="only the aggregate summary (with --all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    return parser.parse_args(argv)


def latest_span_file(work_dir: Path) -> Path:
    """The newest `demo-*/spans.jsonl` under `work_dir` (what `make demo` writes)."""
    candidates = [path for path in work_dir.glob("demo-*/spans.jsonl") if path.is_file()]
    if not candidates:
        raise ReportError(f"no demo span file under {work_dir} (expected {work_dir}/demo-*/spans.jsonl)")
    return max(candidates, key=lambda path: path.stat().st_mtime)


def load_spans(args: argparse.Namespace) -> list[SpanRecord]:
    if args.latest:
        return read_span_file(latest_span_file(args.latest))
    if args.span_file:
        return [span for path in args.span_file for span in read_span_file(path)]
    if args.call_id and len(args.call_id) == 32:
        return fetch_jaeger(args.jaeger, trace_id=args.call_id)
    return fetch_jaeger(
        args.jaeger,
        args.service,
        args.lookback,
        args.limit,
        session_id=args.call_id if args.call_id else None,
    )


def _print_stats(out: TextIO, title: str, stats: dict[str, float], indent: int = 2) -> None:
    pad = " " * indent
    figures = "  ".join(f"{key} {stats[key]:.1f}" for key in STAT_KEYS)
    out.write(f"{pad}{title:<32} n={stats['count']:<4} {figures}  (ms)\n")


def _format_data(data: dict[str, Any]) -> str:
    return " ".join(
        f"{key}={json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value}"
        for key, value in data.items()
    )


def print_timeline(out: TextIO, timeline: list[dict[str, Any]]) -> None:
    out.write("timeline (ms from the start of the call):\n")
    for entry in timeline:
        out.write(
            f"  +{entry['at_ms']:>9.1f}  {entry['service']:<10} {entry['event']:<26} "
            f"{_format_data(entry['data'])}".rstrip()
            + "\n"
        )


def print_call(out: TextIO, report: dict[str, Any], timeline: bool = False) -> None:
    kind = "CALL" if report.get("is_call", True) else "TRACE (not a call: direct RPC or unfinished call)"
    out.write(f"\n==== {kind} {report['call_id']} ====\n")
    out.write(f"trace {report['trace_id']}  outcome {report['outcome'] or 'unknown'}\n")
    duration = report["call_duration_ms"]
    out.write(f"duration {duration:.1f} ms ({duration / 1000:.2f} s), {report['span_count']} spans, ")
    out.write(f"services: {', '.join(report['services']) or '-'}\n")
    out.write("stages:\n")
    for name, stats in report["stages"].items():
        _print_stats(out, name, stats)
    if report["errors"]:
        out.write("errors:\n")
        for number, error in enumerate(report["errors"], start=1):
            out.write(
                f"  {number}. +{error['at_ms']:.0f} ms {error['service']}/{error['span']} "
                f"{error['error_type']}: {error['message']}\n"
            )
    if timeline:
        print_timeline(out, report["timeline"])


def print_summary(out: TextIO, summary: dict[str, Any]) -> None:
    out.write("\n==== SUMMARY OF ALL CALLS ====\n")
    others = summary["other_traces"]
    out.write(f"calls {summary['calls']}, errors {summary['errors']}\n")
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(summary["outcomes"].items()))
    out.write(f"outcomes: {outcomes or '-'}\n")
    _print_stats(out, "call duration", summary["call_duration_ms"], indent=0)
    out.write("stages:\n")
    for name, stats in summary["stages"].items():
        _print_stats(out, name, stats)
    if others:
        out.write(
            f"not counted: {len(others)} traces without a finished call (direct RPCs, unfinished calls)\n"
        )
        for other in others:
            out.write(
                f"  trace {other['trace_id']} session {other['session_id'] or '-'} "
                f"services {', '.join(other['services']) or '-'} {other['duration_ms']:.1f} ms\n"
            )


def build_document(args: argparse.Namespace, spans: list[SpanRecord]) -> dict[str, Any]:
    reports = build_call_reports(spans)
    if args.call_id:
        report = find_call(reports, args.call_id)
        if report is None:
            raise ReportError(f"no call {args.call_id} in the source ({len(reports)} calls found)")
        return report.to_dict()
    if args.summary:
        return {"summary": summarize(reports)}
    calls = [report.to_dict() for report in reports if report.is_call]
    return {"calls": calls, "summary": summarize(reports)}


def render_text(out: TextIO, document: dict[str, Any]) -> None:
    if "call_id" in document:
        print_call(out, document, timeline=True)
        return
    for call in document.get("calls", []):
        print_call(out, call)
    print_summary(out, document["summary"])


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parse_args(argv)
    try:
        document = build_document(args, load_spans(args))
    except ReportError as error:
        print(f"porteiro-report: {error}", file=sys.stderr)
        return 2
    if args.output:
        args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    try:
        if args.json:
            out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        else:
            render_text(out, document)
        out.flush()
    except BrokenPipeError:
        # The reader left (`| head`): stop quietly. Python would flush stdout again at exit
        # and print a traceback, so point it at /dev/null first.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
