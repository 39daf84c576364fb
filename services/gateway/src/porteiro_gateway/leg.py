"""One call leg: an AudioSocket connection from Asterisk, from connect to close.

`Leg` keeps the socket (`CallerSocket`) and the wiring: caller audio goes to
`CallerAudio` (turns are kept by `Turns`), the concierge stream carries events
out and actions in, Says are synthesized into the `Player`, a failed
dependency brings the fallback, and the leg's lifecycle ends it all. Every
task it starts lives in its `LegTasks`; when the leg ends, for whatever
reason, they are cancelled, the concierge is told (LegEnded, half-close) and
the socket is closed. What lies outside the leg (transport, clock and time,
speech, concierge) is injected, so tests/gateway/harness.py runs a leg in process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.metrics import DEPENDENCY_UP
from porteiro_gateway import leg_trace, metrics
from porteiro_gateway.caller_audio import CallerAudio
from porteiro_gateway.caller_socket import CallerSocket, Transport
from porteiro_gateway.concierge_link import LegAction, LegEvent, describe
from porteiro_gateway.deps import LEG_NAMES, LegDeps
from porteiro_gateway.holding import holding_for
from porteiro_gateway.leg_concierge import LegConcierge
from porteiro_gateway.leg_table import Refusal
from porteiro_gateway.leg_timers import LegTimers
from porteiro_gateway.leg_trace import LegTrace
from porteiro_gateway.media_engine import endpointer_factory
from porteiro_gateway.playback import PlaybackSink, Player, SayItem
from porteiro_gateway.says import Says
from porteiro_gateway.speech import PLAYBACK_RATE
from porteiro_gateway.tasks import LegTasks
from porteiro_gateway.turns import Turns

log = logging.getLogger(__name__)

Reason = concierge_pb2.LegEndReason


# What a finished leg lets go of (Leg._release): all its parts but the socket.
RELEASED_PARTS = (
    "player",
    "caller_audio",
    "says",
    "turns",
    "concierge",
    "timers",
    "_link",
    "_tasks",
    "admit",
)


class Leg(PlaybackSink):
    def __init__(self, deps: LegDeps, leg: common_pb2.Leg, transport: Transport) -> None:
        self.deps = deps
        self.settings = settings = deps.settings
        self.leg = leg
        self.leg_name = LEG_NAMES[leg]
        self._time = deps.clock.time_source
        self.session_id = ""
        self.condominium = ""  # set by deps.tenancy (porteiro_gateway.tenancy) once the UUID is known
        self.end_reason: Reason | None = None
        self._end_detail = ""
        self._ended = asyncio.Event()
        self._tasks = LegTasks(self.failed)
        self._link = deps.concierge()
        self.trace = LegTrace(deps.tracer, leg, self.leg_name)
        self.turns = Turns(
            deps.tracer, self.trace, self.leg_name, deps.redactor, self._time.now, settings.pre_roll_ms
        )
        self.socket = CallerSocket(transport, self, self.leg_name, settings.max_frame_bytes)
        self.player = Player(self.socket.send, self, PLAYBACK_RATE, settings.idle_silence, self._time.now)
        self.caller_audio = CallerAudio(
            self,
            settings,
            deps.speech,
            self.player,
            self.turns,
            self._time.now,
            endpointer_factory(transport),
        )
        self.socket.on_audio = self.caller_audio.feed
        self.socket.on_edge_events = self.caller_audio.edge_events
        self.socket.may_listen_in_edge = self.caller_audio.may_listen_in_edge
        self.says = Says(self.player, deps.speech, self._tasks.spawn, self._time.now, lambda: self.trace.span)
        self.turns.holding = self.says.holding = holding_for(
            deps, self.player, self._tasks.spawn, self._time, self.trace.event
        )
        self._hanging_up = False
        self.concierge = LegConcierge(
            self._link,
            self.trace,
            lambda coroutine: self._tasks.spawn(coroutine, keep_on_end=True),
            self._on_action,
            self._concierge_gone,
            lambda: not self._ended.is_set() and not self._hanging_up,
        )
        self._failures = 0
        self._in_fallback = False
        self.timers = LegTimers(settings, self._time, self.socket, self.end)
        # Once its UUID is known: how the leg ends if it may not go on (the LegRegistry's; None: it may).
        self.admit: Callable[[Leg, str], Refusal | None] = lambda _leg, _session_id: None

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        metrics.ACTIVE_LEGS.labels(self.leg_name).inc()
        try:
            async with asyncio.TaskGroup() as group:
                self._tasks.open(group)
                self.deps.clock.add(
                    self.player, self.socket.transport
                )  # sending at once (asterisk issue 2089)
                self.timers.start(self.spawn)  # the UUID's deadline, the call's length
                self.socket.start()
                await self._ended.wait()
                await self._wind_down()
        finally:
            metrics.ACTIVE_LEGS.labels(self.leg_name).dec()
            self._finish()
            self._release()

    def end(self, reason: Reason, detail: str = "") -> None:
        """End the leg (the first reason wins); everything it owns is then cancelled."""
        if self.end_reason is not None:
            return
        self.end_reason = reason
        self._end_detail = detail
        self.socket.ended = True
        self._tasks.close()
        self.trace.set_state(leg_trace.ENDING)
        self._ended.set()

    def failed(self, error: Exception) -> None:
        """A bug in one of the leg's tasks or callbacks (inside its except block): end the leg."""
        log.exception("leg failed", extra={"session_id": self.session_id})
        self.trace.error(error)
        self.end(Reason.LEG_END_REASON_CONNECTION_ERROR, f"internal error: {type(error).__name__}")

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coroutine)

    async def _wind_down(self) -> None:
        """Stop the leg's work, close the socket, then let the concierge hear LegEnded."""
        self.deps.clock.discard(self.player)
        self._tasks.stop_work()
        self.socket.close(self._reason())
        self.player.stop()  # reports the Says still queued as interrupted
        self.caller_audio.stop()
        self._link.finish(concierge_pb2.LegEnded(reason=self._reason(), detail=self._end_detail))
        await self._tasks.wait_kept(within=1.0)
        self._tasks.cancel_all()

    def _reason(self) -> Reason:
        return self.end_reason or Reason.LEG_END_REASON_CONNECTION_ERROR

    def _finish(self) -> None:
        reason_name = Reason.Name(self._reason()).removeprefix("LEG_END_REASON_").lower()
        metrics.LEGS_ENDED.labels(self.leg_name, reason_name).inc()
        self.socket.flush_counts()
        self.deps.clock.discard(self.player)
        self.socket.close(self._reason())
        self._link.abandon()
        self.turns.close()
        if self.session_id:
            self.trace.start(self.session_id)
        self.trace.end(reason_name, self._end_detail)
        extra = {"session_id": self.session_id, "leg": self.leg_name, "reason": reason_name}
        log.info("leg ended: %s", reason_name, extra={**extra, "detail": self._end_detail})

    def _release(self) -> None:
        """Break the leg's reference cycles once it is over, so that reference counting frees it.

        The parts point back at the leg (owner, bound methods) and the leg at them: left to
        the cyclic garbage collector, the dead legs of 200 calls piled up between full
        collections (RSS +16-40% in a 5-10 minute soak) and each full collection stopped the
        loop for up to 450 ms, frames skipped on every call. After this, only the socket is
        left (the connection's protocol may still report to it), talking to no one.
        """
        self.socket.detach()
        for part in RELEASED_PARTS:
            delattr(self, part)

    # ---- the socket (SocketOwner) ------------------------------------------------------------

    def identified(self, session_id: str) -> None:
        self.session_id = self.caller_audio.session_id = session_id
        refused = self.admit(self, session_id)  # draining and no call here, or the UUID has a live leg
        if refused is not None:
            self.end(*refused)
            return
        self.spawn(self.timers.watch_audio())
        if self.leg == common_pb2.LEG_VISITOR:
            self.trace.start(session_id)  # a RESIDENT_LEG span waits for the visitor's traceparent
        if not self.deps.tenancy.route(self):  # for no condominium served here: apology, hang-up
            return
        self._open_concierge()
        log.info("leg started", extra={"session_id": session_id, "leg": self.leg_name})

    def key_pressed(self, digit: str) -> None:
        self.send(LegEvent(dtmf=concierge_pb2.Dtmf(digit=digit)))
        self.trace.event("DTMF")

    # ---- the concierge -----------------------------------------------------------------------

    def send(self, event: LegEvent) -> None:
        self._link.send(event)

    def _open_concierge(self) -> None:
        started = concierge_pb2.LegStarted(
            session_id=self.session_id, leg=self.leg, sample_rate_hz=8000, condominium=self.condominium
        )
        self.concierge.open(started)

    def _concierge_gone(self, detail: str) -> None:
        if not self._hanging_up:  # after HangUp the concierge may close first: that is fine
            self._dependency_failed("concierge", detail)

    def _on_action(self, action: LegAction) -> None:
        which = action.WhichOneof("action")
        if which == "say":
            self.says.say(action.say)
        elif which == "accepted":
            DEPENDENCY_UP.labels("concierge").set(1)
            if self.leg == common_pb2.LEG_RESIDENT:
                self.trace.start(self.session_id, action.accepted.traceparent)
            self.caller_state_changed()
        elif which == "stop_playback":
            self.player.stop()
            self.caller_state_changed()
        elif which == "hang_up":
            self._on_hang_up(action.hang_up.after_playback)
        elif which == "recognition":
            self.caller_audio.expect(action.recognition)

    def _on_hang_up(self, after_playback: bool) -> None:
        self._hanging_up = True
        if after_playback and self.player.busy:
            self.spawn(self._hang_up_when_idle())
        else:
            self.player.stop()
            self.end(Reason.LEG_END_REASON_HANGUP_REQUESTED, "concierge hung up")

    async def _hang_up_when_idle(self) -> None:
        await self.player.wait_idle()
        self.end(Reason.LEG_END_REASON_HANGUP_REQUESTED, "concierge hung up after playback")

    # ---- playback (PlaybackSink) -------------------------------------------------------------

    def on_say_started(self, item: SayItem) -> None:
        if item.is_fallback:
            return
        self.turns.reply_started(item.queued_at, item.first_audio_at)
        self.trace.say_started(item.say_id)
        self.trace.set_state(leg_trace.PLAYING)

    def on_say_finished(self, item: SayItem, interrupted: bool) -> None:
        self.says.finished(item)
        if not item.is_fallback:
            finished = concierge_pb2.PlaybackFinished(
                say_id=item.say_id, interrupted=interrupted, played_seconds=item.played_seconds
            )
            self.send(LegEvent(playback_finished=finished))
        if not self.player.busy:
            self.caller_state_changed()

    def on_player_error(self, error: Exception) -> None:
        self.end(Reason.LEG_END_REASON_CONNECTION_ERROR, f"internal error: {type(error).__name__}")

    def on_say_failed(self, item: SayItem) -> None:
        self.on_say_finished(item, True)
        self._dependency_failed("speech", describe(item.error or RuntimeError("synthesis failed")))

    # ---- caller audio (CallerAudioOwner) -----------------------------------------------------

    def caller_state_changed(self) -> None:
        if not self._ended.is_set():
            self.trace.set_state(leg_trace.state_of(self.caller_audio.speaking, self.player.busy))

    def barged_in(self, item: SayItem) -> None:
        played = item.played_seconds
        metrics.BARGE_INS.inc()
        self.trace.event("BARGE_IN", {"say_id": item.say_id, "played_seconds": played})
        self.send(LegEvent(barge_in=concierge_pb2.BargeIn(say_id=item.say_id, played_seconds=played)))
        self.player.stop()  # the next tick sends silence: stopped within one frame
        self.caller_state_changed()

    def recognition_failed(self, detail: str) -> None:
        self._dependency_failed("speech", detail)

    # ---- failures ----------------------------------------------------------------------------

    def _dependency_failed(self, dependency: str, detail: str) -> None:
        """Speech or concierge failed: play the fallback sentence, then hang up or carry on."""
        if self._ended.is_set() or self._in_fallback:
            return
        self._failures += 1
        metrics.FALLBACKS.labels(dependency).inc()
        DEPENDENCY_UP.labels(dependency).set(0)
        self.trace.error(f"{dependency} failed: {detail}", dependency)
        extra = {"session_id": self.session_id, "dependency": dependency, "detail": detail}
        log.warning("%s failed mid-call: %s", dependency, detail, extra=extra)
        self._in_fallback = True
        self.player.stop()
        sound = self.deps.fallback.sound()
        self.player.enqueue(
            SayItem("fallback", False, PLAYBACK_RATE, bytearray(sound), True, is_fallback=True)
        )
        self.trace.set_state(leg_trace.FALLBACK)
        settings = self.settings
        give_up = (
            settings.on_dependency_failure == "hangup" or self._failures >= settings.max_dependency_failures
        )
        self.spawn(self._after_fallback(dependency, give_up))

    async def _after_fallback(self, dependency: str, give_up: bool) -> None:
        await self.player.wait_idle()
        self._in_fallback = False
        if give_up:
            self.end(Reason.LEG_END_REASON_DEPENDENCY_FAILURE, f"{dependency} unavailable")
            return
        if dependency == "concierge" and not self._link.alive:
            self._open_concierge()  # a fresh Converse stream, LegStarted first
        self.caller_state_changed()
