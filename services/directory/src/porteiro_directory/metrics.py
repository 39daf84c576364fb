"""Prometheus metrics of the directory service."""

from prometheus_client import Counter, Gauge

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, set_build_info

RESOLVE_SECONDS = TracedHistogram(
    "porteiro_directory_resolve_seconds",
    "Time to resolve an apartment and resident name",
    buckets=VOICE_LATENCY_BUCKETS,
)
# status: match, ambiguous, no_apartment, no_resident, invalid (rejected request), unavailable,
# unknown_condominium (the request's condominium is not served here).
RESOLVE_OUTCOMES = Counter("porteiro_directory_resolve_outcomes", "Resolve results by status", ["status"])
# result: ok, failed. Counts reloads after a change of the data file (not the first load);
# with a tenants folder, one per condominium whose files changed.
RELOADS = Counter("porteiro_directory_reloads", "Reloads of the data file by result", ["result"])
# With a tenants folder. state: served (condominiums answering), rejected (newest files
# broken: serving the last good data, or not served if they never loaded). No per-condominium label.
CONDOMINIUMS = Gauge("porteiro_directory_condominiums", "Condominiums in the tenants folder", ["state"])

# Every label value exists from the start, so dashboards and rate() see zeros, not gaps.
for _status in (
    "match",
    "ambiguous",
    "no_apartment",
    "no_resident",
    "invalid",
    "unavailable",
    "unknown_condominium",
):
    RESOLVE_OUTCOMES.labels(status=_status)
for _result in ("ok", "failed"):
    RELOADS.labels(result=_result)
for _state in ("served", "rejected"):
    CONDOMINIUMS.labels(state=_state)
set_build_info("directory", "porteiro-directory")
