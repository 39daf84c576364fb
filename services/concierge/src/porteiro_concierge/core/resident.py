"""The resident's leg: the brief, the answer, and the ends of the call.

Safety: the only code that sets the outcome AUTHORIZED is `decided`, and it
is reached only from the resident leg's speech or keys. Nothing the visitor
says and nothing an extractor returns gets there.
"""

from __future__ import annotations

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.stages import MORADOR_CONNECTED
from porteiro_concierge.core import confirming, validation
from porteiro_concierge.core.effects import TurnOutcome
from porteiro_concierge.core.step import Step
from porteiro_concierge.decision import Decision, decide_from_key, decide_from_text
from porteiro_concierge.hints import decision_hints
from porteiro_concierge.session import (
    RESIDENT,
    VISITOR,
    DeadlineKind,
    DecidedBy,
    FailureReason,
    FlowState,
    Outcome,
)

# Outcome -> (sentence for the visitor, sentence for the resident).
FINAL_SENTENCES = {
    Outcome.DENIED: ("visitor_denied", "resident_ack_denied"),
    Outcome.LEFT_AT_FRONT_DESK: ("visitor_left_at_front_desk", "resident_ack_left_at_front_desk"),
}


def started(step: Step) -> None:
    """The resident's leg connected (the state was checked by the caller).

    A resident stream that comes back (its concierge replica stopped and handed it over) finds
    the leg on the line already: the brief still playing there is cut and starts over, once.
    """
    session = step.session
    if session.leg_on_line(RESIDENT) and session.state == FlowState.WAITING_RESIDENT:
        step.fx.stop_playback(RESIDENT)
    session.legs[RESIDENT] = True
    step.fx.note(MORADOR_CONNECTED, attempt=session.call.attempt)
    if session.state == FlowState.CALLING_RESIDENT:
        step.change_state(FlowState.WAITING_RESIDENT)
        step.say_visitor(step.prompts["resident_answered"])
    step.forget_hints(RESIDENT)  # a new stream starts without hints
    step.hint(RESIDENT, decision_hints(), concierge_pb2.EXPECTED_ANSWER_YES_NO)
    step.fx.say(RESIDENT, brief(step))
    step.arm(DeadlineKind.RESIDENT_REPLY, step.settings.playback_allowance_seconds)


def brief(step: Step) -> str:
    prompt = "resident_brief_delivery" if step.delivery() else "resident_brief_visit"
    return step.prompts.text(prompt, **step.values())


def utterance(step: Step, text: str) -> None:
    step.session.remember(RESIDENT, text)
    if step.session.state == FlowState.WAITING_RESIDENT:
        decision = decide_from_text(text, step.delivery())
        if decision == Decision.UNCLEAR:  # words the recogniser bent ("Autori zado"): the closed set
            decision = confirming.resident_decision(step, text)
        decided(step, decision, DecidedBy.VOICE)


def key(step: Step, pressed: str) -> None:
    if step.session.state == FlowState.WAITING_RESIDENT:
        decided(step, decide_from_key(pressed, step.delivery()), DecidedBy.KEYPAD)


def decided(step: Step, decision: Decision, by: DecidedBy) -> None:
    """The resident's answer (`by` voice or keypad): the only way a visit becomes authorized.

    An answer given while the brief still plays (a key, or speech over it) cuts the brief at once;
    a decision also cuts what the visitor is still hearing ("aguarde…"), so the outcome comes now.
    """
    step.fx.stop_playback(RESIDENT)
    if decision != Decision.UNCLEAR and step.session.leg_on_line(VISITOR):
        step.fx.stop_playback(VISITOR)
    step.fx.turn_outcome = TurnOutcome.UNCLEAR if decision == Decision.UNCLEAR else TurnOutcome.DECISION
    if decision != Decision.UNCLEAR:
        step.session.call.decided_by = by  # for the register: how the resident decided
    if decision == Decision.AUTHORIZE:
        visitor_line = "visitor_authorized_delivery" if step.delivery() else "visitor_authorized_visit"
        step.finish(Outcome.AUTHORIZED, visitor_line, "resident_ack_authorized")
    elif decision == Decision.DENY:
        step.finish(Outcome.DENIED, *FINAL_SENTENCES[Outcome.DENIED])
    elif decision == Decision.FRONT_DESK:
        step.finish(Outcome.LEFT_AT_FRONT_DESK, *FINAL_SENTENCES[Outcome.LEFT_AT_FRONT_DESK])
    elif step.session.call.unclear_answers == 0:
        step.session.call.unclear_answers += 1
        step.fx.say(RESIDENT, step.prompts["resident_ask_again"])
        step.arm(DeadlineKind.RESIDENT_REPLY, step.settings.playback_allowance_seconds)
    else:
        step.finish(Outcome.NO_ANSWER, "visitor_unclear_answer", "resident_no_answer")


def leg_ended(step: Step, leg: str, lost: FailureReason | None = None) -> None:
    """A leg left the line; the other one hears why the call ends.

    A leg lost to a failure (`lost`) is not a hang-up: the call ends FAILED with that reason and
    the other leg hears that the line dropped, never that the caller hung up. A call already
    finished (the resident decided) keeps its outcome: nothing here contradicts it.
    """
    session = step.session
    session.legs[leg] = False
    if session.state == FlowState.FINISHED:
        return
    if leg == VISITOR:
        validation.cancel_ringing_call(step)  # the resident never answered: stop ringing them
        resident_line = None
        if session.leg_on_line(RESIDENT):
            step.fx.stop_playback(RESIDENT)  # the brief stops now, then the resident hears why
            resident_line = "resident_visitor_lost" if lost else "resident_visitor_hung_up"
        if lost:
            step.finish(Outcome.FAILED, None, resident_line, lost)
        else:
            step.finish(Outcome.VISITOR_HUNG_UP, None, resident_line)
    elif session.state == FlowState.WAITING_RESIDENT:
        if lost:
            step.finish(Outcome.FAILED, "visitor_resident_lost", None, lost)
        else:
            step.finish(Outcome.RESIDENT_HUNG_UP, "visitor_resident_hung_up", None)
