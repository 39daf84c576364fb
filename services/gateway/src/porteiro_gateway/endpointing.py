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
from dataclasses import dataclass

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
        self._pending = bytearray()
        # Holds the pre-roll plus the onset frames while waiting for speech.
        window = (config.pre_roll_ms + config.onset_ms) // config.frame_ms + 1
        self._pre_roll: deque[bytes] = deque(maxlen=window)
        self.speaking = False
        self.voiced_run_ms = 0  # consecutive voiced audio up to the last frame
        self._speech_ms = 0
        self._silence_ms = 0
        self._utterance_ms = 0
        self._paused = False  # a SpeechPaused was reported and no voiced audio came since
        self._quiet_ms = 0  # for pauses: audio since the last voiced frame above the floor
        self.heard = False  # the last frame was voice (voiced, and above the floor within an utterance)
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
        """Consume caller audio; return what happened, in order."""
        events: list[Event] = []
        size = self._frame_bytes
        if not self._pending and len(pcm) == size:  # the common case: one whole VAD frame
            self._classify(pcm, events)
            return events
        self._pending += pcm
        while len(self._pending) >= size:
            frame = bytes(self._pending[:size])
            del self._pending[:size]
            self._classify(frame, events)
        return events

    def _classify(self, frame: bytes, events: list[Event]) -> None:
        voiced = _webrtcvad.process(self._vad_handle, self.sample_rate, frame, self._frame_samples)
        self.voiced_run_ms = self.voiced_run_ms + self.frame_ms if voiced else 0
        self.heard = voiced
        if self.speaking:
            self._continue(frame, voiced, events)
        else:
            self._wait_for_onset(frame, events)

    def _wait_for_onset(self, frame: bytes, events: list[Event]) -> None:
        self._pre_roll.append(frame)
        if self.voiced_run_ms < self.config.onset_ms:
            return
        kept = list(self._pre_roll)
        self._pre_roll.clear()
        self.speaking = True
        self.end_silence_ms = self._next_end_silence_ms
        self._paused = False
        self._quiet_ms = 0
        self._speech_ms = self.voiced_run_ms
        self._silence_ms = 0
        self._utterance_ms = len(kept) * self.frame_ms
        events.append(SpeechStarted(b"".join(kept)))

    def _continue(self, frame: bytes, voiced: bool, events: list[Event]) -> None:
        self._utterance_ms += self.frame_ms
        events.append(SpeechAudio(frame))
        if voiced:
            self._speech_ms += self.frame_ms
            self._silence_ms = 0
        else:
            self._silence_ms += self.frame_ms
        if self.config.pause_ms:
            self._follow_pause(frame, voiced, events)
        if self._silence_ms >= self.end_silence_ms:
            self._finish("silence", events)
        elif self._utterance_ms >= self.config.max_utterance_ms:
            self._finish("max_length", events)

    def _follow_pause(self, frame: bytes, voiced: bool, events: list[Event]) -> None:
        """SpeechPaused once the caller is quiet for `pause_ms`, SpeechResumed when they speak again."""
        floor = self.config.pause_floor_rms
        if voiced and floor:
            voiced = self.heard = rms(frame) >= floor
        if voiced:
            self._quiet_ms = 0
            if self._paused:
                self._paused = False
                events.append(SpeechResumed())
            return
        self._quiet_ms += self.frame_ms
        if not self._paused and self._pausing():
            self._paused = True
            events.append(SpeechPaused(self._quiet_ms))

    def _pausing(self) -> bool:
        """A pause worth recognising early: long enough, short of the end, after enough speech."""
        return (
            self.config.pause_ms <= self._quiet_ms
            and self._silence_ms < self.end_silence_ms
            and self._speech_ms >= self.config.min_speech_ms
        )

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
