"""Knowing which sentence the system said, from the audio alone.

Synthesis is deterministic (espeak-ng, and the speech service's cache), and the
gateway plays synthesized audio unchanged, so a sentence's samples appear verbatim
in what the caller receives. Given the candidate sentences (the prompts file filled
with the scenario's values) synthesized by the same speech service, a received
segment is identified by finding a stretch of each candidate's samples in it.
Anything not identified can still be transcribed.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from porteiro_common.prompts import load_prompts
from porteiro_sim import audio
from porteiro_sim.speech import Voice

log = logging.getLogger(__name__)

WINDOW_BYTES = 640  # 40 ms: long enough to be unique, short enough for any sentence
EARLY, LATE = 0.25, 0.75  # where a sentence's two windows start, as fractions of its voiced audio


def window_start(voiced: bytes, fraction: float) -> int:
    return int(len(voiced) * fraction) // 2 * 2


@dataclass(frozen=True)
class Sentence:
    key: str  # prompt key ("greeting", "visitor_authorized_delivery"...) or "" when unknown
    text: str


class SentenceMatcher:
    def __init__(self) -> None:
        # (early window, late window, sentence)
        self._entries: list[tuple[bytes, bytes, Sentence]] = []
        self._known: set[str] = set()

    def add(self, sentence: Sentence, pcm: bytes) -> None:
        voiced = audio.trim_silence(pcm)
        if sentence.text in self._known or len(voiced) < 4 * WINDOW_BYTES:
            return
        # Two windows (early and late): sentences sharing a beginning are told apart by
        # the late one; a sentence cut short can still be found by the early one.
        early, late = (window_start(voiced, fraction) for fraction in (EARLY, LATE))
        self._entries.append(
            (voiced[early : early + WINDOW_BYTES], voiced[late : late + WINDOW_BYTES], sentence)
        )
        self._known.add(sentence.text)

    def identify(self, pcm: bytes, beginnings_only: bool = False) -> list[Sentence]:
        """The candidate sentences found whole in `pcm`, in the order they occur.

        A sentence counts when both its early and its late stretch are there, so
        sentences sharing a beginning ("Desculpe, ...") are told apart. With
        `beginnings_only`, the early stretch is enough (a sentence cut short is
        still found; one split in two is reported once, for its first part).
        """
        return [sentence for _, sentence in self.locate(pcm, beginnings_only)]

    def locate(self, pcm: bytes, beginnings_only: bool = False) -> list[tuple[int, Sentence]]:
        """`identify`, each sentence with where its early stretch is in `pcm` (byte offset)."""
        found = []
        for early, late, sentence in self._entries:
            position = _find_even(pcm, early)
            if position >= 0 and (beginnings_only or _find_even(pcm, late) >= 0):
                found.append((position, sentence))
        return sorted(found, key=lambda item: item[0])

    def __len__(self) -> int:
        return len(self._entries)


M = TypeVar("M", bound=SentenceMatcher)


def _find_even(haystack: bytes, needle: bytes) -> int:
    position = haystack.find(needle)
    while position >= 0 and position % 2:
        position = haystack.find(needle, position + 1)
    return position


class PromptKeys:
    """Which prompt a filled-in sentence came from ("Não encontrei X..." -> "no_resident_anywhere")."""

    def __init__(self, prompts_file: str | None = None) -> None:
        prompts = load_prompts(prompts_file)
        condominium = prompts.get("condominium_name", "")
        self._patterns = []
        for key, template in prompts.items():
            if key == "condominium_name":
                continue
            pattern, literal_chars = "", 0
            for literal, name, _, _ in string.Formatter().parse(template):
                pattern += re.escape(literal)
                literal_chars += len(literal)
                if name == "condominium_name":
                    pattern += re.escape(condominium)
                elif name is not None:
                    pattern += ".+?"
            self._patterns.append((re.compile(pattern + "$", re.DOTALL), key, literal_chars))
        # Most fixed text first: the most specific match wins.
        self._patterns.sort(key=lambda item: -item[2])

    def key_of(self, text: str) -> str:
        return next((key for pattern, key, _ in self._patterns if pattern.match(text)), "")


def prompt_sentences(values: Mapping[str, str], prompts_file: str | None = None) -> list[Sentence]:
    """Every prompt whose placeholders the scenario can fill, filled."""
    prompts = load_prompts(prompts_file)
    filled = {**values, "condominium_name": prompts.get("condominium_name", "")}
    sentences = []
    for key, template in prompts.items():
        if key == "condominium_name":
            continue
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        if fields <= filled.keys():
            sentences.append(Sentence(key, template.format(**filled)))
    return sentences


async def build_matcher(voice: Voice, sentences: list[Sentence]) -> SentenceMatcher:
    return await add_spoken(SentenceMatcher(), voice, sentences)


async def add_spoken(matcher: M, voice: Voice, sentences: list[Sentence]) -> M:
    """Add each sentence as `voice` speaks it to `matcher`; returns the matcher."""
    for sentence in sentences:
        try:
            matcher.add(sentence, await voice.speak(sentence.text))
        except Exception as error:  # one sentence the voice refuses must not stop the others
            log.warning("cannot synthesize candidate %s: %s", sentence.key, error)
    return matcher
