"""Burst bench: N callers stop speaking at the same moment against a speech server with W workers.

A real speech server runs in-process on a free loopback port; every caller streams its
utterance over gRPC in 20 ms frames (as the gateway does) and half-closes at the same moment.
The recognizer is a fake at its boundary (the real interface; 100-300 ms of thread time per
utterance, as whisper takes on a quiet machine for a short fitted window) or, with `--real`,
faster-whisper base on espeak-ng pt-BR answers at 8 kHz.

Per caller: the queue wait (end of its stream -> its recognition starts) and the turn
(end of its stream -> its transcript), as p50/p95/max; refusals by status. Prints figures
and the machine's load; asserts nothing.

    python bench/bench_speech_burst.py [--callers 30] [--workers 2] [--queue-seconds 8] [--real]

`--gateway`: the same burst through the whole stack (tests/e2e/speech_burst.py): the
services as processes, N simulated callers on the real gateway saying "Entrega." at the
same moment once greeted, speech the scripted fake at its gRPC boundary with W recognizer
workers (100-300 ms each). Prints the speech-side queue wait and, per caller, end of speech
(last voiced frame) -> first audio of the concierge's answer, as p50/p95/max; callers hung
up on, unanswered, and those who heard the holding sentence while they waited.

    python bench/bench_speech_burst.py --gateway [--callers 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' fakes

import grpc  # noqa: E402

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc  # noqa: E402
from porteiro_common.server import build_server  # noqa: E402
from porteiro_common.settings import ObservabilitySettings  # noqa: E402
from porteiro_speech.app import SpeechApp  # noqa: E402
from porteiro_speech.backends import Backends, Recognition, RecognitionConfig, Recognizer  # noqa: E402
from porteiro_speech.offline.espeak import EspeakSynthesizer, synthesize_slin  # noqa: E402
from porteiro_speech.offline.whisper import WhisperRecognizer  # noqa: E402
from porteiro_speech.settings import SpeechSettings  # noqa: E402
from tests.speech import fakes  # noqa: E402

ANSWERS = ["Entrega.", "Meu nome é Pedro.", "Renata Oliveira.", "Sim, pode subir."]
HINTS = ["entrega", "visita", "sim", "não", "pode subir"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


@dataclass
class Timeline:
    """When each caller's recognition started (perf_counter), keyed by the caller number."""

    started: dict[int, float] = field(default_factory=dict)


class TimedSession:
    """Wraps a real session: notes when its recognition starts (the servicer calls finish in a slot)."""

    def __init__(self, inner, timeline: Timeline) -> None:
        self.inner = inner
        self.timeline = timeline
        self.caller: int | None = None

    async def feed(self, audio: bytes) -> None:
        if self.caller is None:
            self.caller = int.from_bytes(audio[:2], "little")
            audio = b"\x00\x00" + audio[2:]
        await self.inner.feed(audio)

    async def finish(self) -> Recognition:
        assert self.caller is not None
        self.timeline.started[self.caller] = time.perf_counter()
        return await self.inner.finish()

    async def cancel(self) -> None:
        await self.inner.cancel()


class TimedRecognizer:
    def __init__(self, inner: Recognizer, timeline: Timeline) -> None:
        self.inner = inner
        self.timeline = timeline
        self.name = inner.name

    async def start(self) -> None:
        await self.inner.start()

    async def open(self, config: RecognitionConfig) -> TimedSession:
        return TimedSession(await self.inner.open(config), self.timeline)

    async def close(self) -> None:
        await self.inner.close()


async def caller(stub, number: int, audio: bytes, go: asyncio.Event, ended: dict[int, float]):
    """Streams all but the last frame, waits for `go`, sends the last frame and half-closes."""
    audio = number.to_bytes(2, "little") + audio[2:]  # the first sample names the caller
    frames = [audio[i : i + 320] for i in range(0, len(audio), 320)]

    async def requests():
        yield speech_pb2.TranscribeRequest(config=speech_pb2.TranscriptionConfig(hints=HINTS))
        for frame in frames[:-1]:
            yield speech_pb2.TranscribeRequest(audio=frame)
        await go.wait()
        yield speech_pb2.TranscribeRequest(audio=frames[-1])
        ended[number] = time.perf_counter()

    try:
        response = await stub.Transcribe(requests(), timeout=60)
        return number, time.perf_counter(), response, None
    except grpc.aio.AioRpcError as error:
        return number, time.perf_counter(), None, error.code().name


async def main(arguments: argparse.Namespace) -> None:
    timeline = Timeline()
    settings = SpeechSettings(
        grpc_host="127.0.0.1",
        grpc_port=0,
        warmup=False,
        stt_workers=arguments.workers,
        stt_queue_seconds=arguments.queue_seconds,
        stt_queue_depth=arguments.queue_depth,
        whisper_window_margin_seconds=arguments.window_margin,
    )
    if arguments.real:
        recognizer: Recognizer = TimedRecognizer(
            WhisperRecognizer(
                workers=arguments.workers,
                cpu_threads=settings.whisper_cpu_threads,
                window_margin_seconds=arguments.window_margin,
            ),
            timeline,
        )
        clips = [synthesize_slin(text, speed=150) for text in ANSWERS]
    else:
        recognizer = fakes.TimedRecognizer(text="caller", started_at=timeline.started)
        clips = [b"\x00\x00" * 8000]  # 1 s
    app = SpeechApp(settings, Backends(recognizer, EspeakSynthesizer()), ObservabilitySettings())
    bound = build_server(app, settings.grpc_host, settings.grpc_port)
    await bound.server.start()
    await app.start(bound.health)
    what = (
        f"whisper base, window margin {arguments.window_margin:g} s" if arguments.real else "fake 100-300 ms"
    )
    print(
        f"{arguments.callers} callers at once, {arguments.workers} workers, queue {arguments.queue_seconds:g} s "
        f"/ depth {arguments.queue_depth}, recognizer: {what}"
    )
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}") as channel:
            stub = speech_pb2_grpc.SpeechServiceStub(channel)
            if arguments.real:  # the first inference warms caches
                await stub.Transcribe(
                    iter(
                        [speech_pb2.TranscribeRequest(config=speech_pb2.TranscriptionConfig())]
                        + [
                            speech_pb2.TranscribeRequest(audio=clips[0][i : i + 320])
                            for i in range(0, len(clips[0]), 320)
                        ]
                    ),
                    timeout=60,
                )
                timeline.started.clear()
            go, ended = asyncio.Event(), dict[int, float]()
            calls = [
                asyncio.create_task(caller(stub, n, clips[n % len(clips)], go, ended))
                for n in range(arguments.callers)
            ]
            await asyncio.sleep(1.0)  # every stream is open and has sent all but its last frame
            go.set()
            results = await asyncio.gather(*calls)
    finally:
        await bound.server.stop(0)
        await app.stop(0)
    answered = [(n, done) for n, done, response, _ in results if response is not None]
    refused = Counter(code for _, _, response, code in results if response is None)
    waits = [timeline.started[n] - ended[n] for n, _ in answered]
    turns = [done - ended[n] for n, done in answered]
    print(f"answered {len(answered)}/{arguments.callers}; refused: {dict(refused) or 'none'}")
    for label, values in (("queue wait", waits), ("turn (end of stream -> transcript)", turns)):
        if values:
            print(
                f"{label:>35}: p50 {percentile(values, 0.5):6.3f} s   p95 {percentile(values, 0.95):6.3f} s   "
                f"max {max(values):6.3f} s"
            )
    order = sorted(timeline.started, key=timeline.started.get)  # type: ignore[arg-type]
    arrival = sorted(ended, key=ended.get)  # type: ignore[arg-type]
    print(f"recognitions started in arrival order: {order == [n for n in arrival if n in order]}")
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def through_gateway(arguments: argparse.Namespace) -> None:
    import tempfile

    from tests.e2e.conftest import start_e2e, stop_e2e
    from tests.e2e.speech_burst import BusySpeech, replace_speech, run_burst

    print(
        f"{arguments.callers} callers through the gateway, {arguments.workers} recognizer workers (fake 100-300 ms)"
    )
    with tempfile.TemporaryDirectory(prefix="porteiro-burst-") as work:
        e2e = await start_e2e(Path(work))
        try:
            assert e2e.fake_speech is not None
            await replace_speech(e2e, BusySpeech(e2e.fake_speech.servicer, workers=arguments.workers))
            print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
            burst = await run_burst(e2e, callers=arguments.callers)
            print(burst.summary())
            print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            await stop_e2e(e2e)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue-seconds", type=float, default=SpeechSettings().stt_queue_seconds)
    parser.add_argument("--queue-depth", type=int, default=SpeechSettings().stt_queue_depth)
    parser.add_argument(
        "--real", action="store_true", help="faster-whisper base instead of the fake recognizer"
    )
    parser.add_argument(
        "--window-margin",
        type=float,
        default=SpeechSettings().whisper_window_margin_seconds,
        help="with --real: encoder window = utterance + this many seconds (0 = 30 s)",
    )
    parser.add_argument(
        "--gateway", action="store_true", help="the burst through the whole stack and the real gateway"
    )
    parsed = parser.parse_args()
    asyncio.run(through_gateway(parsed) if parsed.gateway else main(parsed))
