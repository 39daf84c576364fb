"""Closed-set readings of the visitor's answers, and confirming the weak ones.

The core knows what it asked (`session.asking`), so an answer the extractor could not read is
matched against the answers that question admits (`step.understanding`: intent words, the
directory's residents and apartments). A strong reading fills the slot; a weak one (or two close
ones) is never used as it is: the visitor is asked "Renata Oliveira, do 501?" and only a yes
fills it. A no goes back to the question with that candidate excluded. The same confirmation
guards a directory match that scored low (`validation.directory_answered`).

Safety: a confirmation is the visitor's word about whom to call, never an authorization; only
the resident's decision authorizes (core/resident.py). `resident_decision` reads the resident's
own answer when the plain reading (decision.py) found no decision word in it at all.
"""

from __future__ import annotations

from typing import Any

from porteiro_common.ptbr import plain
from porteiro_concierge.core.step import Step
from porteiro_concierge.decision import Decision, says_decision_words
from porteiro_concierge.extraction.base import Intent
from porteiro_concierge.extraction.deterministic import leading_name
from porteiro_concierge.hints import INTENT_HINTS, capped
from porteiro_concierge.session import Asking, Target
from porteiro_concierge.understanding.heard import (
    heard_intent,
    heard_reading,
    ranked_residents,
    summed_ranking,
)
from porteiro_concierge.understanding.sets import TIE

YES = "yes"
NO = "no"
# Two residents' names this close (the matcher's confidence of one read as the other) are the
# same to the ear on the line: Luiza/Luísa Mendes 0.96, Paulo Henrique/Paula Henriques Santos 0.93;
# names sharing a surname stay below (Carlos/Renata Oliveira 0.87, Eduardo/Bruna Almeida 0.85).
SOUND_ALIKE = 0.9


def read_closed(step: Step, said: dict[str, Any], text: str) -> Target | None:
    """Fill what `said` lacks for the question asked from the closed set; a weak reading to confirm."""
    asking = step.session.asking
    if asking == Asking.VISITOR_NAME:
        _name_answer(step, said, text)
    elif asking == Asking.INTENT and "intent" not in said:
        _intent_answer(step, said, text)
    elif asking == Asking.RESIDENT_NAME and step.session.validation.ambiguous:
        step.session.validation.heard, step.session.validation.heard_answers = [], 0
        return _option_answer(step, said, text)
    elif asking == Asking.RESIDENT_NAME and "resident_name" not in said:
        return _resident_answer(step, said, text)
    elif asking == Asking.RESIDENT_NAME:
        return _heard_instead(step, said)
    elif asking == Asking.APARTMENT and "apartment" not in said and not step.session.keypad.offered:
        return _apartment_answer(step, said, text)
    return None


def _intent_answer(step: Step, said: dict[str, Any], text: str) -> None:
    """An intent read against its closed set; to "É uma entrega?" a yes or no settles it.

    The intent is one of two, so "não" to one is the other. An answer that leans one way without
    being understood is remembered: the yes-or-no question, when it comes, asks about that one.
    """
    progress = step.session.visitor
    reading = step.understanding.intent(text)
    if reading.strong and reading.best:
        said["intent"] = Intent(reading.best.value)
        return
    if progress.intent_guess:
        yes_or_no = answer(step, text)
        if yes_or_no is not None:
            guess = Intent(progress.intent_guess)
            said["intent"] = guess if yes_or_no == YES else other_intent(guess)
            if yes_or_no == YES:
                _exclude_doubted(step)
            return
    leads = reading.best is not None and (
        not reading.others or reading.best.confidence - reading.others[0].confidence >= TIE
    )
    progress.intent_lean = reading.best.value if leads and reading.best else ""
    # The recogniser's own ear over the text's lean: "Eu tô limita" leaned to a delivery ("ifood").
    by_ear = heard_intent(step.phrase_scores, step.rules.answers.intent_words)
    if by_ear is not None:
        progress.intent_lean = by_ear


def _exclude_doubted(step: Step) -> None:
    """The guessed intent was right: the "não" to "É uma entrega para Luiza Mendes, do 201?" was
    about the resident, who is excluded as after any "não". The next of those found alike, or the
    one whose name sounds the same (`next_candidate`), becomes whom to call, confirmed before the
    call (`validation.matched` confirms while `validation.ambiguous` is set); else whom is asked
    again."""
    validation = step.session.validation
    refused = validation.doubted
    if refused is None:
        return
    validation.excluded.append(target_key(refused))
    validation.doubted = None
    following = next_candidate(step, refused)
    slots = step.session.slots
    slots.resident_name = following.resident_name if following else None
    if following is not None or not step.session.keypad.apartment_typed:
        # A typed apartment stays: its other residents are looked up again (make eval, sample,
        # seed 61: "101#", Ana Beatriz Silva refused, the visitor was for João Pedro Silva).
        slots.apartment = following.apartment if following else None
    validation.ambiguous = [following] if following else []
    step.session.call.target = None


def other_intent(intent: Intent) -> Intent:
    return Intent.VISIT if intent == Intent.DELIVERY else Intent.DELIVERY


def _name_answer(step: Step, said: dict[str, Any], text: str) -> None:
    """ "Qual é o seu nome?": a resident of the apartment already given is the resident, not the visitor.

    A name given with a cue ("meu nome é Renata") is the visitor's whatever it matches. Otherwise
    the name the answer starts with ("é o Marcos entregador do Mercado Livre").
    """
    slots = step.session.slots
    cued = said.get("visitor_name")
    name = cued or leading_name(text)
    if name and not cued and slots.apartment and slots.resident_name is None:
        reading = step.understanding.resident(name, slots.apartment)
        resident = step.understanding.residents.get(reading.best.value) if reading.best else None
        if reading.strong and resident and resident.apartment.lstrip("0") == slots.apartment.lstrip("0"):
            said.pop("visitor_name", None)
            said["resident_name"] = resident.name
            return
    if name and "visitor_name" not in said:
        said["visitor_name"] = name


def _resident_answer(step: Step, said: dict[str, Any], text: str) -> Target | None:
    session = step.session
    apartment = said.get("apartment") or session.slots.apartment
    # "Meu nome é Pedro": the visitor's own name is not read again as a resident (João Pedro Silva).
    heard = _without_words(text, said.get("visitor_name"))
    excluded = session.validation.excluded
    reading = step.understanding.resident(heard, apartment, exclude=excluded)
    ranked = _rank_heard(step, apartment)
    from_scores = False
    if not reading.strong:  # the recogniser's own ear over a weak reading of its transcript
        by_ear = heard_reading(ranked, excluded, session.validation.heard_answers)
        if by_ear.weak:
            reading, from_scores = by_ear, True
    resident = step.understanding.residents.get(reading.best.value) if reading.best else None
    if resident is None or not (reading.strong or reading.weak):
        return None
    if reading.strong or resident.name in session.validation.confirmed:
        said["resident_name"] = resident.name  # the apartment is left to the directory: not heard
        return None
    return Target(
        apartment=resident.apartment, resident_name=resident.name, destination="", by_ear=from_scores
    )


def _rank_heard(step: Step, apartment: str | None) -> list[tuple[str, float]]:
    """The residents as the recogniser's scores rank them (understanding/heard.py), kept for a
    "não" to come (`next_candidate`); none without scores.

    An earlier answer's ranking still kept (it settled nothing: not understood, or read another
    way) is summed with this one's: the same name said twice is two pieces of evidence.
    """
    validation = step.session.validation
    ranked: list[tuple[str, float]] = []
    answers = 0
    if step.phrase_scores:
        ranked = ranked_residents(step.phrase_scores, step.understanding.residents.values(), apartment)
        answers = 1
        if validation.heard and ranked:
            ranked = summed_ranking(validation.heard, ranked)
            answers = validation.heard_answers + 1
    validation.heard, validation.heard_answers = ranked, answers
    return ranked


def _heard_instead(step: Step, said: dict[str, Any]) -> Target | None:
    """A name the extractor took from the transcript that reads as no resident ("Meu Fomeiro", for
    "Roberto"): the resident the recogniser's scores single out, to confirm, replaces it."""
    apartment = said.get("apartment") or step.session.slots.apartment
    ranked = _rank_heard(step, apartment)
    named = step.understanding.resident(str(said["resident_name"]), apartment)
    if named.strong or named.weak:
        return None
    reading = heard_reading(ranked, step.session.validation.excluded, step.session.validation.heard_answers)
    resident = step.understanding.residents.get(reading.best.value) if reading.best else None
    if resident is None or not reading.weak:
        return None
    said.pop("resident_name")
    return Target(apartment=resident.apartment, resident_name=resident.name, destination="", by_ear=True)


def _option_answer(step: Step, said: dict[str, Any], text: str) -> Target | None:
    """The answer to "Encontrei mais de um morador: … Qual deles?", read against those offered.

    The option it names is confirmed ("Luísa Mendes, do 202?") however strong the reading: the
    residents offered sound alike by construction (make eval heard "Paula Henriques Santos, do
    101." as "Paulo Henrique Santos.", the other option). A yes calls that resident. Nothing
    read: the extractor's reading stands (the directory decides again).
    """
    offered = step.session.validation.ambiguous
    reading = step.understanding.option(text, [(item.resident_name, item.apartment) for item in offered])
    if reading.best is None or not (reading.strong or reading.weak):
        return None
    chosen = offered[int(reading.best.value)]
    if target_key(chosen) in step.session.validation.excluded:
        return None
    said.pop("resident_name", None)  # the extractor's name would go to the directory unconfirmed
    said.pop("apartment", None)
    return chosen


def _without_words(text: str, name: object) -> str:
    """`text` without the words of `name` (folded comparison); `text` itself when there is no name."""
    if not name:
        return text
    drop = set(plain(str(name)).split())
    return " ".join(word for word in plain(text).split() if word not in drop)


def _apartment_answer(step: Step, said: dict[str, Any], text: str) -> Target | None:
    """An apartment read against the directory's: a strong reading is taken, a weak one confirmed
    ("Apartamento 501?"); either is confirmed by its resident when it has only one ("Renata
    Oliveira, do 501?"), which names whom to call in the same turn (make eval, seed 61:
    "Apartamento 501?", then "É uma visita para Renata Oliveira, do 501?", a turn each)."""
    reading = step.understanding.apartment(text, exclude=step.session.validation.excluded)
    if reading.best is None or not (reading.strong or reading.weak):
        return None
    sole = _sole_resident(step, reading.best.value)
    if sole is not None:
        return sole
    if reading.strong:
        said["apartment"] = reading.best.value
        return None
    return Target(apartment=reading.best.value, resident_name="", destination="")


def _sole_resident(step: Step, apartment: str) -> Target | None:
    """The one resident of `apartment` (in one block only), unless refused; else None."""
    if not step.understanding.names_one_apartment(apartment):
        return None
    living = step.understanding.residents_of(apartment)
    if len(living) != 1:
        return None
    target = Target(
        apartment=living[0].apartment, resident_name=living[0].name, destination="", block=living[0].block
    )
    return None if target_key(target) in step.session.validation.excluded else target


def ask(step: Step, target: Target, clearly: bool = False) -> None:
    """Ask the visitor to confirm `target` ("Renata Oliveira, do 501?" / "Apartamento 501?"), with the
    intent when it is a guess ("É uma entrega para Renata Oliveira, do 501?", `with_intent`).

    `clearly`: the directory matched the name heard well (`Validation.named_clearly`)."""
    step.session.validation.confirming = target
    step.session.validation.named_clearly = clearly
    prompt = "confirm_resident" if target.resident_name else "confirm_apartment"
    hints = yes_no_hints(step)
    if with_intent(step, target):
        prompt = f"confirm_resident_{step.session.slots.intent.value}"  # type: ignore[union-attr]
        hints = yes_no_hints(step, *INTENT_HINTS)  # "Não, é uma visita."
    sentence = step.prompts.text(prompt, resident_name=target.resident_name, apartment=target.apartment)
    step.ask(Asking.CONFIRM, sentence, "confirm", hints=hints)


def with_intent(step: Step, target: Target) -> bool:
    """Whether the confirmation of `target` asks the guessed intent too (a yes settles both)."""
    return bool(target.resident_name) and step.session.visitor.intent_unconfirmed


def next_candidate(step: Step, refused: Target) -> Target | None:
    """Whom to ask about after a "não" to `refused`, without asking whom again.

    The next of the residents found alike (`validation.ambiguous`, confirmed one at a time), or,
    for a resident reached by the name, the one resident whose name sounds the same as the refused
    one's (`SOUND_ALIKE`: "Luísa Mendes" of 202 after Luiza Mendes of 201; "Paula Henriques Santos"
    of block B's 101 after Paulo Henrique Santos of block A's). None when there is no such one.
    """
    validation = step.session.validation
    excluded = validation.excluded
    if validation.ambiguous and any(target_key(item) == target_key(refused) for item in validation.ambiguous):
        left = [item for item in validation.ambiguous if target_key(item) not in excluded]
        return left[0] if left else None
    if not refused.resident_name:
        return None
    # The answer's ranking serves one "não".
    heard, answers = validation.heard, validation.heard_answers
    validation.heard, validation.heard_answers = [], 0
    if refused.by_ear:
        # Singled out by the scores alone, from a transcript that named nobody: the scores were
        # wrong, and neither their next nor a name like the refused one is likelier. Whom is asked
        # again (make eval, seed 81: "Paula" scored first for "Dona Lúcia." heard "Tonho Luísa.",
        # "A dona Beatriz." and "O Zé."; "não" to Paula Henriques Santos, then to Paulo Henrique
        # Santos, then the keypad, in 4 calls of 80).
        return None
    by_ear = heard_reading(heard, excluded, answers)
    if by_ear.weak and by_ear.best is not None:
        return _target_of(step, by_ear.best.value)
    reading = step.understanding.resident(refused.resident_name, exclude=excluded)
    if reading.best is None or reading.best.confidence < SOUND_ALIKE:
        return None
    if reading.others and reading.others[0].confidence >= SOUND_ALIKE:
        return None  # several sound the same: whom is asked again
    return _target_of(step, reading.best.value)


def alike_left(step: Step, refused: Target) -> bool:
    """Whether `next_candidate` has a resident to offer after a "não" to `refused` by the matcher
    alone: one of those found alike not yet refused, or the one whose name sounds the same."""
    validation = step.session.validation
    excluded = [*validation.excluded, target_key(refused)]
    if validation.ambiguous and any(target_key(item) not in excluded for item in validation.ambiguous):
        return True
    if not refused.resident_name or refused.by_ear:
        return False
    reading = step.understanding.resident(refused.resident_name, exclude=excluded)
    if reading.best is None or reading.best.confidence < SOUND_ALIKE:
        return False
    return not (reading.others and reading.others[0].confidence >= SOUND_ALIKE)


def _target_of(step: Step, key: str) -> Target | None:
    """The Target to confirm for a resident key of the closed sets."""
    resident = step.understanding.residents.get(key)
    if resident is None:
        return None
    return Target(
        apartment=resident.apartment, resident_name=resident.name, destination="", block=resident.block
    )


def yes_no_hints(step: Step, *more: str) -> list[str]:
    """Recognition hints for a yes-or-no answer: the answers file's confirmation phrases (then `more`)."""
    phrases = [phrase for phrases in step.rules.answers.confirmation.values() for phrase in phrases]
    return capped([*(phrase.capitalize() for phrase in phrases), *more])


def answer(step: Step, text: str) -> str | None:
    """The visitor's yes or no to the confirmation asked; None when the answer is neither."""
    reading = step.understanding.confirmation(text)
    if reading.best is None or not reading.strong:
        return None
    return YES if reading.best.value == YES else NO


def bare_no(step: Step, text: str) -> bool:
    """Whether the answer is nothing but a "no" ("Não.", "Não é esse, não."): every word of it is
    a word of the answers file's "no" phrases."""
    words = set(plain(text).split())
    no_words = {
        word for phrase in step.rules.answers.confirmation.get(NO, []) for word in plain(phrase).split()
    }
    return bool(words) and words <= no_words


def is_doubted(step: Step, target: Target) -> bool:
    """Whether `target` is the resident of the refused confirmation with the intent (`doubted`)."""
    doubted = step.session.validation.doubted
    return doubted is not None and target_key(doubted) == target_key(target)


def target_key(target: Target) -> str:
    """What a "no" excludes: the resident (as the matcher keys them) or the apartment."""
    return f"{target.apartment}/{target.resident_name}" if target.resident_name else target.apartment


def resident_decision(step: Step, text: str) -> Decision:
    """The resident's answer that the plain reading found unclear, read against the decisions.

    Only when it holds no decision word at all (an answer with both yes and no, or "não sei",
    stays unclear), only a strong reading, and front desk only for deliveries; anything else is
    unclear and the resident is asked again. This is still the resident's own answer: the only
    way to an authorization (core/resident.py).
    """
    if says_decision_words(text):
        return Decision.UNCLEAR
    reading = step.understanding.decision(text)
    if not reading.strong or reading.best is None:
        return Decision.UNCLEAR
    decision = Decision(reading.best.value)
    if decision == Decision.FRONT_DESK and not step.delivery():
        return Decision.UNCLEAR
    return decision
