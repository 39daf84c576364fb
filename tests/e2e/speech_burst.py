"""A burst of callers through the real gateway against a speech service with few recognizer workers.

Used by tests/e2e/test_speech_faults.py (asserts) and bench/bench_speech_burst.py --gateway
(prints). Speech is the scripted fake at its gRPC boundary (tests/e2e/fake_speech.py) made
busy: `BusySpeech` recognises at most `workers` utterances at a time, each taking 100-300 ms
of thread time (what whisper takes on a quiet machine for a short fitted window), and the
rest wait in line, as the real service's queue makes them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.server import build_server
from porteiro_sim.script import AwaitEvent, AwaitReply, LegRecord, Pause, Speak
from porteiro_sim.visitor import place_call
from tests.e2e.conftest import E2E
from tests.e2e.fake_speech import FakeSpeechServer, ScriptedSpeech, _App

RECOGNITION_SECONDS = (0.1, 0.2, 0.3)  # in turn, per utterance
OWN_SENTENCES = frozenset({"greeting", "holding", "fallback"})  # not an answer to what the caller said
LINE = "Entrega."


class BusySpeech(speech_pb2_grpc.SpeechServiceServicer):
    """`ScriptedSpeech` with `workers` recognizer slots; everything else is the scripted one's."""

    def __init__(
        self, inner: ScriptedSpeech, workers: int = 2, seconds: tuple[float, ...] = RECOGNITION_SECONDS
    ) -> None:
        self.inner = inner
        self._seconds = seconds  # recognition time per utterance, in turn
        self._slots = asyncio.Semaphore(workers)
        self.waits: list[float] = []  # per utterance: end of its stream -> a worker took it
        self.running = 0
        self.most_running = 0

    def __getattr__(self, name: str):  # lines, transcripts, listeners: the scripted servicer's
        return getattr(self.inner, name)

    async def Transcribe(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        requests = [request async for request in request_iterator]
        arrived = time.monotonic()
        async with self._slots:
            self.waits.append(time.monotonic() - arrived)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            try:
                seconds = self._seconds[len(self.waits) % len(self._seconds)]
                await asyncio.to_thread(time.sleep, seconds)  # a worker thread busy, as whisper's
                return await self.inner.Transcribe(_replay(requests), context)
            finally:
                self.running -= 1

    async def Synthesize(self, request, context):  # noqa: N802
        async for response in self.inner.Synthesize(request, context):
            yield response


async def _replay(
    requests: list[speech_pb2.TranscribeRequest],
) -> AsyncIterator[speech_pb2.TranscribeRequest]:
    for request in requests:
        yield request


class _SpeechOnPort(FakeSpeechServer):
    """A scripted speech server on a given port (the port of the one it replaces)."""

    def __init__(self, servicer: speech_pb2_grpc.SpeechServiceServicer, port: int) -> None:
        self.servicer = servicer  # type: ignore[assignment]
        self._bound = build_server(_App(servicer), "127.0.0.1", port)  # type: ignore[arg-type]
        self.port = self._bound.port


async def replace_speech(e2e: E2E, servicer: speech_pb2_grpc.SpeechServiceServicer | None = None) -> None:
    """Stop the fake speech (if it runs) and serve `servicer` (the same one by default) on its port,
    SERVING when this returns: a speech restart, as the gateway sees it."""
    old = e2e.fake_speech
    assert old is not None
    await old.stop()
    new = _SpeechOnPort(servicer or old.servicer, old.port)
    await new.start()
    e2e.fake_speech = new


@dataclass
class Burst:
    records: list[LegRecord]
    queue_waits: list[float]  # speech side: end of stream -> recognition started
    # Caller side: last voiced frame -> first audio of the answer (of the holding sentence when
    # the answer followed it without a pause: the caller hears one reply).
    answers: list[float | None]
    holding: int  # callers who heard the holding sentence
    hung_up: list[int] = field(default_factory=list)  # callers the system hung up on
    unanswered: list[int] = field(default_factory=list)  # callers who never heard an answer

    def summary(self) -> str:
        lines = [
            f"{len(self.records)} callers at once: answered {len(self.records) - len(self.unanswered)}, "
            f"hung up on {len(self.hung_up)}, heard the holding sentence {self.holding}"
        ]
        answered = [seconds for seconds in self.answers if seconds is not None]
        for label, values in (
            ("speech queue wait", self.queue_waits),
            ("end of speech -> reply", answered),
        ):
            if values:
                lines.append(
                    f"{label:>24}: p50 {percentile(values, 0.5):6.3f} s   p95 {percentile(values, 0.95):6.3f} s"
                    f"   max {max(values):6.3f} s"
                )
        lines.append(
            "(reply: the first audio of the answer, or of the holding sentence when the answer "
            "followed it without a pause)"
        )
        return "\n".join(lines)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def run_burst(e2e: E2E, callers: int = 30, listen_seconds: float = 15.0) -> Burst:
    """`callers` calls; once all have heard the greeting they say LINE at the same moment and
    listen for `listen_seconds`."""
    assert e2e.fake_speech is not None
    await e2e.fake_speech.servicer.register_lines([LINE])
    go = asyncio.Event()
    steps = [AwaitReply(), AwaitEvent("go", 60), Speak(LINE), Pause(listen_seconds)]
    calls = [
        asyncio.create_task(
            place_call(
                "127.0.0.1",
                e2e.stack.visitor_port,
                steps,
                e2e.voice,
                events={"go": go},
                matcher=e2e.matcher,
            )
        )
        for _ in range(callers)
    ]
    await asyncio.sleep(8.0)  # every caller has heard the greeting and waits for "go"
    go.set()
    records = list(await asyncio.gather(*calls))
    servicer = e2e.fake_speech.servicer
    burst = Burst(records, list(getattr(servicer, "waits", [])), [], 0)
    for index, record in enumerate(records):
        answer, heard_holding = _answer_after_turn(e2e, record)
        burst.answers.append(answer)
        burst.holding += heard_holding
        if answer is None:
            burst.unanswered.append(index)
        if record.client.close_reason != "local":  # the gateway closed the line first
            burst.hung_up.append(index)
    return burst


def _answer_after_turn(e2e: E2E, record: LegRecord) -> tuple[float | None, bool]:
    """Seconds from the caller's last voiced frame to the first sentence of the answer, and
    whether the holding sentence came before it."""
    if not record.turns:
        return None, False
    ended = record.turns[-1].ended
    holding = False
    for segment in record.client.segments:
        if segment.start < ended:
            continue
        keys = {sentence.key for sentence in e2e.matcher.identify(segment.pcm)}
        holding = holding or "holding" in keys
        if keys - OWN_SENTENCES:
            return segment.start - ended, holding
    return None, holding
