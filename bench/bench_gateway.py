"""Gateway figures: N concurrent simulated calls against one gateway process.

Run from the repository root: `.venv/bin/python bench/bench_gateway.py [--calls 100] [--seconds 20]`
(`--calls 300` for the target load). The gateway runs as a real process
(`python -m porteiro_gateway`, uvloop); this script plays Asterisk with real
AudioSocket clients sending real 20 ms frames at 50/s (espeak-ng speech
alternating with silence, so VAD, endpointing and Transcribe calls happen),
and fake speech/concierge gRPC servers (the concierge says a 2 s sentence to
every leg every 5 s). Prints the gateway's CPU per call-second, the share of
playback frames sent within 5 ms of their slot (from its lateness histogram),
client-side arrival jitter and turn counts. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import struct
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' fakes and helpers

import logging  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from tests.audiosocket_gw.fakes import (  # noqa: E402
    FakeConcierge,
    FakeLeg,
    FakeSpeech,
    serve_concierge,
    serve_speech,
    tone,
)
from tests.audiosocket_gw.support import silence, spoken  # noqa: E402
from tests.support.processes import start_service  # noqa: E402

HEADER = struct.Struct(">BH")
FRAME_BYTES = 320


class CallProtocol(asyncio.Protocol):
    """One simulated Asterisk call: counts frames and records audio arrival times."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.arrivals: list[float] = []
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(HEADER.pack(0x01, 16) + uuid.uuid4().bytes)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 3:
            kind, length = HEADER.unpack_from(buffer)
            if len(buffer) < 3 + length:
                break
            if kind == 0x10:
                self.arrivals.append(now)
            del buffer[: 3 + length]

    def connection_lost(self, exc) -> None:
        self.closed = True


async def talk(legs: asyncio.Queue[FakeLeg], prompt: str) -> None:
    """The fake concierge's script: a sentence every 5 s on every leg."""

    async def per_leg(leg: FakeLeg) -> None:
        n = 0
        while not leg.closed.is_set():
            leg.say(f"s{n}", prompt, allow_barge_in=False)
            n += 1
            await asyncio.sleep(5.0)

    tasks = set()
    while True:
        leg = await legs.get()
        task = asyncio.create_task(per_leg(leg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def send_audio(calls: list[CallProtocol], audio: bytes, stop: asyncio.Event, groups: int = 10) -> None:
    """Every call sends one frame per 20 ms on an absolute schedule, staggered through the audio.

    Calls are spread over `groups` phases of the 20 ms period, as calls that
    started at different moments are on a real PBX.
    """
    frames = [HEADER.pack(0x10, FRAME_BYTES) + audio[i : i + FRAME_BYTES]
              for i in range(0, len(audio) - FRAME_BYTES + 1, FRAME_BYTES)]
    offsets = [(index * 37) % len(frames) for index in range(len(calls))]
    phase = 0.02 / groups
    start, step = time.monotonic(), 0
    while not stop.is_set():
        delay = start + step * phase - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tick, group = divmod(step, groups)
        for index in range(group, len(calls), groups):
            call = calls[index]
            if call.transport is not None and not call.closed:
                call.transport.write(frames[(offsets[index] + tick) % len(frames)])
        step += 1


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_wait_seconds(pid: int) -> float:
    """Time the gateway's event-loop thread was ready to run but waited for a CPU (scheduler stats)."""
    fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(fields[1]) / 1e9


def scrape(port: int) -> dict[str, list]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return {f.name: f.samples for f in text_string_to_metric_families(response.read().decode())}


def buckets(samples: list) -> dict[str, float]:
    return {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}


def lateness_figures(before: list, after: list) -> tuple[float, float, str]:
    """(frames, share sent <= 5 ms late, bucket holding the p99) over the window."""
    start, end = buckets(before), buckets(after)
    frames = end["+Inf"] - start["+Inf"]
    if not frames:
        return 0.0, 0.0, "n/a"
    share = (end["0.005"] - start["0.005"]) / frames
    p99 = next(le for le in end if (end[le] - start[le]) / frames >= 0.99)
    return frames, share, p99


def jitter(calls: list[CallProtocol], since: float) -> str:
    """Client-side: spread of inter-arrival gaps of audio frames (includes this process's own delays)."""
    gaps = sorted(b - a for call in calls for a, b in zip(call.arrivals, call.arrivals[1:], strict=False)
                  if a >= since)
    if not gaps:
        return "no frames"
    pick = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))] * 1000  # noqa: E731
    return f"gap p1 {pick(0.01):.1f} ms  p50 {pick(0.5):.1f} ms  p99 {pick(0.99):.1f} ms"


async def serve_fakes(ports, stop) -> None:
    speech, concierge = FakeSpeech(), FakeConcierge()
    speech.texts["prompt"] = tone(520, 2.0)
    speech_server, concierge_server = await serve_speech(speech), await serve_concierge(concierge)
    script = asyncio.create_task(talk(concierge.legs, "prompt"))
    ports.send((speech_server.port, concierge_server.port))
    await asyncio.to_thread(stop.wait)
    ports.send(len(speech.transcribe_records))
    script.cancel()
    await speech_server.server.stop(None)
    await concierge_server.server.stop(None)


def fakes_process(ports, stop) -> None:
    """Fake speech and concierge in their own process, so the clients do not starve them."""
    logging.getLogger("opentelemetry.context").setLevel(logging.CRITICAL)
    asyncio.run(serve_fakes(ports, stop))


async def bench(calls_wanted: int, seconds: float) -> None:
    context = multiprocessing.get_context("spawn")
    ports, child_end = context.Pipe()
    fakes_stop = context.Event()
    fakes = context.Process(target=fakes_process, args=(child_end, fakes_stop), daemon=True)
    fakes.start()
    speech_port, concierge_port = await asyncio.to_thread(ports.recv)
    gateway = start_service(
        "porteiro_gateway", "PORTEIRO_GATEWAY_", Path("/tmp/porteiro-bench-gateway"),
        {"PORTEIRO_GATEWAY_VISITOR_HOST": "127.0.0.1", "PORTEIRO_GATEWAY_RESIDENT_HOST": "127.0.0.1",
         "PORTEIRO_GATEWAY_SPEECH_TARGET": f"127.0.0.1:{speech_port}",
         "PORTEIRO_GATEWAY_CONCIERGE_TARGET": f"127.0.0.1:{concierge_port}",
         "PORTEIRO_GATEWAY_MAX_LEGS": str(calls_wanted + 10), "PORTEIRO_LOG_LEVEL": "WARNING"},
        ("VISITOR_PORT", "RESIDENT_PORT"),
    )
    stop = asyncio.Event()
    try:
        await asyncio.to_thread(gateway.wait_serving, 60)
        port = gateway.extra_ports["VISITOR_PORT"]
        loop = asyncio.get_running_loop()
        calls: list[CallProtocol] = []
        for _ in range(calls_wanted):
            _, protocol = await loop.create_connection(CallProtocol, "127.0.0.1", port)
            calls.append(protocol)
        audio = silence(1.0) + spoken("eu vim entregar uma encomenda para o apartamento cento e dois") + silence(2.0)
        sender = asyncio.create_task(send_audio(calls, audio, stop))
        await asyncio.sleep(3.0)  # warm-up: every leg connected, first prompts playing
        before = scrape(gateway.metrics_port)
        cpu_before, began = cpu_seconds(gateway.process.pid), time.monotonic()
        own_before = time.process_time()
        wait_before = runqueue_wait_seconds(gateway.process.pid)
        await asyncio.sleep(seconds)
        cpu_used, elapsed = cpu_seconds(gateway.process.pid) - cpu_before, time.monotonic() - began
        own_used = time.process_time() - own_before
        waited = runqueue_wait_seconds(gateway.process.pid) - wait_before
        after = scrape(gateway.metrics_port)
        stop.set()
        await sender
        frames, on_time, p99 = lateness_figures(
            before["porteiro_gateway_playback_lateness_seconds"], after["porteiro_gateway_playback_lateness_seconds"]
        )
        resyncs = sum(s.value for s in after["porteiro_gateway_playback_resyncs"] if s.name.endswith("_total"))
        alive = sum(not call.closed for call in calls)
        print(f"calls: {calls_wanted} ({alive} still connected)  window: {elapsed:.1f} s")
        print(f"gateway CPU: {cpu_used / elapsed:.1%} of one core; "
              f"{cpu_used / elapsed / calls_wanted * 1000:.2f} ms CPU per call-second")
        print(f"playback frames sent in window: {frames:.0f}; sent within 5 ms of their slot: {on_time:.2%}; "
              f"p99 lateness <= {float(p99) * 1000:g} ms (histogram bucket); schedule rebases: {resyncs:.0f}")
        print(f"client-side arrival jitter: {jitter(calls, began)}")
        print(f"context: this client process used {own_used / elapsed:.0%} of a core; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; the gateway's loop thread "
              f"waited {waited / elapsed * 1000:.0f} ms per second for a CPU")
        fallbacks = sum(s.value for s in after["porteiro_gateway_fallbacks"] if s.name.endswith("_total"))
        print(f"fallbacks played (a fake dependency too slow): {fallbacks:.0f}")
        for call in calls:
            if call.transport is not None:
                call.transport.close()
    finally:
        stop.set()
        gateway.terminate()
        fakes_stop.set()
        if await asyncio.to_thread(ports.poll, 5):
            print(f"utterances recognised (whole run): {ports.recv()}")
        fakes.join(5)


def main() -> None:
    logging.getLogger("opentelemetry.context").setLevel(logging.CRITICAL)  # fake servers' teardown noise
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="concurrent calls (300 for the target)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(bench(args.calls, args.seconds))
    except ImportError:
        asyncio.run(bench(args.calls, args.seconds))


if __name__ == "__main__":
    main()
