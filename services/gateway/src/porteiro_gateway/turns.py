"""Turn accounting: one TURN span per utterance, and the per-turn metrics.

A turn starts at speech onset (SPEECH_DETECTED) and ends at the end of speech
(SILENCE_DETECTED, SPEECH_ENDED); its span then travels with the recognition.
A recognised turn stays open until the reply starts playing and carries
`turn_latency_ms` (the figure of porteiro_gateway_turn_latency_seconds); it ends
without it when the caller speaks again or the leg ends first.

A turn whose transcript went to the concierge also carries its reply latency from
the caller's last voiced frame, and its parts (`TurnTimes.stages`), which add up
to it: the figures of porteiro_gateway_reply_latency_seconds and
porteiro_gateway_turn_stage_seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from opentelemetry import trace
from opentelemetry.trace import Span

from porteiro_common import stages
from porteiro_common.metrics import trace_exemplar
from porteiro_common.redaction import Redactor
from porteiro_gateway import metrics
from porteiro_gateway.endpointing import SpeechEnded
from porteiro_gateway.holding import Holding
from porteiro_gateway.leg_trace import LegTrace


class Outcome(StrEnum):
    """How a turn ended (the TURN span's `outcome`)."""

    UTTERANCE = "utterance"  # recognised and sent to the concierge
    EMPTY = "empty"  # recognised as no text
    TOO_SHORT = "too_short"  # too little voiced audio to recognise
    REJECTED = "rejected"  # speech refused the audio (INVALID_ARGUMENT)
    ERROR = "error"  # recognition failed
    LEG_ENDED = "leg_ended"  # the leg ended during the speech


@dataclass
class TurnTimes:
    """When a turn passed each point of its critical path, on the gateway's clock."""

    span: Span | None
    last_voiced: float  # the caller's last voiced frame
    audio_closed: float | None = None  # recognition's audio complete (pause of a speculation, or end)
    transcript: float | None = None  # the transcript arrived
    sent: float | None = None  # the Utterance went to the concierge

    def stages(self, say_received: float, first_audio: float | None, first_frame: float) -> dict[str, float]:
        """The parts of last voiced frame -> first reply frame, in seconds (they add up to it).

        end_of_speech is the time the turn waited on the caller's silence: before the
        recognition's audio was closed, and after the transcript while the end was confirmed.
        """
        assert self.audio_closed is not None and self.transcript is not None and self.sent is not None
        first_audio = first_frame if first_audio is None else min(max(first_audio, say_received), first_frame)
        return {
            "end_of_speech": (self.audio_closed - self.last_voiced) + (self.sent - self.transcript),
            "recognition": self.transcript - self.audio_closed,
            "concierge": say_received - self.sent,
            "synthesis": first_audio - say_received,
            "playback_start": first_frame - first_audio,
        }


class Turns:
    def __init__(
        self,
        tracer: trace.Tracer,
        leg_trace: LegTrace,
        leg_name: str,
        redactor: Redactor,
        now: Callable[[], float],
        pre_roll_ms: int,
    ) -> None:
        self._tracer = tracer
        self._leg_trace = leg_trace
        self._leg_name = leg_name
        self._redactor = redactor
        self._now = now
        self._pre_roll_ms = pre_roll_ms
        self.number = 0
        self._speaking: Span | None = None  # the turn of the speech in progress
        self._awaiting_reply: Span | None = None  # the last recognised turn, until the reply starts
        self._speech_ended_at: float | None = None
        self._times: TurnTimes | None = None  # of the last turn that ended
        self.holding: Holding | None = None  # says the holding sentence when a transcript is late

    def speech_started(self, session_id: str) -> Span:
        """A new turn at speech onset; returns its span (the recognition runs inside it)."""
        self._end_awaited()
        self.number += 1
        span = self._tracer.start_span(
            "TURN",
            context=trace.set_span_in_context(self._leg_trace.span),
            attributes={
                "porteiro.session_id": session_id,
                "porteiro.leg": self._leg_name,
                "porteiro.turn": self.number,
            },
        )
        span.add_event(stages.SPEECH_DETECTED, {"pre_roll_ms": self._pre_roll_ms})
        self._speaking = span
        return span

    def speech_ended(self, event: SpeechEnded, last_voiced_at: float) -> Span | None:
        """End of speech: endpointing metric and events; the turn's span is handed to the recognition."""
        now = self._now()
        metrics.ENDPOINTING.observe(max(0.0, now - last_voiced_at))
        self._speech_ended_at = now
        span, self._speaking = self._speaking, None
        self._times = TurnTimes(span, min(last_voiced_at, now))
        if span is not None:
            if event.reason == "silence":
                span.add_event(stages.SILENCE_DETECTED, {"duration_ms": event.silence_ms})
            span.add_event(
                stages.SPEECH_ENDED,
                {
                    "duration_ms": event.utterance_ms,
                    "speech_ms": event.speech_ms,
                    "utterance_ms": event.utterance_ms,
                    "reason": event.reason,
                },
            )
        return span

    def audio_closed(self, span: Span | None, at: float) -> None:
        """The recognition of the turn that just ended got all its audio at `at`; its transcript
        is awaited from now (the holding sentence if it is late)."""
        if self._times is not None and self._times.span is span:
            self._times.audio_closed = at
        if self.holding is not None:
            self.holding.awaiting(span)

    def transcript_arrived(self, span: Span | None, at: float) -> None:
        """The turn's transcript arrived at `at`; it goes to the concierge now."""
        if self._times is not None and self._times.span is span:
            self._times.transcript, self._times.sent = at, self._now()

    def speech_dropped(self) -> None:
        """Too little voiced audio to recognise."""
        metrics.DROPPED_UTTERANCES.inc()
        span, self._speaking = self._speaking, None
        if span is not None:
            span.set_attribute("outcome", Outcome.TOO_SHORT.value)
            span.end()

    def recognised(self, span: Span | None, outcome: Outcome, audio_bytes: int, transcript: str = "") -> None:
        """The recognition of a turn is over: an utterance waits for its reply, anything else ends."""
        if outcome is Outcome.EMPTY:
            metrics.EMPTY_TRANSCRIPTS.inc()
        if self.holding is not None:
            self.holding.answered(span)
        if span is None:
            return
        span.set_attribute("outcome", outcome.value)
        span.set_attribute("audio_bytes", audio_bytes)
        if outcome is Outcome.UTTERANCE:
            span.set_attribute("porteiro.transcript", self._redactor(transcript))
            self._end_awaited()
            self._awaiting_reply = span
        else:
            span.end()

    def reply_started(self, queued_at: float, first_audio_at: float | None = None) -> None:
        """A Say started playing: if it was queued after the end of speech, that is the turn latency.

        `queued_at` is when the Say came from the concierge, `first_audio_at` when its first
        synthesized audio came from speech.
        """
        ended_at = self._speech_ended_at
        if ended_at is None or queued_at < ended_at:
            return
        now = self._now()
        latency = now - ended_at
        # Observed outside the TURN span's context: its trace id is the exemplar.
        awaited = self._awaiting_reply
        metrics.TURN_LATENCY.observe(latency, trace_exemplar(awaited) if awaited is not None else None)
        self._end_awaited(round(latency * 1000, 1), self._reply_stages(queued_at, first_audio_at, now))
        self._speech_ended_at = None

    def _reply_stages(self, queued_at: float, first_audio_at: float | None, now: float) -> dict[str, float]:
        """Observe the reply latency and its parts, when the reply answers the turn's transcript;
        returns them as span attributes (milliseconds)."""
        times, self._times = self._times, None
        if times is None or times.sent is None or queued_at < times.sent:
            return {}  # a reply to something else (a key, a timer), or no transcript was sent
        stages = times.stages(queued_at, first_audio_at, now)
        total = now - times.last_voiced
        exemplar = trace_exemplar(times.span) if times.span is not None else None
        metrics.REPLY_LATENCY.observe(total, exemplar)
        for stage, seconds in stages.items():
            metrics.TURN_STAGE.labels(stage).observe(seconds, exemplar)
        attributes = {f"{stage}_ms": round(seconds * 1000, 1) for stage, seconds in stages.items()}
        attributes["reply_latency_ms"] = round(total * 1000, 1)
        return attributes

    def close(self) -> None:
        """The leg ended: end the turns still open."""
        if self.holding is not None:
            self.holding.cancel()
        span, self._speaking = self._speaking, None
        if span is not None:
            span.set_attribute("outcome", Outcome.LEG_ENDED.value)
            span.end()
        self._end_awaited()

    def _end_awaited(
        self, turn_latency_ms: float | None = None, stages: dict[str, float] | None = None
    ) -> None:
        span, self._awaiting_reply = self._awaiting_reply, None
        if span is not None:
            if turn_latency_ms is not None:
                span.set_attribute("turn_latency_ms", turn_latency_ms)
            if stages:
                span.set_attributes(stages)
            span.end()
