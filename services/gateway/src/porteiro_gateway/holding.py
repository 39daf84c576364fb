"""The holding sentence: "Um momento, por favor." when a turn's transcript, or a Say's audio, is late.

Recognition may be slow (speech busy with a burst of callers, a replica restarting,
a retry on another one): the caller, who just finished speaking, would hear nothing.
When a turn has no transcript `holding_after_seconds` after its end of speech, the
gateway says the holding sentence once for that turn and keeps waiting. The
sentence is synthesized at start (prompt key ``holding``, like the fallback), so it
plays even while speech is slow or down; if it is not rendered yet, the turn goes
without (counted as ``not_ready``). It is the gateway's own: the concierge hears no
PlaybackFinished for it, and the caller cannot barge into it.

A Say whose synthesis is late the same way (speech slow, or retried after a
failure) while it is the one playing starts with the holding sentence, its own
audio following when speech answers.

Counted in porteiro_gateway_holding_sentences_total, and a HOLDING_SENTENCE event
on the turn's span (on the leg's span for a late Say).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from opentelemetry.trace import Span

from porteiro_gateway import metrics
from porteiro_gateway.deps import LegDeps
from porteiro_gateway.fallback import FallbackAudio
from porteiro_gateway.playback import Player, SayItem
from porteiro_gateway.speech import PLAYBACK_RATE
from porteiro_gateway.time_source import TimeSource

Spawn = Callable[[Coroutine[Any, Any, Any]], asyncio.Task | None]
LegEvent = Callable[[str, dict[str, Any]], None]

HOLDING_SAY_ID = "holding"
HOLDING_EVENT = "HOLDING_SENTENCE"
WATCH_SECONDS = 0.1  # how often a late Say queued behind another is looked at


class Holding:
    """One leg's holding sentence: armed at a turn's end of speech, disarmed by its transcript."""

    def __init__(
        self,
        audio: FallbackAudio,
        after_seconds: float,
        player: Player,
        spawn: Spawn,
        time: TimeSource,
        leg_event: LegEvent | None = None,
    ) -> None:
        self._audio = audio
        self._leg_event = leg_event  # an event on the leg's span (for a late Say: no turn)
        self._after = after_seconds
        self._player = player
        self._spawn = spawn
        self._time = time
        self._turn: Span | None = None  # the turn whose transcript is awaited
        self._timer: asyncio.Task | None = None

    def awaiting(self, turn: Span | None) -> None:
        """The turn's speech ended: its transcript is awaited from now."""
        self.cancel()
        self._turn = turn
        self._timer = self._spawn(self._say_when_late(turn))

    def answered(self, turn: Span | None) -> None:
        """The turn's recognition is over (a transcript, nothing, or an error)."""
        if turn is self._turn:
            self.cancel()

    def cancel(self) -> None:
        timer, self._timer, self._turn = self._timer, None, None
        if timer is not None:
            timer.cancel()

    async def _say_when_late(self, turn: Span | None) -> None:
        await self._time.sleep(self._after)
        self._timer = None  # done: `cancel` must not cancel the task saying it
        if self._player.busy:  # something plays already: the caller is not left in silence
            return
        if self._audio.audio is None:
            metrics.HOLDING_SENTENCES.labels("not_ready").inc()
            return
        metrics.HOLDING_SENTENCES.labels("said").inc()
        if turn is not None:
            turn.add_event(HOLDING_EVENT, {"after_ms": round(self._after * 1000)})
        self._player.enqueue(
            SayItem(
                HOLDING_SAY_ID, False, PLAYBACK_RATE, bytearray(self._audio.audio), True, is_fallback=True
            )
        )

    async def fill_when_late(self, item: SayItem) -> None:
        """A Say whose synthesis gives no audio `holding_after_seconds` after it was queued, and
        which is the one playing (the caller hears silence meanwhile): it starts with the holding
        sentence, and its audio follows when speech answers (retried, on another replica)."""
        await self._time.sleep(self._after)
        while not item.buffer and not item.synthesis_done:
            if self._player.current is item:
                if self._audio.audio is None:
                    metrics.HOLDING_SENTENCES.labels("not_ready").inc()
                    return
                metrics.HOLDING_SENTENCES.labels("said").inc()
                if self._leg_event is not None:
                    self._leg_event(
                        HOLDING_EVENT, {"say_id": item.say_id, "after_ms": round(self._after * 1000)}
                    )
                item.add_audio(self._audio.audio)
                return
            await self._time.sleep(WATCH_SECONDS)


def holding_for(
    deps: LegDeps, player: Player, spawn: Spawn, time: TimeSource, leg_event: LegEvent | None = None
) -> Holding | None:
    """A leg's Holding; None when there is no holding sentence or it is turned off (0 s)."""
    after_seconds = deps.settings.holding_after_seconds
    if deps.holding is None or after_seconds <= 0:
        return None
    return Holding(deps.holding, after_seconds, player, spawn, time, leg_event)
