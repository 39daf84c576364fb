"""The concierge's Says: queued on the player, synthesized while they play.

Each Say's audio streams from speech into its `SayItem` while earlier audio of
it is already on the wire; a Say that ends (played, interrupted or dropped)
stops its synthesis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.trace import Span

from porteiro.concierge.v1 import concierge_pb2
from porteiro_gateway.holding import Holding
from porteiro_gateway.playback import Player, SayItem
from porteiro_gateway.speech import PLAYBACK_RATE, SpeechClient

Spawn = Callable[[Coroutine[Any, Any, Any]], asyncio.Task | None]


class Says:
    def __init__(
        self,
        player: Player,
        speech: SpeechClient,
        spawn: Spawn,
        now: Callable[[], float],
        span: Callable[[], Span],
    ) -> None:
        self._player = player
        self._speech = speech
        self._spawn = spawn
        self._now = now
        self._span = span  # the leg's span, the parent of Synthesize calls
        self._synthesis: dict[int, asyncio.Task] = {}  # id(SayItem) -> its synthesis
        self._late: dict[int, asyncio.Task] = {}  # id(SayItem) -> its holding-sentence watch
        self.holding: Holding | None = None  # says the holding sentence while a synthesis is late

    def say(self, say: concierge_pb2.Say) -> None:
        """Queue a Say and start synthesizing it at once."""
        item = SayItem(say.say_id, say.allow_barge_in, PLAYBACK_RATE, queued_at=self._now())
        self._player.enqueue(item)
        task = self._spawn(self._synthesize(item, say.text, say.voice))
        if task is not None:
            self._synthesis[id(item)] = task
        if self.holding is not None:
            watch = self._spawn(self.holding.fill_when_late(item))
            if watch is not None:
                self._late[id(item)] = watch

    def finished(self, item: SayItem) -> None:
        """The Say is over (played, interrupted or dropped): stop its synthesis."""
        for tasks in (self._synthesis, self._late):
            task = tasks.pop(id(item), None)
            if task is not None:
                task.cancel()

    async def _synthesize(self, item: SayItem, text: str, voice: str) -> None:
        try:
            with trace.use_span(self._span(), end_on_exit=False):
                async for chunk in self._speech.synthesize(text, voice):
                    if item.first_audio_at is None:
                        item.first_audio_at = self._now()
                    item.add_audio(chunk)
            item.finish_synthesis()
        except (grpc.aio.AioRpcError, ValueError) as error:
            item.finish_synthesis(error)
        finally:
            self._synthesis.pop(id(item), None)
            late = self._late.pop(id(item), None)
            if late is not None:
                late.cancel()
