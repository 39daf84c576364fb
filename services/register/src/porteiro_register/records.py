"""CallRecord ⇄ database row, with the checks a record must pass to be stored.

Enums are stored as short words ("authorized", "keypad", "delivery") so the table
reads well in psql and in CSV exports. The visitor's name is kept only when the
deployment allows it; with it goes `visitor_name_key` (trimmed, case- and
accent-free) that per-person erasure matches on.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from porteiro.common.v1 import common_pb2
from porteiro.register.v1 import register_pb2
from porteiro_common.ids import canonical_session_id
from porteiro_common.ptbr import strip_accents

DEFAULT_CONDOMINIUM = "default"
MAX_TEXT = 200
# CallRecord.failure_reason: empty, or a bounded word such as dependency_redis.
MAX_FAILURE_REASON = 40
FAILURE_REASON = re.compile(r"[a-z0-9_]*")

OUTCOME_WORDS = {
    common_pb2.CALL_OUTCOME_AUTHORIZED: "authorized",
    common_pb2.CALL_OUTCOME_DENIED: "denied",
    common_pb2.CALL_OUTCOME_LEFT_AT_FRONT_DESK: "left_at_front_desk",
    common_pb2.CALL_OUTCOME_NO_ANSWER: "no_answer",
    common_pb2.CALL_OUTCOME_VISITOR_HUNG_UP: "visitor_hung_up",
    common_pb2.CALL_OUTCOME_RESIDENT_HUNG_UP: "resident_hung_up",
    common_pb2.CALL_OUTCOME_FAILED: "failed",
}
DECIDED_BY_WORDS = {
    register_pb2.DECIDED_BY_VOICE: "voice",
    register_pb2.DECIDED_BY_KEYPAD: "keypad",
    register_pb2.DECIDED_BY_NONE: "none",
}
INTENT_WORDS = {common_pb2.INTENT_DELIVERY: "delivery", common_pb2.INTENT_VISIT: "visit"}

OUTCOME_BY_WORD = {word: value for value, word in OUTCOME_WORDS.items()}
DECIDED_BY_BY_WORD = {word: value for value, word in DECIDED_BY_WORDS.items()}
INTENT_BY_WORD = {word: value for value, word in INTENT_WORDS.items()}


class InvalidRecord(ValueError):
    """The record can never be stored as sent; the message starts with the field's name."""


def name_key(name: str) -> str:
    """What erasure compares: 'José  da Silva ' and 'jose da silva' give the same key."""
    return " ".join(strip_accents(name).casefold().split())


def canonical_call_id(value: str, field: str = "call_id") -> str:
    try:
        return canonical_session_id(value)
    except ValueError as error:
        raise InvalidRecord(f"{field}: {error}") from None


def condominium_or_default(value: str, field: str = "condominium") -> str:
    text = value.strip()
    if len(text) > 64:
        raise InvalidRecord(f"{field}: longer than 64 characters")
    return text or DEFAULT_CONDOMINIUM


def to_datetime(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def to_timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _text(value: str, field: str) -> str:
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise InvalidRecord(f"{field}: longer than {MAX_TEXT} characters")
    return text


def _failure_reason(value: str) -> str:
    """A short lowercase word (the concierge's FailureReason values); anything else is refused."""
    reason = value.strip()
    if len(reason) > MAX_FAILURE_REASON or not FAILURE_REASON.fullmatch(reason):
        raise InvalidRecord(
            f"failure_reason: a lowercase word of letters, digits and '_' up to {MAX_FAILURE_REASON} characters"
        )
    return reason


def _seconds(value: float, field: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise InvalidRecord(f"{field}: must be a finite number ≥ 0")
    return value


def _moments(record: register_pb2.CallRecord) -> tuple[datetime, datetime]:
    if not record.HasField("started_at") or not record.HasField("ended_at"):
        raise InvalidRecord("started_at/ended_at: both are required")
    started_at, ended_at = to_datetime(record.started_at), to_datetime(record.ended_at)
    if ended_at < started_at:
        raise InvalidRecord("ended_at: before started_at")
    return started_at, ended_at


def row_from_record(record: register_pb2.CallRecord, *, store_visitor_name: bool) -> dict[str, Any]:
    """The row to insert, or InvalidRecord naming the first bad field."""
    if record.outcome not in OUTCOME_WORDS:
        raise InvalidRecord("outcome: must be set to a known outcome")
    started_at, ended_at = _moments(record)
    visitor_name = None
    if store_visitor_name and record.HasField("visitor_name"):
        visitor_name = _text(record.visitor_name, "visitor_name") or None
    return {
        "call_id": canonical_call_id(record.call_id),
        "condominium": condominium_or_default(record.condominium),
        "started_at": started_at,
        "ended_at": ended_at,
        "intent": INTENT_WORDS.get(record.intent),
        "apartment": _text(record.apartment, "apartment"),
        "block": _text(record.block, "block"),
        "resident_name": _text(record.resident_name, "resident_name"),
        "visitor_name": visitor_name,
        "visitor_name_key": name_key(visitor_name) if visitor_name else None,
        "outcome": OUTCOME_WORDS[record.outcome],
        "decided_by": DECIDED_BY_WORDS.get(record.decided_by, "none"),
        "attempts": record.attempts,
        "call_seconds": _seconds(record.call_seconds, "call_seconds"),
        "resident_wait_seconds": _seconds(record.resident_wait_seconds, "resident_wait_seconds"),
        "failure_reason": _failure_reason(record.failure_reason),
    }


def record_from_row(row: Any) -> register_pb2.CallRecord:
    """A stored row (SQLAlchemy Row or mapping) as the proto message."""
    record = register_pb2.CallRecord(
        condominium=row.condominium,
        call_id=str(row.call_id),
        started_at=to_timestamp(row.started_at),
        ended_at=to_timestamp(row.ended_at),
        intent=INTENT_BY_WORD.get(row.intent or "", common_pb2.INTENT_UNSPECIFIED),
        apartment=row.apartment,
        block=row.block,
        resident_name=row.resident_name,
        outcome=OUTCOME_BY_WORD[row.outcome],
        decided_by=DECIDED_BY_BY_WORD[row.decided_by],
        attempts=row.attempts,
        call_seconds=row.call_seconds,
        resident_wait_seconds=row.resident_wait_seconds,
        failure_reason=row.failure_reason,
    )
    if row.visitor_name is not None:
        record.visitor_name = row.visitor_name
    return record
