"""Prometheus metrics of the register service and of the call-finished publisher."""

from prometheus_client import Counter, Gauge

from porteiro_common.metrics import set_build_info

# Consumer side (the register service).
RECORD_RESULTS = ("stored", "duplicate", "dead_lettered")
RECORDS = Counter("porteiro_register_records", "CallFinished events consumed, by result", ["result"])
for _result in RECORD_RESULTS:
    RECORDS.labels(_result)
DELETED = Counter("porteiro_register_deleted_records", "Records deleted, by reason", ["reason"])
for _reason in ("retention", "erasure"):
    DELETED.labels(_reason)

# Publisher side (runs in the process that publishes, i.e. the concierge).
EVENTS_CONFIRMED = Counter(
    "porteiro_register_events_confirmed", "CallFinished events confirmed by the broker"
)
EVENTS_RETRIED = Counter(
    "porteiro_register_event_retries", "Publish attempts of a CallFinished event that failed"
)
EVENTS_DROPPED = Counter(
    "porteiro_register_events_dropped", "CallFinished events dropped because the publisher's buffer was full"
)
EVENTS_BUFFERED = Gauge(
    "porteiro_register_events_buffered", "CallFinished events waiting for a broker confirm"
)

POSTGRESQL = "postgresql"
RABBITMQ = "rabbitmq"


def set_register_build_info() -> None:
    set_build_info("register", "porteiro-register")
