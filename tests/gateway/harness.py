"""Run a real `Leg` in process and in virtual time: no sockets, no gRPC, no 20 ms sleeps.

    run = await run_leg(frames, actions)   # frames from Asterisk, LegActions from the concierge
    events, frames_out = run                # LegEvents the concierge got, frames Asterisk got

The leg is the production class with everything outside it replaced at its
boundary: `FakeTransport` (records what the leg writes), `FakeConciergeStream`
(records LegEvents, feeds LegActions), `FakeSpeechClient` (deterministic
synthesis, a canned transcript) and `VirtualTime`, the time source of both the
leg and the real `PlaybackClock`. The test steps the clock: each step feeds
one inbound frame and advances virtual time by 20 ms, so the clock ticks once.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro.speech.v1 import speech_pb2
from porteiro_common.audiosocket import (
    FRAME_SECONDS,
    MAX_LENGTH,
    Frame,
    FrameParser,
    Kind,
    encode,
    encode_uuid,
)
from porteiro_common.redaction import Redactor
from porteiro_gateway.concierge_link import ConciergeGone, LegAction, LegEvent
from porteiro_gateway.deps import LegDeps
from porteiro_gateway.fallback import FallbackAudio
from porteiro_gateway.leg import Leg
from porteiro_gateway.playback import PlaybackClock
from porteiro_gateway.settings import GatewaySettings

RATE = 8000
FRAME_BYTES = 320  # 20 ms of slin 8 kHz
START = 1000.0  # virtual seconds at the start of a run
SETTLE_ROUNDS = 12  # loop turns that let a chain of wake-ups (queue -> task -> callback) finish
FALLBACK_TEXT = "Desculpe, tivemos um problema."


async def settle() -> None:
    """Let every task that can run, run (each round wakes one more link of a chain)."""
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)


class VirtualTime:
    """A TimeSource the test advances; sleepers wake in deadline order."""

    def __init__(self, start: float = START) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    async def advance_to(self, target: float) -> None:
        """Move to `target`, waking each sleeper due by then at its own deadline (or now, if overdue)."""
        while self._sleepers and self._sleepers[0][0] <= target + 1e-9:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
                await settle()
        self._now = max(self._now, target)
        await settle()

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self._now + seconds)

    def stall(self, seconds: float) -> None:
        """The loop was blocked for `seconds`: time moves, nobody wakes (until the next advance)."""
        self._now += seconds


class FakeTransport:
    """What the leg writes to Asterisk, with the virtual time of each write."""

    def __init__(self, time: VirtualTime) -> None:
        self._time = time
        self.writes: list[tuple[float, bytes]] = []
        self.closed = False
        self.unsent_bytes = 0  # what get_write_buffer_size reports (a peer that stops reading)

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append((self._time.now(), bytes(data)))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return self.unsent_bytes


class FakeConciergeStream:
    """A ConciergeStream in memory: every LegEvent sent is kept; LegActions come from `act`."""

    def __init__(self) -> None:
        self.events: list[LegEvent] = []  # across every (re)opening
        self.opened = 0
        self.alive = False
        self.closing = False
        self._actions: asyncio.Queue[LegAction | Exception | None] = asyncio.Queue()
        self._writer_done = asyncio.Event()

    def open(self, started: concierge_pb2.LegStarted) -> None:
        self.opened += 1
        self.alive, self.closing = True, False
        self._actions = asyncio.Queue()
        self._writer_done = asyncio.Event()
        self.send(LegEvent(leg_started=started))

    def send(self, event: LegEvent) -> None:
        if self.alive and not self.closing:
            self.events.append(event)

    async def pump_out(self) -> None:
        await self._writer_done.wait()

    async def pump_in(self, on_action: Callable[[LegAction], None]) -> None:
        actions = self._actions
        while True:
            action = await actions.get()
            if isinstance(action, Exception):
                raise ConciergeGone(str(action))
            if action is None:
                if self.closing:
                    return
                raise ConciergeGone("concierge ended the stream")
            on_action(action)

    def finish(self, ended: concierge_pb2.LegEnded) -> None:
        if self.alive and not self.closing:
            self.closing = True
            self.events.append(LegEvent(leg_ended=ended))
            self._writer_done.set()
            self._actions.put_nowait(None)  # the concierge answers the half-close by ending its side

    def abandon(self) -> None:
        self.alive = False
        self._writer_done.set()

    # ---- the test's side ----

    def act(self, action: LegAction) -> None:
        assert self.alive, "the leg has not opened its concierge stream (no UUID frame yet?)"
        self._actions.put_nowait(action)

    def break_stream(self, detail: str = "UNAVAILABLE: concierge went away") -> None:
        self._actions.put_nowait(RuntimeError(detail))


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def audio_for_text(text: str, seconds: float = 1.0) -> bytes:
    """Deterministic 'synthesis': a tone whose pitch depends on the text."""
    pitch = 300 + int(hashlib.sha256(text.encode()).hexdigest()[:4], 16) % 900
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * 32767 * np.sin(2 * np.pi * pitch * t)).astype("<i2").tobytes()


class FakeTranscription:
    """A Transcription that keeps the audio and answers the client's canned transcript."""

    def __init__(self, client: FakeSpeechClient, config: speech_pb2.TranscriptionConfig) -> None:
        self._client = client
        self.config = config
        self.audio = bytearray()
        self.audio_bytes = 0
        self.started = self.finished = self.cancelled = False
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def start(self, max_utterance_seconds: float) -> None:
        self.started = True

    def send(self, pcm: bytes) -> None:
        self.audio += pcm
        self.audio_bytes += len(pcm)

    def finish(self) -> None:
        self.finished = True
        if not self._done.done():
            self._done.set_result(None)

    async def result(self) -> speech_pb2.TranscribeResponse:
        await self._done
        if self._client.recognition_error is not None:
            raise self._client.recognition_error
        client = self._client
        return speech_pb2.TranscribeResponse(
            text=client.transcript, confidence=0.9, phrase_scores=client.phrase_scores
        )

    def cancel(self) -> None:
        self.cancelled = True
        if not self._done.done():
            self._done.cancel()


class FakeSpeechClient:
    """A SpeechClient in memory: tones for synthesis, `transcript` for every recognition."""

    def __init__(self) -> None:
        self.texts: dict[str, bytes] = {}  # text -> audio; others get audio_for_text
        self.failing_texts: set[str] = set()  # synthesis of these fails (UNAVAILABLE)
        self.transcript = "quero falar com o apartamento cento e dois"
        self.recognition_error: grpc.aio.AioRpcError | None = None
        self.phrase_scores: list[common_pb2.PhraseScore] = []  # every recognition's
        self.chunk_bytes = 1600
        self.synthesized: list[str] = []
        self.transcriptions: list[FakeTranscription] = []

    def audio(self, text: str) -> bytes:
        return self.texts.get(text) or audio_for_text(text)

    async def synthesize(self, text: str, voice: str = "") -> AsyncIterator[bytes]:
        self.synthesized.append(text)
        if text in self.failing_texts:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "synthesis backend down")
        audio = self.audio(text)
        for start in range(0, len(audio), self.chunk_bytes):
            yield audio[start : start + self.chunk_bytes]

    async def synthesize_all(self, text: str) -> bytes:
        return b"".join([chunk async for chunk in self.synthesize(text)])

    def transcription(self, config: speech_pb2.TranscriptionConfig) -> FakeTranscription:
        transcription = FakeTranscription(self, config)
        self.transcriptions.append(transcription)
        return transcription


@dataclass
class LegRun:
    """What a run produced; unpacks as (events, frames_out)."""

    events: list[LegEvent]
    frames_out: list[Frame]
    harness: LegHarness

    def __iter__(self):
        return iter((self.events, self.frames_out))

    def kinds(self) -> list[str]:
        return [event.WhichOneof("event") for event in self.events]

    def of(self, kind: str) -> list[Any]:
        return [getattr(event, kind) for event in self.events if event.WhichOneof("event") == kind]


@dataclass
class LegHarness:
    """One leg in process; `async with LegHarness() as h:` then `h.receive`, `h.act`, `h.step`."""

    leg_kind: int = common_pb2.LEG_VISITOR
    settings: dict[str, Any] = field(default_factory=dict)
    speech: FakeSpeechClient = field(default_factory=FakeSpeechClient)
    fallback_ready: bool = True  # False: the busy tone stands in for the fallback sentence
    holding: FallbackAudio | None = None  # the holding sentence (holding.py); None: none
    tracer: Any = None

    async def __aenter__(self) -> LegHarness:
        self.time = VirtualTime()
        self.lateness: list[float] = []
        self.clock = PlaybackClock(phases=1, time_source=self.time, observe_lateness=self.lateness.append)
        self.transport = FakeTransport(self.time)
        self.concierge_streams: list[FakeConciergeStream] = []  # one per leg built with these deps
        fallback = FallbackAudio(FALLBACK_TEXT, self.speech.synthesize_all, retry_seconds=60)
        if self.fallback_ready:
            await fallback.keep_trying()
        self.fallback = fallback
        deps = LegDeps(
            settings=GatewaySettings(**self.settings),
            speech=self.speech,
            concierge=self._new_concierge_stream,
            fallback=fallback,
            holding=self.holding,
            redactor=Redactor(False),
            clock=self.clock,
            **({"tracer": self.tracer} if self.tracer is not None else {}),
        )
        self.leg = Leg(deps, self.leg_kind, self.transport)
        self.concierge = self.concierge_streams[0]
        self._leg_task = asyncio.create_task(self.leg.run())
        await settle()  # the leg joins the clock before its first tick
        self._clock_task = asyncio.create_task(self.clock.run())
        await settle()  # tick 0: the first frame leaves at once
        self._ticks = 0
        return self

    def _new_concierge_stream(self) -> FakeConciergeStream:
        stream = FakeConciergeStream()
        self.concierge_streams.append(stream)
        return stream

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._leg_task.done():
            self.leg.socket.eof_received()  # Asterisk goes away
            await settle()
        try:
            async with asyncio.timeout(2):
                await self._leg_task
        finally:
            self._clock_task.cancel()
            await asyncio.gather(self._clock_task, return_exceptions=True)

    # ---- driving ----

    def receive(self, data: bytes) -> None:
        """Bytes from Asterisk, as the event loop's read callback hands them over."""
        self.leg.socket.data_received(data)

    def act(self, *actions: LegAction) -> None:
        for action in actions:
            self.concierge.act(action)

    async def step(self, ticks: int = 1) -> None:
        """Advance `ticks` x 20 ms: the clock ticks once per step."""
        for _ in range(ticks):
            self._ticks += 1
            await self.time.advance_to(START + self._ticks * FRAME_SECONDS)

    async def until(self, condition: Callable[[], bool], seconds: float = 30.0) -> None:
        """Step until `condition` holds; fails after `seconds` of virtual time."""
        for _ in range(round(seconds / FRAME_SECONDS)):
            if condition():
                return
            await self.step()
        raise AssertionError(f"not within {seconds} s of virtual time")

    # ---- what happened ----

    @property
    def ended(self) -> bool:
        return self._leg_task.done()

    @property
    def frames_out(self) -> list[Frame]:
        parser = FrameParser(max_payload=MAX_LENGTH)
        return [frame for _, data in self.transport.writes for frame in parser.feed(data)]

    def audio_out(self) -> bytes:
        return b"".join(f.payload for f in self.frames_out if f.kind == Kind.AUDIO_8K)

    def events_of(self, kind: str) -> list[Any]:
        return [getattr(e, kind) for e in self.concierge.events if e.WhichOneof("event") == kind]


async def run_leg(
    frames: Iterable[bytes],
    actions: Sequence[tuple[float, LegAction]] = (),
    *,
    seconds: float = 10.0,
    harness: LegHarness | None = None,
) -> LegRun:
    """Play `frames` (one per 20 ms tick) and `actions` (at virtual seconds from the start) to a leg.

    Runs until the leg ends, or for `seconds` of virtual time (then Asterisk closes, EOF).
    """
    h = harness or LegHarness()
    pending = sorted(actions, key=lambda timed: timed[0])
    inbound = iter(frames)
    async with h:
        for tick in range(round(seconds / FRAME_SECONDS)):
            frame = next(inbound, None)
            if frame is not None:
                h.receive(frame)
            while pending and pending[0][0] <= tick * FRAME_SECONDS + 1e-9:
                h.act(pending.pop(0)[1])
            await h.step()
            if h.ended:
                break
    return LegRun(list(h.concierge.events), h.frames_out, h)


# ---- building frames and actions ----


def uuid_frame(session_id: str | None = None) -> bytes:
    return encode_uuid(session_id or str(uuid.uuid4()))


def audio_frames(pcm: bytes, frame_bytes: int = FRAME_BYTES, kind: int = Kind.AUDIO_8K) -> list[bytes]:
    return [encode(kind, pcm[i : i + frame_bytes]) for i in range(0, len(pcm), frame_bytes)]


def say(say_id: str, text: str, allow_barge_in: bool = True) -> LegAction:
    return LegAction(say=concierge_pb2.Say(say_id=say_id, text=text, allow_barge_in=allow_barge_in))


def hang_up(after_playback: bool = True) -> LegAction:
    return LegAction(hang_up=concierge_pb2.HangUp(after_playback=after_playback))


def accepted(traceparent: str = "") -> LegAction:
    return LegAction(accepted=concierge_pb2.LegAccepted(traceparent=traceparent))


def recognition(*hints: str) -> LegAction:
    return LegAction(recognition=concierge_pb2.RecognitionContext(hints=list(hints)))
