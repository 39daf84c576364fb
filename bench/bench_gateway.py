"""Gateway figures: N concurrent simulated calls against one gateway process.

Run from the repository root: `.venv/bin/python bench/bench_gateway.py [--calls 300] [--seconds 20] [--pin]`
(300 calls is the target load: p99 playback lateness <= 5 ms on one core). The gateway runs as a real process
(`python -m porteiro_gateway`, uvloop); this script plays Asterisk with real
AudioSocket clients sending real 20 ms frames at 50/s (espeak-ng speech
alternating with silence, so VAD, endpointing and Transcribe calls happen),
and fake speech/concierge gRPC servers (the concierge says a 2 s sentence to
every leg every 5 s). Prints the gateway's CPU per call-second, the share of
playback frames sent within 5 ms of their slot (from its lateness histogram),
client-side arrival jitter and turn counts. Asserts nothing.

Fair measurement on a small machine: `--pin` puts the gateway process (every
thread) on CPU 0 and this script plus the fake servers on the other CPUs, so
the clients do not take the gateway's core (on a machine shared with other
work, leaving placement to the scheduler is often better: the default). CPU per
call-second divides by the calls actually connected (sampled every 0.5 s). The clients are as light as a real PBX allows: one
transport write per frame, and only a sample of calls parses what comes back
(for the jitter figure); the others just count bytes.

`--hog` adds a process that burns a whole CPU pinned to the gateway's core (implies `--pin`): the
gateway then gets about half a core from the scheduler, and the bench reports the share of frames
within 20 ms of their slot. Lateness figures include the frames a schedule rebase jumped over
(the gateway counts each at the stall's lateness, `..._playback_skipped_frames_total`); a gateway
from before that accounting reports only its rebase count.

`--compare DIR` measures two gateways in one sitting: the one in DIR (a checkout of another
commit, e.g. `git worktree add /tmp/gw-before <commit>`; its sources go first on PYTHONPATH)
and this tree's, alternately `--rounds` times each, and prints every run and a summary with the
ratio of CPU per call-second. `--profile FILE` records the gateway with py-spy during the
window (collapsed stacks, `--native`; see the gateway README, "Where the CPU goes").
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' fakes and helpers

import logging  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from tests.gateway.fakes import (  # noqa: E402
    FakeConcierge,
    FakeLeg,
    FakeSpeech,
    serve_concierge,
    serve_speech,
    tone,
)
from tests.gateway.support import silence, spoken  # noqa: E402
from tests.support.processes import start_service  # noqa: E402

HEADER = struct.Struct(">BH")
FRAME_BYTES = 320
TARGET_CALLS = 300


class CallProtocol(asyncio.Protocol):
    """One simulated Asterisk call; when `timed`, parses what it receives and records audio arrivals."""

    def __init__(self, timed: bool = False) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.arrivals: list[float] = []
        self.closed = False
        self.timed = timed
        self.received_bytes = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(HEADER.pack(0x01, 16) + uuid.uuid4().bytes)

    def data_received(self, data: bytes) -> None:
        if not self.timed:
            self.received_bytes += len(data)
            return
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


async def talk(legs: asyncio.Queue[FakeLeg], prompt: str, interruptible: bool = False) -> None:
    """The fake concierge's script: a sentence every 5 s on every leg (`interruptible`: the caller may
    barge in, so the gateway weighs their audio in its loop while it plays)."""

    async def per_leg(leg: FakeLeg) -> None:
        n = 0
        while not leg.closed.is_set():
            leg.say(f"s{n}", prompt, allow_barge_in=interruptible)
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
    frames = [
        HEADER.pack(0x10, FRAME_BYTES) + audio[i : i + FRAME_BYTES]
        for i in range(0, len(audio) - FRAME_BYTES + 1, FRAME_BYTES)
    ]
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


async def count_connected(calls: list[CallProtocol], seconds: float) -> float:
    """Wait `seconds`; the average number of calls still connected meanwhile."""
    samples = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        samples.append(sum(not call.closed for call in calls))
        await asyncio.sleep(min(0.5, left))
    return sum(samples) / len(samples)


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of a process (sched_setaffinity on a pid moves only that thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except (ProcessLookupError, PermissionError):
            pass


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of the gateway's threads, by role: its event loop (the main thread), the native
    media edge ("porteiro-media"), and the rest (gRPC's, OpenTelemetry's); from each thread's
    scheduler run time, in nanoseconds (finer than the 10 ms ticks of /proc/PID/stat)."""
    roles = {"event loop": 0.0, "media edge": 0.0, "other threads": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            ran = int((task / "schedstat").read_text().split()[0]) / 1e9
            name = (task / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
        role = (
            "event loop"
            if int(task.name) == pid
            else "media edge"
            if name == "porteiro-media"
            else "other threads"
        )
        roles[role] += ran
    return roles


def runqueue_wait_seconds(pid: int) -> float:
    """Time the gateway's event-loop thread was ready to run but waited for a CPU (scheduler stats)."""
    fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(fields[1]) / 1e9


def scrape(port: int) -> dict[str, list]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return {f.name: f.samples for f in text_string_to_metric_families(response.read().decode())}


def buckets(samples: list) -> dict[str, float]:
    return {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}


def lateness_figures(before: list, after: list) -> dict[str, float]:
    """Frames, shares sent <= 5 ms and <= 20 ms late, p50 and p99 over the window (bucket upper bounds)."""
    start, end = buckets(before), buckets(after)
    frames = end["+Inf"] - start["+Inf"]
    if not frames:
        return {"frames": 0.0, "within_5ms": 0.0, "within_20ms": 0.0, "p50": math.nan, "p99": math.nan}
    bounds = sorted((float(le), end[le] - start[le]) for le in end)

    def quantile(q: float) -> float:
        return next(upper for upper, count in bounds if count >= q * frames)

    return {
        "frames": frames,
        "within_5ms": (end["0.005"] - start["0.005"]) / frames,
        "within_20ms": (end["0.02"] - start["0.02"]) / frames,
        "p50": quantile(0.5),
        "p99": quantile(0.99),
    }


def counter_total(families: dict[str, list], name: str, **labels: str) -> float | None:
    """A counter's value (summed over the children matching `labels`), or None when this gateway
    does not export it."""
    if name not in families:
        return None
    return sum(
        s.value
        for s in families[name]
        if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items())
    )


def start_profiler(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    """py-spy on the gateway for the window: collapsed Python stacks, read without stopping the process
    (`--native` would stop it for every sample and wreck the schedule it measures)."""
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)]
    command += ["--duration", str(int(seconds)), "--rate", "200", "--nonblocking", "--format", "raw"]
    return subprocess.Popen(
        [*command, "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def short_frame(frame: str) -> str:
    """py-spy's "function (path/to/file.py:123)" -> "function (file.py)"."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.rstrip(')').rsplit('/', 1)[-1].split(':')[0]})" if where else function


def profile_summary(path: Path, top: int = 25) -> None:
    """Print where the samples of a py-spy raw profile fall: each function's share, inclusive and own."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        names = [short_frame(frame) for frame in stack.split(";")]
        own[names[-1]] = own.get(names[-1], 0) + count
        for name in set(names):
            inclusive[name] = inclusive.get(name, 0) + count
    if not total:
        print("profile: no samples")
        return
    print(f"profile ({total} samples; share of samples, inclusive / own):")
    for name, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        print(f"  {count / total:6.1%} / {own.get(name, 0) / total:6.1%}  {name}")


def burn() -> None:
    """The --hog: a whole CPU of pure computation."""
    while True:
        pass


def client_lateness(calls: list[CallProtocol], since: float) -> str:
    """Client-side: how much later than its call's earliest-arriving frame of the past second each frame came.

    Slot n of a call is `arrival - n x 20 ms`; the best slot of the trailing
    second stands in for the schedule (it follows the gateway's rebases).
    Counts this process's own delays too; blind to a delay shared by every frame.
    """
    delays = []
    for call in calls:
        arrivals = np.array([at for at in call.arrivals if at >= since])
        if len(arrivals) < 50:
            continue
        slots = arrivals - np.arange(len(arrivals)) * 0.02
        best = np.minimum.accumulate(slots[:49])
        rolling = np.lib.stride_tricks.sliding_window_view(slots, 50).min(axis=1)
        delays.append(slots - np.concatenate([best, rolling]))
    if not delays:
        return "no frames"
    p50, p99 = np.percentile(np.concatenate(delays), [50, 99]) * 1000
    return f"p50 {p50:.1f} ms  p99 {p99:.1f} ms"


def jitter(calls: list[CallProtocol], since: float) -> str:
    """Client-side: spread of inter-arrival gaps of audio frames (includes this process's own delays)."""
    gaps = sorted(
        b - a for call in calls for a, b in zip(call.arrivals, call.arrivals[1:], strict=False) if a >= since
    )
    if not gaps:
        return "no frames"
    pick = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))] * 1000  # noqa: E731
    return f"gap p1 {pick(0.01):.1f} ms  p50 {pick(0.5):.1f} ms  p99 {pick(0.99):.1f} ms"


async def serve_fakes(ports, stop, synthesis_chunk_ms: int = 100, interruptible: bool = False) -> None:
    speech, concierge = FakeSpeech(), FakeConcierge()
    speech.chunk_bytes = 8000 * 2 * synthesis_chunk_ms // 1000  # the speech service streams 100 ms by default
    speech.texts["prompt"] = tone(520, 2.0)
    speech_server, concierge_server = await serve_speech(speech), await serve_concierge(concierge)
    script = asyncio.create_task(talk(concierge.legs, "prompt", interruptible))
    ports.send((speech_server.port, concierge_server.port))
    await asyncio.to_thread(stop.wait)
    ports.send(len(speech.transcribe_records))
    script.cancel()
    await speech_server.server.stop(None)
    await concierge_server.server.stop(None)


def fakes_process(
    ports, stop, cpus: set[int] | None, synthesis_chunk_ms: int = 100, interruptible: bool = False
) -> None:
    """Fake speech and concierge in their own process, so the clients do not starve them."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    logging.getLogger("opentelemetry.context").setLevel(logging.CRITICAL)
    asyncio.run(serve_fakes(ports, stop, synthesis_chunk_ms, interruptible))


async def bench(
    calls_wanted: int,
    seconds: float,
    pinned: bool,
    hog: bool = False,
    gateway_src: Path | None = None,
    profile: Path | None = None,
    label: str = "this tree",
    silent: bool = False,
    synthesis_chunk_ms: int = 100,
    media: str = "auto",
    media_batch_ms: int = 40,
    extra_env: dict[str, str] | None = None,
    interruptible: bool = False,
) -> dict[str, float]:
    """One run: start the fakes and a gateway, connect the calls, measure `seconds`; print and return figures."""
    cpus = sorted(os.sched_getaffinity(0))
    gateway_cpus, client_cpus = ({cpus[0]}, set(cpus[1:])) if pinned and len(cpus) > 1 else (None, None)
    if client_cpus:
        pin(os.getpid(), client_cpus)
    context = multiprocessing.get_context("spawn")
    ports, child_end = context.Pipe()
    fakes_stop = context.Event()
    fakes = context.Process(
        target=fakes_process,
        args=(child_end, fakes_stop, client_cpus, synthesis_chunk_ms, interruptible),
        daemon=True,
    )
    fakes.start()
    speech_port, concierge_port = await asyncio.to_thread(ports.recv)
    env = {
        "PORTEIRO_GATEWAY_VISITOR_HOST": "127.0.0.1",
        "PORTEIRO_GATEWAY_RESIDENT_HOST": "127.0.0.1",
        "PORTEIRO_GATEWAY_SPEECH_TARGET": f"127.0.0.1:{speech_port}",
        "PORTEIRO_GATEWAY_CONCIERGE_TARGET": f"127.0.0.1:{concierge_port}",
        "PORTEIRO_GATEWAY_MAX_LEGS": str(calls_wanted + 10),
        # Every bench call is a visitor's: none kept for residents (10% by default, which refused
        # 21 of 300 calls since the reserve came in).
        "PORTEIRO_GATEWAY_RESIDENT_RESERVE_SHARE": "0",
        "PORTEIRO_LOG_LEVEL": "WARNING",
        # (a gateway from before issue 21's native edge ignores these)
        "PORTEIRO_GATEWAY_MEDIA_ENGINE": media,
        "PORTEIRO_GATEWAY_MEDIA_BATCH_MS": str(media_batch_ms),
        **(extra_env or {}),
    }
    if (
        gateway_src is not None
    ):  # another checkout's gateway and shared library, ahead of the editable installs
        sources = [gateway_src / "services/gateway/src", gateway_src / "libs/porteiro-common/src"]
        env["PYTHONPATH"] = os.pathsep.join(str(path) for path in sources)
    gateway = start_service(
        "porteiro_gateway",
        "PORTEIRO_GATEWAY_",
        Path("/tmp/porteiro-bench-gateway"),
        env,
        ("VISITOR_PORT", "RESIDENT_PORT"),
    )
    hogs: list[multiprocessing.process.BaseProcess] = []
    profiler: subprocess.Popen | None = None
    stop = asyncio.Event()
    figures: dict[str, float] = {}
    try:
        await asyncio.to_thread(gateway.wait_serving, 60)
        if gateway_cpus:
            pin(gateway.process.pid, gateway_cpus)
        if hog:
            burner = context.Process(target=burn, daemon=True)
            burner.start()
            assert burner.pid is not None
            os.sched_setaffinity(burner.pid, gateway_cpus or {cpus[0]})
            hogs.append(burner)
        port = gateway.extra_ports["VISITOR_PORT"]
        loop = asyncio.get_running_loop()
        calls: list[CallProtocol] = []
        timed_every = max(1, calls_wanted // 30)  # about 30 calls measure arrival jitter
        for index in range(calls_wanted):
            timed = index % timed_every == 0
            _, protocol = await loop.create_connection(
                lambda timed=timed: CallProtocol(timed), "127.0.0.1", port
            )
            calls.append(protocol)
        audio = (
            silence(1.0)
            + (
                silence(4.0)
                if silent
                else spoken("eu vim entregar uma encomenda para o apartamento cento e dois")
            )
            + silence(2.0)
        )
        sender = asyncio.create_task(send_audio(calls, audio, stop))
        await asyncio.sleep(3.0)  # warm-up: every leg connected, first prompts playing
        if profile is not None:
            profiler = start_profiler(gateway.process.pid, seconds, profile)
        load_at_start = os.getloadavg()[0]
        before = scrape(gateway.metrics_port)
        cpu_before, began = cpu_seconds(gateway.process.pid), time.monotonic()
        own_before = time.process_time()
        wait_before = runqueue_wait_seconds(gateway.process.pid)
        threads_before = thread_cpu_seconds(gateway.process.pid)
        connected = await count_connected(calls, seconds)
        threads_used = {
            role: used - threads_before.get(role, 0.0)
            for role, used in thread_cpu_seconds(gateway.process.pid).items()
        }
        (user_after, system_after), elapsed = cpu_seconds(gateway.process.pid), time.monotonic() - began
        user_used, system_used = user_after - cpu_before[0], system_after - cpu_before[1]
        cpu_used = user_used + system_used
        own_used = time.process_time() - own_before
        waited = runqueue_wait_seconds(gateway.process.pid) - wait_before
        after = scrape(gateway.metrics_port)
        stop.set()
        await sender
        late = lateness_figures(
            before["porteiro_gateway_playback_lateness_seconds"],
            after["porteiro_gateway_playback_lateness_seconds"],
        )
        resyncs = (counter_total(after, "porteiro_gateway_playback_resyncs") or 0) - (
            counter_total(before, "porteiro_gateway_playback_resyncs") or 0
        )
        skipped_after = counter_total(after, "porteiro_gateway_playback_skipped_frames")
        skipped = (
            None
            if skipped_after is None
            else skipped_after - (counter_total(before, "porteiro_gateway_playback_skipped_frames") or 0)
        )
        per_call = cpu_used / elapsed / max(connected, 1) * 1000
        # Frames the gateway actually handled (in + out): a gateway that falls behind skips frames
        # and reads merged ones, so CPU per frame compares runs under different loads more fairly.
        handled = (counter_total(after, "porteiro_gateway_frames") or 0) - (
            counter_total(before, "porteiro_gateway_frames") or 0
        )
        per_frame = cpu_used / max(handled, 1) * 1e6
        alive = sum(not call.closed for call in calls)
        print(
            f"[{label}] calls: {calls_wanted} ({alive} still connected)  window: {elapsed:.1f} s  "
            f"media path asked: {media} (batch {media_batch_ms} ms)  Synthesize messages: {synthesis_chunk_ms} ms"
            f"  Says {'interruptible' if interruptible else 'not interruptible'}"
            + "".join(
                f"  {name.removeprefix('PORTEIRO_GATEWAY_')}={value}"
                for name, value in (extra_env or {}).items()
            )
        )
        print(
            f"gateway CPU: {cpu_used / elapsed:.1%} of one core (user {user_used / elapsed:.1%}, "
            f"system {system_used / elapsed:.1%}); "
            f"{per_call:.2f} ms CPU per call-second "
            f"({connected:.0f} calls connected on average); {per_frame:.1f} us per frame handled "
            f"({handled / elapsed:.0f} frames/s in + out)"
        )
        print(
            "gateway threads (scheduler run time, per call-second): "
            + ", ".join(
                f"{role} {used / elapsed / max(connected, 1) * 1000:.2f} ms ({used / elapsed:.1%} of a core)"
                for role, used in threads_used.items()
            )
        )
        skipped_text = (
            "not counted by this gateway" if skipped is None else f"{skipped:.0f} (counted in the figures)"
        )
        underruns = counter_total(after, "porteiro_gateway_playback_underruns")
        if underruns is not None:
            underruns -= counter_total(before, "porteiro_gateway_playback_underruns") or 0
        print(
            f"playback lateness (gateway histogram): p50 <= {late['p50'] * 1000:g} ms, "
            f"p99 <= {late['p99'] * 1000:g} ms (bucket bounds); within 5 ms of their slot: "
            f"{late['within_5ms']:.2%}, within 20 ms: {late['within_20ms']:.2%} of {late['frames']:.0f} frames; "
            f"schedule rebases: {resyncs:.0f}, frames they skipped: {skipped_text}"
            + (
                ""
                if underruns is None
                else f"; Say audio not queued in time (silence inside a Say): {underruns:.0f} ticks"
            )
        )
        verdict = "met" if late["p99"] <= 0.005 and connected >= TARGET_CALLS * 0.99 else "not met"
        print(f"target ({TARGET_CALLS} calls, p99 lateness <= 5 ms): {verdict} at {connected:.0f} calls")
        timed = sum(call.timed for call in calls)
        print(
            f"client-side ({timed} calls): arrival delay vs the call's best frame of the past second "
            f"{client_lateness(calls, began)}; arrival gaps {jitter(calls, began)}"
        )
        placement = (
            f"gateway pinned to CPU {sorted(gateway_cpus)}, clients and fakes to {sorted(client_cpus)}"
            if gateway_cpus and client_cpus
            else "not pinned"
        )
        if hog:
            placement += f"; a CPU hog pinned to CPU {sorted(gateway_cpus or {cpus[0]})}"
        load_at_end = os.getloadavg()[0]
        print(
            f"context: {placement}; this client process used {own_used / elapsed:.0%} of a core; "
            f"load average {load_at_start:.2f} -> {load_at_end:.2f} on {os.cpu_count()} cores (window start -> end); "
            f"the gateway's loop thread waited {waited / elapsed * 1000:.0f} ms per second for a CPU"
        )
        fallbacks = counter_total(after, "porteiro_gateway_fallbacks") or 0
        print(f"fallbacks played (a fake dependency too slow): {fallbacks:.0f}")
        if "porteiro_gateway_synthesis_cache" in after:
            cache = "porteiro_gateway_synthesis_cache"
            says = {
                result: (counter_total(after, cache, result=result) or 0)
                - (counter_total(before, cache, result=result) or 0)
                for result in ("hit", "miss")
            }
            if says["hit"] or says["miss"]:
                print(
                    f"Says from the gateway's cache of sentences: {says['hit']:.0f}, synthesized: {says['miss']:.0f}"
                )
            else:
                print("Says: the gateway's cache of sentences is off (every Say synthesized over gRPC)")
        figures = {
            "cpu_per_call_ms": per_call,
            "cpu_per_frame_us": per_frame,
            "cpu_share": cpu_used / elapsed,
            "threads_ms": sum(threads_used.values()) / elapsed / max(connected, 1) * 1000,
            "loop_ms": threads_used["event loop"] / elapsed / max(connected, 1) * 1000,
            "system_share": system_used / max(cpu_used, 1e-9),
            "connected": connected,
            "load_start": load_at_start,
            "load_end": load_at_end,
            "waited_ms": waited / elapsed * 1000,
            "resyncs": resyncs,
            **late,
        }
        for call in calls:
            if call.transport is not None:
                call.transport.close()
    finally:
        stop.set()
        if client_cpus:
            pin(os.getpid(), set(cpus))  # the next run places everything again
        for burner in hogs:
            burner.kill()
            burner.join(5)
        if profiler is not None and profile is not None:
            try:
                await asyncio.to_thread(profiler.wait, 30)
                profile_summary(profile)
            except subprocess.TimeoutExpired:
                profiler.kill()
        gateway.terminate()
        fakes_stop.set()
        if await asyncio.to_thread(ports.poll, 5):
            print(f"utterances recognised (whole run): {ports.recv()}")
        fakes.join(5)
    return figures


def summary(runs: list[tuple[str, dict[str, float]]]) -> None:
    """Both gateways' runs side by side, and the ratio of CPU per call-second (after / before)."""
    print("\nsummary (one sitting):")
    print(
        "  run        CPU/call-s  CPU/frame  CPU share  kernel  p99 late  within 5 ms  within 20 ms  rebases"
        "  load (start->end)"
    )
    for label, f in runs:
        if not f:
            print(f"  {label:<10} (failed)")
            continue
        print(
            f"  {label:<10} {f['cpu_per_call_ms']:7.2f} ms  {f['cpu_per_frame_us']:6.1f} us  {f['cpu_share']:8.1%}  {f['system_share']:5.0%}  {f['p99'] * 1000:5g} ms"
            f"  {f['within_5ms']:10.2%}  {f['within_20ms']:11.2%}  {f['resyncs']:7.0f}"
            f"  {f['load_start']:.2f} -> {f['load_end']:.2f}"
        )
    for key, what in (
        ("cpu_per_call_ms", "CPU per call-second"),
        ("threads_ms", "CPU per call-second from the threads' scheduler run time"),
        ("loop_ms", "the event loop thread's CPU per call-second"),
        ("cpu_per_frame_us", "CPU per frame handled"),
    ):
        before = [f[key] for label, f in runs if label.startswith("before") and f]
        after = [f[key] for label, f in runs if label.startswith("after") and f]
        if before and after:
            ratio = (sum(after) / len(after)) / (sum(before) / len(before))
            print(f"  {what}, after / before (means): {ratio:.2f}")


def gateway_env(args: argparse.Namespace) -> dict[str, str]:
    """Settings of the gateway under test that the options change (a gateway without them ignores them)."""
    env = {}
    if args.synthesis_cache_mb is not None:
        env["PORTEIRO_GATEWAY_SYNTHESIS_CACHE_MB"] = str(args.synthesis_cache_mb)
    if args.edge_listening is not None:
        env["PORTEIRO_GATEWAY_EDGE_LISTENING"] = str(args.edge_listening == "on").lower()
    return env


async def run_all(args: argparse.Namespace) -> None:
    pinned = args.pin or args.hog
    if args.compare is None:
        await bench(
            args.calls,
            args.seconds,
            pinned,
            args.hog,
            args.after,
            args.profile,
            silent=args.silent,
            synthesis_chunk_ms=args.synthesis_chunk_ms,
            media=args.media,
            media_batch_ms=args.media_batch_ms,
            extra_env=gateway_env(args),
            interruptible=args.interruptible_says,
        )
        return
    runs: list[tuple[str, dict[str, float]]] = []
    for round_ in range(1, args.rounds + 1):
        for label, source in ((f"before.{round_}", args.compare), (f"after.{round_}", args.after)):
            # The speech service of the 'before' system may have streamed its Synthesize messages smaller.
            synthesis_ms = args.synthesis_chunk_ms
            if label.startswith("before") and args.before_synthesis_chunk_ms:
                synthesis_ms = args.before_synthesis_chunk_ms
            runs.append(
                (
                    label,
                    await bench(
                        args.calls,
                        args.seconds,
                        pinned,
                        args.hog,
                        source,
                        None,
                        label,
                        args.silent,
                        synthesis_ms,
                        args.media,
                        args.media_batch_ms,
                        gateway_env(args),
                        args.interruptible_says,
                    ),
                )
            )
            print()
    summary(runs)


async def frame_costs(frames_per_case: int = 20_000) -> None:
    """CPU per frame of one leg's hot paths, in process (a real Leg on virtual time, a no-op transport).

    Load-insensitive (process time of this thread): the Python side of each frame in and out,
    without the socket system calls and gRPC. Run under another checkout's PYTHONPATH to compare.
    """
    from porteiro_gateway.playback import SayItem
    from tests.gateway.harness import LegHarness, audio_frames, uuid_frame

    def per_frame(run, count: int) -> float:
        began = time.process_time()
        run()
        return (time.process_time() - began) / count * 1e6

    async with LegHarness() as h:
        h.receive(uuid_frame())
        await h.step(2)
        sock = h.leg.socket
        sock._transport.write = lambda data: None  # the transport write itself is not measured
        if hasattr(sock, "_write"):
            sock._write = lambda data: None
        receive, n = sock.data_received, frames_per_case
        quiet = audio_frames(silence(1.0))
        talk = audio_frames(
            spoken("eu vim entregar uma encomenda para o apartamento cento e dois") + silence(1.0)
        )
        cases = {
            "in, silence, one frame per read": (quiet * (n // len(quiet) + 1))[:n],
            "in, speech and silence, one frame per read": (talk * (n // len(talk) + 1))[:n],
        }
        for name, frames in cases.items():
            print(f"{name}: {per_frame(lambda frames=frames: [receive(f) for f in frames], n):.2f} us/frame")
        for name, frames in cases.items():  # the native edge hands a leg 40 ms (two frames) per tick
            pairs = [b"".join(frames[i : i + 2]) for i in range(0, n, 2)]
            name = name.replace("one frame per read", "two frames per read")
            print(f"{name}: {per_frame(lambda pairs=pairs: [receive(f) for f in pairs], n):.2f} us/frame")
        player = h.leg.player
        print(f"out, idle (silence): {per_frame(lambda: [player.tick() for _ in range(n)], n):.2f} us/frame")
        player._now = lambda: 0.0
        player.enqueue(SayItem("bench", False, 8000, bytearray(n * 320), True))
        print(f"out, playing a Say: {per_frame(lambda: [player.tick() for _ in range(n)], n):.2f} us/frame")


def main() -> None:
    logging.getLogger("opentelemetry.context").setLevel(logging.CRITICAL)  # fake servers' teardown noise
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=int, default=TARGET_CALLS, help="concurrent calls (300: the target load)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the gateway to CPU 0 and the clients and fake servers to the others",
    )
    parser.add_argument(
        "--hog",
        action="store_true",
        help="a CPU-burning process pinned to the gateway's core (implies --pin)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also run the gateway of the checkout in DIR (before), alternately with this tree's (after)",
    )
    parser.add_argument(
        "--after",
        type=Path,
        metavar="DIR",
        help="the gateway (with --compare: the 'after' one) from the checkout in DIR (default: this tree)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="with --compare: before/after pairs")
    parser.add_argument(
        "--silent",
        action="store_true",
        help="callers send only silence (no utterance, no Transcribe): isolates the recognition streams' cost",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="py-spy record the gateway during the window (raw stacks)",
    )
    parser.add_argument(
        "--synthesis-chunk-ms",
        type=int,
        default=100,
        help="audio per Synthesize message of the fake speech (the service's default: 100)",
    )
    parser.add_argument(
        "--before-synthesis-chunk-ms",
        type=int,
        default=0,
        help="with --compare: the 'before' runs' Synthesize message size, if not --synthesis-chunk-ms "
        "(the speech service before issue 21 sent cached sentences in 100 ms messages)",
    )
    parser.add_argument(
        "--media",
        choices=("auto", "native", "python"),
        default="auto",
        help="the gateway's media path (PORTEIRO_GATEWAY_MEDIA_ENGINE): its native edge or the event loop",
    )
    parser.add_argument(
        "--media-batch-ms",
        type=int,
        default=40,
        help="native edge: how often the gateway's loop takes the legs' audio (PORTEIRO_GATEWAY_MEDIA_BATCH_MS)",
    )
    parser.add_argument(
        "--synthesis-cache-mb",
        type=float,
        help="the gateway's cache of sentences (PORTEIRO_GATEWAY_SYNTHESIS_CACHE_MB; 0: off). The bench's "
        "concierge says one sentence over and over, so with the cache nearly every Say is played from "
        "memory; 0 shows every Say synthesized over gRPC",
    )
    parser.add_argument(
        "--edge-listening",
        choices=("on", "off"),
        help="native edge: endpoint the callers' audio in the edge's thread (PORTEIRO_GATEWAY_EDGE_LISTENING; "
        "default: the gateway's, on)",
    )
    parser.add_argument(
        "--interruptible-says",
        action="store_true",
        help="the concierge's sentences may be interrupted (barge-in): the gateway's loop weighs the callers' "
        "audio while they play (the edge does not listen then); callers who speak over them stop them",
    )
    parser.add_argument(
        "--frame-costs",
        action="store_true",
        help="only the per-frame CPU of one leg's hot paths, in process (no gateway process, no sockets)",
    )
    args = parser.parse_args()
    if args.frame_costs:
        asyncio.run(frame_costs())
        return
    print(
        f"load average before start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; CPU: {cpu_model()}"
    )
    try:
        import uvloop

        uvloop.run(run_all(args))
    except ImportError:
        asyncio.run(run_all(args))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
