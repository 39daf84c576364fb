"""The conversation as a timeline: who said what, when, and how long each reply took."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from porteiro_sim.script import LegRecord

Identify = Callable[[bytes], Awaitable[str]]


@dataclass
class Entry:
    at: float  # monotonic
    speaker: str
    text: str
    heard_as: str | None = None
    latency: float | None = None  # for system sentences: caller's end of speech -> first reply frame
    seconds: float = 0.0


async def describe_replies(record: LegRecord, identify: Identify | None) -> None:
    """Fill record.replies with the text of each received segment (or a placeholder)."""
    for index, segment in enumerate(record.segments):
        if index in record.replies:
            continue
        text = ""
        if identify is not None:
            try:
                text = await identify(segment.pcm)
            except Exception as error:  # a recogniser failure must not lose the timeline
                text = f"<not recognised: {type(error).__name__}>"
        record.replies[index] = text or f"<{segment.seconds:.1f} s of speech>"


async def describe_turns(record: LegRecord, recognise: Identify | None) -> None:
    """What the speech service makes of the caller's own sentences."""
    if recognise is None:
        return
    for turn in record.turns:
        if turn.pcm and turn.heard_as is None:
            try:
                turn.heard_as = await recognise(turn.pcm)
            except Exception as error:
                turn.heard_as = f"<not recognised: {type(error).__name__}>"


def entries(records: Iterable[LegRecord]) -> list[Entry]:
    items: list[Entry] = []
    for record in records:
        system = f"porteiro→{record.role}"
        for turn in record.turns:
            items.append(
                Entry(turn.ended, record.role, turn.text, turn.heard_as, seconds=turn.ended - turn.started)
            )
        previous_ends = sorted(turn.ended for turn in record.turns)
        for index, segment in enumerate(record.segments):
            before = [end for end in previous_ends if end < segment.start]
            latency = None
            if before and not any(before[-1] < s.start < segment.start for s in record.segments):
                latency = segment.start - before[-1]
            items.append(
                Entry(
                    segment.start,
                    system,
                    record.replies.get(index, ""),
                    latency=latency,
                    seconds=segment.seconds,
                )
            )
    return sorted(items, key=lambda entry: entry.at)


def format_timeline(records: list[LegRecord], origin: float | None = None) -> str:
    items = entries(records)
    if not items:
        return "(nothing was said)"
    start = (
        origin
        if origin is not None
        else min((r.client.uuid_sent_at for r in records if r.client.uuid_sent_at), default=items[0].at)
    )
    lines = []
    for item in items:
        stamp = f"{item.at - start:7.2f}s"
        latency = f"  [reply after {item.latency * 1000:.0f} ms]" if item.latency is not None else ""
        lines.append(f"{stamp}  {item.speaker:<18} {item.text}{latency}")
        if item.heard_as is not None:
            lines.append(f"{'':9}  {'':<18} (recognised as: {item.heard_as!r})")
    return "\n".join(lines)


def turn_latencies(record: LegRecord) -> list[float]:
    """Caller end of speech/keys -> first voiced reply frame, for every turn that got a reply."""
    return [turn.latency for turn in record.turns if turn.latency is not None]
