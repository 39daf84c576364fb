"""Utterances the gateway dropped: a question cut by speech that gave nothing is asked again at once.

The gateway pauses a Say at the caller's onset and resumes it when what followed was not
speech; it stops it only for confirmed speech (services/gateway/README.md, "Interruptions
that are sure"). When that speech then gives nothing usable (too short, no words), the
gateway reports `UtteranceDropped(interrupted=True)`: the question it cut was never heard to
its end and no answer to it is coming, so waiting for the reply timeout would leave the
caller in silence. The question is asked again at once, briefly: the last question the leg
was asked, alone (not the sentences before it). A drop that stopped nothing changes nothing:
the Say resumed where it paused (a noise burst), or the question was heard whole and its reply
timer runs.

Bounded: on the visitor's leg each re-ask counts as a visitor turn (`max_visitor_turns`
ends a line that keeps cutting its questions); on the resident's leg the short reprompt is
said once (the one the silence timer would say), then the reply timer decides.
"""

from __future__ import annotations

from porteiro_concierge.core import collecting
from porteiro_concierge.core.step import Step
from porteiro_concierge.session import RESIDENT, VISITOR, FlowState

PORTEIRO = "porteiro"  # the speaker of the system's sentences in the session's history


def utterance_dropped(step: Step, leg: str, interrupted: bool) -> None:
    """The gateway dropped what the caller on `leg` said; `interrupted`: it had cut a Say."""
    if not interrupted:
        return
    if leg == VISITOR:
        _ask_visitor_again(step)
    elif leg == RESIDENT:
        _ask_resident_again(step)


def _ask_visitor_again(step: Step) -> None:
    session = step.session
    if session.state != FlowState.COLLECTING or collecting.turns_spent(step):
        return  # no question pending (the call is being placed), or the turns are spent
    question = last_question(step)
    if question:
        step.say_visitor(question)  # hints and the kind of answer are still in force
    else:
        collecting.ask_next(step)


def _ask_resident_again(step: Step) -> None:
    call = step.session.call
    if step.session.state != FlowState.WAITING_RESIDENT or call.reprompted:
        return
    call.reprompted = True
    step.fx.say(RESIDENT, step.prompts.text("resident_reprompt_silence", **step.values()))


def last_question(step: Step) -> str:
    """The last sentence the visitor was asked (what the cut Say was, or ended with)."""
    for turn in reversed(step.session.history):
        if turn.speaker == PORTEIRO:
            return turn.text
    return ""
