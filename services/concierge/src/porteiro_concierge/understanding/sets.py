"""The closed sets of the concierge's questions, built from the directory and the answers file.

- intent ("É uma entrega ou uma visita?"): the answers file's `intent` phrasings;
- residents: each resident's full name, first name, last name, first + last, and aliases,
  from the directory's listing; the apartment already given is searched first (its residents
  only), then everyone;
- apartments: each number as digits, in words and dictated (`porteiro_common.ptbr.spoken`);
- a visitor's confirmation (yes/no) and the resident's decision: the answers file.

A `Reading` is the best interpretation and how it stands: `strong` (take it), `weak` (ask a
confirmation first), or nothing. Strong needs a confidence of at least `strong` and a lead of
`margin` over the next different answer; weak needs `weak` and no tie (`Thresholds`, `TIE`; the
intent has its own, `INTENT_THRESHOLDS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from porteiro_common.prompts import DEFAULT_PROMPTS_FILE
from porteiro_common.ptbr.names import HONORIFICS, NAME_PARTICLES, name_words
from porteiro_common.ptbr.spoken import spoken_forms
from porteiro_concierge.understanding.matcher import Choice, ClosedSet, Interpretation

DEFAULT_ANSWERS_FILE = DEFAULT_PROMPTS_FILE.parent / "answers.pt-BR.yaml"
# Words around an answer that never answer anything: articles, forms of address, fillers.
FILLERS = frozenset(
    {
        *HONORIFICS,
        *NAME_PARTICLES,
        *"e o a um uma eh oi ola bom boa dia tarde noite por favor obrigado obrigada moco moca".split(),
    }
)
APARTMENT_FILLERS = frozenset(
    "apartamento apto ap ape numero no na o a e do da para pra pro bloco torre casa unidade".split()
)
NAME_FILLERS = FILLERS | frozenset(
    "para pra pro com o morador moradora falar quero queria vim ver visitar apartamento nome chama e "
    "sou eu".split()
)
# An option is said by name or apartment: "um" is then a number ("duzentos e um"), not an article.
OPTION_FILLERS = (NAME_FILLERS | APARTMENT_FILLERS) - {"um"}
# Names weigh every word of the transcript more: see matcher.COVERAGE_SHARE.
NAME_COVERAGE_SHARE = 0.3


class AnswersError(ValueError):
    pass


@dataclass(frozen=True)
class Answers:
    """Meaning -> phrasings, per closed question (the answers file)."""

    intent: dict[str, list[str]]
    confirmation: dict[str, list[str]]
    decision: dict[str, list[str]]
    # Meaning -> words the speech service scores against the greeting's audio (optional).
    intent_words: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Answers:
        source = path or DEFAULT_ANSWERS_FILE
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise AnswersError(f"cannot read answers file {source}: {error}") from error
        try:
            sections = {name: _meanings(data[name]) for name in ("intent", "confirmation", "decision")}
            return cls(**sections, intent_words=_meanings(data.get("intent_words") or {}))
        except (KeyError, TypeError, ValueError) as error:
            raise AnswersError(
                f"answers file {source} needs intent, confirmation and decision, each a mapping of "
                f"meaning -> list of phrasings: {error}"
            ) from error


def _meanings(section: object) -> dict[str, list[str]]:
    if not isinstance(section, dict):
        raise TypeError("not a mapping")
    meanings = {str(meaning): [str(phrase) for phrase in phrases] for meaning, phrases in section.items()}
    if not all(meanings.values()):
        raise ValueError("a meaning without phrasings")
    return meanings


@dataclass(frozen=True)
class ResidentChoice:
    """A resident as the matcher knows them."""

    name: str
    apartment: str
    aliases: tuple[str, ...] = ()
    block: str = ""

    @property
    def key(self) -> str:
        return f"{self.apartment}/{self.name}"


@dataclass(frozen=True)
class Reading:
    """The best interpretation of an answer and whether it can be taken as it is."""

    best: Interpretation | None
    strong: bool
    weak: bool
    others: tuple[Interpretation, ...] = ()

    @classmethod
    def of(
        cls, interpretations: Sequence[Interpretation], strong: float, weak: float, margin: float
    ) -> Reading:
        if not interpretations:
            return cls(None, strong=False, weak=False)
        best, *others = interpretations
        lead = best.confidence - (others[0].confidence if others else 0.0)
        is_strong = best.confidence >= strong and lead >= margin
        # A tie is no basis for a guess to confirm: which of the two would be asked is arbitrary.
        is_weak = not is_strong and best.confidence >= weak and lead >= TIE
        return cls(best, strong=is_strong, weak=is_weak, others=tuple(others))


# Readings closer than this are tied.
TIE = 0.02


@dataclass(frozen=True)
class Thresholds:
    strong: float = 0.85
    # Below it, guesses from garbled lines were more often wrong than right (make eval, seed 1:
    # "Aferata no Quimém de Tomeon." read 0.61 as another resident, "Dominícius do Finko Maddo
    # Dois." 0.64 as the right one).
    weak: float = 0.62
    margin: float = 0.08


# The intent is one of two and not a safety matter (the resident hears it and decides): a lower
# bar with a wide lead ("Vimita." is a visit at 0.83 against 0.54). Measured on `make eval` output.
INTENT_THRESHOLDS = Thresholds(strong=0.8, weak=0.62, margin=0.2)


class Understanding:
    """The closed sets for one directory vocabulary (rebuilt when the vocabulary changes)."""

    def __init__(
        self,
        answers: Answers,
        residents: Iterable[ResidentChoice],
        apartments: Iterable[str],
        thresholds: Thresholds | None = None,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.residents = {resident.key: resident for resident in residents}
        # Apartment number -> the blocks/towers that have it (a number in two blocks names neither).
        self._blocks: dict[str, set[str]] = {}
        # Apartment number -> its residents (of every block that has the number).
        self._living: dict[str, list[ResidentChoice]] = {}
        for resident in self.residents.values():
            self._blocks.setdefault(resident.apartment.lstrip("0"), set()).add(resident.block)
            self._living.setdefault(resident.apartment.lstrip("0"), []).append(resident)
        self._intent = _meaning_set(answers.intent, FILLERS)
        self._confirmation = _meaning_set(answers.confirmation, ())
        self._decision = _meaning_set(answers.decision, ())
        self._everyone = _resident_set(self.residents.values())
        self._by_apartment: dict[str, ClosedSet] = {}
        apartments = list(apartments)
        self._numbers = {number.lstrip("0") for number in apartments}
        self._apartments = ClosedSet(
            [Choice(number, tuple(spoken_forms(number))) for number in dict.fromkeys(apartments)],
            ignore=APARTMENT_FILLERS,
        )

    def _read(self, interpretations: list[Interpretation]) -> Reading:
        limits = self.thresholds
        return Reading.of(interpretations, limits.strong, limits.weak, limits.margin)

    def intent(self, text: str) -> Reading:
        limits = INTENT_THRESHOLDS
        return Reading.of(self._intent.interpret(text), limits.strong, limits.weak, limits.margin)

    def confirmation(self, text: str) -> Reading:
        """ "yes" or "no" to a confirmation question."""
        return self._read(self._confirmation.interpret(text))

    def decision(self, text: str) -> Reading:
        """The resident's decision: "authorize", "deny" or "front_desk" (the answers file's meanings)."""
        return self._read(self._decision.interpret(text))

    def apartment(self, text: str, exclude: Iterable[str] = ()) -> Reading:
        return self._read(self._apartments.interpret(text, exclude=exclude))

    def resident(self, text: str, apartment: str | None = None, exclude: Iterable[str] = ()) -> Reading:
        """A resident's name: of `apartment` first (when it has a strong or weak reading), then anyone.

        The reading's value is a `ResidentChoice.key` ("501/Renata Oliveira").
        """
        if apartment:
            own = self._read(self._of_apartment(apartment).interpret(text, exclude=exclude))
            if own.strong or own.weak:
                return own
        return self._read(self._everyone.interpret(text, exclude=exclude))

    def fragment_of_apartment(self, number: str) -> bool:
        """A number no apartment has and shorter than every apartment number: a piece of one the
        recogniser kept ("2" from "torre dois" or "duzentos e dois", make eval), not an answer."""
        if not self._numbers or not self.unknown_apartment(number):
            return False
        return len(number.lstrip("0")) < min(len(known) for known in self._numbers)

    def unknown_apartment(self, number: str) -> bool:
        """True when the directory's apartments are known and `number` is none of them."""
        return bool(self._numbers) and number.lstrip("0") not in self._numbers

    def option(self, text: str, options: Sequence[tuple[str, str]]) -> Reading:
        """Which of the residents read out ("Luiza Mendes do 201 ou Luísa Mendes do 202?") the
        answer names: each (name, apartment) by its name's forms, the apartment's spoken forms,
        and both together. The reading's value is the option's index ("0", "1"...).

        A small set built per answer: names that sound alike are told apart by the apartment.
        """
        choices = []
        for index, (name, apartment) in enumerate(options):
            names = resident_forms(ResidentChoice(name, apartment))
            numbers = spoken_forms(apartment)
            both = [f"{form} {number}" for form in names[:1] for number in numbers]
            choices.append(Choice(str(index), (*names, *numbers, *both)))
        matcher = ClosedSet(choices, ignore=OPTION_FILLERS, coverage_share=NAME_COVERAGE_SHARE)
        return self._read(matcher.interpret(text))

    def residents_of(self, number: str) -> list[ResidentChoice]:
        """The residents living at `number`, in every block that has it."""
        return list(self._living.get(number.lstrip("0"), []))

    def names_one_apartment(self, number: str) -> bool:
        """False when residents live at `number` in more than one block or tower."""
        return len(self._blocks.get(number.lstrip("0"), set())) <= 1

    def _of_apartment(self, apartment: str) -> ClosedSet:
        if apartment not in self._by_apartment:
            own = [resident for resident in self.residents.values() if _same(resident.apartment, apartment)]
            self._by_apartment[apartment] = _resident_set(own)
        return self._by_apartment[apartment]


def _same(first: str, second: str) -> bool:
    return first.lstrip("0") == second.lstrip("0")


def _meaning_set(meanings: dict[str, list[str]], ignore: Iterable[str]) -> ClosedSet:
    return ClosedSet(
        [Choice(meaning, tuple(phrases)) for meaning, phrases in meanings.items()], ignore=ignore
    )


def _resident_set(residents: Iterable[ResidentChoice]) -> ClosedSet:
    return ClosedSet(
        [Choice(resident.key, resident_forms(resident)) for resident in residents],
        ignore=NAME_FILLERS,
        coverage_share=NAME_COVERAGE_SHARE,
        ordered=False,
    )


def resident_forms(resident: ResidentChoice) -> tuple[str, ...]:
    """What a resident answers to: full name, aliases, every run of its words, first + last."""
    words = name_words(resident.name)
    forms = [resident.name, *resident.aliases]
    if words:  # every run of whole words ("joao pedro", "pedro", "pedro silva"), and first + last
        forms += [
            " ".join(words[start:end])
            for start in range(len(words))
            for end in range(start + 1, len(words) + 1)
        ]
        forms.append(f"{words[0]} {words[-1]}")
    return tuple(dict.fromkeys(form for form in forms if form.strip()))
