"""The conversation core: a pure state machine (no I/O, no awaits), driven by the shell in engine.py."""

from porteiro_concierge.core.conversation import Conversation
from porteiro_concierge.core.effects import (
    CancelCallRequest,
    Effects,
    Handled,
    PlaceCallRequest,
    Request,
    ResolveRequest,
    TurnOutcome,
)
from porteiro_concierge.core.step import HintSource, Rules

__all__ = [
    "CancelCallRequest",
    "Conversation",
    "Effects",
    "Handled",
    "HintSource",
    "PlaceCallRequest",
    "Request",
    "ResolveRequest",
    "Rules",
    "TurnOutcome",
]
