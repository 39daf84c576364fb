"""The conversation as a pure state machine: `handle(session, event, now) -> Handled`.

States (the prototype's): collecting data -> validated -> calling resident ->
waiting for the resident -> finished. `handle` performs no I/O and never
awaits: it changes the session, and returns the actions for each leg, at most
one request for the shell (directory or dialer; the result comes back as the
next event), what to record, and the next deadline. The phases live in
`collecting`, `validation`, `resident` and `timers`.

Safety: the only code that sets the outcome AUTHORIZED is `resident.decided`,
reached only from the resident leg's speech or keys.
"""

from __future__ import annotations

from porteiro_concierge.core import collecting, interruptions, resident, timers, validation
from porteiro_concierge.core.effects import Effects, Handled
from porteiro_concierge.core.events import (
    CallFailed,
    CallPlaced,
    DeadlinePassed,
    DirectoryAnswered,
    DirectoryFailed,
    Event,
    Key,
    LegEnded,
    LegIdle,
    ResidentStarted,
    SpeechStarted,
    Utterance,
    UtteranceDropped,
    VisitorStarted,
)
from porteiro_concierge.core.step import Rules, Step
from porteiro_concierge.session import (
    RESIDENT,
    VISITOR,
    Asking,
    DeadlineKind,
    FailureReason,
    FlowState,
    Outcome,
    Session,
)


class Conversation:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def handle(self, session: Session | None, event: Event, now: float) -> Handled:
        """Apply one event to the call's session (None: no such session yet or any more)."""
        if isinstance(event, VisitorStarted):
            return self._visitor_started(session, event, now)
        if session is None:
            return self._without_session(event)
        step = Step(session, now, self.rules)
        _dispatch(step, event)
        return Handled(session, step.fx, session.deadline)

    def _visitor_started(self, session: Session | None, event: VisitorStarted, now: float) -> Handled:
        if session is None:
            session = Session(session_id=event.session_id, traceparent=event.traceparent, created_at=now)
            step = Step(session, now, self.rules)
            session.legs[VISITOR] = True
            step.ask(Asking.INTENT, step.prompts["greeting"])
            step.arm(DeadlineKind.VISITOR_REPLY, step.settings.playback_allowance_seconds)
        else:  # the visitor's stream came back (e.g. after a concierge restart)
            step = Step(session, now, self.rules)
            session.legs[VISITOR] = True
            step.forget_hints(VISITOR)  # a new stream starts without hints
            _resume_visitor(step)
        return Handled(session, step.fx, session.deadline)

    def abandon(self, session: Session, reason: FailureReason, now: float) -> Handled:
        """The call cannot go on (its session store is gone): it ends FAILED with `reason`.

        The shell tells each leg itself (it cannot reach the other process): the effects'
        sentences and hang-ups are not delivered, only recorded.
        """
        step = Step(session, now, self.rules)
        step.finish(Outcome.FAILED, None, None, reason)
        return Handled(session, step.fx, None)

    def _without_session(self, event: Event) -> Handled:
        fx = Effects()
        if isinstance(event, ResidentStarted):  # the call is over (or never was)
            fx.say(RESIDENT, self.rules.prompts["resident_unknown_call"], allow_barge_in=False)
            fx.hang_up(RESIDENT)
        return Handled(None, fx, None)


def _dispatch(step: Step, event: Event) -> None:
    match event:
        case ResidentStarted():
            if step.session.state in (FlowState.CALLING_RESIDENT, FlowState.WAITING_RESIDENT):
                resident.started(step)
            else:
                step.fx.say(RESIDENT, step.prompts["resident_unknown_call"], allow_barge_in=False)
                step.fx.hang_up(RESIDENT)
        case Utterance(
            leg=leg, text=text, extraction=extraction, phrase_scores=phrase_scores, confidence=confidence
        ):
            step.phrase_scores, step.confidence = phrase_scores, confidence
            if leg == VISITOR:
                collecting.utterance(step, text, extraction)
            else:
                resident.utterance(step, text)
        case Key(leg=leg, key=key):
            if leg == VISITOR:
                collecting.key(step, key)
            else:
                resident.key(step, key)
        case LegIdle(leg=leg):
            timers.leg_idle(step, leg)
        case SpeechStarted(leg=leg):
            timers.speech_started(step, leg)
        case UtteranceDropped(leg=leg, interrupted=interrupted):
            interruptions.utterance_dropped(step, leg, interrupted)
        case DeadlinePassed():
            timers.passed(step)
        case LegEnded(leg=leg, lost=lost):
            resident.leg_ended(step, leg, lost)
        case DirectoryAnswered(response=response):
            validation.directory_answered(step, response)
        case DirectoryFailed():
            validation.directory_failed(step)
        case CallPlaced():
            validation.call_placed(step)
        case CallFailed():
            validation.call_failed(step)
        case VisitorStarted():
            raise AssertionError("handled before dispatch")
        case _:
            raise TypeError(f"not a conversation event: {event!r}")


def _resume_visitor(step: Step) -> None:
    state = step.session.state
    if state == FlowState.COLLECTING:
        step.fx.say(VISITOR, step.prompts["resume_collecting"])
        collecting.ask_next(step)
    elif state == FlowState.CALLING_RESIDENT:
        step.fx.say(VISITOR, step.prompts["still_calling"])
    elif state == FlowState.VALIDATED:
        # The process that placed the call died before it knew the outcome: place it again
        # with the same attempt (the dialer drops a command id it has already published).
        step.fx.say(VISITOR, step.prompts["still_calling"])
        validation.place_call_again(step)
    elif state == FlowState.WAITING_RESIDENT:
        step.fx.say(VISITOR, step.prompts["resident_on_line"])
    else:
        step.fx.hang_up(VISITOR)
