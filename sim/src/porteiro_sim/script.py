"""Scripted callers: the steps a simulated visitor or resident performs, and the record they leave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from porteiro_sim.audiosocket_client import AudioSocketClient, ReceivedSegment
from porteiro_sim.sentences import SentenceMatcher
from porteiro_sim.speech import Voice

# The gateway's holding sentence (prompt key), said while a transcript is late: not a reply.
HOLDING_KEY = "holding"


@dataclass(frozen=True)
class Speak:
    """Say a sentence (then the line carries silence again)."""

    text: str


@dataclass(frozen=True)
class Keys:
    """Press keys on the phone (one DTMF frame each)."""

    digits: str


@dataclass(frozen=True)
class AwaitReply:
    """Wait until the other side has spoken and fallen silent again."""

    timeout: float = 30.0
    settle: float = 0.4  # extra quiet time before speaking, in case a second sentence follows


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class AwaitEvent:
    """Wait for a named event set by another simulator (e.g. "resident-ringing")."""

    name: str
    timeout: float = 60.0


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up (EOF, as Asterisk does)."""


@dataclass(frozen=True)
class AwaitHangUp:
    """Wait for the system to end the call."""

    timeout: float = 60.0


@dataclass(frozen=True)
class Converse:
    """Answer whatever the system asks, by prompt, until it says one of `until`.

    Needs a sentence matcher (see sentences.py). `answers` maps a prompt key to a
    line ("#501#" presses keys); sentences without an answer (e.g. "aguarde") are
    just listened to.
    """

    answers: Mapping[str, str | tuple[str, ...]]  # a tuple: one line per time the prompt is heard
    until: frozenset[str]
    default: str | None = None  # said when a reply is not identified
    max_replies: int = 12
    timeout: float = 40.0


@dataclass(frozen=True)
class UntilEvent:
    """Run `step`, but stop it as soon as the named event is set by another simulator."""

    step: Converse | AwaitReply | AwaitHangUp
    event: str


Step = Speak | Keys | AwaitReply | Pause | AwaitEvent | HangUp | AwaitHangUp | Converse | UntilEvent


@dataclass
class CallerTurn:
    """Something the caller said or keyed, and how long the reply took."""

    text: str  # as scripted ("[DTMF 1#]" for keys)
    started: float
    ended: float  # monotonic time the last voiced frame (or key) went out
    pcm: bytes = b""
    reply_started: float | None = None
    heard_as: str | None = None  # the caller's own audio as the speech service recognises it

    @property
    def latency(self) -> float | None:
        return None if self.reply_started is None else self.reply_started - self.ended


@dataclass
class LegRecord:
    """What happened on one leg: the caller's turns and the audio received."""

    role: str  # "visitor" or "resident"
    client: AudioSocketClient
    turns: list[CallerTurn] = field(default_factory=list)
    replies: dict[int, str] = field(default_factory=dict)  # segment index -> text heard
    heard_keys: list[str] = field(default_factory=list)  # prompt keys identified, in order
    timed_out: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def greeting_latency(self) -> float | None:
        """First received frame of any kind after the UUID frame."""
        c = self.client
        return (
            None if c.first_frame_at is None or c.uuid_sent_at is None else c.first_frame_at - c.uuid_sent_at
        )

    @property
    def greeting_speech_latency(self) -> float | None:
        """First voiced received frame after the UUID frame."""
        c = self.client
        if not c.segments or c.uuid_sent_at is None:
            return None
        return c.segments[0].start - c.uuid_sent_at

    @property
    def segments(self) -> list[ReceivedSegment]:
        return self.client.segments


class ScriptRunner:
    """Plays a script on a connected AudioSocketClient."""

    def __init__(
        self,
        record: LegRecord,
        voice: Voice | None,
        events: dict[str, asyncio.Event] | None = None,
        matcher: SentenceMatcher | None = None,
    ) -> None:
        self.record, self.voice, self.matcher = record, voice, matcher
        self._identified: set[int] = set()
        self.events = events if events is not None else {}
        self._last_mark = 0.0

    @property
    def client(self) -> AudioSocketClient:
        return self.record.client

    async def run(self, steps: list[Step]) -> LegRecord:
        self._last_mark = self.client.uuid_sent_at or time.monotonic()
        try:
            for step in steps:
                if self.client.closed and not isinstance(step, (AwaitHangUp, HangUp)):
                    self.record.timed_out.append(f"line closed before {type(step).__name__}")
                    break
                await self._do(step)
        except ConnectionError as error:
            self.record.error = f"line closed: {error}"
        finally:
            self._fill_reply_starts()
            self.identify_new(0)
        return self.record

    async def _do(self, step: Step) -> None:
        if isinstance(step, Speak):
            await self._speak(step.text)
        elif isinstance(step, Keys):
            started = time.monotonic()
            last_key_at = await self.client.send_dtmf(step.digits)
            self._turn(CallerTurn(f"[DTMF {step.digits}]", started, last_key_at))
        elif isinstance(step, AwaitReply):
            await self._await_reply(step)
        elif isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, AwaitEvent):
            event = self.events.setdefault(step.name, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), step.timeout)
            except TimeoutError:
                self.record.timed_out.append(f"event {step.name}")
        elif isinstance(step, HangUp):
            await self.client.hang_up()
        elif isinstance(step, AwaitHangUp):
            if not await self.client.wait_closed(step.timeout):
                self.record.timed_out.append("system hang-up")
        elif isinstance(step, Converse):
            await self._converse(step)
        elif isinstance(step, UntilEvent):
            await self._until_event(step)

    async def _until_event(self, step: UntilEvent) -> None:
        event = self.events.setdefault(step.event, asyncio.Event())
        inner = asyncio.create_task(self._do(step.step))
        waiter = asyncio.create_task(event.wait())
        await asyncio.wait({inner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in (inner, waiter):
            task.cancel()
        await asyncio.gather(inner, waiter, return_exceptions=True)

    async def _converse(self, step: Converse) -> None:
        if self.matcher is None:
            raise RuntimeError("Converse needs a sentence matcher")
        uses: dict[str, int] = {}
        for _ in range(step.max_replies):
            seen = len(self.client.segments)
            await self._await_reply(AwaitReply(step.timeout))
            if len(self.client.segments) == seen:
                return  # nothing more was said (timeout or hang-up)
            keys = self.identify_new(seen)
            if any(key in step.until for key in keys) or self.client.closed:
                return
            line = self._answer(step, keys, uses)
            if line:
                await self._do(Keys(line[1:]) if line.startswith("#") else Speak(line))

    @staticmethod
    def _answer(step: Converse, keys: list[str], uses: dict[str, int]) -> str | None:
        if not keys:
            return step.default
        for key in reversed(keys):
            answer = step.answers.get(key)
            if answer:
                lines = (answer,) if isinstance(answer, str) else answer
                count = uses[key] = uses.get(key, 0) + 1
                return lines[min(count, len(lines)) - 1]
        return None

    def identify_new(self, first_index: int) -> list[str]:
        """Identify received segments from `first_index` on; remember their texts; return their keys."""
        keys: list[str] = []
        if self.matcher is None:
            return keys
        for index in range(first_index, len(self.client.segments)):
            if index in self._identified:
                continue
            self._identified.add(index)
            sentences = self.matcher.identify(self.client.segments[index].pcm)
            if sentences:
                self.record.replies[index] = " ".join(sentence.text for sentence in sentences)
                keys.extend(sentence.key for sentence in sentences)
        self.record.heard_keys.extend(keys)
        return keys

    async def _speak(self, text: str) -> None:
        if self.voice is None:
            raise RuntimeError("this script speaks but no voice was given")
        pcm = await self.voice.speak(text)
        started = time.monotonic()
        ended = await self.client.play(pcm)
        self._turn(CallerTurn(text, started, ended, pcm))

    def _turn(self, turn: CallerTurn) -> None:
        self.record.turns.append(turn)
        self._last_mark = turn.ended

    async def _await_reply(self, step: AwaitReply) -> None:
        since = self._last_mark
        segment = await self.client.wait_for_reply(self._last_mark, step.timeout)
        if segment is None:
            self.record.timed_out.append("reply")
            return
        # Wait out a possible second sentence of the same reply.
        while True:
            mark = self._latest_segment_end()
            await asyncio.sleep(step.settle)
            if self.client.closed or self.client.first_voiced_after(mark) is None:
                break
            following = await self.client.wait_for_reply(mark, step.timeout)
            if following is None:
                break
        self._last_mark = self._latest_segment_end()
        if self._holding_only(since):  # "Um momento, por favor.": the answer is still to come
            await self._await_reply(step)

    def _holding_only(self, since: float) -> bool:
        """Whether all that was heard after `since` is the gateway's holding sentence."""
        if self.matcher is None:
            return False
        keys = {
            sentence.key
            for segment in self.client.segments
            if segment.start >= since
            for sentence in self.matcher.identify(segment.pcm)
        }
        return keys == {HOLDING_KEY}

    def _latest_segment_end(self) -> float:
        return max((s.end for s in self.client.segments), default=self._last_mark)

    def _fill_reply_starts(self) -> None:
        for turn in self.record.turns:
            turn.reply_started = self.client.first_voiced_after(turn.ended)
