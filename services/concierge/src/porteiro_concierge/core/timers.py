"""Silences and waits: one deadline per call, armed by the phases and fired by a leg's timer.

The deadline lives in the session (epoch seconds) so whichever process holds a
leg can fire it; `passed` checks it against `now` itself, so a timer that fires
late, twice or for a deadline already replaced does nothing.
"""

from __future__ import annotations

from porteiro_concierge.core import collecting, confirming, validation
from porteiro_concierge.core.step import Step
from porteiro_concierge.session import (
    RESIDENT,
    VISITOR,
    Asking,
    Deadline,
    DeadlineKind,
    FailureReason,
    FlowState,
    Outcome,
)


def leg_idle(step: Step, leg: str) -> None:
    """Everything said to `leg` has been played: the silence timer starts now."""
    session = step.session
    if leg == VISITOR and session.state == FlowState.COLLECTING and not session.keypad.digits:
        step.arm(DeadlineKind.VISITOR_REPLY, step.settings.visitor_reply_timeout_seconds)
    elif leg == RESIDENT and session.state == FlowState.WAITING_RESIDENT:
        step.arm(DeadlineKind.RESIDENT_REPLY, step.settings.resident_reply_timeout_seconds)


def speech_started(step: Step, leg: str) -> None:
    """Give the caller time to finish and be recognised, once per question (noise cannot stall it)."""
    kind = DeadlineKind.VISITOR_REPLY if leg == VISITOR else DeadlineKind.RESIDENT_REPLY
    deadline = step.session.deadline
    if deadline is not None and deadline.kind == kind and not deadline.extended:
        at = max(deadline.at, step.now + step.settings.playback_allowance_seconds)
        step.session.deadline = Deadline(kind, at, extended=True)


def passed(step: Step) -> None:
    session = step.session
    deadline = session.deadline
    if deadline is None or deadline.at > step.now:
        return  # handled meanwhile (by this or another process)
    session.deadline = None
    if deadline.kind == DeadlineKind.RESIDENT_CONNECT and session.state == FlowState.CALLING_RESIDENT:
        resident_did_not_connect(step)
    elif deadline.kind == DeadlineKind.RESIDENT_REPLY and session.state == FlowState.WAITING_RESIDENT:
        resident_silent(step)
    elif deadline.kind == DeadlineKind.VISITOR_REPLY and session.state == FlowState.COLLECTING:
        visitor_silent(step)


def resident_did_not_connect(step: Step) -> None:
    if step.session.call.attempt < step.settings.max_call_attempts:
        step.say_visitor(step.prompts["retrying_call"])
        validation.place_call(step)
    else:
        validation.cancel_ringing_call(step)  # the PBX stops ringing the last attempt
        step.finish(Outcome.NO_ANSWER, "visitor_no_answer", None)


def resident_silent(step: Step) -> None:
    call = step.session.call
    if not call.reprompted:
        call.reprompted = True
        step.fx.say(RESIDENT, step.prompts.text("resident_reprompt_silence", **step.values()))
        step.arm(DeadlineKind.RESIDENT_REPLY, step.settings.playback_allowance_seconds)
    else:
        step.finish(Outcome.NO_ANSWER, "visitor_no_answer", "resident_no_answer")


def visitor_silent(step: Step) -> None:
    session = step.session
    if session.keypad.digits:  # typed without "#": take what was typed
        collecting.typed_apartment(step)
    elif not session.visitor.reprompted:
        session.visitor.reprompted = True
        confirming_target = session.validation.confirming
        if session.asking == Asking.CONFIRM and confirming_target is not None:
            session.validation.unanswered = confirming.target_key(confirming_target)
        collecting.ask_next(step)
    else:
        step.finish(Outcome.FAILED, "visitor_silent", None, FailureReason.VISITOR_SILENT)
