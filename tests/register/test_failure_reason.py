"""CallRecord.failure_reason (issue 15, item 4): stored and read back, bounded, "" for old rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from porteiro.common.v1 import common_pb2
from porteiro_register import migrate
from porteiro_register.db import create_engine, get_call, insert_records
from porteiro_register.records import InvalidRecord, record_from_row, row_from_record
from tests.register.conftest import create_throwaway_database, drop_database, make_record


def stored(engine: sa.Engine, record) -> str:
    row = row_from_record(record, store_visitor_name=False)
    with engine.begin() as connection:
        insert_records(connection, [row])
        return record_from_row(get_call(connection, row["call_id"])).failure_reason


def test_a_failed_call_keeps_its_reason_and_other_calls_have_none(engine):
    failed = make_record(outcome=common_pb2.CALL_OUTCOME_FAILED, failure_reason="dependency_redis")
    assert stored(engine, failed) == "dependency_redis"
    assert stored(engine, make_record(outcome=common_pb2.CALL_OUTCOME_AUTHORIZED)) == ""


@pytest.mark.parametrize("reason", ["Dependency Redis", "x" * 41, "dependency-redis", "dependência"])
def test_a_reason_that_is_not_a_short_lowercase_word_is_refused_naming_the_field(reason):
    record = make_record(outcome=common_pb2.CALL_OUTCOME_FAILED, failure_reason=reason)
    with pytest.raises(InvalidRecord, match="failure_reason"):
        row_from_record(record, store_visitor_name=False)


def test_rows_written_before_the_column_read_an_empty_reason():
    database = create_throwaway_database()
    engine = create_engine(database.url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate.alembic_config(connection), "0001")
            connection.execute(
                sa.text(
                    "INSERT INTO call_records (call_id, started_at, ended_at, outcome) "
                    "VALUES ('0b9f7f5e-4c4a-4d36-9d5e-0a0b3c1d2e3f', now(), now(), 'failed')"
                )
            )
        assert migrate.upgrade(engine) == "0002"
        with engine.connect() as connection:
            row = get_call(connection, "0b9f7f5e-4c4a-4d36-9d5e-0a0b3c1d2e3f")
        assert row is not None and record_from_row(row).failure_reason == ""
    finally:
        engine.dispose()
        drop_database(database)
