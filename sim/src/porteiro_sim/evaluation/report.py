"""The evaluation's report: a text summary for people and a JSON document for tools."""

from __future__ import annotations

import dataclasses
from typing import Any

from porteiro_sim.evaluation.scoring import CallScore, Rate, Summary

RIGHT_RESIDENT_LINE = "calls reaching the right resident: {rate}"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def format_summary(summary: Summary, settings: dict[str, Any]) -> str:
    lines = [
        "== Porteiro voice evaluation",
        "   " + ", ".join(f"{key} {value}" for key, value in settings.items()),
        RIGHT_RESIDENT_LINE.format(rate=summary.right_resident),
        f"calls reaching the right resident with the right intent: {summary.right_resident_and_intent}",
        f"intent understood: {summary.right_intent}",
        f"visitor names right (of the callers who said it): {summary.visitor_name_right}",
        f"resident's decision reached the visitor: {summary.decision_right}",
        f"calls that needed the keypad (visitor): {summary.keypad}",
        f"calls where the resident used the keys: {summary.resident_keypad}",
        f"calls reaching a wrong resident: {summary.wrong_resident}",
        f"visitor turns per call (median): {summary.median_visitor_turns:g}",
        f"turn latency (end of speech -> reply): p50 {_ms(summary.latency_p50)}, p95 {_ms(summary.latency_p95)}",
        f"word error rate (digits as words): {_percent(summary.word_error_rate)}",
        f"utterances cut short (end of speech declared while still speaking): {summary.cut_short}",
        f"end of speech declared after the caller's last voiced frame: p50 {_ms(summary.end_wait_p50)}, "
        f"p95 {_ms(summary.end_wait_p95)}",
        f"seconds per call (mean): {summary.seconds_per_call:.1f}",
        "",
        "Recognition per slot (the slot's value found in what the gateway recognised):",
    ]
    lines += [f"   {kind:<13} {rate}" for kind, rate in summary.recognition.items()] or ["   (no lines)"]
    lines.append("Word error rate per question answered:")
    lines += [f"   {question:<22} {_percent(wer)}" for question, wer in summary.recognition_wer.items()]
    cut = {question: rate for question, rate in summary.cut_short_by_question.items() if rate.count}
    if cut:
        lines.append("Utterances cut short, per question answered:")
        lines += [f"   {question:<31} {rate}" for question, rate in cut.items()]
    if summary.voices:
        lines.append("Visitor's values heard, per voice:")
        lines += [f"   {voice:<16} {rate}" for voice, rate in summary.voices.items()]
    if summary.phrasings:
        lines.append("Lines whose slots were all heard, per phrasing:")
        width = max(len(name) for name in summary.phrasings)
        lines += [f"   {name:<{width}}  {rate}" for name, rate in summary.phrasings.items()]
    if summary.unaligned_lines or summary.unidentified_replies:
        lines.append(
            f"({summary.unaligned_lines} spoken lines without a gateway transcript; "
            f"{summary.unidentified_replies} system replies not identified from their audio)"
        )
    return "\n".join(lines)


def format_call(score: CallScore) -> str:
    persona = score.persona
    target = persona.target
    where = f"{target.apartment}" + (f"/{target.block}" if target.block else "")
    verdict = "OK " if score.reached_right_resident else ("WRONG" if score.reached_wrong_resident else "miss")
    head = (
        f"[{verdict}] call {score.index + 1}: {persona.intent} by {persona.visitor_name} for "
        f"{target.resident} ({where}), voice {persona.visitor_voice}; heard {score.visitor_outcome or '-'}; "
        f"{score.visitor_turns} turns{', keypad' if score.used_keypad else ''}"
    )
    lines = [head]
    lines += [f"      {entry}" for entry in score.timeline]
    for line in score.lines:
        heard = "" if line.heard is None else f"  -> {line.heard!r}"
        cut = f"  [cut short x{line.cuts}]" if line.cuts else ""
        lines.append(f"      {line.leg[0]}:{line.question or '-':<22} {line.said!r}{heard}{cut}")
    if score.error:
        lines.append(f"      error: {score.error}")
    return "\n".join(lines)


def to_json(summary: Summary, scores: list[CallScore], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "settings": settings,
        "summary": _plain(summary),
        "calls": [_call_json(score) for score in scores],
    }


def _call_json(score: CallScore) -> dict[str, Any]:
    persona = dataclasses.asdict(score.persona)
    return {
        "index": score.index,
        "session_id": score.session_id,
        "persona": persona,
        "reached_right_resident": score.reached_right_resident,
        "reached_wrong_resident": score.reached_wrong_resident,
        "right_intent": score.right_intent,
        "visitor_name_right": score.visitor_name_right,
        "decision_right": score.decision_right,
        "destinations": score.destinations,
        "intent_heard": score.intent_heard,
        "visitor_name_heard": score.visitor_name_heard,
        "resident_named": score.resident_named,
        "visitor_outcome": score.visitor_outcome,
        "expected_outcome": score.expected_outcome,
        "used_keypad": score.used_keypad,
        "resident_used_keypad": score.resident_used_keypad,
        "visitor_turns": score.visitor_turns,
        "unidentified_replies": score.unidentified_replies,
        "seconds": round(score.seconds, 2),
        "error": score.error,
        "lines": [_plain(line) for line in score.lines],
        "timeline": score.timeline,
        "system_sentences": score.system_sentences,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Rate):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float):
        return round(value, 4)
    return value
