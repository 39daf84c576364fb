"""Listening in the native media edge: a leg's endpointer kept in the edge's thread (issue 21).

With the native media edge (media_engine.py) a leg's caller audio need not pass through the event
loop: while the edge *listens* for the leg, its thread parses the AudioSocket frames, runs webrtcvad
and the endpointer (_endpointer.c, `endpointing.Endpointer`'s decisions frame for frame) and the
loop gets only the events — an onset with its pre-roll, pauses, the end — and the utterance's
audio gathered in `TRANSCRIBE_CHUNK_MS` pieces (what a Transcribe message carries anyway). A quiet
leg costs the loop nothing.

The edge stops listening, and hands the loop the bytes as before, over a Say the caller may
interrupt (barge-in weighs every 20 ms in the loop) and at anything that is not the caller's audio
at the endpointer's rate (DTMF, a hangup, bad frames: the loop handles them, then the edge listens
again). Both feed the same endpointer state, so an utterance may start in one and end in the other.
"""

from __future__ import annotations

import logging
from typing import Any

import _webrtcvad
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
)

log = logging.getLogger(__name__)

try:
    from porteiro_gateway import _media  # type: ignore[attr-defined]
except ImportError:  # not built: the loop endpoints every leg (endpointing.Endpointer)
    _media = None
if _media is not None:
    try:
        _media.use_vad(_webrtcvad.__file__)  # the edge calls webrtcvad's own C function
    except ImportError as error:
        log.warning("listening in the edge is off: %s", error)
        _media = None

END_REASONS = ("silence", "max_length")  # _endpointer.h's END_SILENCE, END_MAX_LENGTH


def available() -> bool:
    return _media is not None


class EdgeEndpointer:
    """A leg's endpointer whose state lives in the native edge: `Endpointer`'s interface.

    `feed` runs it on audio the loop has (the edge is not listening); `events` turns what the edge
    found while listening into the same events. `speaking` and `end_silence_ms` follow the events
    the loop has handled, not the edge's state, which may be a batch ahead.
    """

    def __init__(
        self,
        engine: Any,
        leg_id: int,
        sample_rate: int,
        config: EndpointingConfig,
        gather_ms: int,
        max_frame_bytes: int,
    ) -> None:
        if _media is None:
            raise RuntimeError("the native media edge is not built (make setup)")
        self.sample_rate = sample_rate
        self.config = config
        self._engine, self._leg_id = engine, leg_id
        self._vad = webrtcvad.Vad(config.aggressiveness)  # the edge holds a reference too
        engine.listen(
            leg_id,
            self._vad,
            sample_rate,
            config.frame_ms,
            config.onset_ms,
            config.pre_roll_ms,
            config.min_speech_ms,
            config.max_utterance_ms,
            config.end_silence_ms,
            config.pause_ms,
            float(config.pause_floor_rms),
            sample_rate * 2 * gather_ms // 1000,
            max_frame_bytes,
        )
        self.speaking = False
        self.heard = False  # the last `feed` held voice
        self.voiced_run_ms = 0  # after the last `feed`
        self.end_silence_ms = config.end_silence_ms  # of the utterance in progress (its onset says)

    def expect(self, expected: int) -> None:
        """The kind of answer the next utterances answer (from their onset on, as `Endpointer`)."""
        try:
            self._engine.expect(self._leg_id, self.config.end_silence_for(expected))
        except KeyError:  # the leg has ended (its connection released): nothing is endpointed any more
            pass

    def feed(self, pcm: bytes) -> list[Event]:
        """Caller audio the loop has: the edge's endpointer on it, now."""
        found, self.heard, self.voiced_run_ms = self._engine.feed(self._leg_id, pcm)
        return self.events(found) if found else []

    def events(self, found: list[tuple]) -> list[Event]:
        """The edge's event tuples (`_media` EV_* first) as endpointing's events."""
        events: list[Event] = []
        for item in found:
            kind = item[0]
            if kind == _media.EV_AUDIO:
                events.append(SpeechAudio(item[1]))
            elif kind == _media.EV_STARTED:
                self.speaking, self.end_silence_ms = True, item[2]
                events.append(SpeechStarted(item[1]))
            elif kind == _media.EV_ENDED:
                self.speaking = False
                _, reason, speech_ms, silence_ms, utterance_ms, heard_at = item
                events.append(SpeechEnded(END_REASONS[reason], speech_ms, silence_ms, utterance_ms, heard_at))
            elif kind == _media.EV_DROPPED:
                self.speaking = False
                events.append(SpeechDropped(item[1]))
            elif kind == _media.EV_PAUSED:
                events.append(SpeechPaused(item[1]))
            else:
                events.append(SpeechResumed())
        return events
