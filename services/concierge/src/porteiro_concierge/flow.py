"""The conversation: what happens on each event of either leg of one call.

States (the prototype's): collecting data -> validated -> calling resident ->
waiting for the resident -> finished. Every handler receives the session
(already loaded under its lock) and an `Effects` to which it adds what each
leg must hear; the engine saves the session and delivers the effects.

Nothing repeats forever: consecutive visitor turns that add nothing change the
question after `not_understood_before_fallback` (keypad for the apartment, or
going on without the visitor's name) and end the call after
`not_understood_before_end`; directory misses, silences, unclear resident
answers and call attempts have their own limits, and `max_visitor_turns` caps
the whole collection.

Safety: the only code that sets the outcome AUTHORIZED is
`_resident_decided`, and it is reached only from the resident leg's speech
or keys. Nothing the visitor says and nothing an extractor returns gets there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from opentelemetry import trace

from porteiro.directory.v1 import directory_pb2
from porteiro_common.redaction import Redactor
from porteiro_common.stages import CALL_ENDED, MORADOR_CONNECTED, STATE_CHANGE, record_error, stage_span
from porteiro_concierge.decision import Decision, decide_from_key, decide_from_text
from porteiro_concierge.dependencies import DependencyError
from porteiro_concierge.extraction.base import Extraction, Extractor, Intent
from porteiro_concierge.extraction.deterministic import bare_name
from porteiro_concierge.hints import Vocabulary, decision_hints, options_hints
from porteiro_concierge.prompts import Prompts
from porteiro_concierge.session import RESIDENT, VISITOR, Deadline, FlowState, Outcome, Session, Target
from porteiro_concierge.settings import ConciergeSettings
from porteiro_concierge.store import Command
from porteiro_concierge.telemetry import CALL_OUTCOMES, EXTRACTION_SECONDS, tracer

log = logging.getLogger(__name__)

SLOT_ORDER = ("intent", "visitor_name", "apartment", "resident_name")
# Directory misses allowed once the keypad has been offered, before the call ends.
KEYPAD_TRIES = 2
# Outcome -> (sentence for the visitor, sentence for the resident).
FINAL_SENTENCES = {
    Outcome.DENIED: ("visitor_denied", "resident_ack_denied"),
    Outcome.LEFT_AT_FRONT_DESK: ("visitor_left_at_front_desk", "resident_ack_left_at_front_desk"),
}


class Effects:
    """Commands for each leg produced while handling one event."""

    def __init__(self) -> None:
        self.commands: dict[str, list[Command]] = {VISITOR: [], RESIDENT: []}
        self.turn_outcome = "ignored"

    def say(self, leg: str, text: str, allow_barge_in: bool = True) -> None:
        self.commands[leg].append({"type": "say", "text": text, "allow_barge_in": allow_barge_in})

    def hang_up(self, leg: str) -> None:
        self.commands[leg].append({"type": "hang_up", "after_playback": True})

    def hints(self, leg: str, hints: list[str]) -> None:
        self.commands[leg].append({"type": "recognition", "hints": hints})


class Conversation:
    def __init__(
        self,
        settings: ConciergeSettings,
        prompts: Prompts,
        directory,
        dialer,
        extractor: Extractor,
        fallback_extractor: Extractor,
        redact: Redactor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.prompts = prompts
        self.directory = directory
        self.dialer = dialer
        self.extractor = extractor
        self.fallback_extractor = fallback_extractor
        self.redact = redact
        self.clock = clock
        self.vocabulary = Vocabulary(directory)

    # ---- legs attaching ----

    async def visitor_started(
        self, session: Session | None, session_id: str, traceparent: str, fx: Effects
    ) -> Session:
        if session is not None:  # the visitor's stream came back (e.g. after a concierge restart)
            session.legs[VISITOR] = True
            session.hints.pop(VISITOR, None)  # a new stream starts without hints
            await self.vocabulary.refresh()
            self._resume_visitor(session, fx)
            return session
        session = Session(session_id=session_id, traceparent=traceparent)
        session.legs[VISITOR] = True
        self._ask(session, fx, "intent", self.prompts["greeting"])
        self._arm(session, "visitor_reply", self.settings.playback_allowance_seconds)
        return session

    def _resume_visitor(self, session: Session, fx: Effects) -> None:
        if session.state == FlowState.COLLECTING:
            fx.say(VISITOR, self.prompts["resume_collecting"])
            self._ask_next(session, fx)
        elif session.state == FlowState.CALLING_RESIDENT:
            fx.say(VISITOR, self.prompts["still_calling"])
        elif session.state == FlowState.WAITING_RESIDENT:
            fx.say(VISITOR, self.prompts["resident_on_line"])
        else:
            fx.hang_up(VISITOR)

    def resident_started(self, session: Session | None, fx: Effects) -> Session | None:
        if session is None or session.state not in (FlowState.CALLING_RESIDENT, FlowState.WAITING_RESIDENT):
            fx.say(RESIDENT, self.prompts["resident_unknown_call"], allow_barge_in=False)
            fx.hang_up(RESIDENT)
            return session
        session.legs[RESIDENT] = True
        trace.get_current_span().add_event(MORADOR_CONNECTED, {"attempt": session.attempt})
        if session.state == FlowState.CALLING_RESIDENT:
            self._change_state(session, FlowState.WAITING_RESIDENT)
            self._say_visitor(session, fx, self.prompts["resident_answered"])
        session.hints.pop(RESIDENT, None)
        self._hint(session, fx, RESIDENT, decision_hints())
        fx.say(RESIDENT, self._resident_brief(session))
        self._arm(session, "resident_reply", self.settings.playback_allowance_seconds)
        return session

    def _resident_brief(self, session: Session) -> str:
        key = "resident_brief_delivery" if session.slots.intent == Intent.DELIVERY else "resident_brief_visit"
        return self.prompts.text(key, **self._values(session))

    # ---- the visitor ----

    async def visitor_utterance(self, session: Session, text: str, fx: Effects) -> None:
        session.remember(VISITOR, text)
        session.visitor_reprompted = False
        if session.state == FlowState.COLLECTING:
            if self._turns_spent(session, fx):
                return
            with stage_span(tracer, "AI_PROCESSING", {"porteiro.leg": VISITOR}) as span:
                await self._collect(session, text, fx)
                span.set_attribute("outcome", fx.turn_outcome)
        elif session.state in (FlowState.CALLING_RESIDENT, FlowState.VALIDATED):
            fx.say(VISITOR, self.prompts["still_calling"])
            fx.turn_outcome = "waiting"
        elif session.state == FlowState.WAITING_RESIDENT:
            fx.say(VISITOR, self.prompts["resident_on_line"])
            fx.turn_outcome = "waiting"

    async def visitor_key(self, session: Session, key: str, fx: Effects) -> None:
        if session.state != FlowState.COLLECTING:
            return  # keys from the visitor never answer for the resident
        if key == "*":
            session.keypad_digits = ""
        elif key == "#":
            await self._typed_apartment(session, fx)
        elif key.isdigit():
            session.keypad_digits = (session.keypad_digits + key)[-6:]
            # Typing: the silence timer restarts with each key (digits left without "#" are taken then).
            self._arm(session, "visitor_reply", self.settings.visitor_reply_timeout_seconds)

    async def _typed_apartment(self, session: Session, fx: Effects) -> None:
        digits, session.keypad_digits = session.keypad_digits, ""
        if not digits or self._turns_spent(session, fx):
            return
        await self.vocabulary.refresh()
        session.slots.apartment = digits
        session.apartment_typed = True
        fx.turn_outcome = "progress"
        await self._advance(session, fx, progressed=True)

    def _turns_spent(self, session: Session, fx: Effects) -> bool:
        """Count a visitor turn; past `max_visitor_turns` the call ends (a backstop against any loop)."""
        session.visitor_turns += 1
        if session.visitor_turns <= self.settings.max_visitor_turns:
            return False
        fx.turn_outcome = "no_progress"
        self._finish(session, fx, Outcome.FAILED, "visitor_failed", None)
        return True

    async def _collect(self, session: Session, text: str, fx: Effects) -> None:
        # The vocabulary (for the next question's hints) is refreshed while the sentence is read.
        extraction, _ = await asyncio.gather(self._extract(session, text), self.vocabulary.refresh())
        progressed = self._apply(session, extraction, text)
        fx.turn_outcome = "progress" if progressed else "no_progress"
        await self._advance(session, fx, progressed)

    async def _extract(self, session: Session, text: str) -> Extraction:
        budget = self.settings.llm_timeout_seconds + 3 * self.settings.dependency_timeout_seconds
        for extractor in dict.fromkeys([self.extractor, self.fallback_extractor]):
            began = time.perf_counter()
            with stage_span(tracer, "INTENT_EXTRACTION", {"extractor": extractor.name}) as span:
                try:
                    extraction = await asyncio.wait_for(
                        extractor.extract(text, session.slots, list(session.history)), budget
                    )
                except Exception as error:  # a broken extractor must not end the call
                    record_error(span, error)
                    log.warning("extractor failed", extra={"extractor": extractor.name, "error": str(error)})
                    continue
                finally:
                    EXTRACTION_SECONDS.labels(extractor.name).observe(time.perf_counter() - began)
                for slot, value in extraction.mentioned().items():
                    span.set_attribute(f"porteiro.slot.{slot}", self._redacted(slot, value))
                return extraction
        return Extraction(source="none")

    def _redacted(self, slot: str, value: object) -> str:
        if slot == "intent":
            return str(getattr(value, "value", value))
        return self.redact(str(value))

    def _apply(self, session: Session, extraction: Extraction, text: str) -> bool:
        """Copy what the sentence said into the slots; only the four slot values are read."""
        slots = session.slots
        said = {name: getattr(extraction, name, None) for name in SLOT_ORDER}
        if said["intent"] is not None and not isinstance(said["intent"], Intent):
            said["intent"] = None
        said = {name: value for name, value in said.items() if value not in (None, "")}
        if not said and session.asking in ("visitor_name", "resident_name"):
            name = bare_name(text)
            if name:
                said[session.asking] = name
        progressed = False
        for name, value in said.items():
            if name != "intent":
                value = str(value).strip()[:80]
            if getattr(slots, name) != value:
                setattr(slots, name, value)
                progressed = True
                if name == "apartment":
                    session.apartment_typed = False
        if "apartment" in said or "resident_name" in said:
            session.target = None
        return progressed

    def _ready(self, session: Session) -> bool:
        slots = session.slots
        return (
            slots.intent is not None
            and (slots.visitor_name is not None or session.visitor_name_skipped)
            and (slots.resident_name is not None or session.apartment_typed)
        )

    async def _advance(self, session: Session, fx: Effects, progressed: bool) -> None:
        # After "could not reach the directory, please repeat", the same sentence again is a retry.
        retry = session.asking == "repeat" and self._ready(session)
        if not (progressed or retry):
            await self._not_understood(session, fx)
            return
        session.unproductive_turns = 0
        if self._ready(session):
            await self._validate(session, fx)
            return
        self._ask_next(session, fx)

    async def _not_understood(self, session: Session, fx: Effects) -> None:
        """A turn that added nothing: say so and ask again, change the question, or give up."""
        session.unproductive_turns += 1
        if session.unproductive_turns >= self.settings.not_understood_before_end:
            self._finish(session, fx, Outcome.FAILED, "visitor_failed", None)
            return
        self._say_visitor(session, fx, self.prompts["not_understood"])
        if session.unproductive_turns >= self.settings.not_understood_before_fallback:
            self._fall_back(session)
            if self._ready(session):
                await self._validate(session, fx)
                return
        self._ask_next(session, fx)

    def _fall_back(self, session: Session) -> None:
        """Stop repeating a question whose answers are not understood.

        The intent has no alternative (it is asked until the limit). A name that is
        not understood is left out: the resident hears "Um visitante". For whom to
        call (apartment or resident missing) the keypad is offered: a typed
        apartment is trusted even without a resident's name.
        """
        slots = session.slots
        if slots.intent is None:
            return
        if slots.visitor_name is None and not session.visitor_name_skipped:
            session.visitor_name_skipped = True
            session.unproductive_turns = 0  # a new question starts its own count
            return
        session.keypad_offered = True
        slots.apartment = None
        session.apartment_typed = False

    def _ask_next(self, session: Session, fx: Effects) -> None:
        slots = session.slots
        question = None
        if session.keypad_offered and slots.apartment is None:
            key, asking = "offer_keypad", "apartment"
        elif slots.intent is None:
            key, asking = "ask_intent", "intent"
        elif slots.visitor_name is None and not session.visitor_name_skipped:
            key, asking = "ask_visitor_name", "visitor_name"
        elif slots.apartment is None and slots.resident_name is None:
            key, asking, question = "ask_apartment_and_resident", "resident_name", "apartment_and_resident"
        elif slots.resident_name is None:
            key, asking = "ask_resident", "resident_name"
        else:
            key, asking = "ask_apartment", "apartment"
        self._ask(session, fx, asking, self.prompts[key], question)

    # ---- validation and the call ----

    async def _validate(self, session: Session, fx: Effects) -> None:
        slots = session.slots
        with stage_span(tracer, "FUZZY_VALIDATION", {"porteiro.leg": VISITOR}) as span:
            try:
                response = await self.directory.resolve(slots.apartment or "", slots.resident_name or "")
            except DependencyError as error:
                record_error(span, error)
                self._directory_down(session, fx)
                return
            span.set_attribute("outcome", directory_pb2.ResolveStatus.Name(response.status))
        if response.status == directory_pb2.RESOLVE_STATUS_MATCH:
            await self._call_resident(session, fx, _target(response.match))
        elif (
            session.apartment_typed
            and response.status != directory_pb2.RESOLVE_STATUS_NO_APARTMENT
            and (response.candidates)
        ):
            # A typed apartment is trusted: call it even if the name was misheard.
            await self._call_resident(session, fx, _target(response.candidates[0]))
        elif response.status == directory_pb2.RESOLVE_STATUS_AMBIGUOUS and response.candidates:
            self._ask_which(session, fx, response)
        else:
            self._not_found(session, fx, response)

    def _directory_down(self, session: Session, fx: Effects) -> None:
        session.directory_errors += 1
        fx.turn_outcome = "error"
        if session.directory_errors >= self.settings.max_directory_errors:
            self._finish(session, fx, Outcome.FAILED, "visitor_failed", None)
        else:
            session.asking = "repeat"
            self._say_visitor(session, fx, self.prompts["directory_unavailable"])

    def _ask_which(self, session: Session, fx: Effects, response) -> None:
        fx.turn_outcome = "ambiguous"
        session.ambiguous = [_target(candidate) for candidate in response.candidates[:3]]
        options = self.prompts["ambiguous_joiner"].join(
            self.prompts.text("ambiguous_option", resident_name=item.resident_name, apartment=item.apartment)
            for item in session.ambiguous
        )
        hints = options_hints(
            (item.resident_name for item in session.ambiguous), (item.apartment for item in session.ambiguous)
        )
        self._ask(
            session,
            fx,
            "resident_name",
            self.prompts.text("ambiguous_resident", options=options),
            hints=hints,
        )

    def _not_found(self, session: Session, fx: Effects, response) -> None:
        fx.turn_outcome = "rejected"
        slots = session.slots
        session.validation_failures += 1
        heard_apartment = response.normalized_apartment or slots.apartment or ""
        if session.validation_failures >= self.settings.max_validation_failures + KEYPAD_TRIES:
            self._finish(session, fx, Outcome.FAILED, "visitor_failed", None)
            return
        if session.apartment_typed:
            slots.apartment = None
            session.apartment_typed = False
            self._ask(
                session, fx, "apartment", self.prompts.text("keypad_no_apartment", apartment=heard_apartment)
            )
            return
        if response.status == directory_pb2.RESOLVE_STATUS_NO_APARTMENT:
            key, values, asking, question = "no_apartment", {"apartment": heard_apartment}, "apartment", None
            slots.apartment = None
        else:
            # Keep both slots: the next sentence may correct either ("não, é o 501").
            values = {"resident_name": slots.resident_name or "", "apartment": heard_apartment}
            key = "no_resident" if slots.apartment else "no_resident_anywhere"
            asking, question = "resident_name", "apartment_and_resident"
        if session.validation_failures >= self.settings.max_validation_failures:
            session.keypad_offered = True
            slots.apartment = None
            self._say_visitor(session, fx, self.prompts["not_found"])
            self._ask(session, fx, "apartment", self.prompts["offer_keypad"])
            return
        self._ask(session, fx, asking, self.prompts.text(key, **values), question)

    async def _call_resident(self, session: Session, fx: Effects, target: Target) -> None:
        fx.turn_outcome = "validated"
        session.target = target
        session.slots.apartment = target.apartment
        session.slots.resident_name = target.resident_name
        session.ambiguous = []
        self._change_state(session, FlowState.VALIDATED)
        key = "confirm_delivery" if session.slots.intent == Intent.DELIVERY else "confirm_visit"
        if session.slots.visitor_name is None:
            key += "_no_name"
        fx.say(VISITOR, self.prompts.text(key, **self._values(session)))
        await self._place_call(session, fx)

    async def _place_call(self, session: Session, fx: Effects) -> None:
        target = session.target
        assert target is not None
        session.attempt += 1
        with stage_span(tracer, "CALL_MORADOR", {"attempt": session.attempt}) as span:
            try:
                await self.dialer.place_call(
                    session.session_id,
                    target.destination,
                    session.attempt,
                    session.slots.intent.value if session.slots.intent else "",
                    target.apartment,
                )
            except DependencyError as error:
                record_error(span, error)
                self._finish(session, fx, Outcome.FAILED, "visitor_dialer_unavailable", None)
                return
        self._change_state(session, FlowState.CALLING_RESIDENT)
        self._arm(session, "resident_connect", self.settings.resident_connect_timeout_seconds)

    # ---- the resident ----

    def resident_utterance(self, session: Session, text: str, fx: Effects) -> None:
        session.remember(RESIDENT, text)
        if session.state == FlowState.WAITING_RESIDENT:
            with stage_span(tracer, "AI_PROCESSING", {"porteiro.leg": RESIDENT}):
                self._resident_decided(session, decide_from_text(text, self._delivery(session)), fx)

    def resident_key(self, session: Session, key: str, fx: Effects) -> None:
        if session.state == FlowState.WAITING_RESIDENT:
            self._resident_decided(session, decide_from_key(key, self._delivery(session)), fx)

    def _resident_decided(self, session: Session, decision: Decision, fx: Effects) -> None:
        """The resident's answer: the only way a visit becomes authorized."""
        fx.turn_outcome = "unclear" if decision == Decision.UNCLEAR else "decision"
        if decision == Decision.AUTHORIZE:
            key = "visitor_authorized_delivery" if self._delivery(session) else "visitor_authorized_visit"
            self._finish(session, fx, Outcome.AUTHORIZED, key, "resident_ack_authorized")
        elif decision == Decision.DENY:
            self._finish(session, fx, Outcome.DENIED, *FINAL_SENTENCES[Outcome.DENIED])
        elif decision == Decision.FRONT_DESK:
            self._finish(
                session, fx, Outcome.LEFT_AT_FRONT_DESK, *FINAL_SENTENCES[Outcome.LEFT_AT_FRONT_DESK]
            )
        elif session.resident_unclear == 0:
            session.resident_unclear += 1
            fx.say(RESIDENT, self.prompts["resident_ask_again"])
            self._arm(session, "resident_reply", self.settings.playback_allowance_seconds)
        else:
            self._finish(session, fx, Outcome.NO_ANSWER, "visitor_unclear_answer", "resident_no_answer")

    def _delivery(self, session: Session) -> bool:
        return session.slots.intent == Intent.DELIVERY

    # ---- playback, silence and timers ----

    def leg_idle(self, session: Session, leg: str) -> None:
        """Everything said to `leg` has been played: the silence timer starts now."""
        if leg == VISITOR and session.state == FlowState.COLLECTING and not session.keypad_digits:
            self._arm(session, "visitor_reply", self.settings.visitor_reply_timeout_seconds)
        elif leg == RESIDENT and session.state == FlowState.WAITING_RESIDENT:
            self._arm(session, "resident_reply", self.settings.resident_reply_timeout_seconds)

    def speech_started(self, session: Session, leg: str) -> None:
        """Give the caller time to finish and be recognised, once per question (noise cannot stall it)."""
        kind = "visitor_reply" if leg == VISITOR else "resident_reply"
        deadline = session.deadline
        if deadline is not None and deadline.kind == kind and not deadline.extended:
            at = max(deadline.at, self.clock() + self.settings.playback_allowance_seconds)
            session.deadline = Deadline(kind, at, extended=True)

    async def deadline_passed(self, session: Session, fx: Effects) -> None:
        deadline = session.deadline
        if deadline is None or deadline.at > self.clock():
            return  # handled meanwhile (by this or another process)
        session.deadline = None
        if deadline.kind == "resident_connect" and session.state == FlowState.CALLING_RESIDENT:
            if session.attempt < self.settings.max_call_attempts:
                self._say_visitor(session, fx, self.prompts["retrying_call"])
                await self._place_call(session, fx)
            else:
                self._finish(session, fx, Outcome.NO_ANSWER, "visitor_no_answer", None)
        elif deadline.kind == "resident_reply" and session.state == FlowState.WAITING_RESIDENT:
            if not session.resident_reprompted:
                session.resident_reprompted = True
                fx.say(RESIDENT, self.prompts.text("resident_reprompt_silence", **self._values(session)))
                self._arm(session, "resident_reply", self.settings.playback_allowance_seconds)
            else:
                self._finish(session, fx, Outcome.NO_ANSWER, "visitor_no_answer", "resident_no_answer")
        elif deadline.kind == "visitor_reply" and session.state == FlowState.COLLECTING:
            await self.vocabulary.refresh()
            if session.keypad_digits:  # typed without "#": take what was typed
                await self._typed_apartment(session, fx)
            elif not session.visitor_reprompted:
                session.visitor_reprompted = True
                self._ask_next(session, fx)
            else:
                self._finish(session, fx, Outcome.FAILED, "visitor_silent", None)

    def _arm(self, session: Session, kind: str, seconds: float) -> None:
        session.deadline = Deadline(kind, self.clock() + seconds)

    # ---- ends ----

    def leg_ended(self, session: Session, leg: str, fx: Effects) -> None:
        session.legs[leg] = False
        if session.state == FlowState.FINISHED:
            return
        if leg == VISITOR:
            resident_line = "resident_visitor_hung_up" if session.leg_on_line(RESIDENT) else None
            self._finish(session, fx, Outcome.VISITOR_HUNG_UP, None, resident_line)
        elif session.state == FlowState.WAITING_RESIDENT:
            self._finish(session, fx, Outcome.RESIDENT_HUNG_UP, "visitor_resident_hung_up", None)

    def _finish(
        self,
        session: Session,
        fx: Effects,
        outcome: Outcome,
        visitor_key: str | None,
        resident_key: str | None,
    ) -> None:
        session.outcome = outcome
        session.deadline = None
        self._change_state(session, FlowState.FINISHED)
        values = self._values(session)
        for leg, key in ((VISITOR, visitor_key), (RESIDENT, resident_key)):
            if session.leg_on_line(leg):
                if key:
                    fx.say(leg, self.prompts.text(key, **values), allow_barge_in=False)
                fx.hang_up(leg)
        CALL_OUTCOMES.labels(outcome.value).inc()
        trace.get_current_span().add_event(CALL_ENDED, {"outcome": outcome.value, "attempt": session.attempt})
        log.info("call finished", extra={"session_id": session.session_id, "outcome": outcome.value})

    # ---- helpers ----

    def _ask(
        self,
        session: Session,
        fx: Effects,
        asking: str,
        text: str,
        question: str | None = None,
        hints: list[str] | None = None,
    ) -> None:
        """Ask the visitor a question, preceded by recognition hints for its answer.

        `asking` is the slot a bare answer fills; `question` picks the hints when it
        differs (the apartment-and-resident question); `hints` overrides both.
        """
        session.asking = asking
        if hints is None:
            hints = self.vocabulary.for_question(question or asking, session.slots.apartment)
        self._hint(session, fx, VISITOR, hints)
        self._say_visitor(session, fx, text)

    def _hint(self, session: Session, fx: Effects, leg: str, hints: list[str] | None) -> None:
        """Send `hints` to `leg` unless they are already in force there."""
        if hints is None or session.hints.get(leg) == hints:
            return
        session.hints[leg] = hints
        fx.hints(leg, hints)

    def _say_visitor(self, session: Session, fx: Effects, text: str) -> None:
        session.remember("porteiro", text)
        fx.say(VISITOR, text)

    def _change_state(self, session: Session, state: FlowState) -> None:
        if session.state != state:
            trace.get_current_span().add_event(STATE_CHANGE, {"from": session.state.value, "to": state.value})
            session.state = state

    def _values(self, session: Session) -> dict[str, str]:
        slots = session.slots
        target = session.target
        return {
            "visitor_name": slots.visitor_name or self.prompts["unknown_visitor"],
            "resident_name": target.resident_name if target else (slots.resident_name or ""),
            "apartment": target.apartment if target else (slots.apartment or ""),
        }


def _target(candidate: directory_pb2.Candidate) -> Target:
    return Target(
        apartment=candidate.apartment,
        resident_name=candidate.resident_name,
        destination=candidate.destination,
        block=candidate.block,
    )
