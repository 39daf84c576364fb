"""What the gRPC API, the CLI and the retention task do with the register (validation included).

Every method is synchronous (one short transaction); the servicer runs them in a
thread. Bad input raises `InvalidRecord` whose message starts with the field's name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from porteiro_register import db, metrics
from porteiro_register.records import (
    OUTCOME_WORDS,
    InvalidRecord,
    canonical_call_id,
    condominium_or_default,
    name_key,
)

log = logging.getLogger(__name__)


class RegisterStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def ping(self) -> None:
        """Raise sqlalchemy errors unless PostgreSQL answers."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def list_calls(
        self, where: db.CallFilter, page_size: int, page_token: str = ""
    ) -> tuple[list[sa.Row], str]:
        """One page and the next page's token ("" on the last page)."""
        size = db.page_size_or_default(page_size)
        cursor = db.PageCursor.decode(page_token) if page_token else None
        with self.engine.connect() as connection:
            rows, following = db.list_calls(connection, where, size, cursor)
        return rows, following.encode() if following is not None else ""

    def iterate_calls(self, where: db.CallFilter) -> Iterable[sa.Row]:
        with self.engine.connect() as connection:
            yield from db.iterate_calls(connection, where)

    def get_call(self, call_id: str) -> sa.Row | None:
        with self.engine.connect() as connection:
            return db.get_call(connection, canonical_call_id(call_id))

    def erase(self, *, visitor_name: str = "", call_id: str = "", condominium: str = "") -> int:
        """LGPD erasure: every record of one visitor name, or one call. Returns how many were deleted."""
        if bool(visitor_name.strip()) == bool(call_id.strip()):
            raise InvalidRecord("visitor_name/call_id: give exactly one of them")
        scope = condominium_or_default(condominium) if condominium.strip() else None
        with self.engine.begin() as connection:
            if call_id.strip():
                deleted = db.erase_by_call_id(connection, canonical_call_id(call_id), scope)
            else:
                deleted = db.erase_by_visitor(connection, name_key(visitor_name), scope)
        metrics.DELETED.labels("erasure").inc(deleted)
        # Never the name itself in the log: the point of the request is to forget it.
        log.info("erasure request: %d record(s) deleted", deleted, extra={"condominium": scope or "*"})
        return deleted

    def purge_expired(
        self, default_days: int, days_by_condominium: dict[str, int], now: datetime | None = None
    ) -> int:
        with self.engine.begin() as connection:
            deleted = db.purge_expired(connection, default_days, days_by_condominium, now)
        metrics.DELETED.labels("retention").inc(deleted)
        if deleted:
            log.info("retention: %d expired record(s) deleted", deleted)
        return deleted


def call_filter(
    condominium: str,
    started_from: datetime | None,
    started_before: datetime | None,
    apartment: str,
    outcomes: Iterable[str],
) -> db.CallFilter:
    """A validated filter; InvalidRecord names the bad field."""
    if started_from is not None and started_before is not None and started_from >= started_before:
        raise InvalidRecord("started_from: must be before started_before")
    words = tuple(outcomes)
    for word in words:
        if word not in OUTCOME_WORDS.values():
            raise InvalidRecord(f"outcomes: unknown outcome {word!r}")
    return db.CallFilter(
        condominium=condominium_or_default(condominium),
        started_from=started_from,
        started_before=started_before,
        apartment=apartment.strip(),
        outcomes=words,
    )
