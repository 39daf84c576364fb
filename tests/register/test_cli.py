"""`porteiro-register` on the real PostgreSQL: list (table, CSV), erase, purge-expired, errors."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from porteiro.common.v1 import common_pb2
from porteiro_register.cli import COLUMNS, main
from porteiro_register.db import insert_records
from porteiro_register.records import row_from_record
from tests.register.conftest import BASE_TIME, call_ids, database_url, make_record
from tests.support.processes import free_port


@pytest.fixture
def cli_env(database, monkeypatch):
    monkeypatch.setenv("PORTEIRO_REGISTER_DATABASE_URL", database.url)
    return {"PORTEIRO_REGISTER_DATABASE_URL": database.url}


def store(engine, records, store_visitor_name=True):
    with engine.begin() as connection:
        insert_records(
            connection, [row_from_record(r, store_visitor_name=store_visitor_name) for r in records]
        )


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_list_prints_a_table_newest_first(cli_env, engine):
    early = make_record(apartment="101", started_at=BASE_TIME)
    late = make_record(
        apartment="202", outcome=common_pb2.CALL_OUTCOME_DENIED, started_at=BASE_TIME + timedelta(hours=1)
    )
    store(engine, [early, late])

    code, output = run("list")

    lines = output.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "started_at",
        "block",
        "apartment",
        "intent",
        "outcome",
        "decided_by",
        "attempts",
        "call_seconds",
    ]
    assert lines[1].split() == [
        "2026-11-30T15:00:00+00:00",
        "B",
        "202",
        "delivery",
        "denied",
        "voice",
        "1",
        "42.0",
    ]
    assert lines[2].split()[2] == "101"
    assert lines[3] == "(2 records)"
    assert run("list", "--limit", "1")[1].splitlines()[-1] == "(1 record)"


def test_list_csv_exports_every_column_with_filters(cli_env, engine):
    wanted = make_record(apartment="501", visitor_name="Ana", started_at=BASE_TIME + timedelta(minutes=5))
    other_outcome = make_record(apartment="501", outcome=common_pb2.CALL_OUTCOME_NO_ANSWER)
    out_of_period = make_record(apartment="501", started_at=BASE_TIME - timedelta(days=1))
    store(engine, [wanted, other_outcome, out_of_period])

    code, output = run(
        "list",
        "--csv",
        "--outcome",
        "authorized",
        "--from",
        "2026-11-30",
        "--to",
        "2026-12-01T00:00:00+00:00",
    )

    assert code == 0
    rows = list(csv.DictReader(io.StringIO(output)))
    assert list(rows[0]) == list(COLUMNS)
    assert rows == [
        {
            "started_at": "2026-11-30T14:05:00+00:00",
            "ended_at": "2026-11-30T14:05:42+00:00",
            "condominium": "default",
            "call_id": wanted.call_id,
            "block": "B",
            "apartment": "501",
            "intent": "delivery",
            "resident_name": "Maria Souza",
            "visitor_name": "Ana",
            "outcome": "authorized",
            "decided_by": "voice",
            "attempts": "1",
            "call_seconds": "42.0",
            "resident_wait_seconds": "12.5",
        }
    ]


def test_erase_by_visitor_name_and_by_call_id(cli_env, engine):
    ana = [make_record(visitor_name="Ána Lima"), make_record(visitor_name="ana lima", condominium="aurora")]
    bruno = make_record(visitor_name="Bruno")
    store(engine, [*ana, bruno])

    assert run("erase", "--visitor-name", "ANA LIMA", "--condominium", "aurora") == (0, "1 record deleted\n")
    assert run("erase", "--visitor-name", "Ana Lima") == (0, "1 record deleted\n")
    assert run("erase", "--call-id", bruno.call_id) == (0, "1 record deleted\n")
    assert call_ids(engine) == []


def test_purge_expired_uses_the_retention_settings(cli_env, engine, monkeypatch):
    now = datetime.now(UTC)
    aurora_old = make_record(condominium="aurora", started_at=now - timedelta(days=10))
    default_old = make_record(started_at=now - timedelta(days=10))
    store(engine, [aurora_old, default_old])
    monkeypatch.setenv("PORTEIRO_REGISTER_RETENTION_DAYS", "30")
    monkeypatch.setenv("PORTEIRO_REGISTER_RETENTION_DAYS_BY_CONDOMINIUM", json.dumps({"aurora": 7}))

    assert run("purge-expired") == (0, "1 expired record deleted\n")
    assert call_ids(engine) == [default_old.call_id]


def test_bad_input_exits_2_and_an_unreachable_database_exits_3(cli_env, monkeypatch, capsys):
    assert run("erase", "--call-id", "not-a-uuid")[0] == 2
    assert "call_id:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_choice:
        run("list", "--outcome", "maybe")
    assert bad_choice.value.code == 2

    monkeypatch.setenv("PORTEIRO_REGISTER_DATABASE_URL", database_url("whatever", port=free_port()))
    assert run("list")[0] == 3
    error = capsys.readouterr().err
    assert "database unavailable" in error


def test_the_console_script_exports_csv(cli_env, engine):
    record = make_record()
    store(engine, [record], store_visitor_name=False)
    script = shutil.which("porteiro-register", path=str(Path(sys.executable).parent))
    assert script, "porteiro-register is not installed (pip install -e services/register)"

    done = subprocess.run(
        [script, "list", "--csv"], env={**os.environ, **cli_env}, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    (row,) = csv.DictReader(io.StringIO(done.stdout))
    assert row["call_id"] == record.call_id
    assert row["visitor_name"] == ""  # not stored: NULL
