"""One call leg: an AudioSocket connection from Asterisk, from connect to close.

The leg owns every task it starts (player, socket reader, concierge pumps,
synthesis fetches, recognitions, timers) in one TaskGroup; when the leg ends,
for whatever reason, they are all cancelled, the concierge is told
(LegEnded, half-close) and the socket is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
import soxr
from opentelemetry import trace
from opentelemetry.trace import Span

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc
from porteiro_common import stages
from porteiro_common.audiosocket import (
    AUDIO_RATES,
    HANGUP_FRAME,
    Frame,
    FrameParser,
    Kind,
    ProtocolError,
    check_frame,
)
from porteiro_common.ids import session_id_from_bytes
from porteiro_common.metrics import DEPENDENCY_UP
from porteiro_common.redaction import Redactor
from porteiro_common.tracing import context_from_traceparent
from porteiro_gateway import metrics
from porteiro_gateway.concierge_link import ConciergeGone, ConciergeLink, LegEvent, describe
from porteiro_gateway.endpointing import (
    Endpointer,
    EndpointingConfig,
    SpeechAudio,
    SpeechDropped,
    SpeechEnded,
    SpeechStarted,
)
from porteiro_gateway.fallback import FallbackAudio
from porteiro_gateway.playback import PlaybackClock, PlaybackSink, Player, SayItem
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.speech import PLAYBACK_RATE, SpeechClient, Transcription

log = logging.getLogger(__name__)

Reason = concierge_pb2.LegEndReason
LEG_NAMES = {common_pb2.LEG_VISITOR: "visitor", common_pb2.LEG_RESIDENT: "resident"}
# Ending the leg ourselves: tell Asterisk with a hangup frame so the dialplan continues.
REASONS_WITH_HANGUP_FRAME = {
    Reason.LEG_END_REASON_HANGUP_REQUESTED,
    Reason.LEG_END_REASON_MAX_DURATION,
    Reason.LEG_END_REASON_SHUTDOWN,
    Reason.LEG_END_REASON_PROTOCOL_ERROR,
    Reason.LEG_END_REASON_DEPENDENCY_FAILURE,
}
MAX_UNSENT_BYTES = 64 * 1024  # ~4 s of audio the peer has not read: it is gone
COUNT_FLUSH_FRAMES = 50  # frame counters reach Prometheus once a second per leg, not per frame


@dataclass
class LegDeps:
    """What every leg shares: settings and clients, created once by the app."""

    settings: GatewaySettings
    speech: SpeechClient
    concierge: concierge_pb2_grpc.ConciergeServiceStub
    fallback: FallbackAudio
    redactor: Redactor
    clock: PlaybackClock
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer("porteiro.gateway"))

    def endpointing(self) -> EndpointingConfig:
        s = self.settings
        return EndpointingConfig(
            aggressiveness=s.vad_aggressiveness,
            frame_ms=s.vad_frame_ms,
            onset_ms=s.speech_onset_ms,
            end_silence_ms=s.end_of_speech_silence_ms,
            pre_roll_ms=s.pre_roll_ms,
            min_speech_ms=s.min_speech_ms,
            max_utterance_ms=int(s.max_utterance_seconds * 1000),
        )


class FrameCount:
    """A per-leg frame counter: a plain int, added to the Prometheus child every `every` frames.

    The child's lock costs more than the rest of a frame's bookkeeping.
    """

    __slots__ = ("_child", "_every", "_count")

    def __init__(self, child: Any, every: int = COUNT_FLUSH_FRAMES) -> None:
        self._child = child
        self._every = every
        self._count = 0

    def add(self) -> None:
        self._count += 1
        if self._count >= self._every:
            self.flush()

    def flush(self) -> None:
        if self._count:
            self._child.inc(self._count)
            self._count = 0


class Leg(PlaybackSink):
    """One AudioSocket connection.

    The listener's protocol feeds it bytes (`data_received`, `eof_received`,
    `connection_lost`) straight from the event loop's read callback: no reader
    task, no stream buffer, no wake-up per frame.
    """

    def __init__(self, deps: LegDeps, leg: int, transport: asyncio.Transport) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.leg = leg
        self.leg_name = LEG_NAMES[leg]
        self._transport = transport
        # What arrives before run() has its TaskGroup: bytes, and maybe the end of the connection.
        self._early: bytearray | None = bytearray()
        self._early_end: tuple[Exception | None] | None = None  # (the connection's error,)
        self.session_id = ""
        self.end_reason: int | None = None
        self._end_detail = ""
        self._ended = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._link_tasks: set[asyncio.Task] = set()  # allowed to finish after the leg ends
        self._group: asyncio.TaskGroup | None = None
        self._frames_in = FrameCount(metrics.FRAMES.labels("in", self.leg_name))
        self._frames_out = FrameCount(metrics.FRAMES.labels("out", self.leg_name))
        self.player = Player(self._send_frame, self, PLAYBACK_RATE, self.settings.idle_silence)
        self._parser = FrameParser(self.settings.max_frame_bytes)
        # The stream lives as long as the leg; its deadline only backs up MAX_CALL_SECONDS.
        self._link = ConciergeLink(deps.concierge, self.settings.max_call_seconds + 30)
        self._span: Span = trace.INVALID_SPAN
        self._state = "CONNECTED"
        # Caller audio.
        self._endpointer: Endpointer | None = None
        self._input_rate = 0
        self._resampler: soxr.ResampleStream | None = None
        self._last_voiced_at = 0.0
        self._barge_run_ms = 0.0
        # Turns.
        self._turn = 0
        self._turn_span: Span | None = None
        self._awaiting_reply: Span | None = None  # the last turn, until the reply starts
        self._transcription: Transcription | None = None
        self._speech_ended_at: float | None = None
        self._hints: list[str] = []
        self._language = ""
        # Playback bookkeeping.
        self._synthesis: dict[int, asyncio.Task] = {}
        self._greeted = False
        self._hanging_up = False
        self._failures = 0
        self._in_fallback = False

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        metrics.ACTIVE_LEGS.labels(self.leg_name).inc()
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self.deps.clock.add(self.player)  # start sending at once (asterisk issue 2089)
                self._spawn(self._expect_uuid())
                self._spawn(self._limit_duration())
                early, self._early = self._early, None
                if early:
                    self.data_received(bytes(early))
                if self._early_end is not None:
                    self._connection_ended(self._early_end[0])
                await self._ended.wait()
                await self._wind_down()
        finally:
            metrics.ACTIVE_LEGS.labels(self.leg_name).dec()
            await self._finish()

    def end(self, reason: int, detail: str = "") -> None:
        """End the leg (the first reason wins); everything it owns is then cancelled."""
        if self.end_reason is not None:
            return
        self.end_reason = reason
        self._end_detail = detail
        self._set_state("ENDING")
        self._ended.set()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], link: bool = False) -> asyncio.Task | None:
        if self._group is None or self._ended.is_set():
            coroutine.close()
            return None
        task = self._group.create_task(self._guarded(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if link:
            self._link_tasks.add(task)
            task.add_done_callback(self._link_tasks.discard)
        return task

    async def _guarded(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a bug in one task must end the leg, not the process
            log.exception("leg task failed", extra={"session_id": self.session_id})
            stages.record_error(self._span, error)
            self.end(Reason.LEG_END_REASON_CONNECTION_ERROR, f"internal error: {type(error).__name__}")

    async def _wind_down(self) -> None:
        """Stop the leg's work, close the socket, then let the concierge hear LegEnded."""
        self.deps.clock.discard(self.player)
        for task in list(self._tasks - self._link_tasks):
            task.cancel()
        self._close_socket()
        self.player.stop()  # reports the Says still queued as interrupted
        if self._transcription is not None:
            self._transcription.cancel()
        self._link.finish(concierge_pb2.LegEnded(reason=self._reason(), detail=self._end_detail))
        if self._link_tasks:
            await asyncio.wait(set(self._link_tasks), timeout=1.0)
        for task in list(self._tasks):
            task.cancel()

    def _reason(self) -> int:
        return self.end_reason or Reason.LEG_END_REASON_CONNECTION_ERROR

    def _close_socket(self) -> None:
        transport = self._transport
        try:
            if self._reason() in REASONS_WITH_HANGUP_FRAME and not transport.is_closing():
                transport.write(HANGUP_FRAME)
            transport.close()
        except (OSError, RuntimeError):
            pass

    async def _finish(self) -> None:
        reason = self._reason()
        reason_name = Reason.Name(reason).removeprefix("LEG_END_REASON_").lower()
        metrics.LEGS_ENDED.labels(self.leg_name, reason_name).inc()
        self._frames_in.flush()
        self._frames_out.flush()
        self.deps.clock.discard(self.player)
        self._close_socket()
        self._link.abandon()
        self._end_turn("leg_ended")
        self._end_awaited_turn()
        if self.session_id:
            self._ensure_span()
        self._span.add_event(stages.CALL_ENDED, {"reason": reason_name, "detail": self._end_detail})
        self._span.set_attribute("outcome", reason_name)
        self._span.end()
        log.info(
            "leg ended: %s",
            reason_name,
            extra={
                "session_id": self.session_id,
                "leg": self.leg_name,
                "reason": reason_name,
                "detail": self._end_detail,
            },
        )

    async def _limit_duration(self) -> None:
        await asyncio.sleep(self.settings.max_call_seconds)
        self.end(Reason.LEG_END_REASON_MAX_DURATION, "maximum call duration reached")

    # ---- socket in ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Bytes from Asterisk: every complete frame is handled at once, in order."""
        if self.end_reason is not None:  # ended (cheaper than the event, per read)
            return
        if self._early is not None:
            self._early += data
            return
        try:
            for frame in self._parser.feed(data):
                self._on_frame(frame)
                if self.end_reason is not None:
                    return
        except ProtocolError as error:
            self._protocol_error(error)
        except Exception as error:  # noqa: BLE001 - a bug in one leg must end it, not the process
            log.exception("leg failed on a frame", extra={"session_id": self.session_id})
            stages.record_error(self._span, error)
            self.end(Reason.LEG_END_REASON_CONNECTION_ERROR, f"internal error: {type(error).__name__}")

    def eof_received(self) -> None:
        self._connection_ended(None)

    def connection_lost(self, error: Exception | None) -> None:
        self._connection_ended(error)

    def _connection_ended(self, error: Exception | None) -> None:
        if self._early is not None:  # run() has not started: it ends the leg after the early bytes
            if self._early_end is None:
                self._early_end = (error,)
            return
        if error is None:
            reason, detail = (
                Reason.LEG_END_REASON_CALLER_HANGUP,
                "EOF" if self.session_id else "EOF before UUID",
            )
        else:
            reason, detail = Reason.LEG_END_REASON_CONNECTION_ERROR, f"{type(error).__name__}: {error}"
        self.end(reason, detail)

    def _protocol_error(self, error: ProtocolError) -> None:
        metrics.PROTOCOL_ERRORS.labels(error.code).inc()
        log.warning("protocol error: %s", error, extra={"session_id": self.session_id, "error": str(error)})
        self.end(Reason.LEG_END_REASON_PROTOCOL_ERROR, str(error))

    async def _expect_uuid(self) -> None:
        await asyncio.sleep(self.settings.uuid_timeout_seconds)
        if not self.session_id:
            self._protocol_error(ProtocolError("uuid_timeout", "no UUID frame in time"))

    def _on_frame(self, frame: Frame) -> None:
        kind = frame.kind
        rate = AUDIO_RATES.get(kind)
        if rate is not None and self.session_id:  # the hot path: caller audio
            if len(frame.payload) & 1:
                raise ProtocolError("odd_audio", f"audio frame with odd length {len(frame.payload)}")
            self._frames_in.add()
            self._on_audio(frame.payload, rate)
            return
        if not self.session_id:
            if kind != Kind.UUID:
                raise ProtocolError("no_uuid_first", f"first frame kind 0x{kind:02x}, not UUID")
            check_frame(frame)
            self._begin(session_id_from_bytes(frame.payload))
            return
        check_frame(frame)
        if kind == Kind.DTMF:
            self._link.send(LegEvent(dtmf=concierge_pb2.Dtmf(digit=chr(frame.payload[0]))))
            self._span.add_event("DTMF")
        elif kind == Kind.HANGUP:
            self.end(Reason.LEG_END_REASON_CALLER_HANGUP, "hangup frame")
        elif kind == Kind.ERROR:
            code = frame.payload[0] if frame.payload else 0
            metrics.PROTOCOL_ERRORS.labels("error_frame").inc()
            log.warning("error frame from Asterisk", extra={"session_id": self.session_id, "code": code})
            if code == 0x01:  # Asterisk's "call hangup" error
                self.end(Reason.LEG_END_REASON_CALLER_HANGUP, "error frame: hangup")
        elif kind == Kind.UUID:
            metrics.PROTOCOL_ERRORS.labels("duplicate_uuid").inc()

    # ---- setup ------------------------------------------------------------------------------

    def _begin(self, session_id: str) -> None:
        self.session_id = session_id
        started = concierge_pb2.LegStarted(session_id=session_id, leg=self.leg, sample_rate_hz=8000)
        if self.leg == common_pb2.LEG_VISITOR:
            self._ensure_span()
            with trace.use_span(self._span, end_on_exit=False):
                self._link.open(started)
        else:
            self._link.open(started)  # RESIDENT_LEG span waits for the visitor's traceparent
        self._spawn(self._pump_concierge(), link=True)
        log.info("leg started", extra={"session_id": session_id, "leg": self.leg_name})

    def _ensure_span(self, traceparent: str = "") -> None:
        if self._span is not trace.INVALID_SPAN:
            return
        attributes = {"porteiro.session_id": self.session_id, "porteiro.leg": self.leg_name}
        if self.leg == common_pb2.LEG_VISITOR:
            self._span = self.deps.tracer.start_span("CALL", attributes=attributes)
        else:
            parent = context_from_traceparent(traceparent)
            self._span = self.deps.tracer.start_span("RESIDENT_LEG", context=parent, attributes=attributes)
        self._span.add_event(stages.CALL_SETUP)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._span.add_event(stages.STATE_CHANGE, {"from": self._state, "to": state})
            self._state = state

    def _idle_state(self) -> None:
        if not self._ended.is_set():
            speaking = self._endpointer is not None and self._endpointer.speaking
            self._set_state("CALLER_SPEAKING" if speaking else "PLAYING" if self.player.busy else "LISTENING")

    # ---- concierge ---------------------------------------------------------------------------

    async def _pump_concierge(self) -> None:
        sender = self._spawn(self._pump_out(), link=True)
        try:
            await self._link.pump_in(self._on_action)
        except ConciergeGone as error:
            if sender is not None:
                sender.cancel()
            self._link.abandon()
            if not self._hanging_up:  # after HangUp the concierge may close first: that is fine
                self._dependency_failed("concierge", str(error))

    async def _pump_out(self) -> None:
        try:
            await self._link.pump_out()
        except ConciergeGone as error:
            self._link.abandon()
            if not self._hanging_up:
                self._dependency_failed("concierge", str(error))

    def _on_action(self, action: concierge_pb2.LegAction) -> None:
        which = action.WhichOneof("action")
        if which == "say":
            self._on_say(action.say)
        elif which == "accepted":
            DEPENDENCY_UP.labels("concierge").set(1)
            if self.leg == common_pb2.LEG_RESIDENT:
                self._ensure_span(action.accepted.traceparent)
            self._idle_state()
        elif which == "stop_playback":
            self.player.stop()
            self._idle_state()
        elif which == "hang_up":
            self._on_hang_up(action.hang_up.after_playback)
        elif which == "recognition":
            self._hints = list(action.recognition.hints)
            self._language = action.recognition.language

    def _on_say(self, say: concierge_pb2.Say) -> None:
        item = SayItem(say.say_id, say.allow_barge_in, PLAYBACK_RATE)
        self.player.enqueue(item)
        task = self._spawn(self._synthesize(item, say.text, say.voice))
        if task is not None:
            self._synthesis[id(item)] = task

    async def _synthesize(self, item: SayItem, text: str, voice: str) -> None:
        try:
            with trace.use_span(self._span, end_on_exit=False):
                async for chunk in self.deps.speech.synthesize(text, voice):
                    item.add_audio(chunk)
            item.finish_synthesis()
        except (grpc.aio.AioRpcError, ValueError) as error:
            item.finish_synthesis(error)
        finally:
            self._synthesis.pop(id(item), None)

    def _on_hang_up(self, after_playback: bool) -> None:
        self._hanging_up = True
        if after_playback and self.player.busy:
            self._spawn(self._hang_up_when_idle())
        else:
            self.player.stop()
            self.end(Reason.LEG_END_REASON_HANGUP_REQUESTED, "concierge hung up")

    async def _hang_up_when_idle(self) -> None:
        await self.player.wait_idle()
        self.end(Reason.LEG_END_REASON_HANGUP_REQUESTED, "concierge hung up after playback")

    # ---- playback events (PlaybackSink) -----------------------------------------------------------

    def on_say_started(self, item: SayItem) -> None:
        if item.is_fallback:
            return
        now = time.monotonic()
        if self._speech_ended_at is not None and item.queued_at >= self._speech_ended_at:
            metrics.TURN_LATENCY.observe(now - self._speech_ended_at)
            self._end_awaited_turn(round((now - self._speech_ended_at) * 1000, 1))
            self._speech_ended_at = None
        if not self._greeted and self.leg == common_pb2.LEG_VISITOR:
            self._greeted = True
            self._span.add_event(stages.GREETING, {"say_id": item.say_id})
        self._set_state("PLAYING")

    def on_say_finished(self, item: SayItem, interrupted: bool) -> None:
        task = self._synthesis.pop(id(item), None)
        if task is not None:
            task.cancel()
        if not item.is_fallback:
            finished = concierge_pb2.PlaybackFinished(
                say_id=item.say_id, interrupted=interrupted, played_seconds=item.played_seconds
            )
            self._link.send(LegEvent(playback_finished=finished))
        if not self.player.busy:
            self._idle_state()

    def on_player_error(self, error: Exception) -> None:
        self.end(Reason.LEG_END_REASON_CONNECTION_ERROR, f"internal error: {type(error).__name__}")

    def on_say_failed(self, item: SayItem) -> None:
        self.on_say_finished(item, True)
        self._dependency_failed("speech", describe(item.error or RuntimeError("synthesis failed")))

    # ---- socket out --------------------------------------------------------------------------

    def _send_frame(self, frame: bytes) -> None:
        transport = self._transport
        if transport.is_closing():
            self.end(Reason.LEG_END_REASON_CONNECTION_ERROR, "socket closed")
            return
        if transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            self.end(Reason.LEG_END_REASON_CONNECTION_ERROR, "peer stopped reading")
            return
        transport.write(frame)
        self._frames_out.add()

    # ---- caller audio ------------------------------------------------------------------------

    def _on_audio(self, pcm: bytes, rate: int) -> None:
        pcm, rate = self._to_vad_rate(pcm, rate)
        if not pcm:
            return
        endpointer = self._endpointer
        if endpointer is None or endpointer.sample_rate != rate:
            endpointer = self._endpointer = Endpointer(rate, self.deps.endpointing())
        events = endpointer.feed(pcm)
        if endpointer.voiced_run_ms:
            self._last_voiced_at = time.monotonic()
        self._check_barge_in(pcm, rate, endpointer.voiced_run_ms > 0)
        for event in events:
            if isinstance(event, SpeechAudio):
                if self._transcription is not None:
                    self._transcription.send(event.audio)
            elif isinstance(event, SpeechStarted):
                self._on_speech_started(event, rate)
            elif isinstance(event, SpeechEnded):
                self._on_speech_ended(event)
            elif isinstance(event, SpeechDropped):
                self._on_speech_dropped(event)

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
        item = self.player.current
        settings = self.settings
        if (
            item is None
            or not item.allow_barge_in
            or not settings.barge_in_enabled
            or item.started_at is None
            or time.monotonic() - item.started_at < settings.echo_guard_ms / 1000
        ):
            self._barge_run_ms = 0.0
            return
        if voiced and rms(pcm) >= settings.barge_in_min_rms:
            self._barge_run_ms += len(pcm) * 1000 / (2 * rate)
        else:
            self._barge_run_ms = 0.0
        if self._barge_run_ms >= settings.barge_in_min_speech_ms:
            self._barge_run_ms = 0.0
            played = item.played_seconds
            metrics.BARGE_INS.inc()
            self._span.add_event("BARGE_IN", {"say_id": item.say_id, "played_seconds": played})
            self._link.send(
                LegEvent(barge_in=concierge_pb2.BargeIn(say_id=item.say_id, played_seconds=played))
            )
            self.player.stop()  # the next tick sends silence: stopped within one frame
            self._idle_state()

    def _on_speech_started(self, event: SpeechStarted, rate: int) -> None:
        self._end_awaited_turn()
        self._turn += 1
        context = trace.set_span_in_context(self._span)
        self._turn_span = self.deps.tracer.start_span(
            "TURN",
            context=context,
            attributes={
                "porteiro.session_id": self.session_id,
                "porteiro.leg": self.leg_name,
                "porteiro.turn": self._turn,
            },
        )
        self._turn_span.add_event(stages.SPEECH_DETECTED, {"pre_roll_ms": self.settings.pre_roll_ms})
        self._link.send(LegEvent(speech_started=concierge_pb2.SpeechStarted()))
        self._set_state("CALLER_SPEAKING")
        if self._transcription is not None:
            self._transcription.cancel()
        transcription = self.deps.speech.transcription(rate, self.session_id, self._hints, self._language)
        with trace.use_span(self._turn_span, end_on_exit=False):
            transcription.start(self.settings.max_utterance_seconds)
        transcription.send(event.audio)
        self._transcription = transcription

    def _on_speech_ended(self, event: SpeechEnded) -> None:
        now = time.monotonic()
        metrics.ENDPOINTING.observe(max(0.0, now - self._last_voiced_at))
        self._speech_ended_at = now
        if self._turn_span is not None:
            if event.reason == "silence":
                self._turn_span.add_event(stages.SILENCE_DETECTED, {"duration_ms": event.silence_ms})
            self._turn_span.add_event(
                stages.SPEECH_ENDED,
                {
                    "duration_ms": event.utterance_ms,
                    "speech_ms": event.speech_ms,
                    "utterance_ms": event.utterance_ms,
                    "reason": event.reason,
                },
            )
        transcription, self._transcription = self._transcription, None
        self._idle_state()
        if transcription is not None:
            transcription.finish()
            self._spawn(self._recognize(transcription, self._turn_span, event.utterance_ms / 1000))
            self._turn_span = None

    def _on_speech_dropped(self, event: SpeechDropped) -> None:
        metrics.DROPPED_UTTERANCES.inc()
        if self._transcription is not None:
            self._transcription.cancel()
            self._transcription = None
        self._end_turn("too_short")
        self._idle_state()

    async def _recognize(self, transcription: Transcription, span: Span | None, audio_seconds: float) -> None:
        outcome = "error"
        try:
            response = await transcription.result()
            ended_at = transcription.ended_at or time.monotonic()
            text = response.text.strip()
            if not text:
                outcome = "empty"
                metrics.EMPTY_TRANSCRIPTS.inc()
                return
            outcome = "utterance"
            utterance = concierge_pb2.Utterance(
                text=text, audio_seconds=audio_seconds, recognition_seconds=time.monotonic() - ended_at
            )
            if response.HasField("confidence"):
                utterance.confidence = response.confidence
            self._link.send(LegEvent(utterance=utterance))
            if span is not None:
                span.set_attribute("porteiro.transcript", self.deps.redactor(text))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                outcome = "rejected"
                log.warning("speech rejected an utterance", extra={"error": describe(error)})
            else:
                if span is not None:
                    stages.record_error(span, describe(error), "speech")
                self._dependency_failed("speech", describe(error))
        finally:
            if span is not None:
                span.set_attribute("outcome", outcome)
                span.set_attribute("audio_bytes", transcription.audio_bytes)
                if outcome == "utterance":  # the turn lasts until the reply starts (turn_latency_ms)
                    self._end_awaited_turn()
                    self._awaiting_reply = span
                else:
                    span.end()

    def _end_awaited_turn(self, turn_latency_ms: float | None = None) -> None:
        """End the turn waiting for its reply, with the reply's latency when it came."""
        span, self._awaiting_reply = self._awaiting_reply, None
        if span is not None:
            if turn_latency_ms is not None:
                span.set_attribute("turn_latency_ms", turn_latency_ms)
            span.end()

    def _end_turn(self, outcome: str) -> None:
        span, self._turn_span = self._turn_span, None
        if span is not None:
            span.set_attribute("outcome", outcome)
            span.end()

    # ---- failures ----------------------------------------------------------------------------

    def _dependency_failed(self, dependency: str, detail: str) -> None:
        """Speech or concierge failed: play the fallback sentence, then hang up or carry on."""
        if self._ended.is_set() or self._in_fallback:
            return
        self._failures += 1
        metrics.FALLBACKS.labels(dependency).inc()
        DEPENDENCY_UP.labels(dependency).set(0)
        stages.record_error(self._span, f"{dependency} failed: {detail}", dependency)
        log.warning(
            "%s failed mid-call: %s",
            dependency,
            detail,
            extra={"session_id": self.session_id, "dependency": dependency, "detail": detail},
        )
        self._in_fallback = True
        self.player.stop()
        sound = self.deps.fallback.sound()
        self.player.enqueue(
            SayItem("fallback", False, PLAYBACK_RATE, bytearray(sound), True, is_fallback=True)
        )
        self._set_state("FALLBACK")
        give_up = (
            self.settings.on_dependency_failure == "hangup"
            or self._failures >= self.settings.max_dependency_failures
        )
        self._spawn(self._after_fallback(dependency, give_up))

    async def _after_fallback(self, dependency: str, give_up: bool) -> None:
        await self.player.wait_idle()
        self._in_fallback = False
        if give_up:
            self.end(Reason.LEG_END_REASON_DEPENDENCY_FAILURE, f"{dependency} unavailable")
            return
        if dependency == "concierge" and not self._link.alive:
            started = concierge_pb2.LegStarted(session_id=self.session_id, leg=self.leg, sample_rate_hz=8000)
            with trace.use_span(self._span, end_on_exit=False):
                self._link.open(started)
            self._spawn(self._pump_concierge(), link=True)
        self._idle_state()


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
