"""Prometheus metrics of the dialer."""

from prometheus_client import Counter, Histogram

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS

# From handing the command to the publisher thread to the broker's confirm (confirmed publishes).
PUBLISH_SECONDS = Histogram(
    "porteiro_dialer_publish_seconds",
    "Time from submitting a click-to-call to the broker's publisher confirm",
    buckets=VOICE_LATENCY_BUCKETS,
)

# One per PlaceCall: confirmed, duplicate, unavailable, rejected, timeout, invalid.
PUBLISHES = Counter("porteiro_dialer_publishes", "PlaceCall requests by outcome", ["outcome"])

RABBITMQ = "rabbitmq"
