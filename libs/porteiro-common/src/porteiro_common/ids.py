"""Session ids: the AudioSocket call UUID in canonical lowercase form."""

from __future__ import annotations

import uuid


def canonical_session_id(value: str) -> str:
    """Return the canonical 8-4-4-4-12 lowercase form or raise ValueError."""
    text = (value or "").strip()
    if len(text) != 36:
        raise ValueError("session id must be a UUID in 8-4-4-4-12 form")
    return str(uuid.UUID(text))


def session_id_from_bytes(raw: bytes) -> str:
    """The 16 raw bytes of an AudioSocket UUID frame as a session id."""
    return str(uuid.UUID(bytes=bytes(raw)))


# ---- the condominium code in the call UUID ---------------------------------
#
# A deployment serving many condominiums routes a call by its UUID: the
# dialplan replaces the UUID's first 8 hex digits with the condominium's code
# (`Set(UUID=${CONDO_CODE}${RAND_UUID:8})`), so the visitor leg and the
# resident leg (bridged back with the same UUID) both carry it, and the result
# is still a valid 8-4-4-4-12 UUID. See porteiro_common.tenants.

CODE_LENGTH = 8
_HEX = frozenset("0123456789abcdef")


def is_condominium_code(value: str) -> bool:
    """True for exactly 8 lowercase hex digits (the form `canonical_session_id` gives)."""
    return len(value) == CODE_LENGTH and set(value) <= _HEX


def condominium_code(session_id: str) -> str:
    """The condominium code a call UUID carries: its first 8 hex digits, lowercase.

    Raises ValueError when `session_id` is not a UUID in 8-4-4-4-12 form."""
    return canonical_session_id(session_id)[:CODE_LENGTH]


def session_id_for(code: str, session_id: str | None = None) -> str:
    """A call UUID carrying `code` (what the dialplan builds): `code` + the rest of `session_id`.

    Without `session_id` a random UUID4 is used, as Asterisk's UUID() does. For
    simulators and tests; raises ValueError on a code that is not 8 hex digits."""
    text = code.strip().lower()
    if not is_condominium_code(text):
        raise ValueError(f"condominium code {code!r} must be 8 hex digits")
    rest = canonical_session_id(session_id) if session_id else str(uuid.uuid4())
    return text + rest[CODE_LENGTH:]
