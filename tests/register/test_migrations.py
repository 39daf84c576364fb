"""Migrations on a fresh database: applied, idempotent, reversible, and the CLI command."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from porteiro_register import migrate
from porteiro_register.db import create_engine
from tests.register.conftest import SERVING, Database, create_throwaway_database, database_url, drop_database


@pytest.fixture
def fresh():
    database = create_throwaway_database()
    engine = create_engine(database.url)
    yield database, engine
    engine.dispose()
    drop_database(database)


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_creates_the_table_and_is_idempotent(fresh):
    _, engine = fresh
    assert migrate.current_revision(engine) is None

    assert migrate.upgrade(engine) == migrate.head_revision() == "0002"
    assert migrate.upgrade(engine) == "0002"  # nothing pending: no error, same revision

    assert table_names(engine) == {"call_records", "alembic_version"}
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("call_records")["constrained_columns"] == ["call_id"]
    indexes = {index["name"] for index in inspector.get_indexes("call_records")}
    assert {
        "call_records_condominium_started",
        "call_records_started",
        "call_records_visitor_name_key",
    } <= indexes
    checks = {check["name"] for check in inspector.get_check_constraints("call_records")}
    assert "call_records_outcome" in checks


def test_the_table_refuses_an_unknown_outcome(fresh):
    _, engine = fresh
    migrate.upgrade(engine)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO call_records (call_id, started_at, ended_at, outcome) "
                "VALUES (gen_random_uuid(), now(), now(), 'maybe')"
            )
        )


def test_downgrade_to_base_and_up_again(fresh):
    _, engine = fresh
    migrate.upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")
    assert "call_records" not in table_names(engine)
    assert migrate.upgrade(engine) == "0002"
    assert "call_records" in table_names(engine)


def test_cli_migrate_creates_the_database_when_asked():
    name = f"porteiro_test_register_cli_{uuid.uuid4().hex[:8]}"
    env = {"PORTEIRO_REGISTER_DATABASE_URL": database_url(name), "PATH": "/usr/bin:/bin"}
    try:
        missing = subprocess.run(
            [sys.executable, "-m", "porteiro_register.cli", "migrate"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert missing.returncode == 3, missing.stderr
        assert "database unavailable" in missing.stderr
        assert name in missing.stderr or "does not exist" in missing.stderr

        created = subprocess.run(
            [sys.executable, "-m", "porteiro_register.cli", "migrate", "--create-database"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert created.returncode == 0, created.stderr
        assert created.stdout.splitlines() == ["database created", "database at revision 0002"]
    finally:
        drop_database(Database(name))


async def test_the_service_creates_its_database_when_told_and_migrates_it(start_register):
    name = f"porteiro_test_register_new_{uuid.uuid4().hex[:8]}"
    register = await start_register(database_url=database_url(name), create_database=True)
    try:
        await register.wait_health(SERVING)
        engine = create_engine(database_url(name))
        try:
            assert migrate.current_revision(engine) == migrate.head_revision()
        finally:
            engine.dispose()
    finally:
        await register.app.stop(1)  # before the drop, so nothing reconnects to it
        drop_database(Database(name))
