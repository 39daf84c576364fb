"""The caller's audio, frame by frame: resample → endpointing → barge-in → recognition turns.

`CallerAudio.feed` runs in the event loop's read callback for every audio
frame (the hot path: no task, no allocation beyond the endpointer's). What it
finds goes to its `CallerAudioOwner` (the leg): events for the concierge,
barge-ins, a failed recognition. Turn spans and per-turn metrics are kept by
`Turns`; the pause, confirmation and resumption of barge-in by `Interruptions`.
Utterances that give the concierge nothing (too short, no words, rejected) are
reported to it as `UtteranceDropped`, with whether they had stopped playback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import grpc
import numpy as np
import soxr
from opentelemetry import trace
from opentelemetry.trace import Span

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common import stages
from porteiro_gateway.concierge_link import LegEvent, describe
from porteiro_gateway.edge_endpointer import EdgeEndpointer
from porteiro_gateway.endpointing import (
    Endpointer,
    EndpointingConfig,
    Event,
    SpeechAudio,
    SpeechDropped,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
)
from porteiro_gateway.endpointing import rms as rms  # noqa: F401 - where the tests and benches find it
from porteiro_gateway.interruptions import Interruptions
from porteiro_gateway.playback import Player, SayItem
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.speculation import Speculation, SpeculativeRun
from porteiro_gateway.speech import SpeechClient, Transcription, transcription_config
from porteiro_gateway.turns import Outcome, Turns

log = logging.getLogger(__name__)

# A leg's endpointer: the loop's, or the native edge's (edge_endpointer.py); made for a sample rate.
AnyEndpointer = Endpointer | EdgeEndpointer
EndpointerFactory = Callable[[int, EndpointingConfig], AnyEndpointer]

BARGE_IN_STEP_MS = 20  # over an interruptible Say, the caller's audio is weighed 20 ms at a time


class CallerAudioOwner(Protocol):
    """What caller audio reports to (the leg)."""

    def send(self, event: LegEvent) -> None:
        """An event for the concierge (SpeechStarted, Utterance, BargeIn)."""
        ...

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a task the leg owns (cancelled when the leg ends)."""
        ...

    def caller_state_changed(self) -> None:
        """The caller started or stopped speaking, or playback was interrupted."""
        ...

    def barged_in(self, item: SayItem) -> None:
        """The caller spoke over an interruptible Say: stop playback."""
        ...

    def recognition_failed(self, detail: str) -> None:
        """Speech failed to recognise an utterance (not a rejection)."""
        ...


def endpointing_config(settings: GatewaySettings) -> EndpointingConfig:
    return EndpointingConfig(
        aggressiveness=settings.vad_aggressiveness,
        frame_ms=settings.vad_frame_ms,
        onset_ms=settings.speech_onset_ms,
        end_silence_ms=settings.end_of_speech_silence_ms,
        yes_no_silence_ms=settings.end_of_speech_yes_no_ms,
        short_silence_ms=settings.end_of_speech_short_ms,
        digits_silence_ms=settings.end_of_speech_digits_ms,
        open_silence_ms=settings.end_of_speech_open_ms,
        pause_ms=settings.speculative_recognition_ms,
        pause_floor_rms=settings.speculative_recognition_floor_rms,
        pre_roll_ms=settings.pre_roll_ms,
        min_speech_ms=settings.min_speech_ms,
        max_utterance_ms=int(settings.max_utterance_seconds * 1000),
    )


def trailing_silence(endpointer: AnyEndpointer) -> bytes:
    """The end-of-speech silence of the utterance in progress, as slin zeros.

    An early run that stopped at the pause would end right at the voice, and whisper hears speech
    that ends at the edge of its audio differently: "Não." (espeak-ng pt-br+m1, 140 wpm) cut at
    its first 200 ms of quiet came out "É uma..." with a confirmation's hints (make eval,
    2026-12-02, seed 61: about 15 times in 80 calls, each a turn lost), "Não." with 300 ms of
    silence after it. The early run is used only if that silence does follow.
    """
    return b"\x00\x00" * (endpointer.sample_rate * endpointer.end_silence_ms // 1000)


class CallerAudio:
    def __init__(
        self,
        owner: CallerAudioOwner,
        settings: GatewaySettings,
        speech: SpeechClient,
        player: Player,
        turns: Turns,
        now: Callable[[], float],
        make_endpointer: EndpointerFactory = Endpointer,
    ) -> None:
        self._owner = owner
        self._make_endpointer = make_endpointer
        self._settings = settings
        self._speech = speech
        self._player = player
        self._turns = turns
        self._now = now
        self.session_id = ""
        self.hints: list[str] = []  # RecognitionContext of the next recognitions
        self.candidate_phrases: list[str] = []
        self.language = ""
        self.expected_answer = 0  # its kind of answer (concierge_pb2.ExpectedAnswer)
        self._span: Span = trace.INVALID_SPAN  # the TURN span of the utterance in progress
        speculate = settings.speculative_recognition_ms > 0
        self._speculation = Speculation(owner.spawn, now) if speculate else None
        self._endpointer: AnyEndpointer | None = None
        self._input_rate = 0
        self._resampler: soxr.ResampleStream | None = None
        self._last_voiced_at = 0.0
        self._interruptions = Interruptions(owner, player, settings, now)
        self._transcription: Transcription | None = None

    @property
    def speaking(self) -> bool:
        return self._endpointer is not None and self._endpointer.speaking

    def feed(self, pcm: bytes, rate: int) -> None:
        """Caller audio (slin at `rate`): a frame, or a run of frames from one read.

        Runs in the loop for every read of every leg. The common case (8 kHz, no Say the caller
        may interrupt) takes the run at once: a VAD call per frame, the rest once per run. Over
        an interruptible Say, the run goes 20 ms at a time, the barge-in decided after each.
        """
        if rate != 8000 and rate != 16000:
            pcm, rate = self._to_vad_rate(pcm, rate)
            if not pcm:
                return
        endpointer = self._endpointer
        if endpointer is None or endpointer.sample_rate != rate:
            endpointer = self._endpointer = self._make_endpointer(rate, endpointing_config(self._settings))
            endpointer.expect(self.expected_answer)
        if not self._interruptions.may_interrupt_now():
            self._interruptions.nothing_playing()
            self._handle(endpointer.feed(pcm), endpointer, rate)
            return
        step = rate * 2 * BARGE_IN_STEP_MS // 1000
        for offset in range(0, len(pcm), step):
            piece = pcm[offset : offset + step] if len(pcm) > step else pcm
            events = endpointer.feed(piece)
            self._interruptions.feed(piece, rate, endpointer.voiced_run_ms > 0)
            self._handle(events, endpointer, rate)

    def edge_events(self, found: list[tuple]) -> None:
        """What the native edge's endpointer found while it listened for this leg (edge_endpointer.py)."""
        endpointer = self._endpointer
        if isinstance(endpointer, EdgeEndpointer):
            self._dispatch(endpointer.events(found), endpointer.sample_rate)

    def may_listen_in_edge(self) -> bool:
        """Whether the native edge may endpoint this leg's audio without the loop: the endpointer is
        the edge's, the audio needs no resampling, and no Say the caller may interrupt is playing or
        queued (a barge-in is weighed here, every 20 ms)."""
        return (
            isinstance(self._endpointer, EdgeEndpointer)
            and self._resampler is None
            and not self._interruptions.may_come()
        )

    def _handle(self, events: list[Event], endpointer: AnyEndpointer, rate: int) -> None:
        """What the endpointer found in the audio just fed, in order."""
        if endpointer.heard:  # voiced (within an utterance: above the pause floor, past the VAD's hangover)
            self._last_voiced_at = self._now()
        self._dispatch(events, rate)

    def _dispatch(self, events: list[Event], rate: int) -> None:
        for event in events:
            if isinstance(event, SpeechAudio):
                if self._transcription is not None:
                    self._transcription.send(event.audio)
                if self._speculation is not None:
                    self._speculation.add(event.audio)
            elif isinstance(event, SpeechStarted):
                self._speech_started(event, rate)
            elif isinstance(event, SpeechEnded):
                self._speech_ended(event)
            elif isinstance(event, SpeechDropped):
                self._speech_dropped(event)
            elif isinstance(event, SpeechPaused):
                self._speech_paused()
            elif isinstance(event, SpeechResumed):
                self._speech_resumed(rate)

    def expect(self, context: concierge_pb2.RecognitionContext) -> None:
        """The concierge's RecognitionContext for the next utterances: hints, candidate phrases,
        language, kind of answer."""
        self.hints = list(context.hints)
        self.candidate_phrases = list(context.candidate_phrases)
        self.language = context.language
        self.expected_answer = context.expected_answer
        if self._endpointer is not None:
            self._endpointer.expect(context.expected_answer)

    def stop(self) -> None:
        """The leg ended: drop the recognition in progress."""
        if self._transcription is not None:
            self._transcription.cancel()
            self._transcription = None
        if self._speculation is not None:
            self._speculation.cancel()

    def _to_vad_rate(self, pcm: bytes, rate: int) -> tuple[bytes, int]:
        """webrtcvad and speech take 8 or 16 kHz: resample anything else to 16 kHz."""
        if rate in (8000, 16000):
            return pcm, rate
        if self._resampler is None or self._input_rate != rate:
            self._resampler = soxr.ResampleStream(rate, 16000, 1, dtype="int16")
            self._input_rate = rate
        samples = np.frombuffer(pcm, dtype="<i2")
        return self._resampler.resample_chunk(samples).tobytes(), 16000

    def _speech_started(self, event: SpeechStarted, rate: int) -> None:
        span = self._turns.speech_started(self.session_id)
        self._owner.send(LegEvent(speech_started=concierge_pb2.SpeechStarted()))
        self._owner.caller_state_changed()
        if self._transcription is not None:
            self._transcription.cancel()
        self._span = span
        transcription = self._open_transcription(rate)
        transcription.send(event.audio)
        self._transcription = transcription
        if self._speculation is not None:
            self._speculation.begin()

    def _open_transcription(self, rate: int) -> Transcription:
        """A Transcribe stream for the utterance in progress, with the current RecognitionContext."""
        config = transcription_config(
            rate, self.session_id, self.hints, self.language, self.candidate_phrases
        )
        transcription = self._speech.transcription(config)
        with trace.use_span(self._span, end_on_exit=False):  # the Transcribe client span joins the turn
            transcription.start(self._settings.max_utterance_seconds)
        return transcription

    def _speech_paused(self) -> None:
        """A pause in the utterance: its recognition starts now (speculation.py), on the utterance
        so far followed by the silence that would end it (`trailing_silence`)."""
        live = self._transcription
        if self._speculation is None or live is None or self._endpointer is None:
            return
        if self._speculation.start(live, trailing_silence(self._endpointer)):
            self._transcription = None  # closed early; the audio from here on is only kept

    def _speech_resumed(self, rate: int) -> None:
        """The caller went on: drop the early run, stream the utterance again from its start."""
        if self._speculation is not None and self._speculation.cancel():
            self._transcription = self._open_transcription(rate)
            self._transcription.send(self._speculation.audio())

    def _speech_ended(self, event: SpeechEnded) -> None:
        last_voiced_at = self._last_voiced_at if event.heard_at is None else event.heard_at
        span = self._turns.speech_ended(event, last_voiced_at)
        transcription, self._transcription = self._transcription, None
        interrupted = self._interruptions.utterance_ended(dropped=False)
        self._owner.caller_state_changed()
        early = self._speculation.take() if self._speculation is not None else None
        recognition: Transcription | SpeculativeRun
        if early is not None:  # closed at a pause that held: its transcript is the utterance's
            recognition, closed_at = early, early.started_at
        elif transcription is not None:
            transcription.finish()
            recognition, closed_at = transcription, self._now()
        else:  # no recognition was started: nothing to wait for
            self._turns.recognised(span, Outcome.ERROR, 0)
            self._interruptions.recognised(words=False)
            return
        self._turns.audio_closed(span, closed_at)
        rate = self._endpointer.sample_rate if self._endpointer is not None else 8000
        audio_seconds = recognition.audio_bytes / (2 * rate)  # up to the pause, for an early run
        self._owner.spawn(self._recognise(recognition, span, audio_seconds, closed_at, interrupted))

    def _speech_dropped(self, event: SpeechDropped) -> None:
        self.stop()  # the speculative run too, if one was started
        self._turns.speech_dropped()
        interrupted = self._interruptions.utterance_ended(dropped=True)
        self._dropped(concierge_pb2.DROP_REASON_TOO_SHORT, event.speech_ms / 1000, interrupted)
        self._owner.caller_state_changed()

    def _dropped(self, reason: concierge_pb2.DropReason, seconds: float, interrupted: bool) -> None:
        """Tell the concierge the caller said nothing usable (it re-asks a question this cut)."""
        dropped = concierge_pb2.UtteranceDropped(
            reason=reason, duration_seconds=seconds, interrupted=interrupted
        )
        self._owner.send(LegEvent(utterance_dropped=dropped))

    async def _recognise(
        self,
        transcription: Transcription | SpeculativeRun,
        span: Span | None,
        audio_seconds: float,
        ended_at: float,
        interrupted: bool = False,
    ) -> None:
        """Wait for the transcript; send it as an Utterance (empty ones are reported dropped).

        `ended_at` is when the recognition's audio was closed (the end of speech, or the
        pause of a speculative run); `interrupted`, whether the utterance stopped playback.
        """
        outcome, text = Outcome.ERROR, ""
        try:
            response = await transcription.result()
            text = response.text.strip()
            self._interruptions.recognised(words=bool(text))  # before the Utterance: BargeIn first
            if not text:
                outcome = Outcome.EMPTY
                self._dropped(concierge_pb2.DROP_REASON_EMPTY_TRANSCRIPT, audio_seconds, interrupted)
                return
            outcome = Outcome.UTTERANCE
            early = transcription.recognised_at if isinstance(transcription, SpeculativeRun) else None
            recognised_at = early or self._now()  # a speculative transcript may have waited for the end
            self._turns.transcript_arrived(span, recognised_at)
            utterance = concierge_pb2.Utterance(
                text=text,
                audio_seconds=audio_seconds,
                recognition_seconds=recognised_at - ended_at,
                phrase_scores=response.phrase_scores,
            )
            if response.HasField("confidence"):
                utterance.confidence = response.confidence
            self._owner.send(LegEvent(utterance=utterance))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                outcome = Outcome.REJECTED
                log.warning("speech rejected an utterance", extra={"error": describe(error)})
                self._interruptions.recognised(words=False)
                self._dropped(concierge_pb2.DROP_REASON_REJECTED, audio_seconds, interrupted)
            else:
                if span is not None:
                    stages.record_error(span, describe(error), "speech")
                self._owner.recognition_failed(describe(error))
        finally:
            self._turns.recognised(span, outcome, transcription.audio_bytes, text)
