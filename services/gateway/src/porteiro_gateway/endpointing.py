"""Finding where an utterance starts and ends in the caller's audio (webrtcvad).

Audio arrives in frames of any size; it is re-chunked into 10/20/30 ms VAD
frames. An utterance starts after `onset_ms` of consecutive voiced audio and
carries the `pre_roll_ms` before it, so the first syllable is kept. It ends
after `end_silence_ms` of unvoiced audio, or at `max_utterance_ms`.
Utterances with less than `min_speech_ms` of voiced audio are dropped.

The end-of-speech silence depends on the answer the last question expects
(`expect`, from the concierge's RecognitionContext): short after a yes/no or a
name, long while digits are dictated. It is fixed for an utterance at its onset.
After `pause_ms` of silence inside an utterance (enough speech to recognise,
the end not reached yet) a `SpeechPaused` is reported once, and `SpeechResumed`
if voiced audio follows: speculative recognition starts and cancels on them.
For the pause, a voiced frame quieter than `pause_floor_rms` is silence too:
webrtcvad keeps calling ~100 ms after the last sound speech (its hangover), and
a pause is only a guess (a wrong one costs a discarded recognition, never a cut).
The end of speech stays the VAD's.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import _webrtcvad  # webrtcvad's C module: `Vad.is_speech` is a Python wrapper around its `process`
import numpy as np
import webrtcvad

from porteiro.concierge.v1 import concierge_pb2

VAD_RATES = (8000, 16000, 32000, 48000)


@dataclass(frozen=True)
class EndpointingConfig:
    aggressiveness: int = 2
    frame_ms: int = 20
    onset_ms: int = 60
    end_silence_ms: int = 600
    pre_roll_ms: int = 300
    min_speech_ms: int = 250
    max_utterance_ms: int = 15000
    # End-of-speech silence by the kind of answer expected (end_silence_ms: not said).
    yes_no_silence_ms: int = 300
    short_silence_ms: int = 400
    digits_silence_ms: int = 900
    open_silence_ms: int = 600
    pause_ms: int = 0  # silence that reports SpeechPaused (speculative recognition); 0 = never
    pause_floor_rms: float = 0.0  # for the pause, quieter voiced frames are silence; 0 = the VAD's word

    def end_silence_for(self, expected: int) -> int:
        """The end-of-speech silence for a RecognitionContext.expected_answer value."""
        by_kind: dict[int, int] = {
            concierge_pb2.EXPECTED_ANSWER_YES_NO: self.yes_no_silence_ms,
            concierge_pb2.EXPECTED_ANSWER_SHORT: self.short_silence_ms,
            concierge_pb2.EXPECTED_ANSWER_DIGITS: self.digits_silence_ms,
            concierge_pb2.EXPECTED_ANSWER_OPEN: self.open_silence_ms,
        }
        return by_kind.get(expected, self.end_silence_ms)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    audio: bytes  # pre-roll plus the voiced onset


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    audio: bytes


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    reason: str  # "silence" or "max_length"
    speech_ms: int  # voiced audio in the utterance
    silence_ms: int  # trailing silence that ended it
    utterance_ms: int  # everything sent for recognition, pre-roll included
    # When the last voiced frame was read (time.monotonic), if the endpointer knows (the edge's does:
    # it reports in batches); None: when the feed that held it was handled.
    heard_at: float | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SpeechDropped:
    speech_ms: int


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    """`pause_ms` of silence inside an utterance that has enough speech: it may be ending."""

    silence_ms: int


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """Voiced audio after a SpeechPaused: the utterance goes on."""


Event = SpeechStarted | SpeechAudio | SpeechEnded | SpeechDropped | SpeechPaused | SpeechResumed


class Endpointer:
    def __init__(self, sample_rate: int, config: EndpointingConfig) -> None:
        if sample_rate not in VAD_RATES:
            raise ValueError(f"webrtcvad cannot handle {sample_rate} Hz")
        if config.frame_ms not in (10, 20, 30):
            raise ValueError("VAD frames must be 10, 20 or 30 ms")
        self.sample_rate = sample_rate
        self.config = config
        self._vad = webrtcvad.Vad(config.aggressiveness)
        # The VAD of one frame, called straight into C (the wrapper's length arithmetic and
        # checks cost a fifth of the call; frames here are always whole 10/20/30 ms).
        self._vad_handle = self._vad._vad
        self._frame_samples = sample_rate * config.frame_ms // 1000
        self._frame_bytes = sample_rate * config.frame_ms // 1000 * 2
        self._pending = bytearray()  # a piece of a VAD frame
        # Holds the pre-roll plus the onset frames while waiting for speech (whole VAD frames).
        window = (config.pre_roll_ms + config.onset_ms) // config.frame_ms + 1
        self._pre_roll_bytes = window * self._frame_bytes
        self._pre_roll: deque[bytes] = deque()  # pieces of whole frames, the oldest first
        self._pre_roll_kept = 0  # their bytes (at most one piece more than the window)
        self.speaking = False
        self.voiced_run_ms = 0  # consecutive voiced audio up to the last frame
        self._speech_ms = 0
        self._silence_ms = 0
        self._utterance_ms = 0
        self._paused = False  # a SpeechPaused was reported and no voiced audio came since
        self._quiet_ms = 0  # for pauses: audio since the last voiced frame above the floor
        self.heard = False  # the last feed held voice (voiced, and above the floor within an utterance)
        self._next_end_silence_ms = config.end_silence_ms  # for the next utterance (`expect`)
        self.end_silence_ms = config.end_silence_ms  # of the utterance in progress

    def expect(self, expected: int) -> None:
        """The kind of answer the next utterances answer (RecognitionContext.expected_answer).

        Takes effect at the next onset: an utterance keeps the silence it started with.
        """
        self._next_end_silence_ms = self.config.end_silence_for(expected)

    @property
    def frame_ms(self) -> int:
        return self.config.frame_ms

    def feed(self, pcm: bytes) -> list[Event]:
        """Consume caller audio of any length (a frame, a run of frames, a piece); return what
        happened, in order. The utterance's audio between two other events comes as one SpeechAudio.
        """
        events: list[Event] = []
        size = self._frame_bytes
        if not self._pending and len(pcm) == size:  # one whole VAD frame: the event loop's media path
            voiced = _webrtcvad.process(self._vad_handle, self.sample_rate, pcm, self._frame_samples)
            self._run(pcm, [voiced], events)
            return events
        if self._pending:  # a piece of a VAD frame is waiting: complete it
            self._pending += pcm
            whole = len(self._pending) - len(self._pending) % size
            pcm = bytes(self._pending[:whole])
            del self._pending[:whole]
        elif len(pcm) % size:
            whole = len(pcm) - len(pcm) % size
            self._pending += pcm[whole:]
            pcm = pcm[:whole]
        if pcm:
            self._run(pcm, self._voiced(pcm), events)
        return events

    def _voiced(self, pcm: bytes) -> list[bool]:
        """webrtcvad's decision for each VAD frame of `pcm` (whole frames)."""
        process, handle, rate = _webrtcvad.process, self._vad_handle, self.sample_rate
        size, samples = self._frame_bytes, self._frame_samples
        voiced = []
        for start in range(0, len(pcm), size):  # a plain loop: a comprehension is a call in 3.11
            voiced.append(process(handle, rate, pcm[start : start + size], samples))
        return voiced

    def _run(self, pcm: bytes, voiced: list[bool], events: list[Event]) -> None:
        """The VAD frames of `pcm`, with their decisions: onsets, the utterance's audio, pauses, ends.

        Audio outside an utterance goes to the pre-roll; inside one, it is reported as SpeechAudio
        up to each frame that brings another event, and at the end of the run.
        """
        if not self.speaking and not any(voiced):  # the common case: silence, waiting for speech
            self.voiced_run_ms = 0
            self.heard = False
            self._keep_pre_roll(pcm)
            return
        index, heard = 0, False
        while index < len(voiced):
            if self.speaking:
                index, heard_here = self._utterance(pcm, voiced, index, events)
            else:
                index, heard_here = self._await_onset(pcm, voiced, index, events)
            heard = heard or heard_here
        self.heard = heard

    def _await_onset(
        self, pcm: bytes, voiced: list[bool], index: int, events: list[Event]
    ) -> tuple[int, bool]:
        """Frames from `index` on, outside an utterance, up to an onset (which starts one) or the end
        of the run; returns where it stopped and whether any frame was voiced."""
        size, frame_ms, onset_ms = self._frame_bytes, self.config.frame_ms, self.config.onset_ms
        run_ms, heard, start = self.voiced_run_ms, False, index * size
        while index < len(voiced):
            is_voiced = voiced[index]
            index += 1
            run_ms = run_ms + frame_ms if is_voiced else 0
            heard = heard or is_voiced
            if run_ms >= onset_ms:
                self.voiced_run_ms = run_ms
                self._keep_pre_roll(pcm[start : index * size])
                self._start(events)
                return index, heard
        self.voiced_run_ms = run_ms
        self._keep_pre_roll(pcm[start:])
        return index, heard

    def _keep_pre_roll(self, pcm: bytes) -> None:
        """Audio outside an utterance: the last `pre_roll_ms` + `onset_ms` of it are kept (as the
        pieces it came in, whole frames each: an append per read, no copy)."""
        pre_roll, limit = self._pre_roll, self._pre_roll_bytes
        pre_roll.append(pcm)
        kept = self._pre_roll_kept + len(pcm)
        while kept - len(pre_roll[0]) >= limit:  # the oldest piece is not needed any more
            kept -= len(pre_roll.popleft())
        self._pre_roll_kept = kept

    def _start(self, events: list[Event]) -> None:
        """The onset: an utterance starts with the pre-roll (the onset's frames at its end)."""
        kept = b"".join(self._pre_roll)[-self._pre_roll_bytes :]
        self._pre_roll.clear()
        self._pre_roll_kept = 0
        self.speaking = True
        self.end_silence_ms = self._next_end_silence_ms
        self._paused = False
        self._quiet_ms = 0
        self._speech_ms = self.voiced_run_ms
        self._silence_ms = 0
        self._utterance_ms = len(kept) // self._frame_bytes * self.frame_ms
        events.append(SpeechStarted(kept))

    def _utterance(self, pcm: bytes, voiced: list[bool], index: int, events: list[Event]) -> tuple[int, bool]:
        """Frames from `index` on, inside the utterance, up to its end or the end of the run; returns
        where it stopped and whether any frame was heard (voiced and, for pauses, above the floor).

        Per frame: the utterance's counters, the pause (`pause_ms` of quiet: SpeechPaused once,
        SpeechResumed when voice comes back), the end (`end_silence_ms` of silence, or
        `max_utterance_ms`). The counters live in locals here: this runs for every frame the caller
        speaks.
        """
        config, size, frame_ms = self.config, self._frame_bytes, self.config.frame_ms
        pause_ms, floor, end_silence_ms = config.pause_ms, config.pause_floor_rms, self.end_silence_ms
        run_ms, utterance_ms = self.voiced_run_ms, self._utterance_ms
        speech_ms, silence_ms, quiet_ms, paused = (
            self._speech_ms,
            self._silence_ms,
            self._quiet_ms,
            self._paused,
        )
        reported, heard, ended = index * size, False, ""
        while index < len(voiced):
            is_voiced = voiced[index]
            index += 1
            utterance_ms += frame_ms
            if is_voiced:
                run_ms += frame_ms
                speech_ms += frame_ms
                silence_ms = 0
            else:
                run_ms = 0
                silence_ms += frame_ms
            loud = is_voiced
            news: SpeechPaused | SpeechResumed | None = None
            if pause_ms:
                if is_voiced and floor:  # webrtcvad's hangover: quiet voiced frames are a pause too
                    loud = rms(pcm[(index - 1) * size : index * size]) >= floor
                if loud:
                    quiet_ms = 0
                    if paused:
                        paused, news = False, SpeechResumed()
                else:
                    quiet_ms += frame_ms
                    if not paused and pause_ms <= quiet_ms and silence_ms < end_silence_ms:
                        if speech_ms >= config.min_speech_ms:  # enough speech to recognise early
                            paused, news = True, SpeechPaused(quiet_ms)
            heard = heard or loud
            if silence_ms >= end_silence_ms:
                ended = "silence"
            elif utterance_ms >= config.max_utterance_ms:
                ended = "max_length"
            if news is not None or ended:
                events.append(SpeechAudio(pcm[reported : index * size]))
                reported = index * size
                if news is not None:
                    events.append(news)
                if ended:
                    break
        if reported < index * size:
            events.append(SpeechAudio(pcm[reported : index * size]))
        self.voiced_run_ms, self._utterance_ms = run_ms, utterance_ms
        self._speech_ms, self._silence_ms, self._quiet_ms, self._paused = (
            speech_ms,
            silence_ms,
            quiet_ms,
            paused,
        )
        if ended:
            self._finish(ended, events)
        return index, heard

    def _finish(self, reason: str, events: list[Event]) -> None:
        self.speaking = False
        self._paused = False
        if self._speech_ms < self.config.min_speech_ms:
            events.append(SpeechDropped(self._speech_ms))
        else:
            events.append(SpeechEnded(reason, self._speech_ms, self._silence_ms, self._utterance_ms))


def rms_numpy(frame: bytes) -> float:
    """Root mean square of int16 samples (the sum of squares in int64: one dot product)."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.int64)
    return math.sqrt(int(samples @ samples) / samples.size) if samples.size else 0.0


try:  # the native media edge's: the same float, without numpy's per-call overhead
    from porteiro_gateway._media import rms  # type: ignore[attr-defined]
except ImportError:
    rms = rms_numpy
