"""Validation and the call: the directory's answer, then the dialer's call attempts.

`resolve` asks the shell to call the directory (`ResolveRequest`); its answer
comes back as `DirectoryAnswered` or `DirectoryFailed`. A match is confirmed
to the visitor and called (`PlaceCallRequest` -> `CallPlaced`/`CallFailed`).
"""

from __future__ import annotations

from collections.abc import Iterable

from porteiro.directory.v1 import directory_pb2
from porteiro_common.ptbr.folding import fold
from porteiro_common.ptbr.names import HONORIFICS, NAME_PARTICLES
from porteiro_concierge.core import collecting, confirming
from porteiro_concierge.core.effects import CancelCallRequest, PlaceCallRequest, ResolveRequest, TurnOutcome
from porteiro_concierge.core.step import Step
from porteiro_concierge.hints import options_hints
from porteiro_concierge.session import (
    VISITOR,
    Asking,
    DeadlineKind,
    FailureReason,
    FlowState,
    Outcome,
    Target,
)

# Directory misses allowed once the keypad has been offered, before the call ends.
KEYPAD_TRIES = 2
# Residents offered by "which of them?".
MAX_OPTIONS = 3


def resolve(step: Step) -> None:
    session = step.session
    slots = session.slots
    if misheard_apartment(step):
        slots.apartment = None
    if not slots.apartment and not slots.resident_name:
        # Nothing to look up (the directory would refuse it, and the visitor would hear that it
        # could not be reached): whom is asked again.
        collecting.ask_next(step)
        return
    step.fx.request_io(
        ResolveRequest(apartment=slots.apartment or "", resident_name=slots.resident_name or "")
    )


def misheard_apartment(step: Step) -> bool:
    """A spoken apartment the directory does not have, with the name of one of its residents.

    Such a number was most likely misheard (make eval: "Beatriz" with "2" heard for "quinhentos e
    sessenta e dois"): the name alone finds them, and a match by the name alone is confirmed with
    the visitor before the call. A name nobody has keeps the number ("Não encontrei o apartamento").
    """
    session = step.session
    slots = session.slots
    if not (slots.apartment and slots.resident_name) or session.keypad.apartment_typed:
        return False
    if not step.understanding.unknown_apartment(slots.apartment):
        return False
    reading = step.understanding.resident(slots.resident_name)
    return reading.strong or reading.weak


def directory_answered(step: Step, response: directory_pb2.ResolveResponse) -> None:
    session = step.session
    if session.state != FlowState.COLLECTING:
        return  # nothing was being validated
    typed = typed_apartment_residents(step, response)
    refused = session.validation.excluded
    left = [c for c in typed if confirming.target_key(target_of(c)) not in refused]
    if typed and not left and session.slots.resident_name:
        # The name heard picked only refused residents of the apartment typed (the directory
        # lists the best one of it for a name it does not find): its others are looked up by the
        # number alone. Make eval, seed 121, call 20: Daner dos Reis refused, "Dona Renata" heard
        # "Doratei a casa", and every "501#" answered "Não consegui encontrar" until the call failed.
        session.slots.resident_name = None
        resolve(step)
        return
    if typed and not left:
        typed_apartment_refused(step)
        return
    typed = left
    in_blocks = len({candidate.destination for candidate in typed}) > 1 or (
        session.keypad.apartment_typed
        and not step.understanding.names_one_apartment(session.slots.apartment or "")
    )
    if response.status == directory_pb2.RESOLVE_STATUS_MATCH:
        if step.session.keypad.apartment_typed and not in_blocks:  # a typed apartment is trusted
            call_resident(step, target_of(response.match))
        else:
            matched(step, response)
    elif typed and not in_blocks:
        # A typed apartment is trusted: call it even if the name was misheard.
        call_resident(step, target_of(typed[0]))
    elif typed and in_blocks:
        # The number typed is in several blocks (make eval: "101#" called block A's 101 for a
        # visitor of block B's): its residents are offered, and the one chosen is confirmed.
        ask_which(step, typed)
    elif response.status == directory_pb2.RESOLVE_STATUS_AMBIGUOUS and response.candidates:
        ask_which(step, response.candidates)
    else:
        not_found(step, response)


def typed_apartment_refused(step: Step) -> None:
    """Every resident of the apartment typed was refused: never called on the keys' trust; the
    apartment is asked for again."""
    session = step.session
    session.slots.apartment = None
    session.keypad.apartment_typed = False
    session.keypad.offered = True
    step.fx.turn_outcome = TurnOutcome.REJECTED
    step.say_visitor(step.prompts["not_found"])
    step.ask(Asking.APARTMENT, step.prompts["offer_keypad"])


def matched(step: Step, response: directory_pb2.ResolveResponse) -> None:
    """The directory's match: called at once when sure, confirmed with the visitor when it scored low
    (a misheard name matched somebody) or was found by the name alone (`confirm_name_only`), and
    never called again once the visitor said no to it."""
    validation = step.session.validation
    target = target_of(response.match)
    if named_again_after_a_guess(step, target):
        return
    if confirming.target_key(target) in validation.excluded:
        if step.session.keypad.apartment_typed and step.session.slots.resident_name:
            # The name heard is one the visitor refused (make eval: "Paulo Henrique Santos" for
            # "Paula Henriques Santos", then "101#"): the typed apartment alone is looked up.
            step.session.slots.resident_name = None
            resolve(step)
            return
        not_found(step, response)
        return
    # Asked by the name alone, a choice among residents read out included: make eval heard
    # "Paula Henriques Santos, do 101." as "Paulo Henrique Santos." (the other one offered).
    unsure = (
        response.match.score < step.settings.confirm_below_score
        or (step.settings.confirm_name_only and not step.session.slots.apartment)
        # An answer to "Qual deles?": the residents offered sound alike (make eval, blocks seed 11:
        # "Luísa Mendes. 201. 202." matched Luiza Mendes of 201 by name and apartment).
        or bool(validation.ambiguous)
        # A typed number that is in several blocks (`directory_answered` sends a typed apartment's
        # match here only then): the name heard chose the block.
        or step.session.keypad.apartment_typed
    )
    clearly = (
        response.match.score >= step.settings.confirm_below_score
        and name_words(step.session.slots.resident_name or "") >= 2
        and not validation.ambiguous
        and not step.session.keypad.apartment_typed
    )
    if unsure and target.resident_name not in validation.confirmed:
        step.fx.turn_outcome = TurnOutcome.AMBIGUOUS
        confirming.ask(step, target, clearly)
        return
    call_resident(step, target, clearly)


def name_words(name: str) -> int:
    """The words of a name heard that name someone: not "dona", "o", "dos".

    A first name alone is not a name heard clearly: biased by its hints, whisper writes a
    resident's first name for one it cannot make out (make eval: "Eduardo." for "João.").
    """
    return sum(1 for word in fold(name).split() if word not in HONORIFICS and word not in NAME_PARTICLES)


def named_again_after_a_guess(step: Step, target: Target) -> bool:
    """A resident refused by a bare "não" to "É uma visita para Roberto Nunes, do 102?" and named
    again: the "não" was about the guessed intent. The same resident is asked with the other
    intent ("É uma entrega para Roberto Nunes, do 102?"); True when asked.

    Make eval (blocks, seed 61): a delivery guessed a visit, "Não, é entrega." heard "Não é essa.",
    and "Roberto Nunes." said again got "Não encontrei Roberto Nunes entre os moradores", then
    the keypad (3 calls of 40 on each condominium).
    """
    session = step.session
    key = confirming.target_key(target)
    refused = session.validation.refused_with_guess
    if key not in refused or not session.visitor.intent_unconfirmed or session.slots.intent is None:
        return False
    refused.remove(key)
    if key in session.validation.excluded:
        session.validation.excluded.remove(key)
    session.slots.intent = confirming.other_intent(session.slots.intent)
    step.fx.turn_outcome = TurnOutcome.AMBIGUOUS
    confirming.ask(step, target)
    return True


def typed_apartment_residents(
    step: Step, response: directory_pb2.ResolveResponse
) -> list[directory_pb2.Candidate]:
    """The candidates living in the apartment the visitor typed (none if not typed or none there).

    The directory may also offer residents of other apartments whose names match; those are
    not the typed apartment, so they are never called on its behalf. With blocks, the number
    typed may be in several of them (their destinations differ).
    """
    if (
        not step.session.keypad.apartment_typed
        or response.status == directory_pb2.RESOLVE_STATUS_NO_APARTMENT
    ):
        return []
    apartment = response.normalized_apartment or step.session.slots.apartment
    return [candidate for candidate in response.candidates if candidate.apartment == apartment]


def directory_failed(step: Step) -> None:
    session = step.session
    if session.state != FlowState.COLLECTING:
        return
    session.validation.directory_errors += 1
    step.fx.turn_outcome = TurnOutcome.ERROR
    if session.validation.directory_errors >= step.settings.max_directory_errors:
        step.finish(Outcome.FAILED, "visitor_failed", None, FailureReason.DEPENDENCY_DIRECTORY)
    else:
        session.asking = Asking.REPEAT
        step.say_visitor(step.prompts["directory_unavailable"])


def ask_which(step: Step, candidates: Iterable[directory_pb2.Candidate]) -> None:
    """ "Encontrei mais de um morador: ... Qual deles?", without those the visitor refused; a single
    one left is confirmed instead."""
    excluded = step.session.validation.excluded
    left = [target_of(candidate) for candidate in candidates]
    left = [target for target in left if confirming.target_key(target) not in excluded] or left
    step.fx.turn_outcome = TurnOutcome.AMBIGUOUS
    validation = step.session.validation
    if len(left) == 1 and left[0].resident_name in validation.confirmed:
        call_resident(step, left[0])  # the others were refused, this one confirmed already
        return
    if len(left) == 1:
        confirming.ask(step, left[0])
        return
    if len(left) <= step.settings.confirm_options_up_to:
        # One at a time, as yes-or-no questions ("Luiza Mendes, do 201?"; a "não" asks the next,
        # `confirming.next_candidate`): residents found alike are mostly alike by name, and the
        # answer to "Qual deles?" had to tell them apart by the apartment, which the line loses
        # (make eval, blocks: Luiza Mendes of 201 and Luísa Mendes of 202 went to the keypad).
        validation.ambiguous = left
        confirming.ask(step, left[0])
        return
    offered = left[:MAX_OPTIONS]
    validation.ambiguous = offered
    # Prompt sentences are stored stripped, so the joiner ("ou") gets its spaces here.
    options = f" {step.prompts['ambiguous_joiner']} ".join(
        step.prompts.text("ambiguous_option", resident_name=item.resident_name, apartment=item.apartment)
        for item in offered
    )
    hints = options_hints((item.resident_name for item in offered), (item.apartment for item in offered))
    step.ask(Asking.RESIDENT_NAME, step.prompts.text("ambiguous_resident", options=options), hints=hints)


def not_found(step: Step, response: directory_pb2.ResolveResponse) -> None:
    target = resident_of_apartment_heard(step, response)
    if target is not None:
        step.fx.turn_outcome = TurnOutcome.AMBIGUOUS
        confirming.ask(step, target)
        return
    step.fx.turn_outcome = TurnOutcome.REJECTED
    session = step.session
    slots = session.slots
    session.validation.misses += 1
    heard_apartment = response.normalized_apartment or slots.apartment or ""
    # The question by the resident's name alone, when asked, has a try of its own.
    tries = step.settings.max_validation_failures + KEYPAD_TRIES + int(session.visitor.by_name)
    if session.validation.misses >= tries:
        step.finish(Outcome.FAILED, "visitor_failed", None)
        return
    if session.keypad.apartment_typed:
        slots.apartment = None
        session.keypad.apartment_typed = False
        step.ask(Asking.APARTMENT, step.prompts.text("keypad_no_apartment", apartment=heard_apartment))
        return
    question = None
    if response.status == directory_pb2.RESOLVE_STATUS_NO_APARTMENT:
        prompt, values, asking = "no_apartment", {"apartment": heard_apartment}, Asking.APARTMENT
        slots.apartment = None
    else:
        # Keep both slots: the next sentence may correct either ("não, é o 501").
        values = {"resident_name": slots.resident_name or "", "apartment": heard_apartment}
        prompt = "no_resident" if slots.apartment else "no_resident_anywhere"
        asking, question = Asking.RESIDENT_NAME, "apartment_and_resident"
    if session.validation.misses >= step.settings.max_validation_failures:
        step.say_visitor(step.prompts["not_found"])
        if collecting.ask_by_name(step):
            collecting.ask_next(step)
            return
        session.keypad.offered = True
        slots.apartment = None
        step.ask(Asking.APARTMENT, step.prompts["offer_keypad"])
        return
    if prompt == "no_resident_anywhere" and session.validation.misses >= step.settings.whom_tries:
        # A name nobody has, no apartment heard: a garbled answer. What was not found, then the
        # resident's name alone, as after an answer not understood (`whom_tries`); again when it
        # was the question answered. Make eval, seed 31: "O Vinícius do cinco zero dois." heard
        # as "O Milito, cinco, cinco.", "Não encontrei Milito entre os moradores.", and the long
        # question again brought "El Milício Floquimento Mirois." (25 of 80 calls had such a
        # miss); seed 81: the long question after the name alone brought nothing readable in 10
        # of 10 answers ("Apequinha intonina. Terato."), then the keypad. A number nobody has, or
        # a name found in another apartment, is asked about as before.
        if not collecting.ask_by_name(step):
            collecting.forget_whom(step)
        step.say_visitor(step.prompts.text("resident_not_found_anywhere", **values))
        collecting.ask_next(step)
        return
    step.ask(asking, step.prompts.text(prompt, **values), question)


def resident_of_apartment_heard(step: Step, response: directory_pb2.ResolveResponse) -> Target | None:
    """A spoken apartment that exists, with a name that matches nobody anywhere: its resident, to
    confirm ("José Antônio Ferreira, do 1002?"), or None.

    The name is the likelier part to be misheard (make eval, blocks, seed 61: "O Zé do 1002 do
    torre 2." heard with "Camo Fálar" for the name kept from before, then "Apto mil e dois, goto e
    dois." came through; "Não encontrei Camo Fálar no apartamento 1002", then "Não consegui
    encontrar" and the keypad). The directory names the apartment's resident nearest the name
    heard; one who matches the name elsewhere is left to the question as before ("Não encontrei
    Renata no apartamento 502": maybe the number was misheard). Never a typed apartment (trusted,
    `directory_answered`) nor a resident the visitor refused.
    """
    session = step.session
    if response.status != directory_pb2.RESOLVE_STATUS_NO_RESIDENT or session.keypad.apartment_typed:
        return None
    apartment = response.normalized_apartment or session.slots.apartment or ""
    if not apartment or not session.slots.resident_name:
        return None
    here = [c for c in response.candidates if c.apartment.lstrip("0") == apartment.lstrip("0")]
    if len(here) != len(response.candidates):
        return None  # the name matches somebody elsewhere
    excluded = session.validation.excluded
    left = [target_of(candidate) for candidate in here]
    left = [target for target in left if confirming.target_key(target) not in excluded]
    return left[0] if left else None


def call_resident(step: Step, target: Target, clearly: bool = False) -> None:
    """Call `target`, unless the intent is a guess or the visitor refused it with a guess: then
    confirmed first (`clearly`: the directory matched the name heard well)."""
    session = step.session
    if session.visitor.intent_unconfirmed or confirming.is_doubted(step, target):
        # The intent is a guess (`collecting.guess_intent`): asked with whom to call first, and
        # a yes calls them ("É uma entrega para Renata Oliveira, do 501?"). A resident whose
        # confirmation with the intent was refused is asked again alone (the intent was wrong,
        # maybe whom too).
        step.fx.turn_outcome = TurnOutcome.AMBIGUOUS
        confirming.ask(step, target, clearly)
        return
    step.fx.turn_outcome = TurnOutcome.VALIDATED
    session.call.target = target
    session.slots.apartment = target.apartment
    session.slots.resident_name = target.resident_name
    session.validation.ambiguous = []
    step.change_state(FlowState.VALIDATED)
    prompt = "confirm_delivery" if step.delivery() else "confirm_visit"
    if session.slots.visitor_name is None:
        prompt += "_no_name"
    step.fx.say(VISITOR, step.prompts.text(prompt, **step.values()))
    place_call(step)


def place_call(step: Step) -> None:
    """Call the resident; a retry first cancels the attempt it supersedes (no resident rung twice)."""
    if step.session.call.target is None:
        raise RuntimeError("placing a call without a target")
    cancel_ringing_call(step)
    step.session.call.attempt += 1
    place_call_again(step)


def place_call_again(step: Step) -> None:
    """Ask the dialer for the current attempt (again, after a resume: same command id)."""
    session = step.session
    target = session.call.target
    if target is None:
        raise RuntimeError("placing a call without a target")
    step.fx.request_io(
        PlaceCallRequest(
            session_id=session.session_id,
            destination=target.destination,
            attempt=session.call.attempt,
            intent=session.slots.intent.value if session.slots.intent else "",
            apartment=target.apartment,
        )
    )


def cancel_ringing_call(step: Step) -> None:
    """Cancel the click-to-call still ringing, if any: the last attempt, while it has not connected.

    Only the last attempt can be ringing: each retry cancels the one before it.
    """
    session = step.session
    if session.call.attempt > 0 and session.state == FlowState.CALLING_RESIDENT:
        step.fx.cancel_call(CancelCallRequest(session.session_id, session.call.attempt))


def call_placed(step: Step) -> None:
    if step.session.state not in (FlowState.VALIDATED, FlowState.CALLING_RESIDENT):
        return
    step.change_state(FlowState.CALLING_RESIDENT)
    step.arm(DeadlineKind.RESIDENT_CONNECT, step.settings.resident_connect_timeout_seconds)


def call_failed(step: Step) -> None:
    if step.session.state not in (FlowState.VALIDATED, FlowState.CALLING_RESIDENT):
        return
    step.finish(Outcome.FAILED, "visitor_dialer_unavailable", None, FailureReason.DEPENDENCY_DIALER)


def target_of(candidate: directory_pb2.Candidate) -> Target:
    return Target(
        apartment=candidate.apartment,
        resident_name=candidate.resident_name,
        destination=candidate.destination,
        block=candidate.block,
    )
