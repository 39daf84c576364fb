"""Prometheus metrics of the dialer."""

from prometheus_client import Counter

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, set_build_info

# From handing the command to the publisher thread to the broker's confirm (confirmed publishes).
PUBLISH_SECONDS = TracedHistogram(
    "porteiro_dialer_publish_seconds",
    "Time from submitting a click-to-call to the broker's publisher confirm",
    buckets=VOICE_LATENCY_BUCKETS,
)

# One per PlaceCall: confirmed, duplicate, unavailable, rejected, timeout, cancelled, invalid.
PUBLISH_OUTCOMES = ("confirmed", "duplicate", "unavailable", "rejected", "timeout", "cancelled", "invalid")
PUBLISHES = Counter("porteiro_dialer_publishes", "PlaceCall requests by outcome", ["outcome"])

# One per CancelCall: confirmed, unavailable, rejected, cancelled, invalid.
CANCEL_OUTCOMES = ("confirmed", "unavailable", "rejected", "cancelled", "invalid")
CANCELS = Counter("porteiro_dialer_cancels", "CancelCall requests by outcome", ["outcome"])

# Every label value exists from the start, so increase() sees the first event (and dashboards a zero).
for _outcome in PUBLISH_OUTCOMES:
    PUBLISHES.labels(_outcome)
for _outcome in CANCEL_OUTCOMES:
    CANCELS.labels(_outcome)
set_build_info("dialer", "porteiro-dialer")

RABBITMQ = "rabbitmq"
