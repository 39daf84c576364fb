"""The leg's span and its state: CALL (visitor) or RESIDENT_LEG (resident).

The visitor's span starts with the leg; the resident's waits for the
concierge's LegAccepted, whose traceparent joins it to the visitor's call.
Until a span exists, events are dropped (the invalid span records nothing).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.util.types import Attributes

from porteiro.common.v1 import common_pb2
from porteiro_common import stages
from porteiro_common.tracing import context_from_traceparent

# The leg's states, as STATE_CHANGE events name them.
CONNECTED = "CONNECTED"
LISTENING = "LISTENING"
PLAYING = "PLAYING"
CALLER_SPEAKING = "CALLER_SPEAKING"
FALLBACK = "FALLBACK"
ENDING = "ENDING"


def state_of(speaking: bool, playing: bool) -> str:
    """A running leg's state: the caller speaking (over playback or not), else playing, else listening."""
    return CALLER_SPEAKING if speaking else PLAYING if playing else LISTENING


class LegTrace:
    def __init__(self, tracer: trace.Tracer, leg: common_pb2.Leg, leg_name: str) -> None:
        self._tracer = tracer
        self._leg = leg
        self._leg_name = leg_name
        self.span: Span = trace.INVALID_SPAN
        self.state = CONNECTED
        self._greeted = False

    def start(self, session_id: str, traceparent: str = "") -> None:
        """Start the leg's span (once); a resident's is parented on the visitor's `traceparent`."""
        if self.span is not trace.INVALID_SPAN:
            return
        attributes = {"porteiro.session_id": session_id, "porteiro.leg": self._leg_name}
        if self._leg == common_pb2.LEG_VISITOR:
            self.span = self._tracer.start_span("CALL", attributes=attributes)
        else:
            parent = context_from_traceparent(traceparent)
            self.span = self._tracer.start_span("RESIDENT_LEG", context=parent, attributes=attributes)
        self.span.add_event(stages.CALL_SETUP)

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.span.add_event(stages.STATE_CHANGE, {"from": self.state, "to": state})
            self.state = state

    def event(self, name: str, attributes: Attributes = None) -> None:
        self.span.add_event(name, attributes)

    def say_started(self, say_id: str) -> None:
        """GREETING on the visitor's first Say played."""
        if not self._greeted and self._leg == common_pb2.LEG_VISITOR:
            self._greeted = True
            self.span.add_event(stages.GREETING, {"say_id": say_id})

    def error(self, error: BaseException | str, error_type: str | None = None) -> None:
        stages.record_error(self.span, error, error_type)

    def end(self, reason_name: str, detail: str) -> None:
        self.span.add_event(stages.CALL_ENDED, {"reason": reason_name, "detail": detail})
        self.span.set_attribute("outcome", reason_name)
        self.span.end()
