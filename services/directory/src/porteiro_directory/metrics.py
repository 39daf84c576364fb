"""Prometheus metrics of the directory service."""

from prometheus_client import Counter

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, set_build_info

RESOLVE_SECONDS = TracedHistogram(
    "porteiro_directory_resolve_seconds",
    "Time to resolve an apartment and resident name",
    buckets=VOICE_LATENCY_BUCKETS,
)
# status: match, ambiguous, no_apartment, no_resident, invalid (rejected request), unavailable.
RESOLVE_OUTCOMES = Counter("porteiro_directory_resolve_outcomes", "Resolve results by status", ["status"])
# result: ok, failed. Counts reloads after a change of the data file (not the first load).
RELOADS = Counter("porteiro_directory_reloads", "Reloads of the data file by result", ["result"])

# Every label value exists from the start, so dashboards and rate() see zeros, not gaps.
for _status in ("match", "ambiguous", "no_apartment", "no_resident", "invalid", "unavailable"):
    RESOLVE_OUTCOMES.labels(status=_status)
for _result in ("ok", "failed"):
    RELOADS.labels(result=_result)
set_build_info("directory", "porteiro-directory")
