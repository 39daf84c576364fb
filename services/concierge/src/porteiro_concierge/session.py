"""The state of one call (both legs), stored as JSON so any concierge process can resume it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum

from porteiro_concierge.extraction.base import Intent, Slots, Turn

VISITOR = "visitor"
RESIDENT = "resident"
HISTORY_LIMIT = 20


class FlowState(StrEnum):
    COLLECTING = "collecting"  # coletando dados
    VALIDATED = "validated"  # validado (transient: the call is placed at once)
    CALLING_RESIDENT = "calling_resident"  # chamando morador: waiting for the resident leg
    WAITING_RESIDENT = "waiting_resident"  # esperando morador: resident on the line, deciding
    FINISHED = "finished"  # finalizado


class Outcome(StrEnum):
    AUTHORIZED = "authorized"
    DENIED = "denied"
    LEFT_AT_FRONT_DESK = "left_at_front_desk"
    NO_ANSWER = "no_answer"
    VISITOR_HUNG_UP = "visitor_hung_up"
    RESIDENT_HUNG_UP = "resident_hung_up"
    FAILED = "failed"


@dataclass
class Target:
    """Whom to call, as the directory resolved it."""

    apartment: str
    resident_name: str
    destination: str
    block: str = ""


@dataclass
class Deadline:
    kind: str  # "visitor_reply", "resident_connect", "resident_reply"
    at: float  # epoch seconds
    # Pushed back once because the caller started speaking (never again: noise cannot hold it off).
    extended: bool = False


@dataclass
class Session:
    session_id: str
    state: FlowState = FlowState.COLLECTING
    slots: Slots = field(default_factory=Slots)
    history: list[Turn] = field(default_factory=list)
    # Which question the visitor was last asked ("intent", "visitor_name", ...).
    asking: str | None = None
    validation_failures: int = 0
    # Consecutive visitor turns that added nothing ("Desculpe, não entendi").
    unproductive_turns: int = 0
    # Visitor sentences (and typed apartments) while collecting.
    visitor_turns: int = 0
    # The visitor's name was not understood after repeated tries: the call goes on without it.
    visitor_name_skipped: bool = False
    directory_errors: int = 0
    keypad_offered: bool = False
    keypad_digits: str = ""
    # The apartment came from the keypad: trusted even when the name does not match.
    apartment_typed: bool = False
    ambiguous: list[Target] = field(default_factory=list)
    target: Target | None = None
    attempt: int = 0
    deadline: Deadline | None = None
    visitor_reprompted: bool = False
    resident_unclear: int = 0
    resident_reprompted: bool = False
    # Which legs are on the line (attached to some concierge process).
    legs: dict[str, bool] = field(default_factory=dict)
    # The recognition hints last sent to each leg (sent again only when they change).
    hints: dict[str, list[str]] = field(default_factory=dict)
    outcome: Outcome | None = None
    traceparent: str = ""
    created_at: float = field(default_factory=time.time)

    def leg_on_line(self, leg: str) -> bool:
        return self.legs.get(leg, False)

    def remember(self, speaker: str, text: str) -> None:
        self.history.append(Turn(speaker, text))
        del self.history[:-HISTORY_LIMIT]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=_enum_value)

    @classmethod
    def from_json(cls, text: str) -> Session:
        raw = json.loads(text)
        slots = raw.pop("slots")
        if slots.get("intent"):
            slots["intent"] = Intent(slots["intent"])
        deadline = raw.pop("deadline")
        target = raw.pop("target")
        return cls(
            **{
                **raw,
                "state": FlowState(raw["state"]),
                "outcome": Outcome(raw["outcome"]) if raw.get("outcome") else None,
                "slots": Slots(**slots),
                "history": [Turn(**turn) for turn in raw["history"]],
                "ambiguous": [Target(**item) for item in raw["ambiguous"]],
                "target": Target(**target) if target else None,
                "deadline": Deadline(**deadline) if deadline else None,
            }
        )


def _enum_value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot serialize {type(value).__name__}")
