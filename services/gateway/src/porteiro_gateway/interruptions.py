"""Interruptions that are sure: pause at the caller's onset, stop once it is speech, resume if not.

A horn or a door (60 ms of loud voiced sound) used to stop a question for good.
Now, over an interruptible Say past the echo guard:

- `BARGE_IN_MIN_SPEECH_MS` of loud voiced audio (the onset) **pauses** the Say: the player
  sends silence and keeps its position;
- `BARGE_IN_CONFIRM_MS` of loud voiced audio since the pause (counted over the utterance,
  across short gaps), or a non-empty transcript of the utterance, **confirms** it: playback
  stops, the queue is dropped and the concierge hears `BargeIn` (the leg's `barged_in`);
- otherwise the Say **resumes** where it paused: after `BARGE_IN_RESUME_MS` without loud
  audio, at once when the utterance is dropped or recognised as nothing, and at the latest
  `BARGE_IN_MAX_PAUSE_MS` after the pause.

Whether an utterance stopped playback is reported with it when it is dropped
(`UtteranceDropped.interrupted`): the concierge then asks the question again.
Counted in porteiro_gateway_barge_in_pauses_total{result="confirmed"|"resumed"}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from porteiro_gateway import metrics
from porteiro_gateway.endpointing import rms
from porteiro_gateway.playback import Player, SayItem
from porteiro_gateway.settings import GatewaySettings


class InterruptionOwner(Protocol):
    """What interruptions report to (the leg)."""

    def barged_in(self, item: SayItem) -> None:
        """The caller's speech over an interruptible Say is confirmed: stop playback."""
        ...

    def caller_state_changed(self) -> None:
        """Playback was paused or resumed."""
        ...


class Interruptions:
    """One leg's barge-in: the onset run, the pause, and how it ends."""

    def __init__(
        self, owner: InterruptionOwner, player: Player, settings: GatewaySettings, now: Callable[[], float]
    ) -> None:
        self._owner = owner
        self._player = player
        self._settings = settings
        self._now = now
        self._onset_ms = 0.0  # consecutive loud voiced audio over a Say that is not paused
        self._loud_ms = 0.0  # loud voiced audio while paused, in the utterance in progress
        self._quiet_ms = 0.0  # audio since the last loud frame, while paused
        self._paused_at = 0.0
        self._paused_item: SayItem | None = None  # the Say the current utterance paused (maybe resumed)
        self._stopped = False  # the utterance in progress stopped playback

    def may_interrupt_now(self) -> bool:
        """A Say the caller may interrupt is playing (or paused): `feed` must weigh their audio."""
        item = self._player.current
        return item is not None and self._may_interrupt(item)

    def may_come(self) -> bool:
        """A Say the caller may interrupt is playing or queued (their audio must reach `feed`)."""
        return self._settings.barge_in_enabled and any(item.allow_barge_in for item in self._player.says())

    def nothing_playing(self) -> None:
        """Audio with no Say the caller may interrupt: no onset can build up (the hot path: one store)."""
        self._onset_ms = 0.0

    def feed(self, pcm: bytes, rate: int, voiced: bool) -> None:
        """One frame of caller audio while a Say plays (or is paused)."""
        item = self._player.current
        if item is None or not self._may_interrupt(item):
            self._onset_ms = 0.0
            return
        frame_ms = len(pcm) * 1000 / (2 * rate)
        loud = voiced and rms(pcm) >= self._settings.barge_in_min_rms
        if self._player.paused:
            self._while_paused(item, loud, frame_ms)
            return
        self._onset_ms = self._onset_ms + frame_ms if loud else 0.0
        if self._onset_ms >= self._settings.barge_in_min_speech_ms:
            self._pause(item)

    def recognised(self, words: bool) -> None:
        """The transcript of an utterance came: words confirm its pause, nothing resumes the Say."""
        if words:
            item = self._player.current
            if item is not None and item is self._paused_item:  # paused, or resumed but still playing
                self._confirm(item, ended=True)
        elif self._player.paused:
            self._resume()
        self._paused_item = None

    def utterance_ended(self, dropped: bool) -> bool:
        """The utterance ended (dropped: no recognition will follow); returns whether it stopped playback."""
        stopped, self._stopped = self._stopped, False
        self._loud_ms = 0.0
        if dropped:
            if self._player.paused:
                self._resume()
            self._paused_item = None
        return stopped

    def _may_interrupt(self, item: SayItem) -> bool:
        settings = self._settings
        return (
            item.allow_barge_in
            and settings.barge_in_enabled
            and item.started_at is not None
            and self._now() - item.started_at >= settings.echo_guard_ms / 1000
        )

    def _pause(self, item: SayItem) -> None:
        self._player.pause()
        self._paused_item = item
        self._paused_at = self._now()
        self._loud_ms += self._onset_ms
        self._onset_ms = self._quiet_ms = 0.0
        self._owner.caller_state_changed()
        if self._loud_ms >= self._settings.barge_in_confirm_ms:
            self._confirm(item)

    def _while_paused(self, item: SayItem, loud: bool, frame_ms: float) -> None:
        settings = self._settings
        if loud:
            self._loud_ms += frame_ms
            self._quiet_ms = 0.0
        else:
            self._quiet_ms += frame_ms
        if self._loud_ms >= settings.barge_in_confirm_ms:
            self._confirm(item)
        elif (
            self._quiet_ms >= settings.barge_in_resume_ms
            or self._now() - self._paused_at >= settings.barge_in_max_pause_ms / 1000
        ):
            self._resume()

    def _confirm(self, item: SayItem, ended: bool = False) -> None:
        """Speech: stop playback (`ended`: confirmed by the transcript of an utterance already over)."""
        metrics.BARGE_IN_PAUSES.labels("confirmed").inc()
        self._stopped = not ended
        self._paused_item = None
        self._owner.barged_in(item)  # the leg stops the player (and reports BargeIn)

    def _resume(self) -> None:
        """The pause was not speech: the Say goes on from where it paused."""
        metrics.BARGE_IN_PAUSES.labels("resumed").inc()
        self._player.resume()
        self._onset_ms = self._quiet_ms = 0.0
        self._owner.caller_state_changed()
