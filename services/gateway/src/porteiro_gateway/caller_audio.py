"""The caller's audio, frame by frame: resample → endpointing → barge-in → recognition turns.

`CallerAudio.feed` runs in the event loop's read callback for every audio
frame (the hot path: no task, no allocation beyond the endpointer's). What it
finds goes to its `CallerAudioOwner` (the leg): events for the concierge,
barge-ins, a failed recognition. Turn spans and per-turn metrics are kept by
`Turns`.
"""

from __future__ import annotations

import logging
import math
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
from porteiro_gateway.endpointing import (
    Endpointer,
    EndpointingConfig,
    SpeechAudio,
    SpeechDropped,
    SpeechEnded,
    SpeechStarted,
)
from porteiro_gateway.playback import Player, SayItem
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.speech import SpeechClient, Transcription
from porteiro_gateway.turns import Outcome, Turns

log = logging.getLogger(__name__)


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
        pre_roll_ms=settings.pre_roll_ms,
        min_speech_ms=settings.min_speech_ms,
        max_utterance_ms=int(settings.max_utterance_seconds * 1000),
    )


class CallerAudio:
    def __init__(
        self,
        owner: CallerAudioOwner,
        settings: GatewaySettings,
        speech: SpeechClient,
        player: Player,
        turns: Turns,
        now: Callable[[], float],
    ) -> None:
        self._owner = owner
        self._settings = settings
        self._speech = speech
        self._player = player
        self._turns = turns
        self._now = now
        self.session_id = ""
        self.hints: list[str] = []  # RecognitionContext of the next recognitions
        self.language = ""
        self._endpointer: Endpointer | None = None
        self._input_rate = 0
        self._resampler: soxr.ResampleStream | None = None
        self._last_voiced_at = 0.0
        self._barge_run_ms = 0.0
        self._transcription: Transcription | None = None

    @property
    def speaking(self) -> bool:
        return self._endpointer is not None and self._endpointer.speaking

    def feed(self, pcm: bytes, rate: int) -> None:
        """One frame of caller audio (slin at `rate`).

        Runs in the loop's read callback for every frame of every leg: the common case
        (8 kHz, no Say playing, no event) is a VAD call and a few attribute reads.
        """
        if rate != 8000 and rate != 16000:
            pcm, rate = self._to_vad_rate(pcm, rate)
            if not pcm:
                return
        endpointer = self._endpointer
        if endpointer is None or endpointer.sample_rate != rate:
            endpointer = self._endpointer = Endpointer(rate, endpointing_config(self._settings))
        events = endpointer.feed(pcm)
        if endpointer.voiced_run_ms:
            self._last_voiced_at = self._now()
        if self._player.current is None:  # nothing playing: nothing to barge in on
            self._barge_run_ms = 0.0
        else:
            self._check_barge_in(pcm, rate, endpointer.voiced_run_ms > 0)
        for event in events:
            if isinstance(event, SpeechAudio):
                if self._transcription is not None:
                    self._transcription.send(event.audio)
            elif isinstance(event, SpeechStarted):
                self._speech_started(event, rate)
            elif isinstance(event, SpeechEnded):
                self._speech_ended(event)
            elif isinstance(event, SpeechDropped):
                self._speech_dropped()

    def stop(self) -> None:
        """The leg ended: drop the recognition in progress."""
        if self._transcription is not None:
            self._transcription.cancel()
            self._transcription = None

    def _to_vad_rate(self, pcm: bytes, rate: int) -> tuple[bytes, int]:
        """webrtcvad and speech take 8 or 16 kHz: resample anything else to 16 kHz."""
        if rate in (8000, 16000):
            return pcm, rate
        if self._resampler is None or self._input_rate != rate:
            self._resampler = soxr.ResampleStream(rate, 16000, 1, dtype="int16")
            self._input_rate = rate
        samples = np.frombuffer(pcm, dtype="<i2")
        return self._resampler.resample_chunk(samples).tobytes(), 16000

    def _check_barge_in(self, pcm: bytes, rate: int, voiced: bool) -> None:
        """Loud voiced audio for `barge_in_min_speech_ms` over an interruptible Say, past the echo guard."""
        item = self._player.current
        settings = self._settings
        if (
            item is None
            or not item.allow_barge_in
            or not settings.barge_in_enabled
            or item.started_at is None
            or self._now() - item.started_at < settings.echo_guard_ms / 1000
        ):
            self._barge_run_ms = 0.0
            return
        if voiced and rms(pcm) >= settings.barge_in_min_rms:
            self._barge_run_ms += len(pcm) * 1000 / (2 * rate)
        else:
            self._barge_run_ms = 0.0
        if self._barge_run_ms >= settings.barge_in_min_speech_ms:
            self._barge_run_ms = 0.0
            self._owner.barged_in(item)

    def _speech_started(self, event: SpeechStarted, rate: int) -> None:
        span = self._turns.speech_started(self.session_id)
        self._owner.send(LegEvent(speech_started=concierge_pb2.SpeechStarted()))
        self._owner.caller_state_changed()
        if self._transcription is not None:
            self._transcription.cancel()
        transcription = self._speech.transcription(rate, self.session_id, self.hints, self.language)
        with trace.use_span(span, end_on_exit=False):  # the Transcribe client span joins the turn
            transcription.start(self._settings.max_utterance_seconds)
        transcription.send(event.audio)
        self._transcription = transcription

    def _speech_ended(self, event: SpeechEnded) -> None:
        span = self._turns.speech_ended(event, self._last_voiced_at)
        transcription, self._transcription = self._transcription, None
        self._owner.caller_state_changed()
        if transcription is None:  # no recognition was started: nothing to wait for
            self._turns.recognised(span, Outcome.ERROR, 0)
            return
        transcription.finish()
        ended_at = self._now()
        self._owner.spawn(self._recognise(transcription, span, event.utterance_ms / 1000, ended_at))

    def _speech_dropped(self) -> None:
        self.stop()
        self._turns.speech_dropped()
        self._owner.caller_state_changed()

    async def _recognise(
        self, transcription: Transcription, span: Span | None, audio_seconds: float, ended_at: float
    ) -> None:
        """Wait for the transcript; send it as an Utterance (empty ones are dropped)."""
        outcome, text = Outcome.ERROR, ""
        try:
            response = await transcription.result()
            text = response.text.strip()
            if not text:
                outcome = Outcome.EMPTY
                return
            outcome = Outcome.UTTERANCE
            utterance = concierge_pb2.Utterance(
                text=text, audio_seconds=audio_seconds, recognition_seconds=self._now() - ended_at
            )
            if response.HasField("confidence"):
                utterance.confidence = response.confidence
            self._owner.send(LegEvent(utterance=utterance))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                outcome = Outcome.REJECTED
                log.warning("speech rejected an utterance", extra={"error": describe(error)})
            else:
                if span is not None:
                    stages.record_error(span, describe(error), "speech")
                self._owner.recognition_failed(describe(error))
        finally:
            self._turns.recognised(span, outcome, transcription.audio_bytes, text)


def rms(pcm: bytes) -> float:
    """Root mean square of int16 samples, exact: the sum of squares in int64 (one dot product)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int64)
    return math.sqrt(int(samples @ samples) / samples.size) if samples.size else 0.0
