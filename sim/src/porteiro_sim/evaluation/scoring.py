"""Scoring: what each call achieved, how well each kind of answer was recognised, and the totals.

A call reached the right resident when the PBX simulator was asked to call the persona's
target (the click-to-call destination) and the visitor then heard the outcome of a resident's
decision. It reached a wrong resident when a click-to-call named another destination.
Recognition compares each line the caller said with what the gateway recognised (its TURN
spans' transcripts): a slot is heard when one of its forms appears in the transcript, and
word error rate is counted after digits are written as words.

A line is cut short when the gateway declared an end of speech (a TURN span's SPEECH_ENDED
event) while the line's voiced audio was still being sent: after the caller began it and
before its last voiced frame went out. Its audio then reached the recogniser as two or more
turns (or lost its end, when the rest was too short to recognise).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from porteiro_common import stages
from porteiro_common.ptbr import plain
from porteiro_sim.evaluation.numbers import digits_as_words
from porteiro_sim.evaluation.personas import DELIVERY, FRONT_DESK, NO, YES, Persona
from porteiro_sim.evaluation.phrasing import SLOT_KINDS, VISITOR_NAME, Utterance
from porteiro_sim.report import SpanRecord
from porteiro_sim.script import CallerTurn

DECISION_OUTCOMES = {
    YES: "visitor_authorized_{intent}",
    NO: "visitor_denied",
    FRONT_DESK: "visitor_left_at_front_desk",
}
RESIDENT_DECISION_OUTCOMES = frozenset(
    {
        "visitor_authorized_delivery",
        "visitor_authorized_visit",
        "visitor_denied",
        "visitor_left_at_front_desk",
    }
)
INTENT_OF_SLOT = {"delivery": "delivery", "visit": "visit", "DELIVERY": "delivery", "VISIT": "visit"}


# ---- text comparison ----


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) between two sentences, compared plain with digits as words."""
    ref, hyp = _words(reference), _words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1], len(ref)


def words_found(reference: str, hypothesis: str) -> int:
    """Words of the reference recognised, in order (longest common subsequence, compared as word_errors)."""
    ref, hyp = _words(reference), _words(hypothesis)
    previous = [0] * (len(hyp) + 1)
    for ref_word in ref:
        current = [0]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(previous[j - 1] + 1 if ref_word == hyp_word else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def _words(text: str) -> list[str]:
    return plain(digits_as_words(plain(text))).split()


_SPACED_DIGITS = re.compile(r"\b(\d)(?: (?=\d\b))")


def slot_heard(forms: Iterable[str], transcript: str) -> bool:
    """Whether one of a slot's forms is in the transcript (as whole words; "5 0 1" counts as "501")."""
    said = plain(transcript)
    versions = {said, _SPACED_DIGITS.sub(r"\1", said), plain(digits_as_words(said))}
    return any(f" {form} " in f" {version} " for form in forms if form for version in versions)


# ---- one call ----


@dataclass
class LineScore:
    """One line said, as recognised."""

    leg: str
    question: str
    said: str
    heard: str | None  # None: no transcript found for it
    slots: dict[str, bool]  # slot kind -> heard
    phrasing: str
    latency: float | None
    errors: int = 0
    words: int = 0
    cuts: int = 0  # ends of speech the gateway declared while the line was still being sent
    end_wait: float | None = None  # the line's last voiced frame -> the gateway's end of speech (s)
    started: float | None = None  # wall-clock seconds: the line began, its last voiced frame went out
    ended: float | None = None

    @property
    def cut_short(self) -> bool:
        return self.cuts > 0


@dataclass
class CallScore:
    index: int
    persona: Persona
    session_id: str
    reached_right_resident: bool
    reached_wrong_resident: bool
    destinations: list[str]
    intent_heard: str | None  # what the concierge made of the intent ("delivery"/"visit")
    visitor_name_heard: str | None  # the visitor's name as the system said it (confirmation, briefing)
    resident_named: str | None  # the resident the system said it would call
    visitor_outcome: str | None
    expected_outcome: str
    used_keypad: bool
    resident_used_keypad: bool
    visitor_turns: int
    lines: list[LineScore]
    unidentified_replies: int
    seconds: float
    error: str | None = None
    timeline: list[str] = field(default_factory=list)  # the conversation, both legs (sim.timeline)
    system_sentences: list[str] = field(default_factory=list)  # what the system said, exactly (its spans)

    @property
    def right_intent(self) -> bool:
        return self.intent_heard == self.persona.intent

    @property
    def right_resident_and_intent(self) -> bool:
        return self.reached_right_resident and self.right_intent

    @property
    def visitor_name_right(self) -> bool:
        return plain(self.visitor_name_heard or "") == plain(self.persona.visitor_name)

    @property
    def said_own_name(self) -> bool:
        """The caller said its name (asked it: a courier is not, by default)."""
        return any(VISITOR_NAME in line.slots for line in self.lines if line.leg == "visitor")

    @property
    def decision_right(self) -> bool:
        return self.visitor_outcome == self.expected_outcome


def expected_outcome(persona: Persona) -> str:
    return DECISION_OUTCOMES[persona.decision].format(intent=persona.intent)


def score_lines(
    said: list[tuple[Utterance, str, CallerTurn]],
    transcripts: list[str | None],
    leg: str,
    speech_ends: Sequence[float] = (),
    wall_offset: float = 0.0,
) -> list[LineScore]:
    """Lines (utterance, question, turn) with the transcript aligned to each (None when unknown).

    `speech_ends`: when the gateway declared the leg's ends of speech, on the caller's
    (monotonic) clock; `wall_offset` turns that clock into wall-clock time for the report.
    """
    lines = []
    for (utterance, question, turn), heard in zip(said, transcripts, strict=True):
        latency = turn.latency
        started, ended = turn.started + wall_offset, turn.ended + wall_offset
        line = LineScore(leg, question, utterance.text, None, {}, utterance.phrasing, latency)
        line.started, line.ended = started, ended
        if not utterance.keyed:
            line.heard = heard
            line.slots = {
                kind: heard is not None and slot_heard(forms, heard)
                for kind, forms in utterance.slots.items()
            }
            line.errors, line.words = word_errors(utterance.text, heard) if heard is not None else (0, 0)
            line.cuts = ends_while_speaking(turn, speech_ends)
            line.end_wait = end_of_speech_wait(turn, speech_ends)
        lines.append(line)
    return lines


def speech_ends(spans: list[SpanRecord], wall_offset: float) -> list[float]:
    """When the gateway declared each end of speech of these TURN spans, on the caller's clock."""
    ends = (span.event_ns(stages.SPEECH_ENDED) for span in spans)
    return sorted(end / 1e9 - wall_offset for end in ends if end is not None)


END_WAIT_LIMIT = 3.0  # an end later than this after the line is not its own (max utterance aside)


def end_of_speech_wait(turn: CallerTurn, ends: Iterable[float]) -> float | None:
    """Seconds from the line's last voiced frame to the first end of speech declared after it."""
    waits = [end - turn.ended for end in ends if turn.ended <= end <= turn.ended + END_WAIT_LIMIT]
    return min(waits) if turn.pcm and waits else None


def ends_while_speaking(turn: CallerTurn, ends: Iterable[float]) -> int:
    """Ends of speech declared after the line began and before its last voiced frame went out."""
    if not turn.pcm:
        return 0  # keys, not speech
    return sum(1 for end in ends if turn.started < end < turn.ended)


def align_transcripts(
    turns: list[CallerTurn], spans: list[SpanRecord], wall_offset: float
) -> list[str | None]:
    """The gateway's transcript for each spoken turn, by time: TURN spans that began while it was said.

    Turns carry monotonic times, spans wall-clock nanoseconds: `wall_offset` converts.
    """
    heard: list[str | None] = [None] * len(turns)
    for span in sorted(spans, key=lambda item: item.start_ns):
        start = span.start_ns / 1e9 - wall_offset
        best = min(
            (index for index, turn in enumerate(turns) if turn.pcm),
            key=lambda index: abs(turns[index].started - start),
            default=None,
        )
        if best is None or abs(turns[best].started - start) > 2.5:
            continue
        text = str(span.attributes.get("porteiro.transcript", ""))
        heard[best] = text if heard[best] is None else f"{heard[best]} {text}".strip()
    return heard


def leg_turn_spans(spans: list[SpanRecord], session_id: str, leg: str) -> list[SpanRecord]:
    return [
        span
        for span in spans
        if span.name == "TURN"
        and span.attributes.get("porteiro.session_id") == session_id
        and span.attributes.get("porteiro.leg") == leg
    ]


def system_sentences(spans: list[SpanRecord], trace_ids: set[str]) -> list[str]:
    """The sentences the speech service synthesized for this call, in order (SYNTHESIS spans' text)."""
    said = [span for span in spans if span.trace_id in trace_ids and span.name == "SYNTHESIS"]
    return [str(span.attributes.get("text", "")) for span in sorted(said, key=lambda span: span.start_ns)]


# Prompts that carry the visitor's name and the intent as the system understood them.
NAMING_PROMPTS = {
    "confirm_delivery": DELIVERY,
    "confirm_delivery_no_name": DELIVERY,
    "resident_brief_delivery": DELIVERY,
    "confirm_visit": "visit",
    "confirm_visit_no_name": "visit",
    "resident_brief_visit": "visit",
}


def understood(read: list[tuple[str, dict[str, str]]]) -> tuple[str | None, str | None, str | None]:
    """(intent, visitor name, resident) as the system last said them, from its sentences read back."""
    intent = name = resident = None
    for key, values in read:
        if key in NAMING_PROMPTS:
            intent = NAMING_PROMPTS[key]
            name = values.get("visitor_name", name)
            resident = values.get("resident_name", resident)
    return intent, name, resident


def last_slot(spans: list[SpanRecord], trace_ids: set[str], slot: str) -> str | None:
    """The last value the concierge extracted for a slot in this call (INTENT_EXTRACTION spans)."""
    values = [
        (span.start_ns, str(span.attributes[f"porteiro.slot.{slot}"]))
        for span in spans
        if span.trace_id in trace_ids
        and span.name == "INTENT_EXTRACTION"
        and f"porteiro.slot.{slot}" in span.attributes
    ]
    return max(values)[1] if values else None


# ---- the run ----


@dataclass
class Rate:
    count: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.count / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.count}/{self.total} ({self.percent:.0f}%)"

    def as_dict(self) -> dict:
        return {"count": self.count, "total": self.total, "percent": round(self.percent, 1)}


@dataclass
class Summary:
    calls: int
    right_resident: Rate
    right_resident_and_intent: Rate
    right_intent: Rate
    visitor_name_right: Rate
    decision_right: Rate
    keypad: Rate
    resident_keypad: Rate
    wrong_resident: Rate
    median_visitor_turns: float
    latency_p50: float | None
    latency_p95: float | None
    word_error_rate: float | None
    cut_short: Rate = field(default_factory=lambda: Rate(0, 0))  # spoken lines the gateway cut
    cut_short_by_question: dict[str, Rate] = field(default_factory=dict)
    end_wait_p50: float | None = None  # last voiced frame -> end of speech declared
    end_wait_p95: float | None = None
    recognition: dict[str, Rate] = field(default_factory=dict)  # slot kind -> heard
    recognition_wer: dict[str, float] = field(default_factory=dict)  # question kind -> WER
    phrasings: dict[str, Rate] = field(default_factory=dict)  # phrasing -> lines whose slots were all heard
    voices: dict[str, Rate] = field(default_factory=dict)  # visitor's voice -> slots heard
    unaligned_lines: int = 0
    unidentified_replies: int = 0
    seconds_per_call: float = 0.0


def summarize(scores: list[CallScore]) -> Summary:
    n = len(scores)
    lines = [line for score in scores for line in score.lines]
    spoken = [line for line in lines if line.heard is not None]
    voiced = [line for line in lines if not line.said.startswith("#")]
    waits = sorted(line.end_wait for line in voiced if line.end_wait is not None)
    latencies = sorted(line.latency for line in lines if line.leg == "visitor" and line.latency is not None)
    words = sum(line.words for line in spoken)
    named = [score for score in scores if score.said_own_name]
    return Summary(
        calls=n,
        right_resident=Rate(sum(s.reached_right_resident for s in scores), n),
        right_resident_and_intent=Rate(sum(s.right_resident_and_intent for s in scores), n),
        right_intent=Rate(sum(s.right_intent for s in scores), n),
        visitor_name_right=Rate(sum(s.visitor_name_right for s in named), len(named)),
        decision_right=Rate(sum(s.decision_right for s in scores), n),
        keypad=Rate(sum(s.used_keypad for s in scores), n),
        resident_keypad=Rate(sum(s.resident_used_keypad for s in scores), n),
        wrong_resident=Rate(sum(s.reached_wrong_resident for s in scores), n),
        median_visitor_turns=statistics.median([s.visitor_turns for s in scores]) if scores else 0.0,
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        word_error_rate=sum(line.errors for line in spoken) / words if words else None,
        cut_short=Rate(sum(line.cut_short for line in voiced), len(voiced)),
        cut_short_by_question=_cut_rates(voiced),
        end_wait_p50=percentile(waits, 50),
        end_wait_p95=percentile(waits, 95),
        recognition=_slot_rates(spoken),
        recognition_wer=_wer_by_question(spoken),
        phrasings=_phrasing_rates(spoken),
        voices=_voice_rates(scores),
        unaligned_lines=sum(1 for line in lines if line.heard is None and not line.said.startswith("#")),
        unidentified_replies=sum(s.unidentified_replies for s in scores),
        seconds_per_call=statistics.mean([s.seconds for s in scores]) if scores else 0.0,
    )


def percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile of sorted values (None when there are none)."""
    if not values:
        return None
    rank = max(1, -(-len(values) * percent // 100))
    return values[int(rank) - 1]


def _slot_rates(lines: list[LineScore]) -> dict[str, Rate]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        for kind, heard in line.slots.items():
            counts[kind][0] += heard
            counts[kind][1] += 1
    return {kind: Rate(*counts[kind]) for kind in SLOT_KINDS if kind in counts}


def _wer_by_question(lines: list[LineScore]) -> dict[str, float]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        totals[line.question][0] += line.errors
        totals[line.question][1] += line.words
    return {question: errors / words for question, (errors, words) in totals.items() if words}


def _cut_rates(lines: list[LineScore]) -> dict[str, Rate]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        counts[f"{line.leg}:{line.question}"][0] += line.cut_short
        counts[f"{line.leg}:{line.question}"][1] += 1
    return {question: Rate(*counts[question]) for question in sorted(counts)}


def _voice_rates(scores: list[CallScore]) -> dict[str, Rate]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for score in scores:
        for line in score.lines:
            if line.leg == "visitor" and line.heard is not None:
                counts[score.persona.visitor_voice][0] += sum(line.slots.values())
                counts[score.persona.visitor_voice][1] += len(line.slots)
    return {voice: Rate(*counts[voice]) for voice in sorted(counts)}


def _phrasing_rates(lines: list[LineScore]) -> dict[str, Rate]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        if line.slots:
            counts[line.phrasing][0] += all(line.slots.values())
            counts[line.phrasing][1] += 1
    return {phrasing: Rate(*counts[phrasing]) for phrasing in sorted(counts)}


def intent_of(value: str | None) -> str | None:
    """The concierge's intent slot as recorded in spans ("Intent.DELIVERY", "delivery"...) -> DELIVERY/VISIT."""
    if not value:
        return None
    word = plain(value).split()[-1] if plain(value) else ""
    return {"delivery": DELIVERY, "entrega": DELIVERY, "visit": "visit", "visita": "visit"}.get(word)
