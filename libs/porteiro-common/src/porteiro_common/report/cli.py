"""Command line: ``porteiro-report --span-file var/spans.jsonl --all --summary``."""

from __future__ import annotations

import argparse
import json
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
    source.add_argument("--span-file", type=Path, help="JSON-lines span file (PORTEIRO_SPAN_FILE)")
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


def load_spans(args: argparse.Namespace) -> list[SpanRecord]:
    if args.span_file:
        return read_span_file(args.span_file)
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


def print_call(out: TextIO, report: dict[str, Any]) -> None:
    out.write(f"\n==== CALL {report['call_id']} ====\n")
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


def print_summary(out: TextIO, summary: dict[str, Any]) -> None:
    out.write("\n==== SUMMARY OF ALL CALLS ====\n")
    out.write(f"calls {summary['calls']}, errors {summary['errors']}\n")
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(summary["outcomes"].items()))
    out.write(f"outcomes: {outcomes or '-'}\n")
    _print_stats(out, "call duration", summary["call_duration_ms"], indent=0)
    out.write("stages:\n")
    for name, stats in summary["stages"].items():
        _print_stats(out, name, stats)


def build_document(args: argparse.Namespace, spans: list[SpanRecord]) -> dict[str, Any]:
    reports = build_call_reports(spans)
    if args.call_id:
        report = find_call(reports, args.call_id)
        if report is None:
            raise ReportError(f"no call {args.call_id} in the source ({len(reports)} calls found)")
        return report.to_dict()
    if args.summary:
        return {"summary": summarize(reports)}
    return {"calls": [report.to_dict() for report in reports], "summary": summarize(reports)}


def render_text(out: TextIO, document: dict[str, Any]) -> None:
    if "call_id" in document:
        print_call(out, document)
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
    if args.json:
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        render_text(out, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
