"""The state of one call (both legs), stored as JSON so any concierge process can resume it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any

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


class FailureReason(StrEnum):
    """Why a call ended FAILED (a bounded label: metrics, spans, the register record)."""

    # The conversation could not be completed: not understood, nobody found, turns spent.
    CONVERSATION = "conversation"
    VISITOR_SILENT = "visitor_silent"
    # A dependency of the concierge failed (sessions, directory, dialer and its broker).
    DEPENDENCY_REDIS = "dependency_redis"
    DEPENDENCY_DIRECTORY = "dependency_directory"
    DEPENDENCY_DIALER = "dependency_dialer"
    # The gateway gave up on a leg: speech (or another of its dependencies) failed.
    DEPENDENCY_SPEECH = "dependency_speech"
    DEPENDENCY_GATEWAY = "dependency_gateway"
    # A malformed stream: AudioSocket frames the gateway refused, or events the concierge refused.
    PROTOCOL_ERROR = "protocol_error"


class DecidedBy(StrEnum):
    """How the resident gave the decision that ended the call (for the visitor register)."""

    VOICE = "voice"
    KEYPAD = "keypad"


class Asking(StrEnum):
    """The question the visitor was last asked: which slot a bare answer ("João") fills."""

    INTENT = "intent"
    VISITOR_NAME = "visitor_name"
    APARTMENT = "apartment"
    RESIDENT_NAME = "resident_name"
    # "Could not reach the directory, please repeat": the same sentence again is a retry.
    REPEAT = "repeat"
    # "Renata Oliveira, do 501?": a weak reading waits for the visitor's yes or no.
    CONFIRM = "confirm"


class DeadlineKind(StrEnum):
    VISITOR_REPLY = "visitor_reply"  # the visitor's silence after a question
    RESIDENT_CONNECT = "resident_connect"  # the resident's leg connecting after a call attempt
    RESIDENT_REPLY = "resident_reply"  # the resident's silence after a question


@dataclass
class Target:
    """Whom to call, as the directory resolved it."""

    apartment: str
    resident_name: str
    destination: str
    block: str = ""
    # Singled out by the recogniser's scores alone, not by the transcript (to confirm; see
    # core/confirming.next_candidate).
    by_ear: bool = False


@dataclass
class Deadline:
    kind: DeadlineKind
    at: float  # epoch seconds (shared by every process)
    # Pushed back once because the caller started speaking (never again: noise cannot hold it off).
    extended: bool = False


@dataclass
class VisitorProgress:
    """How the collection is going: the limits that keep questions from repeating forever."""

    # Visitor sentences (and typed apartments) while collecting.
    turns: int = 0
    # Consecutive visitor turns that added nothing ("Desculpe, não entendi").
    not_understood: int = 0
    # The visitor's name was not understood after repeated tries: the call goes on without it.
    name_skipped: bool = False
    # Asked again once after a silence.
    reprompted: bool = False
    # Whom to call is being asked by the resident's name alone (before the keypad is offered).
    by_name: bool = False
    # The intent the last answer leaned to without being understood ("delivery", "visit" or "").
    intent_lean: str = ""
    # The intent asked as a yes or no ("É uma visita?"), waiting for the answer; "" when not asked.
    intent_guess: str = ""
    # The intent in `slots.intent` is a guess, to be asked with whom to call ("É uma entrega para
    # Renata Oliveira, do 501?"); nobody is called while it is.
    intent_unconfirmed: bool = False
    # Bare "não"s to a confirmation that carried the guessed intent (the first is about whom).
    bare_refusals: int = 0
    # Times the resident's name alone was asked ("Qual é o nome do morador?"); asked again, the
    # full name is asked for.
    resident_asked: int = 0


@dataclass
class Keypad:
    offered: bool = False
    # Digits typed so far, not yet ended by "#".
    digits: str = ""
    # The apartment came from the keypad: trusted even when the name does not match.
    apartment_typed: bool = False


@dataclass
class Validation:
    # Directory answers that found nobody.
    misses: int = 0
    directory_errors: int = 0
    # The residents offered by "which of them?".
    ambiguous: list[Target] = field(default_factory=list)
    # A weak reading being confirmed ("Renata Oliveira, do 501?"); destination set when the
    # directory resolved it (a yes calls it), empty when it came from the closed-set matcher.
    confirming: Target | None = None
    # What the visitor said no to (resident keys "501/Renata Oliveira", apartment numbers).
    excluded: list[str] = field(default_factory=list)
    # Residents the visitor confirmed (no second confirmation for them).
    confirmed: list[str] = field(default_factory=list)
    # The resident of a confirmation with the intent that the visitor said no to: excluded once
    # the intent, asked alone, turns out right (then the resident was what was wrong).
    doubted: Target | None = None
    # The residents the recogniser's scores ranked for the last answers about whom, best first
    # (resident key, score summed over `heard_answers` answers in a row that settled nothing):
    # after a "não", the next of them may be asked about at once.
    heard: list[tuple[str, float]] = field(default_factory=list)
    heard_answers: int = 0
    # The resident being confirmed is the directory's match of a name heard clearly (scored at
    # `confirm_below_score` or more): asked only because the intent is a guess or the name came
    # alone. A bare "não" to it is then about the intent (core/collecting.intent_or_whom_refused).
    named_clearly: bool = False
    # Residents refused by a bare "não" to a confirmation that carried a guessed intent: named
    # again, the "não" was about the intent after all (core/validation.matched).
    refused_with_guess: list[str] = field(default_factory=list)
    # The confirmation the visitor let pass in silence (its target key): not asked again on the
    # same reading (core/collecting.utterance).
    unanswered: str = ""


@dataclass
class ResidentCall:
    target: Target | None = None
    attempt: int = 0
    unclear_answers: int = 0
    reprompted: bool = False
    # When Porteiro started calling the resident (first attempt): the visitor's wait starts.
    waiting_since: float | None = None
    # Set only by the resident's own decision (voice or keys); None when nobody decided.
    decided_by: DecidedBy | None = None


@dataclass
class Session:
    session_id: str
    state: FlowState = FlowState.COLLECTING
    slots: Slots = field(default_factory=Slots)
    history: list[Turn] = field(default_factory=list)
    asking: Asking | None = None
    visitor: VisitorProgress = field(default_factory=VisitorProgress)
    keypad: Keypad = field(default_factory=Keypad)
    validation: Validation = field(default_factory=Validation)
    call: ResidentCall = field(default_factory=ResidentCall)
    deadline: Deadline | None = None
    # Which legs are on the line (attached to some concierge process).
    legs: dict[str, bool] = field(default_factory=dict)
    # The recognition hints last sent to each leg (sent again only when they change).
    hints: dict[str, list[str]] = field(default_factory=dict)
    # The kind of answer last announced to each leg with them (a concierge ExpectedAnswer value).
    expected_answers: dict[str, int] = field(default_factory=dict)
    # The candidate phrases last sent with them (speech scores each against the audio).
    candidate_phrases: dict[str, list[str]] = field(default_factory=dict)
    outcome: Outcome | None = None
    # Why the call failed (set with the outcome FAILED only).
    failure: FailureReason | None = None
    traceparent: str = ""
    # The condominium (tenant id) the call belongs to; "" in sessions stored before tenants.
    condominium: str = ""
    created_at: float = field(default_factory=time.time)
    # When the call finished (the outcome was decided), epoch seconds.
    ended_at: float | None = None

    def leg_on_line(self, leg: str) -> bool:
        return self.legs.get(leg, False)

    def remember(self, speaker: str, text: str) -> None:
        self.history.append(Turn(speaker, text))
        del self.history[:-HISTORY_LIMIT]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=_enum_value)

    @classmethod
    def from_json(cls, text: str) -> Session:
        """Load a stored session; the flat layout of older versions is read too, unknown keys ignored."""
        raw = json.loads(text)
        slots = dict(raw.get("slots") or {})
        if slots.get("intent"):
            slots["intent"] = Intent(slots["intent"])
        deadline = raw.get("deadline")
        return cls(
            session_id=raw["session_id"],
            state=FlowState(raw.get("state", FlowState.COLLECTING)),
            slots=Slots(**_known(Slots, slots)),
            history=[Turn(**turn) for turn in raw.get("history", [])],
            asking=Asking(raw["asking"]) if raw.get("asking") else None,
            visitor=VisitorProgress(**_known(VisitorProgress, _group(raw, "visitor", _FLAT_VISITOR))),
            keypad=Keypad(**_known(Keypad, _group(raw, "keypad", _FLAT_KEYPAD))),
            validation=_validation(_group(raw, "validation", _FLAT_VALIDATION)),
            call=_resident_call(_group(raw, "call", _FLAT_CALL)),
            deadline=_deadline(deadline) if deadline else None,
            legs=dict(raw.get("legs", {})),
            hints={leg: list(hints) for leg, hints in raw.get("hints", {}).items()},
            expected_answers={leg: int(kind) for leg, kind in raw.get("expected_answers", {}).items()},
            candidate_phrases={
                leg: list(phrases) for leg, phrases in raw.get("candidate_phrases", {}).items()
            },
            outcome=Outcome(raw["outcome"]) if raw.get("outcome") else None,
            failure=_failure(raw.get("failure")),
            traceparent=raw.get("traceparent", ""),
            condominium=raw.get("condominium", ""),
            created_at=raw.get("created_at", time.time()),
            ended_at=raw.get("ended_at"),
        )


# Older sessions kept these groups' fields flat on the session: stored name -> field name.
_FLAT_VISITOR = {
    "visitor_turns": "turns",
    "unproductive_turns": "not_understood",
    "visitor_name_skipped": "name_skipped",
    "visitor_reprompted": "reprompted",
}
_FLAT_KEYPAD = {"keypad_offered": "offered", "keypad_digits": "digits", "apartment_typed": "apartment_typed"}
_FLAT_VALIDATION = {
    "validation_failures": "misses",
    "directory_errors": "directory_errors",
    "ambiguous": "ambiguous",
}
_FLAT_CALL = {
    "target": "target",
    "attempt": "attempt",
    "resident_unclear": "unclear_answers",
    "resident_reprompted": "reprompted",
}


def _group(raw: dict[str, Any], name: str, flat: dict[str, str]) -> dict[str, Any]:
    if isinstance(raw.get(name), dict):
        return dict(raw[name])
    return {field_name: raw[stored] for stored, field_name in flat.items() if stored in raw}


def _known(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    names = {item.name for item in fields(cls)}
    return {key: value for key, value in values.items() if key in names}


def _validation(values: dict[str, Any]) -> Validation:
    values = _known(Validation, values)
    values["ambiguous"] = [Target(**item) for item in values.get("ambiguous", [])]
    values["confirming"] = Target(**values["confirming"]) if values.get("confirming") else None
    values["doubted"] = Target(**values["doubted"]) if values.get("doubted") else None
    values["heard"] = [(str(key), float(score)) for key, score in values.get("heard", [])]
    return Validation(**values)


def _resident_call(values: dict[str, Any]) -> ResidentCall:
    values = _known(ResidentCall, values)
    target = values.get("target")
    values["target"] = Target(**target) if target else None
    values["decided_by"] = DecidedBy(values["decided_by"]) if values.get("decided_by") else None
    return ResidentCall(**values)


def _deadline(raw: dict[str, Any]) -> Deadline:
    return Deadline(DeadlineKind(raw["kind"]), float(raw["at"]), bool(raw.get("extended", False)))


def _failure(value: object) -> FailureReason | None:
    """A stored failure reason; one this version does not know reads as the generic one."""
    if not value:
        return None
    try:
        return FailureReason(str(value))
    except ValueError:
        return FailureReason.CONVERSATION


def _enum_value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot serialize {type(value).__name__}")
