"""One event being handled: the session, the rules, the clock, and the effects so far.

The phase modules (collecting, validation, resident, timers) are functions of a
`Step`; the helpers here are what they share: speaking, asking, arming the
deadline, changing state and ending the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.stages import CALL_ENDED, STATE_CHANGE
from porteiro_concierge.core.effects import Effects
from porteiro_concierge.extraction.base import Intent
from porteiro_concierge.prompts import Prompts
from porteiro_concierge.session import (
    RESIDENT,
    VISITOR,
    Asking,
    Deadline,
    DeadlineKind,
    FailureReason,
    FlowState,
    Outcome,
    Session,
)
from porteiro_concierge.settings import ConciergeSettings
from porteiro_concierge.understanding import Answers, Understanding, heard

# The kind of answer each question expects (RecognitionContext.expected_answer): the gateway
# ends the caller's speech after a short silence for a word or a name, a long one while an
# apartment number is dictated digit by digit, its default for a free sentence.
EXPECTED_ANSWERS = {
    "intent": concierge_pb2.EXPECTED_ANSWER_SHORT,
    "visitor_name": concierge_pb2.EXPECTED_ANSWER_SHORT,
    "resident_name": concierge_pb2.EXPECTED_ANSWER_SHORT,
    "apartment": concierge_pb2.EXPECTED_ANSWER_DIGITS,
    "apartment_and_resident": concierge_pb2.EXPECTED_ANSWER_OPEN,
    "confirm": concierge_pb2.EXPECTED_ANSWER_YES_NO,
}


class HintSource(Protocol):
    """The directory's vocabulary as data (the shell keeps it fresh)."""

    def for_question(self, question: str, apartment: str | None = None) -> list[str] | None: ...

    def candidate_phrases(self, question: str, apartment: str | None = None) -> list[str]: ...

    def understanding(self, answers: Answers) -> Understanding: ...


@dataclass(frozen=True)
class Rules:
    """What the core needs besides the session: limits, sentences and the hint vocabulary."""

    settings: ConciergeSettings
    prompts: Prompts
    vocabulary: HintSource
    # What closed questions admit (the answers file): intent words, yes/no, decisions.
    answers: Answers = field(default_factory=Answers.load)


@dataclass
class Step:
    session: Session
    now: float
    rules: Rules
    fx: Effects = field(default_factory=Effects)
    # The speech service's scores of the candidate phrases for the utterance being handled.
    phrase_scores: tuple[tuple[str, float], ...] = ()
    # The recogniser's confidence in the utterance being handled, when it gave one.
    confidence: float | None = None

    @property
    def settings(self) -> ConciergeSettings:
        return self.rules.settings

    @property
    def prompts(self) -> Prompts:
        return self.rules.prompts

    @cached_property
    def understanding(self) -> Understanding:
        """The closed sets of this call's questions (the directory's vocabulary, the answers file)."""
        return self.rules.vocabulary.understanding(self.rules.answers)

    # ---- speaking ----

    def say_visitor(self, text: str) -> None:
        self.session.remember("porteiro", text)
        self.fx.say(VISITOR, text)

    def ask(
        self, asking: Asking, text: str, question: str | None = None, hints: list[str] | None = None
    ) -> None:
        """Ask the visitor a question, preceded by recognition hints and the kind of answer expected.

        `asking` is the slot a bare answer fills; `question` picks the hints and the
        kind when it differs (the apartment-and-resident question); `hints` overrides
        the vocabulary's.
        """
        self.session.asking = asking
        question = question or asking.value
        if hints is None:
            hints = self.rules.vocabulary.for_question(question, self.session.slots.apartment)
        expected = EXPECTED_ANSWERS.get(question, concierge_pb2.EXPECTED_ANSWER_UNSPECIFIED)
        self.hint(VISITOR, hints, expected, self.candidate_phrases(question))
        self.say_visitor(text)

    def candidate_phrases(self, question: str) -> list[str]:
        """What the speech service scores against the answer to `question` (understanding/heard.py):
        the intent words with "Em que posso ajudar?", the residents' names with "who?"."""
        if question == "intent":
            return heard.intent_phrases(self.rules.answers.intent_words)
        return self.rules.vocabulary.candidate_phrases(question, self.session.slots.apartment)

    def hint(
        self,
        leg: str,
        hints: list[str] | None,
        expected: concierge_pb2.ExpectedAnswer = concierge_pb2.EXPECTED_ANSWER_UNSPECIFIED,
        candidate_phrases: list[str] | None = None,
    ) -> None:
        """Send `hints`, the `expected` kind of answer and the `candidate_phrases` to score to `leg`,
        unless all are in force there.

        `hints` None keeps the current hints (only a new kind of answer is sent then).
        """
        session = self.session
        current = session.hints.get(leg)
        if hints is None:
            if current is None:
                return
            hints = current
        phrases = candidate_phrases or []
        if (
            current == hints
            and session.expected_answers.get(leg, 0) == expected
            and session.candidate_phrases.get(leg, []) == phrases
        ):
            return
        session.hints[leg] = hints
        session.expected_answers[leg] = expected
        session.candidate_phrases[leg] = phrases
        self.fx.hints(leg, hints, expected, phrases)

    def forget_hints(self, leg: str) -> None:
        """A new stream on `leg` starts without hints and with the gateway's default silence."""
        self.session.hints.pop(leg, None)
        self.session.expected_answers.pop(leg, None)
        self.session.candidate_phrases.pop(leg, None)

    def values(self) -> dict[str, str]:
        """The placeholders of the sentences about this call."""
        slots = self.session.slots
        target = self.session.call.target
        return {
            "visitor_name": slots.visitor_name or self.prompts[self.unknown_visitor_key()],
            "resident_name": target.resident_name if target else (slots.resident_name or ""),
            "apartment": target.apartment if target else (slots.apartment or ""),
        }

    def delivery(self) -> bool:
        return self.session.slots.intent == Intent.DELIVERY

    def visitor_name_wanted(self) -> bool:
        """The visitor's name is still to be asked (`ask_visitor_name`: always, for visits, never).

        A courier is not asked by default: the resident decides on the delivery, not on who carries
        it, and the question cost every delivery a turn while its answer came through the line
        right in 1 to 4 calls of 40 (make eval seed 81, whisper base). A name said unasked is kept.
        """
        session = self.session
        if session.slots.visitor_name is not None or session.visitor.name_skipped:
            return False
        policy = self.settings.ask_visitor_name
        return policy == "always" or (policy == "visits" and session.slots.intent == Intent.VISIT)

    def unknown_visitor_key(self) -> str:
        """Said in place of a name never given: "Um entregador" for a delivery, "Um visitante" else."""
        return "unknown_courier" if self.delivery() else "unknown_visitor"

    # ---- state and time ----

    def arm(self, kind: DeadlineKind, seconds: float) -> None:
        self.session.deadline = Deadline(kind, self.now + seconds)

    def change_state(self, state: FlowState) -> None:
        if self.session.state != state:
            self.fx.note(STATE_CHANGE, **{"from": self.session.state.value, "to": state.value})
            self.session.state = state
        if state == FlowState.VALIDATED and self.session.call.waiting_since is None:
            self.session.call.waiting_since = self.now  # the resident is being called: the wait starts

    def finish(
        self,
        outcome: Outcome,
        visitor_key: str | None,
        resident_key: str | None,
        failure: FailureReason | None = None,
    ) -> None:
        """End the call: a last sentence for each leg on the line, then hang it up.

        A FAILED call always carries why (`failure`; the conversation itself when not given).
        """
        session = self.session
        session.outcome = outcome
        if outcome == Outcome.FAILED:
            session.failure = failure or FailureReason.CONVERSATION
        session.ended_at = self.now
        session.deadline = None
        self.change_state(FlowState.FINISHED)
        values = self.values()
        for leg, key in ((VISITOR, visitor_key), (RESIDENT, resident_key)):
            if session.leg_on_line(leg):
                if key:
                    self.fx.say(leg, self.prompts.text(key, **values), allow_barge_in=False)
                self.fx.hang_up(leg)
        self.fx.finished = outcome
        self.fx.failure = session.failure
        ended: dict[str, str | int] = {"outcome": outcome.value, "attempt": session.call.attempt}
        if session.failure is not None:
            ended["reason"] = session.failure.value
        self.fx.note(CALL_ENDED, **ended)
