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
