"""How an evaluation caller says things: natural pt-BR phrasings drawn with the persona's seed.

Every line the caller says is an `Utterance`: the text spoken (or keys pressed, "#501#") and,
for each slot it carries (intent, visitor name, apartment, block, resident, decision), the
forms in which that value counts as heard in a transcript. Scoring compares those forms with
what the gateway recognised.

A `Phrasebook` belongs to one call. Its first answer to each kind of question follows the
persona's style (drawn once); when the same question comes back, the caller rephrases,
as a person not understood does.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from porteiro_common.ptbr import plain
from porteiro_sim.evaluation.hearing import PARTIAL
from porteiro_sim.evaluation.numbers import cardinal, dictation
from porteiro_sim.evaluation.personas import (
    DELIVERY,
    DELIVERY_COMPANIES,
    FRONT_DESK,
    NO,
    VISIT,
    YES,
    Persona,
    is_female,
)

INTENT, VISITOR_NAME, APARTMENT, BLOCK, RESIDENT, DECISION = (
    "intent",
    "visitor_name",
    "apartment",
    "block",
    "resident",
    "decision",
)
SLOT_KINDS = (INTENT, VISITOR_NAME, APARTMENT, BLOCK, RESIDENT, DECISION)

# The questions a caller answers (see questions.py for which prompt asks which).
GREETING, ASK_INTENT, ASK_NAME, ASK_APARTMENT, ASK_RESIDENT = (
    "greeting",
    "intent",
    "visitor_name",
    "apartment",
    "resident",
)
# "Qual é o nome completo do morador?": asked again, the resident's full name.
ASK_FULL_NAME = "resident_full_name"
# "É uma entrega?" / "É uma visita?": the intent asked as a yes or no.
IS_DELIVERY, IS_VISIT = "is_delivery", "is_visit"
# "É uma entrega para Renata Oliveira, do 501?": the intent and whom, one yes or no.
DELIVERY_FOR, VISIT_FOR = "delivery_for", "visit_for"
ASK_BOTH, WHICH_RESIDENT, KEYPAD, CONFIRMATION, REPEAT, ASK_DECISION = (
    "apartment_and_resident",
    "which_resident",
    "keypad",
    "confirmation",
    "repeat",
    "decision",
)

GREETINGS = ("", "Bom dia. ", "Boa tarde. ", "Boa noite. ", "Oi, ", "Olá, ", "Oi, boa tarde. ")
DELIVERY_LINES = (
    "Entrega.",
    "É uma entrega.",
    "Tenho uma entrega.",
    "É entrega.",
    "Vim fazer uma entrega.",
    "Tenho uma encomenda.",
)
DELIVERY_COMPANY_LINES = (
    "Entrega {of} {company}.",
    "Sou {of} {company}, tenho uma entrega.",
    "É {of} {company}.",
    "Encomenda {of} {company}.",
    "{company}, entrega.",
)
VISIT_LINES = ("Visita.", "É uma visita.", "É visita.", "Vim fazer uma visita.", "Eu sou visita.")
VISIT_FRIEND_LINES = ("Sou {friend} {of_them}.", "Eu sou {friend}.", "Sou {friend} da família.")
VISIT_TARGET_LINES = ("Vim visitar {article} {resident}.", "Vim ver {article} {resident}.")
NAME_LINES = (
    "Meu nome é {name}.",
    "{name}.",
    "É {article} {name}.",
    "Sou {article} {name}.",
    "Aqui é {article} {name}.",
    "Me chamo {name}.",
)
RESIDENT_LINES = (
    "{resident}.",
    "{article_cap} {resident}.",
    "Quero falar com {article} {resident}.",
    "É para {article} {resident}.",
    "{resident}, por favor.",
)
APARTMENT_PREFIXES = ("Apartamento ", "Apto ", "Apê ", "É o ", "", "No ")
APARTMENT_FORMS = ("digits", "words", "dictation")
RESIDENT_FORMS = ("full", "first", "honorific", "alias")
DECISION_LINES = {
    YES: (
        "Sim, pode subir.",
        "Pode liberar.",
        "Sim, pode.",
        "Pode sim.",
        "Sim, libera.",
        "Pode deixar subir.",
    ),
    NO: ("Não, não conheço.", "Não.", "Não pode, não.", "Não autorizo."),
    FRONT_DESK: ("Deixa na portaria.", "Pode deixar na portaria.", "Deixa lá na portaria."),
}
DECISION_KEYS = {YES: "#1", NO: "#2", FRONT_DESK: "#3"}
CONFIRM_YES = ("Sim.", "Isso.", "Sim, isso mesmo.", "É isso.")
CONFIRM_NO = ("Não.", "Não, não é.", "Não é esse, não.")
# A "no" to "É uma entrega para Renata Oliveira, do 501?" from a visitor.
CORRECT_INTENT = {
    DELIVERY: ("Não, é uma entrega.", "Não, é entrega."),
    VISIT: ("Não, é uma visita.", "Não, é visita."),
}
# The word of a decision line that carries the decision (scored as the decision slot).
DECISION_WORDS = ("portaria", "nao", "sim", "pode", "libera", "autorizo")


@dataclass(frozen=True)
class Utterance:
    text: str  # as said; "#501#" presses keys
    # slot kind -> the forms (plain text) of its value; the slot is heard when one of them is in the transcript
    slots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    phrasing: str = ""  # which phrasing ("apartment:dictation", "intent:É uma visita."), for the report

    @property
    def keyed(self) -> bool:
        return self.text.startswith("#")


@dataclass(frozen=True)
class Style:
    """A persona's way of speaking, drawn once per call."""

    greeting: str
    opening: str  # "intent", "intent+resident", "intent+apartment", "visit-target"
    apartment_form: str  # APARTMENT_FORMS
    apartment_prefix: str
    resident_form: str  # RESIDENT_FORMS
    name_line: str
    six_as_meia: bool


def draw_style(persona: Persona, rng: random.Random) -> Style:
    openings = ["intent", "intent", "intent+resident", "intent+apartment"]
    if persona.intent != DELIVERY:
        openings.append("visit-target")
    forms = list(RESIDENT_FORMS) if persona.target.aliases else list(RESIDENT_FORMS[:3])
    return Style(
        greeting=rng.choice(GREETINGS),
        opening=rng.choice(openings),
        apartment_form=rng.choice(APARTMENT_FORMS),
        apartment_prefix=rng.choice(APARTMENT_PREFIXES),
        resident_form=rng.choice(forms),
        name_line=rng.choice(NAME_LINES),
        six_as_meia=rng.random() < 0.5,
    )


class Phrasebook:
    """The answers of one caller to the questions of one call."""

    def __init__(self, persona: Persona, others: tuple[str, ...] = ()) -> None:
        self.persona = persona
        self.others = tuple(name for name in others if name != persona.target.resident)  # other residents
        self.rng = random.Random(f"phrasing/{persona.seed}")
        self.style = draw_style(persona, self.rng)
        self.asked: Counter[str] = Counter()
        self.last: Utterance | None = None

    def answer(self, question: str, sentence: str = "") -> Utterance | None:
        """What the caller says to a question of kind `question` (None: nothing).

        `sentence` is the system's sentence as identified (needed for confirmations).
        """
        self.asked[question] += 1
        rephrase = self.asked[question] > 1
        makers: dict[str, Callable[[bool], Utterance | None]] = {
            GREETING: self.opening,
            ASK_INTENT: self.intent,
            ASK_NAME: self.visitor_name,
            ASK_APARTMENT: self.apartment,
            ASK_RESIDENT: self.resident,
            ASK_FULL_NAME: lambda _: self.resident_full_name(),
            ASK_BOTH: self.apartment_and_resident,
            WHICH_RESIDENT: self.which_resident,
            KEYPAD: lambda _: self.keypad(),
            CONFIRMATION: lambda _: self.confirmation(sentence),
            IS_DELIVERY: lambda _: self.intent_yes_or_no(DELIVERY),
            IS_VISIT: lambda _: self.intent_yes_or_no(VISIT),
            DELIVERY_FOR: lambda _: self.confirmation(sentence, DELIVERY),
            VISIT_FOR: lambda _: self.confirmation(sentence, VISIT),
            REPEAT: lambda _: self.repeat(),
        }
        maker = makers.get(question)
        utterance = maker(rephrase) if maker else None
        if utterance is not None:
            self.last = utterance
        return utterance

    # ---- the visitor's lines ----

    def opening(self, rephrase: bool = False) -> Utterance:
        style = self.style
        opening = self.rng.choice(("intent", "intent+resident")) if rephrase else style.opening
        if opening == "visit-target":
            resident = self._resident_words(rephrase)
            text = self.rng.choice(VISIT_TARGET_LINES).format(
                article=self._article(resident), resident=resident.text
            )
            slots = {INTENT: ("visitar", "ver"), RESIDENT: resident.slots[RESIDENT]}
            return Utterance(style.greeting + text, slots, f"greeting:{opening}")
        intent = self.intent(rephrase=False)
        if opening == "intent":
            return Utterance(style.greeting + intent.text, intent.slots, f"greeting:{intent.phrasing}")
        extra = self._resident_words(rephrase) if opening == "intent+resident" else self._apartment_words()
        joiner = " para " + (self._article(extra) + " " if opening == "intent+resident" else "o ")
        text = style.greeting + intent.text.rstrip(".") + joiner + extra.text + "."
        return Utterance(text, {**intent.slots, **extra.slots}, f"greeting:{opening}")

    def intent(self, rephrase: bool = False) -> Utterance:
        persona = self.persona
        if persona.intent == DELIVERY:
            lines = list(DELIVERY_LINES)
            if persona.company:
                of = DELIVERY_COMPANIES[persona.company]
                lines += [line.format(company=persona.company, of=of) for line in DELIVERY_COMPANY_LINES]
        else:
            friend = "amiga" if persona.visitor_is_female else "amigo"
            of_them = "dela" if is_female(persona.target.resident) else "dele"
            lines = list(VISIT_LINES) + [
                line.format(friend=friend, of_them=of_them) for line in VISIT_FRIEND_LINES
            ]
        text = self._pick(lines, rephrase)
        return Utterance(text, {INTENT: _intent_forms(text, persona)}, f"intent:{text}")

    def visitor_name(self, rephrase: bool = False) -> Utterance:
        name = self.persona.visitor_name
        template = self._pick(NAME_LINES, True) if rephrase else self.style.name_line
        article = "a" if self.persona.visitor_is_female else "o"
        text = template.format(name=name, article=article)
        return Utterance(text, {VISITOR_NAME: (plain(name),)}, f"visitor_name:{template}")

    def apartment(self, rephrase: bool = False) -> Utterance:
        words = self._apartment_words(rephrase)
        prefix = self._pick(APARTMENT_PREFIXES, True) if rephrase else self.style.apartment_prefix
        if words.text.startswith(("bloco", "torre")):
            prefix = ""  # "bloco B, apartamento 202" already says what it is
        return Utterance(_sentence(prefix + words.text), words.slots, words.phrasing)

    def resident(self, rephrase: bool = False) -> Utterance:
        resident = self._resident_words(rephrase)
        line = self._pick(RESIDENT_LINES, rephrase) if rephrase else RESIDENT_LINES[self.persona.index % 2]
        article = self._article(resident)
        text = line.format(resident=resident.text, article=article, article_cap=article.capitalize())
        return Utterance(_sentence(text), resident.slots, resident.phrasing)

    def resident_full_name(self) -> Utterance:
        """Asked for the full name, the caller says it (in one of the ways a name is given)."""
        name = self.persona.target.resident
        article = self._article()
        text = self._pick(RESIDENT_LINES, True).format(
            resident=name, article=article, article_cap=article.capitalize()
        )
        return Utterance(_sentence(text), {RESIDENT: _name_forms(name)}, "resident:full")

    def apartment_and_resident(self, rephrase: bool = False) -> Utterance:
        apartment = self._apartment_words(rephrase)
        resident = self._resident_words(rephrase)
        if self.rng.random() < 0.5:
            prefix = "" if apartment.text.startswith(("bloco", "torre")) else self.style.apartment_prefix
            text = f"{prefix}{apartment.text}, {resident.text}"
        else:
            text = f"{self._article(resident)} {resident.text} do {apartment.text}"
        phrasing = f"{apartment.phrasing}+{resident.phrasing}"
        return Utterance(_sentence(text), {**apartment.slots, **resident.slots}, phrasing)

    def which_resident(self, rephrase: bool = False) -> Utterance:
        """Two or more residents were offered: the full name and the apartment, in digits."""
        target = self.persona.target
        text = f"{target.resident}, do {target.apartment}."
        slots = {RESIDENT: _name_forms(target.resident), APARTMENT: _apartment_forms(target.apartment)}
        return Utterance(text, slots, "which_resident")

    def confirmation(self, sentence: str, intent: str = "") -> Utterance:
        """Yes when the system's question names the persona's resident or apartment and no one else,
        and, asked with an `intent` ("É uma entrega para …?"), when that is the persona's.

        A sentence known only by its beginning (its values unknown, see hearing.py) is taken as
        naming the right person: the click-to-call's destination still tells a wrong resident.
        """
        target = self.persona.target
        said = f" {plain(sentence)} "
        if intent and intent != self.persona.intent:
            return self._intent_correction()
        if PARTIAL in sentence or not said.strip() or f" {plain(target.resident)} " in said:
            yes = True
        elif any(f" {plain(other)} " in said for other in self.others):
            yes = False  # someone else, even of the same apartment
        else:
            yes = f" {plain(target.apartment)} " in said
        return self._yes_or_no(yes)

    def _intent_correction(self) -> Utterance:
        """ "Não, é uma visita.": a "no" to a confirmation that got the intent wrong says what it is,
        as a caller would (whether the resident named was right or not)."""
        text = self.rng.choice(CORRECT_INTENT[self.persona.intent])
        slots = {DECISION: (yes_or_no_word(text),), INTENT: _intent_forms(text, self.persona)}
        return Utterance(text, slots, f"confirmation:{text}")

    def intent_yes_or_no(self, asked: str) -> Utterance:
        """ "É uma entrega?": yes when that is the persona's intent (scored like a confirmation)."""
        yes = self.persona.intent == asked
        return self._yes_or_no(yes)

    def _yes_or_no(self, yes: bool) -> Utterance:
        text = self.rng.choice(CONFIRM_YES if yes else CONFIRM_NO)
        return Utterance(text, {DECISION: (yes_or_no_word(text),)}, f"confirmation:{text}")

    def keypad(self) -> Utterance:
        digits = "".join(char for char in self.persona.target.apartment if char.isdigit())
        return Utterance(f"#{digits}#", {}, "keypad")

    def repeat(self) -> Utterance | None:
        """Not understood, and nothing asked: say the last line again, in other words when possible."""
        if self.last is None or self.last.keyed:
            return self.last
        kind = self.last.phrasing.split(":", 1)[0]
        return self.answer(kind) if kind in (ASK_INTENT, ASK_NAME) else self.last

    # ---- the pieces ----

    def _apartment_words(self, rephrase: bool = False) -> Utterance:
        target = self.persona.target
        form = self._pick(APARTMENT_FORMS, True) if rephrase else self.style.apartment_form
        number = _spoken_number(target.apartment, form, self.style.six_as_meia)
        slots: dict[str, tuple[str, ...]] = {APARTMENT: _apartment_forms(target.apartment)}
        if not target.block:
            return Utterance(number, slots, f"apartment:{form}")
        block_word = "torre" if target.tower else "bloco"
        block = target.block if not target.block.isdigit() else _spoken_number(target.block, form, False)
        slots[BLOCK] = tuple(
            dict.fromkeys((plain(f"{block_word} {target.block}"), plain(f"{block_word} {block}")))
        )
        if self.rng.random() < 0.5:
            text = f"{number} do {block_word} {block}"
        else:
            text = f"{block_word} {block}, apartamento {number}"
        return Utterance(text, slots, f"apartment:{form}+{block_word}")

    def _resident_words(self, rephrase: bool = False) -> Utterance:
        target = self.persona.target
        form = self._pick(RESIDENT_FORMS[:3], True) if rephrase else self.style.resident_form
        first = target.resident.split()[0]
        if form == "alias" and target.aliases:
            said = target.aliases[0]
        elif form == "first":
            said = first
        elif form == "honorific":
            said = ("dona " if is_female(first) else "seu ") + first
        else:
            said = target.resident
        forms = _name_forms(said.removeprefix("dona ").removeprefix("seu "))
        return Utterance(said, {RESIDENT: forms}, f"resident:{form}")

    def _article(self, _resident: Utterance | None = None) -> str:
        return "a" if is_female(self.persona.target.resident.split()[0]) else "o"

    def _pick(self, options: tuple[str, ...] | list[str], avoid_last: bool) -> str:
        """A drawn option; when rephrasing, not the line said last if another one exists."""
        choices = [option for option in options if not (avoid_last and self._said_last(option))]
        return self.rng.choice(choices or list(options))

    def _said_last(self, option: str) -> bool:
        return self.last is not None and plain(option) != "" and plain(option) in plain(self.last.text)


def yes_or_no_word(text: str) -> str:
    """The word of a confirmation line that carries its yes or no ("É isso." -> "isso"): what must be
    heard (scored "sim" before, so "Isso." and "É isso." never counted as heard)."""
    words = plain(text).split()
    return next((word for word in words if word in ("sim", "nao", "isso")), words[0] if words else "")


def decision_line(persona: Persona) -> Utterance:
    """What the resident answers to the briefing, drawn with the persona's seed."""
    rng = random.Random(f"decision/{persona.seed}")
    text = rng.choice(DECISION_LINES[persona.decision])
    words = [word for word in DECISION_WORDS if word in plain(text).split()]
    return Utterance(text, {DECISION: tuple(words[:1])}, f"decision:{text}")


def decision_keys(persona: Persona) -> Utterance:
    """The resident asked again presses the key of their decision."""
    return Utterance(DECISION_KEYS[persona.decision], {}, "decision:keys")


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", "?", "!")) else text + "."


def _spoken_number(number: str, form: str, six_as_meia: bool) -> str:
    """The apartment as written for the voice: digits (the voice reads them), words or dictation."""
    digits = "".join(char for char in number if char.isdigit())
    if form == "digits" or not digits or digits != number:
        return number
    if form == "words":
        return cardinal(int(digits))
    return dictation(digits, six_as_meia)


def _apartment_forms(number: str) -> tuple[str, ...]:
    digits = "".join(char for char in number if char.isdigit())
    forms = [plain(number)]
    if digits and len(digits) <= 6:
        forms += [plain(cardinal(int(digits))), plain(dictation(digits)), plain(dictation(digits, True))]
    return tuple(dict.fromkeys(forms))


def _name_forms(name: str) -> tuple[str, ...]:
    return (plain(name),)


def _intent_forms(text: str, persona: Persona) -> tuple[str, ...]:
    words = plain(text).split()
    keys = ("entrega", "encomenda", "visita", "visitar", "amiga", "amigo")
    forms = [word for word in words if word in keys]
    if persona.company and plain(persona.company) in plain(text):
        forms.append(plain(persona.company))
    return tuple(forms) or tuple(words)
