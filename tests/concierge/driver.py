"""Plays the gateway's part on one Converse stream.

Sends LegEvents (LegStarted, Utterance, Dtmf, LegEnded...), collects the
LegActions, acknowledges each Say with PlaybackFinished at once, and answers a
HangUp like the gateway does: LegEnded(HANGUP_REQUESTED), then half-close.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc
from porteiro_common.ptbr import fold

LEGS = {"visitor": common_pb2.LEG_VISITOR, "resident": common_pb2.LEG_RESIDENT}


class LegDriver:
    def __init__(
        self, channel: grpc.aio.Channel, session_id: str, leg: str, ack_playback: bool = True
    ) -> None:
        self.stub = concierge_pb2_grpc.ConciergeServiceStub(channel)
        self.session_id = session_id
        self.leg = leg
        self.ack_playback = ack_playback
        self.actions: list[concierge_pb2.LegAction] = []
        self.said: list[str] = []
        self.hints: list[str] = []
        self.accepted: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.hung_up = asyncio.Event()
        self.closed = asyncio.Event()
        self._says: asyncio.Queue[str] = asyncio.Queue()
        self._events: asyncio.Queue[concierge_pb2.LegEvent | None] = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self.error: grpc.aio.AioRpcError | None = None

    async def start(self, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - test helper
        """Open the stream with LegStarted; returns LegAccepted's traceparent."""
        started = concierge_pb2.LegStarted(
            session_id=self.session_id, leg=LEGS[self.leg], sample_rate_hz=8000
        )
        self._events.put_nowait(concierge_pb2.LegEvent(leg_started=started))
        self._call = self.stub.Converse(self._outgoing())
        self._reader = asyncio.create_task(self._read())
        return await asyncio.wait_for(asyncio.shield(self.accepted), timeout)

    async def _outgoing(self):
        while (event := await self._events.get()) is not None:
            yield event

    async def _read(self) -> None:
        try:
            async for action in self._call:
                self.actions.append(action)
                kind = action.WhichOneof("action")
                if kind == "accepted" and not self.accepted.done():
                    self.accepted.set_result(action.accepted.traceparent)
                elif kind == "say":
                    self.said.append(action.say.text)
                    self._says.put_nowait(action.say.text)
                    if self.ack_playback:
                        finished = concierge_pb2.PlaybackFinished(
                            say_id=action.say.say_id, played_seconds=1.0
                        )
                        self._events.put_nowait(concierge_pb2.LegEvent(playback_finished=finished))
                elif kind == "recognition":
                    self.hints = list(action.recognition.hints)
                elif kind == "hang_up":
                    self.hung_up.set()
                    self._end(concierge_pb2.LEG_END_REASON_HANGUP_REQUESTED)
        except grpc.aio.AioRpcError as error:
            self.error = error
            if not self.accepted.done():
                self.accepted.set_exception(error)
        finally:
            self._events.put_nowait(None)  # the stream is over: nothing more to send
            self.closed.set()

    def _end(self, reason: int) -> None:
        self._events.put_nowait(concierge_pb2.LegEvent(leg_ended=concierge_pb2.LegEnded(reason=reason)))
        self._events.put_nowait(None)

    # ---- what the caller does ----

    async def utter(self, text: str, confidence: float = 0.9) -> None:
        self._events.put_nowait(concierge_pb2.LegEvent(speech_started=concierge_pb2.SpeechStarted()))
        utterance = concierge_pb2.Utterance(
            text=text, confidence=confidence, audio_seconds=1.0, recognition_seconds=0.5
        )
        self._events.put_nowait(concierge_pb2.LegEvent(utterance=utterance))

    async def noise(self) -> None:
        """VAD onset with no recognisable speech (the gateway drops empty transcripts)."""
        self._events.put_nowait(concierge_pb2.LegEvent(speech_started=concierge_pb2.SpeechStarted()))

    async def press(self, keys: str) -> None:
        for key in keys:
            self._events.put_nowait(concierge_pb2.LegEvent(dtmf=concierge_pb2.Dtmf(digit=key)))

    def send(self, event: concierge_pb2.LegEvent) -> None:
        """Any event as the gateway would send it (malformed ones included)."""
        self._events.put_nowait(event)

    async def hang_up(self) -> None:
        """The caller hangs up (AudioSocket EOF)."""
        self._end(concierge_pb2.LEG_END_REASON_CALLER_HANGUP)

    def cancel(self) -> None:
        """The stream breaks without LegEnded (e.g. the concierge process died)."""
        self._call.cancel()

    # ---- what the caller hears ----

    async def next_say(self, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - test helper
        return await asyncio.wait_for(self._says.get(), timeout)

    async def expect(self, *fragments: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - test helper
        """Wait for a Say containing every fragment (case and accents ignored); returns it."""
        wanted = [fold(fragment) for fragment in fragments]
        heard: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    text = await self._says.get()
                    heard.append(text)
                    if all(fragment in fold(text) for fragment in wanted):
                        return text
        except TimeoutError:
            raise AssertionError(f"{self.leg} never heard {fragments!r}; heard {heard!r}") from None

    def hints_before(self, fragment: str) -> list[str] | None:
        """The hints in force (last RecognitionContext) when the first Say containing `fragment` came."""
        hints: list[str] | None = None
        for action in self.actions:
            kind = action.WhichOneof("action")
            if kind == "recognition":
                hints = list(action.recognition.hints)
            elif kind == "say" and fold(fragment) in fold(action.say.text):
                return hints
        raise AssertionError(f"{self.leg} never heard {fragment!r}")

    def recognition_count(self) -> int:
        return sum(action.WhichOneof("action") == "recognition" for action in self.actions)

    async def expect_hangup(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - test helper
        await asyncio.wait_for(self.hung_up.wait(), timeout)
        await asyncio.wait_for(self.closed.wait(), timeout)

    async def close(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._events.put_nowait(None)
            self._call.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
