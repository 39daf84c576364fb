"""Collecting: the visitor's sentences and keys fill the slots until whom to call is known.

Nothing repeats forever: consecutive visitor turns that add nothing change the
question after `not_understood_before_fallback` (keypad for the apartment, or
going on without the visitor's name) and end the call after
`not_understood_before_end`; `max_visitor_turns` caps the whole collection.
The flow reads only the four slot values of an extraction (never notes or
extra fields), and visitor keys are only ever apartment digits.
"""

from __future__ import annotations

import re
from typing import Any

from porteiro_common.ptbr import plain
from porteiro_concierge.core import confirming, validation
from porteiro_concierge.core.effects import TurnOutcome
from porteiro_concierge.core.step import Step
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.extraction.deterministic import bare_name
from porteiro_concierge.hints import INTENT_HINTS
from porteiro_concierge.session import VISITOR, Asking, DeadlineKind, FlowState, Outcome, Target

SLOT_ORDER = ("intent", "visitor_name", "apartment", "resident_name")
# A bare answer ("João") fills the slot of the question asked, for these questions.
NAME_QUESTIONS = {Asking.VISITOR_NAME: "visitor_name", Asking.RESIDENT_NAME: "resident_name"}
MAX_SLOT_CHARS = 80
# Words that introduce the resident asked for, whatever the intent ("quero falar com a Renata").
NAMING_WHOM = re.compile(r"\b(?:quero |queria |vim |preciso )?falar com\b")
MAX_KEYPAD_DIGITS = 6


def utterance(step: Step, text: str, extraction: Extraction | None) -> None:
    session = step.session
    session.remember(VISITOR, text)
    session.visitor.reprompted = False
    if session.state == FlowState.COLLECTING:
        if turns_spent(step):
            return
        asked = session.validation.confirming if session.asking == Asking.CONFIRM else None
        if asked is not None and confirmation_answered(step, text, extraction):
            return
        progressed, weak = apply(step, extraction or Extraction(source="none"), text)
        step.fx.turn_outcome = TurnOutcome.PROGRESS if progressed else TurnOutcome.NO_PROGRESS
        if weak is not None and confirming.target_key(weak) in (
            confirming.target_key(asked) if asked is not None else None,
            session.validation.unanswered,
        ):
            # Neither yes nor no, and the same guess again (or the guess let pass in silence, then
            # the same answer: `make demo`, keypad scenario, looped until the call's end): asking it
            # once more would loop (make eval: "Marina Barros, do 502?" seven times); an answer not
            # understood instead.
            weak = None
        if weak is not None and not progressed:
            # Not progress yet (the count of answers not understood stands): a "no" adds to it.
            confirming.ask(step, weak)
            return
        advance(step, progressed)
    elif session.state in (FlowState.CALLING_RESIDENT, FlowState.VALIDATED):
        step.fx.say(VISITOR, step.prompts["still_calling"])
        step.fx.turn_outcome = TurnOutcome.WAITING
    elif session.state == FlowState.WAITING_RESIDENT:
        step.fx.say(VISITOR, step.prompts["resident_on_line"])
        step.fx.turn_outcome = TurnOutcome.WAITING


def key(step: Step, pressed: str) -> None:
    session = step.session
    if session.state != FlowState.COLLECTING:
        return  # keys from the visitor never answer for the resident
    if pressed == "*":
        session.keypad.digits = ""
    elif pressed == "#":
        typed_apartment(step)
    elif pressed.isdigit():
        session.keypad.digits = (session.keypad.digits + pressed)[-MAX_KEYPAD_DIGITS:]
        # Typing: the silence timer restarts with each key (digits left without "#" are taken then).
        step.arm(DeadlineKind.VISITOR_REPLY, step.settings.visitor_reply_timeout_seconds)


def typed_apartment(step: Step) -> None:
    session = step.session
    digits, session.keypad.digits = session.keypad.digits, ""
    if not digits or turns_spent(step):
        return
    session.slots.apartment = digits
    session.keypad.apartment_typed = True
    step.fx.turn_outcome = TurnOutcome.PROGRESS
    advance(step, progressed=True)


def turns_spent(step: Step) -> bool:
    """Count a visitor turn; past `max_visitor_turns` the call ends (a backstop against any loop)."""
    progress = step.session.visitor
    progress.turns += 1
    if progress.turns <= step.settings.max_visitor_turns:
        return False
    step.fx.turn_outcome = TurnOutcome.NO_PROGRESS
    step.finish(Outcome.FAILED, "visitor_failed", None)
    return True


def confirmation_answered(step: Step, text: str, extraction: Extraction | None = None) -> bool:
    """The visitor's yes or no to "Renata Oliveira, do 501?"; False when the answer is neither
    (then it is read as an answer to the question the confirmation stood for)."""
    session = step.session
    target = session.validation.confirming
    if target is None:
        return False
    said = confirming.answer(step, text)
    session.validation.confirming = None
    if said is None:
        session.asking = Asking.RESIDENT_NAME if target.resident_name else Asking.APARTMENT
        return False
    slots = session.slots
    if said == confirming.NO and confirming.with_intent(step, target):
        stated = stated_intent(step, text, extraction)
        names_whom = extraction is not None and bool(extraction.resident_name or extraction.apartment)
        if intent_or_whom_refused(step, target, stated, confirming.bare_no(step, text), names_whom):
            return True
    if said == confirming.YES:
        step.fx.turn_outcome = TurnOutcome.PROGRESS
        session.visitor.not_understood = 0
        if confirming.with_intent(step, target):
            session.visitor.intent_unconfirmed = False
        if confirming.is_doubted(step, target):
            session.validation.doubted = None
        if target.resident_name:
            session.validation.confirmed.append(target.resident_name)
        if target.destination and step.visitor_name_wanted():
            # A visit settled by this yes (the guess was a delivery): its name first, then the call.
            slots.resident_name, slots.apartment = target.resident_name, target.apartment
            ask_next(step)
            return True
        if target.destination:  # the directory's own match: call it
            validation.call_resident(step, target)
            return True
        slots.resident_name = target.resident_name or slots.resident_name
        slots.apartment = target.apartment
        # An apartment the visitor confirmed is as sure as a typed one: trusted even when the
        # name heard matches nobody there (a resident of that apartment is called, as for keys),
        # unless the number is in several blocks (then the name must choose).
        session.keypad.apartment_typed = not target.resident_name and step.understanding.names_one_apartment(
            target.apartment
        )
        session.call.target = None
        advance(step, progressed=True)
        return True
    # "Não": back to the question, that candidate excluded.
    session.validation.excluded.append(confirming.target_key(target))
    if target.resident_name:
        slots.resident_name = None
        if target.destination:  # a directory match from the apartment heard: that may be wrong too
            slots.apartment = None
    else:
        slots.apartment = None
    # A guess refused counts as an answer not understood: repeated ones lead to the keypad and
    # the end of the call as any other (a garbled line cannot be confirmed forever).
    step.fx.turn_outcome = TurnOutcome.NO_PROGRESS
    progress = session.visitor
    progress.not_understood += 1
    if progress.not_understood >= step.settings.not_understood_before_end:
        step.finish(Outcome.FAILED, "visitor_failed", None)
        return True
    following = confirming.next_candidate(step, target)
    if following is not None:
        confirming.ask(step, following)
        return True
    excluded = session.validation.excluded
    if all(confirming.target_key(item) in excluded for item in session.validation.ambiguous):
        session.validation.ambiguous = []
    if progress.not_understood >= step.settings.not_understood_before_fallback:
        fall_back(step)
        if ready(step):
            validation.resolve(step)
            return True
    elif not session.keypad.offered:
        # A wrong reading is an answer that added nothing: like a garbled one, the next question
        # is the resident's name alone (`fallback_after`), not the long question again (make
        # eval, seed 11: asked again after a "não", "Para qual apartamento e qual o nome do
        # morador?" brought the right resident in 2 of 8 answers).
        ask_by_name(step)
    ask_next(step)
    return True


def intent_or_whom_refused(
    step: Step, target: Target, stated: Intent | None, bare: bool, names_whom: bool = False
) -> bool:
    """A "não" to "É uma entrega para Renata Oliveira, do 501?": the guessed intent or the resident.

    "Não, é uma entrega" (the guess): the resident was wrong, excluded as after any "não" (False).
    The first bare "não" ("Não.", "Não é esse.") is taken the same way, the intent left a guess
    for the next confirmation: the guess is wrong less often than the resident (make eval,
    seed 11: the guess right in 18 of 22 calls, the first resident confirmed in 23 of 34), and
    a caller whose intent was misheard says so ("Não, é uma visita."). "Não, é uma visita"
    (another intent): the intent was wrong. A first "não" with more that states no intent and
    names nobody ("Não, é visita." heard "Não é. Não é a minha.") to a resident named clearly is
    taken as about the guess (`guess_refused`). Anything else, or a second bare "não", says neither:
    the intent is asked alone ("É uma entrega?") and the resident excluded only if the guess was
    right (`confirming._intent_answer`). Whenever the intent was wrong, the resident is asked about
    again alone before any call (`validation.call_resident`): maybe whom was wrong too.
    """
    session = step.session
    progress = session.visitor
    guess = session.slots.intent or Intent.DELIVERY
    if stated == guess:
        progress.intent_unconfirmed = False
        return False
    first = stated is None and not progress.bare_refusals and session.validation.named_clearly
    if first and (bare or not names_whom):
        return guess_refused(step, target, guess)
    # A typed apartment is trusted: a "não" about its resident is taken as about the intent
    # (make eval, seed 31: "Não, é visita." heard "Não é." after "#502#" refused the right one).
    # A second bare "não" is about whom too while one found alike or sounding the same is left
    # (make eval, blocks, seed 61: "Não, não é." to Luísa Mendes of 202, then "É uma entrega?"
    # asked alone before Luiza Mendes of 201, a turn lost).
    about_whom = not progress.bare_refusals or confirming.alike_left(step, target)
    if stated is None and bare and about_whom and not session.keypad.apartment_typed:
        progress.bare_refusals += 1
        session.validation.refused_with_guess.append(confirming.target_key(target))
        return False
    progress.intent_unconfirmed = False
    session.validation.doubted = target
    step.fx.turn_outcome = TurnOutcome.NO_PROGRESS
    if stated is not None:
        session.slots.intent = stated
        advance(step, progressed=True)
        return True
    progress.intent_guess = guess.value
    session.slots.intent = None
    ask_next(step)
    return True


def guess_refused(step: Step, target: Target, guess: Intent) -> bool:
    """A first "não" to "É uma visita para Renata Oliveira, do 501?" that names nobody when the
    name came through clearly: the guess is the likelier mistake, so the same resident is asked
    with the other intent ("É uma entrega para Renata Oliveira, do 501?"); a yes settles both.

    Make eval (sample condominium, seed 61): "Rodrigo Lima." and "O Carlos Oliveira." heard
    right, the delivery guessed a visit from a garbled greeting, and "Não, é entrega." heard
    "Não é essa." or "Não é.": taken as about whom, the right resident was excluded and three
    calls went on for 10 to 12 turns, two to the keypad. A second bare "não" is about whom again.
    """
    session = step.session
    session.visitor.bare_refusals += 1
    session.slots.intent = confirming.other_intent(guess)
    step.fx.turn_outcome = TurnOutcome.NO_PROGRESS
    confirming.ask(step, target)
    return True


def stated_intent(step: Step, text: str, extraction: Extraction | None) -> Intent | None:
    """The intent an answer states outright ("Não, é uma visita."), if any."""
    if extraction is not None and isinstance(extraction.intent, Intent):
        return extraction.intent
    reading = step.understanding.intent(text)
    return Intent(reading.best.value) if reading.strong and reading.best else None


def apply(step: Step, extraction: Extraction, text: str) -> tuple[bool, Target | None]:
    """Copy what the sentence said into the slots; only the four slot values are read.

    What the extractor did not find is read against the question's closed set
    (`confirming.read_closed`); a weak reading is returned, to be confirmed, never used.
    """
    session = step.session
    slots = session.slots
    said = {name: getattr(extraction, name, None) for name in SLOT_ORDER}
    if said["intent"] is not None and not isinstance(said["intent"], Intent):
        said["intent"] = None
    said = {name: value for name, value in said.items() if value not in (None, "")}
    if not intent_may_change(step, said, extraction, text):
        said.pop("intent", None)
    if said.get("apartment") and step.understanding.fragment_of_apartment(str(said["apartment"])):
        said.pop("apartment")
    weak = confirming.read_closed(step, said, text)
    bare_slot = NAME_QUESTIONS.get(session.asking) if session.asking else None
    if not said and bare_slot and weak is None:
        name = bare_name(text)
        if name:
            said[bare_slot] = name
    if "visitor_name" in said and session.asking == Asking.VISITOR_NAME and name_misheard(step):
        said.pop("visitor_name")
    progressed = False
    for name, value in said.items():
        if name != "intent":
            value = str(value).strip()[:MAX_SLOT_CHARS]
        if getattr(slots, name) != value:
            setattr(slots, name, value)
            progressed = True
            if name == "apartment":
                session.keypad.apartment_typed = False
    if "apartment" in said or "resident_name" in said:
        session.call.target = None
    if "intent" in said:
        session.visitor.intent_guess = session.visitor.intent_lean = ""
    return progressed, weak


def name_misheard(step: Step) -> bool:
    """The answer to "Qual é o seu nome?" was recognised with too little confidence to repeat its name.

    Make eval (2026-12-02, seed 61, 80 calls): the names whisper garbled came with confidence 0.2-0.48
    ("Apeu." for "Fábio.", "É a mavió." for "É a Maria.", "Michel Mucadola." for "Me chamo Carla."),
    those it got right or nearly 0.46-0.85 ("Aqui é a Claudia.", "Aqui é a Francia."); the visitor was
    greeted by the garbled name and the resident told "Apeu está na portaria". Left out, the
    resident hears "Um visitante" (`visitor_name_min_confidence`).
    """
    confidence = step.confidence
    return confidence is not None and confidence < step.settings.visitor_name_min_confidence


def intent_may_change(step: Step, said: dict[str, Any], extraction: Extraction, text: str) -> bool:
    """Whether this sentence may set the intent: not once it is known and whom to call is being
    asked, unless corrected ("não, é uma entrega") or said again with whom ("entrega para a
    Renata do 501", the intent's own words). An answer about the resident must not turn a
    delivery into a visit: make eval heard "Quero falar com o meu nome." for the resident's name,
    and "Quero falar com a Ana Beatriz Silva.", a courier's answer to "Qual é o nome do morador?"
    (seed 31), was taken for a visit. A guessed intent may change."""
    if step.session.slots.intent is None or extraction.correction or step.session.visitor.intent_unconfirmed:
        return True
    if step.session.asking not in (Asking.RESIDENT_NAME, Asking.APARTMENT, Asking.CONFIRM):
        return True
    if "resident_name" not in said and "apartment" not in said:
        return False
    # "(Quero) falar com a Ana" names whom; it does not say what the visit is for.
    return step.understanding.intent(NAMING_WHOM.sub(" ", plain(text))).strong


def ready(step: Step) -> bool:
    """Enough is known to ask the directory."""
    session = step.session
    slots = session.slots
    return (
        slots.intent is not None
        and not step.visitor_name_wanted()
        and (slots.resident_name is not None or session.keypad.apartment_typed)
    )


def advance(step: Step, progressed: bool) -> None:
    progressed = guess_intent(step) or progressed
    # After "could not reach the directory, please repeat", the same sentence again is a retry.
    retry = step.session.asking == Asking.REPEAT and ready(step)
    if not (progressed or retry):
        not_understood(step)
        return
    step.session.visitor.not_understood = 0
    if ready(step):
        validation.resolve(step)
        return
    ask_next(step)


def guess_intent(step: Step) -> bool:
    """An answer to "em que posso ajudar?" that did not make the intent clear: guess it and go on.

    The guess is the way the answer leaned, a delivery otherwise; it is asked together with whom
    to call ("É uma entrega para Renata Oliveira, do 501?", `confirming.ask`), a turn the call
    spends anyway, instead of a yes or no of its own first (make eval, seed 11: 22 of 40 calls
    asked "É uma entrega?" and the guess was right in 18). Nobody is called on a guess
    (`validation.call_resident`). Not when the intent is being asked alone (after a "não" to
    that confirmation) or `intent_in_confirmation` is off.
    """
    session = step.session
    progress = session.visitor
    if (
        not step.settings.intent_in_confirmation
        or session.asking != Asking.INTENT
        or session.slots.intent is not None
        or progress.intent_guess
    ):
        return False
    session.slots.intent = Intent(progress.intent_lean or Intent.DELIVERY.value)
    progress.intent_unconfirmed = True
    progress.intent_lean = ""
    return True


def not_understood(step: Step) -> None:
    """A turn that added nothing: say so and ask again, change the question, or give up."""
    if name_given_up(step):
        return
    progress = step.session.visitor
    progress.not_understood += 1
    if progress.not_understood >= step.settings.not_understood_before_end:
        step.finish(Outcome.FAILED, "visitor_failed", None)
        return
    step.say_visitor(step.prompts["not_understood"])
    if progress.not_understood >= fallback_after(step):
        fall_back(step)
        if ready(step):
            validation.resolve(step)
            return
    ask_next(step)


def fallback_after(step: Step) -> int:
    """How many answers that add nothing the question just asked gets before it changes.

    "Para qual apartamento e qual o nome do morador?" gets `whom_tries` (1): its answers are
    long, with a number, and the same garbled line came back when it was asked again (make eval,
    condominium with blocks: a second and third try brought nothing in 3 of 3 calls), while the
    resident's name alone, asked next, comes through far more often. Others get
    `not_understood_before_fallback`.
    """
    if asked_whom_together(step):
        return step.settings.whom_tries
    return step.settings.not_understood_before_fallback


def asked_whom_together(step: Step) -> bool:
    """Whether the pending question is the apartment-and-resident one (`ask_next`'s choice)."""
    session = step.session
    slots = session.slots
    return (
        session.asking == Asking.RESIDENT_NAME
        and slots.intent is not None
        and slots.apartment is None
        and slots.resident_name is None
        and not session.visitor.by_name
        and not session.keypad.offered
    )


def name_given_up(step: Step) -> bool:
    """ "Qual é o seu nome?" answered with no name in it: go on without the name after
    `visitor_name_tries` answers (one by default), without "não entendi".

    The visitor's name is an open question (no closed set to read it against) and the least
    useful slot: asking again rarely brought it (make eval: "Meu nome é." twice, the name lost
    by the recogniser both times) and each try delays whom to call. The resident hears
    "Um visitante" and decides.
    """
    session = step.session
    progress = session.visitor
    if session.asking != Asking.VISITOR_NAME or session.slots.intent is None:
        return False
    if progress.not_understood + 1 < step.settings.visitor_name_tries:
        return False
    progress.name_skipped = True
    progress.not_understood = 0  # a new question starts its own count
    if ready(step):
        validation.resolve(step)
    else:
        ask_next(step)
    return True


def fall_back(step: Step) -> None:
    """Stop repeating a question whose answers are not understood.

    The intent has no alternative (it is asked until the limit). A name that is
    not understood is left out: the resident hears "Um visitante". For whom to
    call (apartment or resident missing) the keypad is offered: a typed
    apartment is trusted even without a resident's name.
    """
    session = step.session
    slots = session.slots
    if slots.intent is None:
        return
    if step.visitor_name_wanted():
        session.visitor.name_skipped = True
        session.visitor.not_understood = 0  # a new question starts its own count
        return
    if ask_by_name(step):
        return
    session.keypad.offered = True
    slots.apartment = None
    session.keypad.apartment_typed = False


def ask_by_name(step: Step) -> bool:
    """Before the keypad, ask whom to call by the resident's name alone, once.

    Names are read against the directory's closed set far better than spoken numbers (make
    eval: apartments came through 3% of the time, residents' names 28%, more once matched),
    and "Qual é o nome do morador?" expects a short answer. What was heard of the apartment is
    dropped: a match found by the name alone is confirmed with the visitor before the call
    (`confirm_name_only`). False when it was asked already (then the keypad).
    """
    session = step.session
    if session.visitor.by_name:
        return False
    session.visitor.by_name = True
    session.visitor.not_understood = 0  # a new question starts its own count
    forget_whom(step)
    return True


def forget_whom(step: Step) -> None:
    """Drop what was heard of whom to call: it is asked again."""
    session = step.session
    session.slots.apartment = None
    session.slots.resident_name = None
    session.keypad.apartment_typed = False
    session.call.target = None


def intent_question(step: Step) -> str:
    """ "É uma entrega ou uma visita?", or, once `intent_yes_no_after` answers brought no intent, the
    same as a yes or no ("É uma visita?": the way the last answer leaned, a delivery otherwise).

    A yes or no comes through the line far better than the intent words (make eval: "Sim."/"Não."
    heard in nearly every confirmation; "Visita." as "Minita", "Vim fazer uma visita." as "Minha
    menua.", which ended calls after four tries), and one answer settles it: "não" is the other.
    """
    progress = step.session.visitor
    after = step.settings.intent_yes_no_after
    if not after or (not progress.intent_guess and progress.not_understood < after):
        return "ask_intent"
    progress.intent_guess = progress.intent_guess or progress.intent_lean or Intent.DELIVERY.value
    return f"confirm_intent_{progress.intent_guess}"


def resident_question(step: Step) -> str:
    """ "Qual é o nome do morador?", and asked again "Qual é o nome completo do morador?".

    A full name gives the recogniser and the matcher more to go on than a first name or "a dona
    Renata" (make eval, seed 81: "Vinícius Barros.", "Eduardo Almeida.", "João Pedro Silva." came
    through whole; "Seu Vinícius." came out "Elminito.", "A Paula." "Apauro.", "O Zé." "Onde?"),
    and a caller not understood says what is asked for.
    """
    progress = step.session.visitor
    progress.resident_asked += 1
    return "ask_resident" if progress.resident_asked == 1 else "ask_resident_full_name"


def ask_next(step: Step) -> None:
    """Ask for what is still missing, in the order intent -> name -> apartment/resident."""
    session = step.session
    slots = session.slots
    question = None
    if session.keypad.offered and slots.apartment is None:
        prompt, asking = "offer_keypad", Asking.APARTMENT
    elif slots.intent is None:
        prompt, asking = intent_question(step), Asking.INTENT
    elif step.visitor_name_wanted():
        prompt, asking = "ask_visitor_name", Asking.VISITOR_NAME
    elif slots.apartment is None and slots.resident_name is None and not session.visitor.by_name:
        if step.settings.whom_question == "resident":
            # The name alone from the start: the question `ask_by_name` falls back to, with its tries.
            session.visitor.by_name = True
            prompt, asking = resident_question(step), Asking.RESIDENT_NAME
        else:
            prompt, asking, question = (
                "ask_apartment_and_resident",
                Asking.RESIDENT_NAME,
                "apartment_and_resident",
            )
    elif slots.resident_name is None:  # the apartment is known, or asked by the name alone
        prompt, asking = resident_question(step), Asking.RESIDENT_NAME
    else:
        prompt, asking = "ask_apartment", Asking.APARTMENT
    if session.visitor.intent_guess and asking == Asking.INTENT:  # "É uma visita?": a yes or no
        step.ask(asking, step.prompts[prompt], "confirm", hints=confirming.yes_no_hints(step, *INTENT_HINTS))
        return
    step.ask(asking, step.prompts[prompt], question)
