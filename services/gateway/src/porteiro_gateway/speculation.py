"""Speculative recognition: recognise at the first pause, before the end of speech is decided.

Recognition only starts when its audio is complete, and the end of an utterance is
only known after `end_of_speech_*_ms` of silence. Waiting for both in turn puts the
whole silence on the caller's wait. Instead, when the caller has been silent for
`speculative_recognition_ms` (the endpointer's `SpeechPaused`), the live Transcribe
stream, which has had the utterance's audio as it came, is closed at once: the
recogniser starts on the utterance so far. The audio keeps being kept here.

- The silence lasts to the end of speech: that transcript is the utterance's (what
  came after the pause was silence). The recogniser did the work once, only earlier.
- The caller speaks again (`SpeechResumed`): the early run is cancelled and its
  result discarded; a new stream is opened with the whole utterance kept so far and
  goes on live.

At most one early run per utterance (after a second pause the end is waited for,
as without speculation), so the recogniser's extra work is bounded by one
recognition of an utterance's beginning, and only when the caller pauses and goes
on. Both outcomes are counted in porteiro_gateway_speculative_recognitions_total.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import grpc

from porteiro.speech.v1 import speech_pb2
from porteiro_gateway import metrics
from porteiro_gateway.speech import Transcription


class SpeculativeRun:
    """One early recognition: a closed Transcription whose result is awaited as soon as it starts.

    It is a `Transcription` for whoever takes it (`result`, `cancel`, `audio_bytes`);
    `recognised_at` tells when its transcript (or error) arrived, which may be before
    anyone asked for it.
    """

    def __init__(self, transcription: Transcription, now: Callable[[], float]) -> None:
        self._transcription = transcription
        self._now = now
        self.started_at = now()
        self.recognised_at: float | None = None
        self.audio_bytes = transcription.audio_bytes
        self._cancelled = False
        self._response: speech_pb2.TranscribeResponse | None = None
        self._error: grpc.aio.AioRpcError | None = None
        self._done = asyncio.Event()

    async def watch(self) -> None:
        """Await the transcript (the leg runs this as its task) and keep it for `result`."""
        try:
            self._response = await self._transcription.result()
        except grpc.aio.AioRpcError as error:
            self._error = error
        except asyncio.CancelledError:
            if not self._cancelled:  # the task itself was cancelled (the leg ended): let it end
                raise
        finally:
            self.recognised_at = self._now()
            self._done.set()

    async def result(self) -> speech_pb2.TranscribeResponse:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if self._response is None:
            raise asyncio.CancelledError("speculative recognition cancelled")
        return self._response

    def cancel(self) -> None:
        self._cancelled = True
        self._transcription.cancel()


class Speculation:
    """The early run of the utterance in progress (at most one per utterance), and its audio."""

    def __init__(self, spawn: Callable[[Coroutine[Any, Any, Any]], None], now: Callable[[], float]) -> None:
        self._spawn = spawn
        self._now = now
        # While an early run is out: the utterance so far (pre-roll included), for a reopening.
        # Before the pause the live stream keeps it: it is copied from there at the pause.
        self._audio = bytearray()
        self._run: SpeculativeRun | None = None
        self._tried = False  # an early run was started for this utterance

    def begin(self) -> None:
        """A new utterance starts."""
        self.cancel()
        self._audio.clear()
        self._tried = False

    def add(self, pcm: bytes) -> None:
        """Audio of the utterance in progress (every frame after the onset): kept while an early
        run is out, for a reopening."""
        if self._run is not None:
            self._audio += pcm

    def audio(self) -> bytes:
        """The utterance so far (while an early run is out, and when it was just cancelled)."""
        return bytes(self._audio)

    def start(self, live: Transcription, trailing_silence: bytes = b"") -> bool:
        """The caller fell silent: send `live` the `trailing_silence` the end of speech would
        bring, close it now and await its transcript (once per utterance). The silence is not kept
        with the utterance's audio (a stream that replaces the run gets the caller's own).

        False when this utterance already had its early run: `live` is left alone.
        """
        if self._tried:
            return False
        self._tried = True
        self._audio[:] = live.audio  # the utterance so far, without the silence sent next
        if trailing_silence:
            live.send(trailing_silence)
        live.finish()
        run = SpeculativeRun(live, self._now)
        self._run = run
        self._spawn(run.watch())
        return True

    def cancel(self) -> bool:
        """Cancel the early run in progress (the caller went on, the utterance was dropped, the
        leg ended); True when there was one."""
        run, self._run = self._run, None
        if run is None:
            return False
        run.cancel()
        metrics.SPECULATIVE_RECOGNITIONS.labels("discarded").inc()
        return True

    def take(self) -> SpeculativeRun | None:
        """At the end of speech: the early run, whose transcript is the utterance's, if any.

        A run that failed is taken too: its error is the recognition's, as it would have
        been at the end of speech.
        """
        run, self._run = self._run, None
        self._audio.clear()
        if run is not None:
            metrics.SPECULATIVE_RECOGNITIONS.labels("used").inc()
        return run
