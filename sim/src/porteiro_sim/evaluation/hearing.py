"""Identifying the system's sentences on the wire, including those that carry what it heard.

`porteiro_sim.sentences` finds a sentence by stretches of its exact samples, so it needs the
sentence's exact text (and the speech service's cache, which gives every request for that text
the same samples). A sentence that carries what the system heard ("Não encontrei <misheard
name> entre os moradores...") cannot be known in advance. But synthesis starts every sentence
the same way: the audio of a prompt's fixed beginning ("Não encontrei ", "Encontrei mais de um
morador: ") is the same whatever follows — to within the speech service's streamed resampling,
which differs by a sample value or two from one synthesis to the next. So each such prompt is
synthesized twice with different values, the beginning they share is kept, and a reply that
starts like it (normalised cross-correlation) is that prompt.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass

import numpy as np

from porteiro_common.audiosocket import FRAME_BYTES
from porteiro_sim import audio
from porteiro_sim.sentences import EARLY, Sentence, SentenceMatcher, add_spoken, window_start
from porteiro_sim.speech import Voice

log = logging.getLogger(__name__)

# Fillings of every placeholder, short and long (the value's length can change the sentence's
# intonation from early on): where their audio parts is where the values begin.
FILLINGS = (
    {"name": "Xavier Quintela", "number": "909"},
    {"name": "Bernardo Pimenta de Albuquerque", "number": "1717"},
    {"name": "Ana", "number": "2"},
)
MIN_BEGINNING_SECONDS = 0.3
SAME_FRAME = 0.05  # two 20 ms frames are the same sound when their difference is this small (RMS ratio)
SAME_FRAME_FLOOR = 8.0  # ... or smaller than this (RMS, sample values): pauses differ by rounding only
MIN_CORRELATION = 0.95
PARTIAL = "…"  # ends the text of a sentence known only from its beginning


@dataclass(frozen=True)
class Beginning:
    key: str
    text: str  # the fixed words ("Não encontrei ")
    samples: np.ndarray  # their audio (float), up to where the values begin


def _filled(template: str, filling: dict[str, str]) -> str:
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{name: filling["number" if name == "apartment" else "name"] for name in fields})


def _fixed_start(template: str) -> str:
    literal = next(iter(string.Formatter().parse(template)), ("", None, None, None))[0]
    return literal if "{" in template else ""


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)


async def prompt_beginnings(voice: Voice, prompts: dict[str, str]) -> list[Beginning]:
    """The audio beginnings of every prompt that starts with fixed words and then a value."""
    beginnings: list[Beginning] = []
    for key, template in prompts.items():
        fixed = _fixed_start(template)
        if len(fixed.strip()) < 4:
            continue
        try:
            first, *others = [audio.trim_silence(await voice.speak(_filled(template, f))) for f in FILLINGS]
        except Exception as error:  # one prompt the voice refuses must not stop the others
            log.warning("cannot synthesize %s: %s", key, error)
            continue
        # The last shared frame already leans towards the value: left out.
        shared = min(shared_frames(first, other) for other in others) - 1
        if shared * FRAME_BYTES >= MIN_BEGINNING_SECONDS * 16000:
            beginnings.append(Beginning(key, fixed, _samples(first[: shared * FRAME_BYTES])))
    return beginnings


def shared_frames(first: bytes, second: bytes) -> int:
    """How many 20 ms frames the two start with that sound the same."""
    a, b = audio.frames_of(first), audio.frames_of(second)
    for index, (frame_a, frame_b) in enumerate(zip(a, b, strict=False)):
        x, y = _samples(frame_a), _samples(frame_b)
        level = float(np.sqrt(np.mean(x * x)))
        if float(np.sqrt(np.mean((x - y) ** 2))) > max(SAME_FRAME * level, SAME_FRAME_FLOOR):
            return index
    return min(len(a), len(b))


def correlation_peak(received: np.ndarray, probe: np.ndarray) -> float:
    """Highest normalised cross-correlation of `probe` anywhere in `received` (1.0: the same sound)."""
    return best_alignment(received, probe)[0]


def best_alignment(received: np.ndarray, probe: np.ndarray) -> tuple[float, int]:
    """(highest normalised cross-correlation of `probe` in `received`, the sample where it starts)."""
    if len(received) < len(probe) or not len(probe):
        return 0.0, -1
    size = 1 << (len(received) + len(probe) - 1).bit_length()
    products = np.fft.irfft(np.fft.rfft(received, size) * np.conj(np.fft.rfft(probe, size)), size)
    products = products[: len(received) - len(probe) + 1]
    energy = np.concatenate(([0.0], np.cumsum(received * received)))
    window_norms = np.sqrt(np.maximum(energy[len(probe) :] - energy[: -len(probe)], 0.0))
    correlations = products / (np.linalg.norm(probe) * window_norms + 1e-9)
    start = int(np.argmax(correlations))
    return float(correlations[start]), start


class ReplyMatcher(SentenceMatcher):
    """Whole sentences first; then sentences cut short; then prompts known by their beginning.

    Sentences that differ only by their last words ("Apartamento 401?", "Apartamento 402?": the
    same length, so both windows fall in the shared words) are all found where one was said:
    of those that start at the same sample, the one whose samples agree most with the reply's is
    the one said (all of them when they agree as much: a sentence cut before its difference).
    """

    def __init__(self, beginnings: list[Beginning]) -> None:
        super().__init__()
        self.beginnings = beginnings
        self._voiced: dict[str, tuple[int, bytes]] = {}  # text -> (its early window's offset, its audio)

    def add(self, sentence: Sentence, pcm: bytes) -> None:
        super().add(sentence, pcm)
        voiced = audio.trim_silence(pcm)
        self._voiced.setdefault(sentence.text, (window_start(voiced, EARLY), voiced))

    def identify(self, pcm: bytes, beginnings_only: bool = False) -> list[Sentence]:
        found = self._most_alike(pcm, self.locate(pcm, beginnings_only))
        if beginnings_only:
            return [sentence for _, sentence in found]
        if not found:
            found = self._most_alike(pcm, self.locate(pcm, beginnings_only=True))
        # A prompt known by its beginning may follow a whole sentence with no pause between them:
        # "Um momento, por favor." (said while a slow turn is awaited), then at once "Não encontrei
        # Amareola entre os moradores. Qual é o apartamento e o nome do morador?". Found only when
        # nothing else was, the caller took the reply for the holding sentence and waited in
        # silence for 24 s (make eval, seed 51: 2 calls of 40 on the sample condominium). Not when
        # a sentence found is that prompt itself ("É uma visita para João Pedro Silva, do 101?"
        # starts like every "É uma visita para …"): the caller would answer the prompt it cannot
        # check instead of the sentence it heard.
        # In the order they were said: the caller answers the last question, and a question
        # said after a prompt known by its beginning ("Não encontrei Amareola entre os moradores."
        # then "Qual é o nome completo do morador?") is the one asked, not the beginning's
        # prompt's own (make eval, seed 101: the caller answered apartment and resident again).
        beginning = [
            (start, prompt)
            for start, prompt in self._by_beginning(pcm)
            if not any(sentence.key == prompt.key for _, sentence in found)
        ]
        return [sentence for _, sentence in sorted(found + beginning, key=lambda item: item[0])]

    def _by_beginning(self, pcm: bytes) -> list[tuple[int, Sentence]]:
        """The prompt whose fixed beginning is heard somewhere in `pcm`, if any, with the sample
        where it starts."""
        if not self.beginnings:
            return []
        received = _samples(pcm)
        matches = []
        for item in self.beginnings:
            correlation, start = best_alignment(received, item.samples)
            if correlation >= MIN_CORRELATION:
                matches.append((start, item))
        if not matches:
            return []
        # Prompts sharing a beginning ("Não encontrei "): the longest one that matches is the most specific.
        start, best = max(matches, key=lambda match: len(match[1].samples))
        return [(start, Sentence(best.key, best.text.rstrip() + PARTIAL))]

    def _most_alike(self, pcm: bytes, located: list[tuple[int, Sentence]]) -> list[tuple[int, Sentence]]:
        """Of the sentences found starting at the same sample, those agreeing most with `pcm`,
        each with that sample."""
        received = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        by_start: dict[int, list[tuple[int, Sentence]]] = {}
        for position, sentence in located:
            early, voiced = self._voiced.get(sentence.text, (0, b""))
            start = (position - early) // 2
            by_start.setdefault(start, []).append((_same_samples(received, voiced, start), sentence))
        kept = []
        for start, scored in sorted(by_start.items()):
            best = max(score for score, _ in scored)
            kept += [(start, sentence) for score, sentence in scored if score == best]
        return kept


def _same_samples(received: np.ndarray, voiced: bytes, start: int) -> int:
    """How many samples of `voiced`, laid at sample `start` of `received`, are the same."""
    own = np.frombuffer(voiced, dtype="<i2")
    first, last = max(start, 0), min(start + len(own), len(received))
    if last <= first:
        return 0
    return int(np.count_nonzero(received[first:last] == own[first - start : last - start]))


async def build_reply_matcher(
    voice: Voice, sentences: list[Sentence], beginnings: list[Beginning]
) -> ReplyMatcher:
    return await add_spoken(ReplyMatcher(beginnings), voice, sentences)
