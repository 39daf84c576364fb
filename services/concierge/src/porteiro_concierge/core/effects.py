"""What the core asks for: actions for each leg, one I/O request, and what to record.

Actions are the `LegAction` protos the legs send to the gateway (`Say`,
`StopPlayback`, `HangUp`, `RecognitionContext`); the leg names each `Say` (its
`say_id`) as it sends it. A request (`ResolveRequest`, `PlaceCallRequest`) is
performed by the shell, which feeds the result back as the next event under the
same lock. Cancels (`CancelCallRequest`) are orders with no result for the core:
the shell performs them before the request and only records a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from porteiro.concierge.v1 import concierge_pb2
from porteiro_concierge.session import RESIDENT, VISITOR, Deadline, FailureReason, Outcome, Session

HINTS_LANGUAGE = "pt-BR"


class TurnOutcome(StrEnum):
    """The `outcome` label of porteiro_concierge_turns_total."""

    PROGRESS = "progress"
    NO_PROGRESS = "no_progress"
    VALIDATED = "validated"
    AMBIGUOUS = "ambiguous"
    REJECTED = "rejected"
    WAITING = "waiting"
    DECISION = "decision"
    UNCLEAR = "unclear"
    ERROR = "error"
    IGNORED = "ignored"


@dataclass(frozen=True)
class ResolveRequest:
    """Ask the directory whom the visitor means."""

    apartment: str
    resident_name: str


@dataclass(frozen=True)
class PlaceCallRequest:
    """Ask the dialer to call the resident."""

    session_id: str
    destination: str
    attempt: int
    intent: str
    apartment: str


Request = ResolveRequest | PlaceCallRequest


@dataclass(frozen=True)
class CancelCallRequest:
    """Ask the dialer to cancel the click-to-call of `attempt` (superseded, or the call ended)."""

    session_id: str
    attempt: int


@dataclass(frozen=True)
class SpanEvent:
    """A point event for the current span (STATE_CHANGE, MORADOR_CONNECTED, CALL_ENDED)."""

    name: str
    attributes: dict[str, str | int]


@dataclass
class Effects:
    """Everything one event produced."""

    actions: dict[str, list[concierge_pb2.LegAction]] = field(
        default_factory=lambda: {VISITOR: [], RESIDENT: []}
    )
    request: Request | None = None
    cancels: list[CancelCallRequest] = field(default_factory=list)
    turn_outcome: TurnOutcome = TurnOutcome.IGNORED
    span_events: list[SpanEvent] = field(default_factory=list)
    # Set when the call ended during this event (counted once in the call outcomes metric).
    finished: Outcome | None = None
    # Why, when it ended FAILED (the `reason` label of porteiro_concierge_call_failures_total).
    failure: FailureReason | None = None

    def say(self, leg: str, text: str, allow_barge_in: bool = True) -> None:
        say = concierge_pb2.Say(text=text, allow_barge_in=allow_barge_in)
        self.actions[leg].append(concierge_pb2.LegAction(say=say))

    def stop_playback(self, leg: str) -> None:
        """Cut what `leg` is hearing now and drop its queued sentences (the gateway does it at once)."""
        self.actions[leg].append(concierge_pb2.LegAction(stop_playback=concierge_pb2.StopPlayback()))

    def hang_up(self, leg: str) -> None:
        hang_up = concierge_pb2.HangUp(after_playback=True)
        self.actions[leg].append(concierge_pb2.LegAction(hang_up=hang_up))

    def hints(
        self,
        leg: str,
        hints: list[str],
        expected: concierge_pb2.ExpectedAnswer = concierge_pb2.EXPECTED_ANSWER_UNSPECIFIED,
        candidate_phrases: list[str] | None = None,
    ) -> None:
        context = concierge_pb2.RecognitionContext(
            hints=hints,
            language=HINTS_LANGUAGE,
            expected_answer=expected,
            candidate_phrases=candidate_phrases or [],
        )
        self.actions[leg].append(concierge_pb2.LegAction(recognition=context))

    def request_io(self, request: Request) -> None:
        if self.request is not None:  # one I/O at a time: the result is the next event
            raise RuntimeError(f"a second request {request!r} in one event")
        self.request = request

    def cancel_call(self, request: CancelCallRequest) -> None:
        self.cancels.append(request)

    def note(self, name: str, **attributes: str | int) -> None:
        self.span_events.append(SpanEvent(name, attributes))


@dataclass
class Handled:
    """The result of `Conversation.handle`."""

    session: Session | None
    effects: Effects
    # When the core wants a DeadlinePassed next (None: no timer). Also saved in the session.
    next_deadline: Deadline | None
