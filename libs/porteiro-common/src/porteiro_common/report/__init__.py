"""`porteiro-report`: per-call and aggregate reports from traces.

Replaces the prototype's per-call log files and `log_analyzer.py`: the same
functions (one call, all calls, aggregate summary per stage with
min/max/avg/median/p90/p95/p99, errors, JSON export), computed from
OpenTelemetry spans read from Jaeger's query API or from the local span file
the services write when ``PORTEIRO_SPAN_FILE`` is set.
"""
