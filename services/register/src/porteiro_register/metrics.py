"""Prometheus metrics of the register service (the publisher's are in `events`, imported by the concierge)."""

from prometheus_client import Counter

from porteiro_common.metrics import set_build_info

# Consumer side (the register service).
RECORD_RESULTS = ("stored", "duplicate", "dead_lettered")
RECORDS = Counter("porteiro_register_records", "CallFinished events consumed, by result", ["result"])
for _result in RECORD_RESULTS:
    RECORDS.labels(_result)
DELETED = Counter("porteiro_register_deleted_records", "Records deleted, by reason", ["reason"])
for _reason in ("retention", "erasure"):
    DELETED.labels(_reason)

POSTGRESQL = "postgresql"
RABBITMQ = "rabbitmq"


def set_register_build_info() -> None:
    set_build_info("register", "porteiro-register")
