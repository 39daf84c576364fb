"""The register's table and every query on it (SQLAlchemy 2 Core over psycopg 3, synchronous).

Synchronous on purpose: the consumer thread writes with it directly, the CLI runs
it as is, and the gRPC servicer calls it through `asyncio.to_thread`. The table's
schema is owned by the alembic migrations (`migrations/versions`); `CALL_RECORDS`
only describes it for queries.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert

from porteiro_register.records import InvalidRecord

metadata = sa.MetaData()

CALL_RECORDS = sa.Table(
    "call_records",
    metadata,
    sa.Column("call_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("condominium", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("intent", sa.Text),
    sa.Column("apartment", sa.Text, nullable=False),
    sa.Column("block", sa.Text, nullable=False),
    sa.Column("resident_name", sa.Text, nullable=False),
    sa.Column("visitor_name", sa.Text),
    sa.Column("visitor_name_key", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("call_seconds", sa.Float, nullable=False),
    sa.Column("resident_wait_seconds", sa.Float, nullable=False),
    sa.Column("failure_reason", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def sqlalchemy_url(url: str) -> sa.URL:
    """postgresql://… as SQLAlchemy's psycopg 3 URL (the driver is always psycopg)."""
    parsed = sa.make_url(url)
    return parsed.set(drivername="postgresql+psycopg")


def create_engine(url: str, timeout_seconds: float = 5.0) -> sa.Engine:
    """An engine whose pooled connections are checked before use, so a restarted server is survived."""
    return sa.create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeout_seconds,
        connect_args={
            "connect_timeout": max(1, round(timeout_seconds)),
            "options": f"-c statement_timeout={int(timeout_seconds * 1000)}",
        },
    )


def describe_database(url: str) -> str:
    """host:port/database, never the credentials."""
    parsed = sa.make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


# ---- writes ---------------------------------------------------------------------------------------


def insert_records(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows; a call id already stored is ignored. Returns how many were new."""
    if not rows:
        return 0
    statement = (
        insert(CALL_RECORDS)
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(CALL_RECORDS.c.call_id)
    )
    # RETURNING lists only the rows written (rowcount is not reliable with executemany).
    return len(connection.execute(statement, list(rows)).all())


def erase_by_visitor(connection: sa.Connection, name_key: str, condominium: str | None) -> int:
    statement = sa.delete(CALL_RECORDS).where(CALL_RECORDS.c.visitor_name_key == name_key)
    if condominium:
        statement = statement.where(CALL_RECORDS.c.condominium == condominium)
    return connection.execute(statement).rowcount


def erase_by_call_id(connection: sa.Connection, call_id: str, condominium: str | None) -> int:
    statement = sa.delete(CALL_RECORDS).where(CALL_RECORDS.c.call_id == call_id)
    if condominium:
        statement = statement.where(CALL_RECORDS.c.condominium == condominium)
    return connection.execute(statement).rowcount


def purge_expired(
    connection: sa.Connection,
    default_days: int,
    days_by_condominium: dict[str, int],
    now: datetime | None = None,
) -> int:
    """Delete records that started more than their condominium's retention ago (0 days = keep)."""
    now = now or datetime.now(UTC)
    deleted = 0
    for condominium, days in days_by_condominium.items():
        if days > 0:
            deleted += connection.execute(
                sa.delete(CALL_RECORDS).where(
                    CALL_RECORDS.c.condominium == condominium,
                    CALL_RECORDS.c.started_at < now - timedelta(days=days),
                )
            ).rowcount
    if default_days > 0:
        statement = sa.delete(CALL_RECORDS).where(
            CALL_RECORDS.c.started_at < now - timedelta(days=default_days)
        )
        if days_by_condominium:
            statement = statement.where(CALL_RECORDS.c.condominium.not_in(list(days_by_condominium)))
        deleted += connection.execute(statement).rowcount
    return deleted


# ---- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFilter:
    condominium: str
    started_from: datetime | None = None
    started_before: datetime | None = None
    apartment: str = ""
    outcomes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class PageCursor:
    """Where the previous page ended: its last row's start and call id (keyset pagination)."""

    started_at: datetime
    call_id: str

    def encode(self) -> str:
        raw = json.dumps({"s": self.started_at.isoformat(), "c": self.call_id}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> PageCursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            started_at = datetime.fromisoformat(data["s"])
            call_id = str(uuid.UUID(data["c"]))
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise InvalidRecord("page_token: not a token this service issued") from None
        if started_at.tzinfo is None:
            raise InvalidRecord("page_token: not a token this service issued")
        return cls(started_at, call_id)


def page_size_or_default(requested: int) -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page_size: must be between 1 and {MAX_PAGE_SIZE} (0 = {DEFAULT_PAGE_SIZE})")
    return requested


def list_calls(
    connection: sa.Connection, where: CallFilter, page_size: int, after: PageCursor | None = None
) -> tuple[list[sa.Row], PageCursor | None]:
    """One page, newest start first; the cursor of the next page or None on the last one."""
    table = CALL_RECORDS
    statement = sa.select(table).where(table.c.condominium == where.condominium)
    if where.started_from is not None:
        statement = statement.where(table.c.started_at >= where.started_from)
    if where.started_before is not None:
        statement = statement.where(table.c.started_at < where.started_before)
    if where.apartment:
        statement = statement.where(table.c.apartment == where.apartment)
    if where.outcomes:
        statement = statement.where(table.c.outcome.in_(where.outcomes))
    if after is not None:
        statement = statement.where(
            sa.tuple_(table.c.started_at, table.c.call_id) < (after.started_at, after.call_id)
        )
    statement = statement.order_by(table.c.started_at.desc(), table.c.call_id.desc()).limit(page_size + 1)
    rows = list(connection.execute(statement))
    if len(rows) <= page_size:
        return rows, None
    last = rows[page_size - 1]
    return rows[:page_size], PageCursor(last.started_at, str(last.call_id))


def iterate_calls(connection: sa.Connection, where: CallFilter, page_size: int = 500) -> Iterable[sa.Row]:
    """Every matching row, page after page (for exports)."""
    cursor: PageCursor | None = None
    while True:
        rows, cursor = list_calls(connection, where, page_size, cursor)
        yield from rows
        if cursor is None:
            return


def get_call(connection: sa.Connection, call_id: str) -> sa.Row | None:
    return connection.execute(sa.select(CALL_RECORDS).where(CALL_RECORDS.c.call_id == call_id)).first()
