"""The click-to-call command the PBX integration consumes (the prototype's `enviar_clicktocall`).

``data.guid`` is always the session id: the PBX connects the answered resident
call to Porteiro's resident port with that UUID. ``operation.guid`` (the command
id) is ``cmd-<session id>`` for the first attempt, exactly as the prototype sent
it, and ``cmd-<session id>-<attempt>`` for retries, so every (session, attempt)
has its own command id while the resident leg still finds its session.

A superseded command (the concierge placed a retry, or the call ended before the
resident answered) is cancelled by a second message on the same queue: the same
``data`` without ``origin``, ``operation.type`` ``"cancelclicktocall"`` and
``operation.guid`` the id of the command to cancel. The PBX stops ringing that
command; a command already answered is not affected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class PayloadConfig:
    """Fields fixed by the deployment (from settings)."""

    license: str
    event_code: str
    destiny: str


def command_id(session_id: str, attempt: int) -> str:
    base = f"cmd-{session_id}"
    return base if attempt == 1 else f"{base}-{attempt}"


def build_clicktocall(
    config: PayloadConfig,
    *,
    session_id: str,
    destination: str,
    attempt: int,
    note: str,
    timestamp: int,
) -> dict:
    """The JSON object, field for field as the prototype published it."""
    return {
        "data": {
            "destiny": config.destiny,
            "guid": session_id,
            "license": config.license,
            "origin": destination,
        },
        "operation": {
            "eventcode": config.event_code,
            "guid": command_id(session_id, attempt),
            "msg": note,
            "timestamp": timestamp,
            "type": CLICKTOCALL,
        },
    }


CLICKTOCALL = "clicktocall"
CANCEL_CLICKTOCALL = "cancelclicktocall"


def build_cancel(config: PayloadConfig, *, session_id: str, attempt: int, timestamp: int) -> dict:
    """The cancel of the click-to-call command of (session, attempt)."""
    return {
        "data": {"destiny": config.destiny, "guid": session_id, "license": config.license},
        "operation": {
            "eventcode": config.event_code,
            "guid": command_id(session_id, attempt),
            "msg": "",
            "timestamp": timestamp,
            "type": CANCEL_CLICKTOCALL,
        },
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload).encode("utf-8")
