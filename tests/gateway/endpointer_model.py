"""A model of the endpointer for the tests: one VAD frame at a time, written for clarity, not speed.

The gateway's `Endpointer` takes runs of frames at once with its counters in locals (issue 21);
this is the behaviour it must keep, frame by frame, with webrtcvad's public API and numpy's RMS.
It reports every frame's audio as its own SpeechAudio (compare after `coalesced`).
"""

from __future__ import annotations

import webrtcvad

from porteiro_gateway.endpointing import (
    EndpointingConfig,
    Event,
    SpeechAudio,
    SpeechDropped,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    rms_numpy,
)


class EndpointerModel:
    def __init__(self, sample_rate: int, config: EndpointingConfig) -> None:
        self.rate, self.config = sample_rate, config
        self.vad = webrtcvad.Vad(config.aggressiveness)
        self.frame_bytes = sample_rate * config.frame_ms // 1000 * 2
        self.window = (config.pre_roll_ms + config.onset_ms) // config.frame_ms + 1
        self.pending = b""
        self.pre_roll: list[bytes] = []
        self.speaking = self.paused = False
        self.run_ms = self.speech_ms = self.silence_ms = self.utterance_ms = self.quiet_ms = 0
        self.heard_frames: list[bool] = []  # per frame: voice (voiced, above the floor within an utterance)

    def feed(self, pcm: bytes) -> list[Event]:
        self.pending += pcm
        events: list[Event] = []
        while len(self.pending) >= self.frame_bytes:
            frame, self.pending = self.pending[: self.frame_bytes], self.pending[self.frame_bytes :]
            events += self.frame(frame)
        return events

    def frame(self, frame: bytes) -> list[Event]:
        config, step = self.config, self.config.frame_ms
        voiced = self.vad.is_speech(frame, self.rate)
        self.run_ms = self.run_ms + step if voiced else 0
        if not self.speaking:
            self.heard_frames.append(voiced)
            self.pre_roll = (self.pre_roll + [frame])[-self.window :]
            if self.run_ms < config.onset_ms:
                return []
            kept, self.pre_roll = b"".join(self.pre_roll), []
            self.speaking, self.paused, self.quiet_ms, self.silence_ms = True, False, 0, 0
            self.speech_ms, self.utterance_ms = self.run_ms, len(kept) // self.frame_bytes * step
            return [SpeechStarted(kept)]
        events: list[Event] = [SpeechAudio(frame)]
        self.utterance_ms += step
        self.speech_ms += step if voiced else 0
        self.silence_ms = 0 if voiced else self.silence_ms + step
        heard = voiced
        if config.pause_ms:
            heard = voiced and (not config.pause_floor_rms or rms_numpy(frame) >= config.pause_floor_rms)
            if heard:
                self.quiet_ms = 0
                if self.paused:
                    self.paused = False
                    events.append(SpeechResumed())
            else:
                self.quiet_ms += step
                long_enough = config.pause_ms <= self.quiet_ms and self.silence_ms < config.end_silence_ms
                if not self.paused and long_enough and self.speech_ms >= config.min_speech_ms:
                    self.paused = True
                    events.append(SpeechPaused(self.quiet_ms))
        self.heard_frames.append(heard)
        reason = "silence" if self.silence_ms >= config.end_silence_ms else ""
        if not reason and self.utterance_ms >= config.max_utterance_ms:
            reason = "max_length"
        if reason:
            self.speaking = self.paused = False
            if self.speech_ms < config.min_speech_ms:
                events.append(SpeechDropped(self.speech_ms))
            else:
                events.append(SpeechEnded(reason, self.speech_ms, self.silence_ms, self.utterance_ms))
        return events
