"""Identifying the system's sentences on the wire, including those that carry what it heard.

`porteiro_sim.sentences` finds a sentence by stretches of its exact samples, so it needs the
sentence's exact text. A sentence that carries what the system heard ("Não encontrei
<misheard name> entre os moradores...") cannot be known in advance. But speech synthesis is
deterministic and starts every sentence the same way: the samples of a prompt's fixed
beginning ("Não encontrei ", "Encontrei mais de um morador: ") are the same whatever follows.
So each such prompt is synthesized twice with different values, the common beginning is
kept, and a reply that holds it is that prompt.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass

from porteiro_sim import audio
from porteiro_sim.sentences import WINDOW_BYTES, Sentence, SentenceMatcher
from porteiro_sim.speech import Voice

log = logging.getLogger(__name__)

# Two unlikely fillings of every placeholder: where their audio parts is where the values begin.
FILLINGS = ({"name": "Xavier Quintela", "number": "909"}, {"name": "Bernardo Pimenta", "number": "717"})
MIN_PREFIX_BYTES = 3 * WINDOW_BYTES
PARTIAL = "…"  # ends the text of a sentence known only from its beginning


@dataclass(frozen=True)
class Beginning:
    key: str
    text: str  # the fixed words ("Não encontrei ")
    early: tuple[bytes, ...]  # stretches of their samples well inside the fixed words: one finds the prompt
    late: bytes  # the stretch just before the values: tells prompts sharing a beginning apart
    length: int  # bytes of samples the fillings share (longer = more specific)


def _filled(template: str, filling: dict[str, str]) -> str | None:
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    values = {name: filling["number"] if name == "apartment" else filling["name"] for name in fields}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return None


def _fixed_start(template: str) -> str:
    literal = next(iter(string.Formatter().parse(template)), ("", None, None, None))[0]
    return literal if "{" in template else ""


async def prompt_beginnings(voice: Voice, prompts: dict[str, str]) -> list[Beginning]:
    """The audio beginnings of every prompt that starts with fixed words and then a value."""
    beginnings: list[Beginning] = []
    seen: set[tuple[bytes, ...]] = set()  # beginnings shared by several prompts are kept once
    for key, template in prompts.items():
        fixed = _fixed_start(template)
        texts = [_filled(template, filling) for filling in FILLINGS]
        if len(fixed.strip()) < 4 or None in texts:
            continue
        try:
            first, second = [await voice.speak(text) for text in texts if text]
        except Exception as error:  # one prompt the voice refuses must not stop the others
            log.warning("cannot synthesize %s: %s", key, error)
            continue
        first, second = audio.trim_silence(first), audio.trim_silence(second)
        shared = _common_prefix(first, second)
        if shared < MIN_PREFIX_BYTES:
            continue
        # The last sounds before a value change with it (coarticulation): the early stretches stay clear
        # of them. Several, so that a gap in playback (synthesis streamed late) cannot hide them all.
        ends = [max(WINDOW_BYTES, shared * share // 6) // 2 * 2 for share in (2, 3, 4)]
        early = tuple(first[end - WINDOW_BYTES : end] for end in ends)
        late_end = (shared - WINDOW_BYTES // 2) // 2 * 2
        late = first[late_end - WINDOW_BYTES : late_end]
        if early + (late,) not in seen:
            seen.add(early + (late,))
            beginnings.append(Beginning(key, fixed, early, late, shared))
    return beginnings


def _common_prefix(first: bytes, second: bytes) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


class ReplyMatcher(SentenceMatcher):
    """Whole sentences first; then sentences cut short; then prompts known by their beginning."""

    def __init__(self, beginnings: list[Beginning]) -> None:
        super().__init__()
        self.beginnings = beginnings

    def identify(self, pcm: bytes, beginnings_only: bool = False) -> list[Sentence]:
        found = super().identify(pcm, beginnings_only)
        if found or beginnings_only:
            return found
        found = super().identify(pcm, beginnings_only=True)
        if found:
            return found
        matches = [
            item for item in self.beginnings if any(_find_even(pcm, window) >= 0 for window in item.early)
        ]
        if not matches:
            return []
        # The most specific beginning: its last sounds found too, then the longest.
        best = max(matches, key=lambda item: (_find_even(pcm, item.late) >= 0, item.length))
        return [Sentence(best.key, best.text.rstrip() + PARTIAL)]


def _find_even(haystack: bytes, needle: bytes) -> int:
    position = haystack.find(needle)
    while position >= 0 and position % 2:
        position = haystack.find(needle, position + 1)
    return position


async def build_reply_matcher(
    voice: Voice, sentences: list[Sentence], beginnings: list[Beginning]
) -> ReplyMatcher:
    matcher = ReplyMatcher(beginnings)
    for sentence in sentences:
        try:
            matcher.add(sentence, await voice.speak(sentence.text))
        except Exception as error:  # one sentence the voice refuses must not stop the others
            log.warning("cannot synthesize candidate %s: %s", sentence.key, error)
    return matcher
