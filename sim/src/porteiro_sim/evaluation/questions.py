"""Which question the system asked: prompt keys to kinds of question, and a fallback on transcripts.

Most sentences are identified on the wire from their exact audio (porteiro_sim.sentences),
filled with the persona's values. Sentences carrying what the system heard (a name it
misheard, the options of "Encontrei mais de um morador") cannot be synthesized beforehand:
those are transcribed and matched to the prompt whose fixed words they resemble most.
"""

from __future__ import annotations

import difflib
import re
import string

from porteiro_common.prompts import load_prompts
from porteiro_sim.evaluation import phrasing as p

# Prompt key -> the kind of question the visitor answers (phrasing.Phrasebook.answer).
VISITOR_QUESTIONS = {
    "greeting": p.GREETING,
    "ask_intent": p.ASK_INTENT,
    "confirm_intent_delivery": p.IS_DELIVERY,
    "confirm_intent_visit": p.IS_VISIT,
    "confirm_resident_delivery": p.DELIVERY_FOR,
    "confirm_resident_visit": p.VISIT_FOR,
    "ask_visitor_name": p.ASK_NAME,
    "ask_apartment": p.ASK_APARTMENT,
    "no_apartment": p.ASK_APARTMENT,
    "ask_resident": p.ASK_RESIDENT,
    "ask_resident_full_name": p.ASK_FULL_NAME,
    "ask_apartment_and_resident": p.ASK_BOTH,
    "no_resident": p.ASK_BOTH,
    "no_resident_anywhere": p.ASK_BOTH,
    "directory_unavailable": p.ASK_BOTH,
    "ambiguous_resident": p.WHICH_RESIDENT,
    "offer_keypad": p.KEYPAD,
    "keypad_no_apartment": p.KEYPAD,
    "not_understood": p.REPEAT,
}
# Sentences the visitor only listens to (statements while the call goes on).
VISITOR_STATEMENTS = frozenset(
    {
        "confirm_delivery",
        "confirm_visit",
        "confirm_delivery_no_name",
        "confirm_visit_no_name",
        "still_calling",
        "resident_answered",
        "resident_on_line",
        "retrying_call",
        "resume_collecting",
        "not_found",
        "resident_not_found_anywhere",
        "fallback",
    }
)
MIN_SIMILARITY = 0.6
# The longest confirmation: "Paula Henriques Santos, do 101?" (5 words); a name of five words
# and "do" and the number make 7, and whisper may add one.
MAX_CONFIRMATION_WORDS = 8


def visitor_question(keys: list[str], prompts: dict[str, str]) -> str | None:
    """The kind of question in a reply made of these prompts (the last question wins)."""
    for key in reversed(keys):
        if key in VISITOR_QUESTIONS:
            return VISITOR_QUESTIONS[key]
        if key in VISITOR_STATEMENTS or key.startswith(("visitor_", "resident_")):
            continue
        # A prompt this evaluation does not know (a newer concierge's): a question is a confirmation.
        if prompts.get(key, "").rstrip().endswith("?"):
            return p.CONFIRMATION
    return None


def reply_question(keys: list[str], transcript: str, guesser: PromptGuesser) -> str | None:
    """The kind of question a reply asked: by its prompts, else by its transcript's shape.

    A reply known by neither its audio nor its fixed words is answered as a confirmation when its
    transcript is a short question: every other short question the visitor hears is fixed text,
    known by its audio, while "{resident_name}, do {apartment}?" has no fixed words to be guessed
    by. The answer is then yes only when the transcript names the persona's resident or apartment
    (phrasing.Phrasebook.confirmation): repeating the last line ("Renata.") was once heard as
    "É ela." (a yes) to a wrong resident. Anything else: the last line again (REPEAT), as a caller
    not sure what was asked.
    """
    if keys:
        return visitor_question(keys, guesser.prompts)
    return p.CONFIRMATION if guesser.short_question(transcript) else p.REPEAT


class PromptGuesser:
    """The visitor's prompt a transcript most resembles, by its fixed words (placeholders left out)."""

    def __init__(self, prompts_file: str | None = None) -> None:
        self.prompts = load_prompts(prompts_file)
        condominium = self.prompts.get("condominium_name", "")
        # (fixed words, key) for each prompt whole and for each of its sentences: a reply may hold a
        # prompt's last sentence only ("Qual é o apartamento...?" after a misheard name).
        self._fixed: list[tuple[str, str]] = []
        for key, template in self.prompts.items():
            if key.startswith("resident_") or key in (
                "condominium_name",
                "ambiguous_option",
                "ambiguous_joiner",
                "unknown_visitor",
                "unknown_courier",
            ):
                continue  # not said to the visitor
            fixed = _fixed_words(template, condominium)
            pieces = [fixed, *(_sentences(fixed) if len(_sentences(fixed)) > 1 else [])]
            self._fixed += [(p.plain(piece), key) for piece in pieces if len(p.plain(piece)) >= 8]

    def keys_of(self, transcript: str) -> list[str]:
        """One key per sentence of the transcript that resembles a prompt enough, in order."""
        keys: list[str] = []
        for sentence in _sentences(transcript):
            key, score = self.best(sentence)
            if score >= MIN_SIMILARITY and (not keys or keys[-1] != key):
                keys.append(key)
        whole, score = self.best(transcript)
        if not keys and score >= MIN_SIMILARITY:
            keys.append(whole)
        return keys

    def short_question(self, transcript: str) -> bool:
        """A few words asking something: ending with "?", or most like a yes-or-no prompt."""
        words = p.plain(transcript).split()
        if not words or len(words) > MAX_CONFIRMATION_WORDS:
            return False
        if transcript.rstrip().endswith("?"):
            return True
        key, _ = self.best(transcript)
        return visitor_question([key], self.prompts) == p.CONFIRMATION

    def best(self, text: str) -> tuple[str, float]:
        said = p.plain(text)
        scored = (
            (difflib.SequenceMatcher(None, said, fixed, autojunk=False).ratio(), key)
            for fixed, key in self._fixed
        )
        score, key = max(scored, default=(0.0, ""))
        return key, score


def _fixed_words(template: str, condominium: str) -> str:
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name == "condominium_name":
            parts.append(condominium)
    return "".join(parts)


def _sentences(text: str) -> list[str]:
    return [piece for piece in re.split(r"(?<=[.?!])\s+", text.strip()) if p.plain(piece)]


class SentenceReader:
    """Reads a sentence the system said (its exact text, from the speech service's spans) back into
    its prompt key and the values it was filled with:
    "Certo, Claudia, entrega para Bruna Almeida, apartamento 402. ..." ->
    ("confirm_delivery", {"visitor_name": "Claudia", "resident_name": "Bruna Almeida", "apartment": "402"}).
    """

    def __init__(self, prompts: dict[str, str]) -> None:
        condominium = prompts.get("condominium_name", "")
        self._patterns: list[tuple[re.Pattern[str], str, int]] = []
        for key, template in prompts.items():
            if key == "condominium_name":
                continue
            pattern, fixed, named = "", 0, set()
            for literal, name, _, _ in string.Formatter().parse(template):
                pattern += re.escape(literal)
                fixed += len(literal)
                if name == "condominium_name":
                    pattern += re.escape(condominium)
                elif name and name in named:
                    pattern += f"(?P={name})"
                elif name:
                    pattern += f"(?P<{name}>.+?)"
                    named.add(name)
            self._patterns.append((re.compile(pattern + "$", re.DOTALL), key, fixed))
        self._patterns.sort(key=lambda item: -item[2])  # the most fixed text first: the most specific

    def read(self, text: str) -> tuple[str, dict[str, str]]:
        for pattern, key, _ in self._patterns:
            match = pattern.match(text.strip())
            if match:
                return key, match.groupdict()
        return "", {}
