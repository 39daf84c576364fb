"""Retention (LGPD): expired records are deleted, per condominium, by the service on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from porteiro_register.db import insert_records
from porteiro_register.records import row_from_record
from porteiro_register.store import RegisterStore
from tests.register.conftest import SERVING, call_ids, make_record, metric, wait_until

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def aged(days: float, condominium: str = "default"):
    return make_record(started_at=NOW - timedelta(days=days), condominium=condominium)


def store(engine, records):
    with engine.begin() as connection:
        insert_records(connection, [row_from_record(r, store_visitor_name=False) for r in records])


def test_default_retention_deletes_older_records_only(engine):
    old, recent = aged(31), aged(29)
    store(engine, [old, recent])

    deleted = RegisterStore(engine).purge_expired(30, {}, now=NOW)

    assert deleted == 1
    assert call_ids(engine) == [recent.call_id]


def test_per_condominium_retention_overrides_the_default(engine):
    aurora_old, aurora_recent = aged(8, "aurora"), aged(6, "aurora")
    forever_old = aged(4000, "museu")
    default_mid, default_old = aged(100), aged(400)
    store(engine, [aurora_old, aurora_recent, forever_old, default_mid, default_old])

    deleted = RegisterStore(engine).purge_expired(365, {"aurora": 7, "museu": 0}, now=NOW)

    assert deleted == 2
    assert call_ids(engine) == sorted([aurora_recent.call_id, forever_old.call_id, default_mid.call_id])


def test_zero_days_keeps_everything(engine):
    store(engine, [aged(10_000)])
    assert RegisterStore(engine).purge_expired(0, {}, now=NOW) == 0
    assert len(call_ids(engine)) == 1


async def test_the_service_purges_periodically(start_register, engine):
    expired, kept = (
        make_record(started_at=datetime.now(UTC) - timedelta(days=3)),
        make_record(started_at=datetime.now(UTC)),
    )
    store(engine, [expired, kept])
    deleted_before = metric("porteiro_register_deleted_records_total", {"reason": "retention"})

    register = await start_register(retention_days=2, purge_interval_seconds=0.2)
    await register.wait_health(SERVING)
    await wait_until(lambda: call_ids(engine) == [kept.call_id], what="expired record purged")
    store(engine, [late := make_record(started_at=datetime.now(UTC) - timedelta(days=5))])
    await wait_until(lambda: late.call_id not in call_ids(engine), what="purged again on the next round")

    assert metric("porteiro_register_deleted_records_total", {"reason": "retention"}) - deleted_before == 2
