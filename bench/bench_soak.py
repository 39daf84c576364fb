"""Soak: calls that start, talk and hang up continuously through the whole stack, for minutes.

Run from the repository root:
`.venv/bin/python bench/bench_soak.py [--calls 200] [--seconds 600] [--warmup 60]`
(issue 15's target: 200 concurrent calls for 10 minutes on a 2-core machine, >= 99.5% of calls
with the expected outcome, gateway RSS after warm-up growing <= 10%, no pending-task or
async-generator errors in any log).

What runs: the real gateway, concierge, directory and dialer as processes, the real RabbitMQ,
and the scripted speech service of the end-to-end tests at its gRPC boundary, in a process of its
own (recognition is not what a soak measures). `--calls` visitor simulators run at all times: each places a whole
call over AudioSocket (a delivery or a visit where the resident says yes by voice, or a visitor
who hangs up after the greeting), and a new one starts as soon as one ends, until `--seconds`
have passed; then the calls in flight finish. One PBX simulator answers every click-to-call
as the resident.

It prints, and writes with `--json FILE`:
- `calls with the expected outcome: X/N (P%)`, and the failures by what went wrong;
- the gateway's RSS at the end of warm-up and at the end, and the growth;
- counts of `Task was destroyed but it is pending` and `asynchronous generator is already
  running` in every service's log (and tracebacks);
- the playback lateness distribution from the gateway's histogram, which counts the frames a
  schedule rebase skipped at the stall's lateness; the rebase and skipped-frame counters;
- the load average before and after, and the CPU each process used (the simulators' own
  process included: near a whole core, it is the bench that limits the figures).
Asserts nothing; exits 1 when a target is missed, so a script can tell.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' scripted speech

from bench_gateway import counter_total, cpu_seconds, lateness_figures, scrape  # noqa: E402

from porteiro_sim.call import candidate_matcher, delete_queue_async  # noqa: E402
from porteiro_sim.pbx import Pbx, PbxSettings, Resident  # noqa: E402
from porteiro_sim.scenarios import SCENARIOS, VISITOR_OUTCOMES, caller_lines  # noqa: E402
from porteiro_sim.script import AwaitReply, HangUp, LegRecord  # noqa: E402
from porteiro_sim.sentences import SentenceMatcher  # noqa: E402
from porteiro_sim.speech import EspeakVoice  # noqa: E402
from porteiro_sim.stack import Stack, StackConfig  # noqa: E402
from porteiro_sim.visitor import place_call  # noqa: E402
from tests.e2e.fake_speech import FakeSpeechServer  # noqa: E402

SPEECH_WPM = 300  # the scripted speech talks fast: more calls per minute, recognition does not care
LOG_PROBLEMS = {
    "pending_task": "Task was destroyed but it is pending",
    "async_generator": "asynchronous generator is already running",
    "traceback": "Traceback (most recent call last)",
}
TARGET_SUCCESS = 0.995
TARGET_RSS_GROWTH = 0.10
RESIDENT_SCENARIO = SCENARIOS["delivery"]  # every resident says "Sim, pode subir."


@dataclass(frozen=True)
class Kind:
    """One kind of call the soak places, and how to tell that it ended as it should."""

    name: str
    weight: float
    expected_outcome: str  # the final sentence's prompt key; "" = the visitor hangs up first


KINDS = (
    Kind("delivery", 0.45, SCENARIOS["delivery"].expected_visitor_outcome),
    Kind("visit", 0.45, SCENARIOS["visit"].expected_visitor_outcome),
    Kind("hang-up", 0.10, ""),
)


@dataclass
class Tally:
    started: int = 0
    ended: int = 0
    expected: int = 0
    failures: Counter = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)


def visitor_steps(kind: Kind, final_timeout: float) -> list:
    if kind.name == "hang-up":
        return [AwaitReply(), HangUp()]
    return SCENARIOS[kind.name].visitor_steps(final_timeout)


def failure_of(kind: Kind, record: LegRecord) -> str | None:
    """None when the call ended as expected; else a short label of what went wrong."""
    if record.error:
        return "connect_error" if record.error.startswith("cannot connect") else "error"
    if kind.name == "hang-up":
        return None if record.client.close_reason == "local" and record.heard_keys else "no_greeting"
    heard = next((key for key in reversed(record.heard_keys) if key in VISITOR_OUTCOMES), None)
    if heard == kind.expected_outcome and record.client.closed:
        return None
    if heard is not None:
        return f"heard_{heard}"
    if record.timed_out:
        return "timed_out"
    return "no_outcome"


class Soak:
    def __init__(self, stack: Stack, voice: EspeakVoice, matcher: SentenceMatcher, seed: int) -> None:
        self.stack, self.voice, self.matcher = stack, voice, matcher
        self.random = random.Random(seed)
        self.tally = Tally()

    async def one_call(self, final_timeout: float) -> None:
        kind = self.random.choices(KINDS, weights=[k.weight for k in KINDS])[0]
        self.tally.started += 1
        started = time.monotonic()
        record = await place_call(
            "127.0.0.1",
            self.stack.visitor_port,
            visitor_steps(kind, final_timeout),
            self.voice,
            session_id=str(uuid.uuid4()),
            matcher=self.matcher,
        )
        self.tally.ended += 1
        self.tally.durations.append(time.monotonic() - started)
        failure = failure_of(kind, record)
        if failure is None:
            self.tally.expected += 1
        else:
            self.tally.failures[f"{kind.name}: {failure}"] += 1

    async def caller(self, deadline: float, final_timeout: float, start_delay: float) -> None:
        """One of the `--calls` slots: call after call until the deadline."""
        await asyncio.sleep(start_delay)
        while time.monotonic() < deadline:
            await self.one_call(final_timeout)


class RssSampler:
    """The gateway's resident set size, sampled every few seconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, int]] = []

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    async def run(self, started: float, every: float = 5.0) -> None:
        while True:
            self.samples.append((time.monotonic() - started, self.rss_kib()))
            await asyncio.sleep(every)

    def at(self, seconds: float) -> int:
        """The first sample taken at or after `seconds` (the last one if none)."""
        return next((rss for at, rss in self.samples if at >= seconds), self.samples[-1][1])


def log_problems(stack: Stack) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for service in stack.services:
        text = service.log_path.read_text(errors="replace") if service.log_path.exists() else ""
        counts[service.name] = {label: text.count(pattern) for label, pattern in LOG_PROBLEMS.items()}
    return counts


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def caller_lines_spoken() -> list[str]:
    return sorted({line for name in ("delivery", "visit") for line in caller_lines(SCENARIOS[name])})


def speech_process(ports: multiprocessing.Queue, stop: EventType) -> None:
    """The scripted speech in a process of its own: in the simulators' process, 200 calls'
    worth of frames starve it and the gateway sees speech deadlines the product would not."""
    asyncio.run(serve_speech(ports, stop))


async def serve_speech(ports: multiprocessing.Queue, stop: EventType) -> None:
    fake_speech = FakeSpeechServer(EspeakVoice(words_per_minute=SPEECH_WPM))
    await fake_speech.start()
    await fake_speech.servicer.register_lines(caller_lines_spoken())
    trimmer = asyncio.create_task(trim_fake_speech_records(fake_speech))
    ports.put(fake_speech.port)
    await asyncio.to_thread(stop.wait)  # a multiprocessing event: waited on in a thread
    trimmer.cancel()
    await asyncio.gather(trimmer, return_exceptions=True)
    await fake_speech.stop()


async def start_stack(work: Path, queue: str, max_legs: int, speech_port: int) -> Stack:
    config = StackConfig(
        work,
        queue=queue,
        speech_target=f"127.0.0.1:{speech_port}",
        env={"gateway": {"PORTEIRO_GATEWAY_MAX_LEGS": str(max_legs)}},
    )
    stack = Stack(config)
    await stack.start(wait_seconds=180.0)
    return stack


async def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="porteiro-soak-"))
    queue = f"porteiro-soak-{uuid.uuid4().hex[:8]}"
    load_before = load()
    spawn = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = spawn.Queue()
    stop_speech = spawn.Event()
    speech = spawn.Process(target=speech_process, args=(ports, stop_speech), name="scripted-speech")
    speech.start()
    speech_port = await asyncio.to_thread(ports.get, True, 60)
    stack = await start_stack(work, queue, args.max_legs, speech_port)
    # The same deterministic voice as the scripted speech: the simulators identify its sentences.
    voice = EspeakVoice(words_per_minute=SPEECH_WPM)
    matcher = await candidate_matcher(voice)
    pbx_settings = PbxSettings(
        queue=queue, resident_host="127.0.0.1", resident_port=stack.resident_port, ring_seconds=0.3
    )
    pbx = Pbx(pbx_settings, Resident(RESIDENT_SCENARIO.resident_steps(), None, 0.3), voice, matcher=matcher)
    await pbx.start()
    gateway = stack.gateway
    assert gateway.process is not None
    pids = {s.name: s.process.pid for s in stack.services if s.process}
    pids |= {"scripted speech": speech.pid, "simulators (this process)": os.getpid()}
    cpu_before = {name: sum(cpu_seconds(pid)) for name, pid in pids.items()}
    lateness_before = scrape(gateway.metrics_port)
    soak = Soak(stack, voice, matcher, args.seed)
    rss = RssSampler(gateway.process.pid)
    started = time.monotonic()
    sampler = asyncio.create_task(rss.run(started))
    deadline = started + args.seconds
    # Calls start spread over the first seconds, as a burst of 200 in one instant is not a soak.
    ramp = min(args.ramp, args.seconds)
    callers = [
        soak.caller(deadline, args.final_timeout, ramp * index / args.calls) for index in range(args.calls)
    ]
    try:
        progress = asyncio.create_task(report_progress(soak.tally, started))
        await asyncio.gather(*callers)
        progress.cancel()
        await pbx.wait_idle(30.0)
    finally:
        elapsed = time.monotonic() - started
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        lateness_after = scrape(gateway.metrics_port)
        cpu_after = {name: sum(cpu_seconds(pid)) for name, pid in pids.items()}
        await pbx.stop()
        await stack.stop()
        stop_speech.set()
        await asyncio.to_thread(speech.join, 10)
        await delete_queue_async(queue)
    figures = summarize(args, soak.tally, rss, lateness_before, lateness_after, elapsed)
    figures["log_problems"] = log_problems(stack)
    figures["cpu_seconds"] = {name: round(cpu_after[name] - cpu_before[name], 1) for name in cpu_after}
    figures["load_before"], figures["load_after"] = load_before, load()
    figures["logs"] = str(work / "logs")
    return figures


async def trim_fake_speech_records(fake_speech: FakeSpeechServer) -> None:
    """The scripted speech records what it heard and said (for tests); a soak would only grow it."""
    servicer = fake_speech.servicer
    while True:
        await asyncio.sleep(10)
        for records in (servicer.synthesized, servicer.transcripts, servicer.hints_seen):
            del records[:]


async def report_progress(tally: Tally, started: float) -> None:
    while True:
        await asyncio.sleep(30)
        print(
            f"  {time.monotonic() - started:5.0f} s: {tally.ended} calls ended, {tally.expected} as expected, "
            f"{tally.started - tally.ended} in flight; load {load()}",
            flush=True,
        )


def summarize(args, tally: Tally, rss: RssSampler, before: dict, after: dict, elapsed: float) -> dict:
    lateness = lateness_figures(
        before["porteiro_gateway_playback_lateness_seconds"],
        after["porteiro_gateway_playback_lateness_seconds"],
    )
    warm, last = rss.at(args.warmup), rss.samples[-1][1] if rss.samples else 0
    return {
        "calls_target": args.calls,
        "seconds": round(elapsed, 1),
        "calls": tally.ended,
        "expected": tally.expected,
        "success": tally.expected / tally.ended if tally.ended else 0.0,
        "failures": dict(tally.failures.most_common()),
        "call_seconds_p50": round(percentile(tally.durations, 0.5), 1),
        "rss_kib_after_warmup": warm,
        "rss_kib_end": last,
        "rss_growth": (last - warm) / warm if warm else 0.0,
        "rss_samples": rss.samples,
        "lateness": lateness,
        "rebases": _delta(before, after, "porteiro_gateway_playback_resyncs"),
        "skipped_frames": _delta(before, after, "porteiro_gateway_playback_skipped_frames"),
    }


def _delta(before: dict, after: dict, name: str) -> float | None:
    start, end = counter_total(before, name), counter_total(after, name)
    return None if start is None or end is None else end - start


def targets_met(figures: dict) -> bool:
    problems = sum(
        counts["pending_task"] + counts["async_generator"] for counts in figures["log_problems"].values()
    )
    return (
        figures["success"] >= TARGET_SUCCESS and figures["rss_growth"] <= TARGET_RSS_GROWTH and problems == 0
    )


def print_figures(f: dict) -> None:
    print(f"\nsoak: {f['calls_target']} concurrent calls for {f['seconds']:.0f} s; logs in {f['logs']}")
    print(f"calls with the expected outcome: {f['expected']}/{f['calls']} ({f['success'] * 100:.1f}%)")
    for label, count in f["failures"].items():
        print(f"  not as expected: {label} x{count}")
    print(f"call duration p50: {f['call_seconds_p50']} s")
    print(
        f"gateway RSS: {f['rss_kib_after_warmup'] / 1024:.1f} MiB after warm-up, "
        f"{f['rss_kib_end'] / 1024:.1f} MiB at the end ({f['rss_growth'] * 100:+.1f}%, target <= +10%)"
    )
    for service, counts in f["log_problems"].items():
        print(
            f"log of {service}: pending-task {counts['pending_task']}, "
            f"async-generator {counts['async_generator']}, tracebacks {counts['traceback']}"
        )
    late = f["lateness"]
    print(
        f"playback lateness (rebased frames included): {late['frames']:.0f} frames, "
        f"{late['within_5ms'] * 100:.2f}% <= 5 ms, {late['within_20ms'] * 100:.2f}% <= 20 ms, "
        f"p50 <= {late['p50'] * 1000:g} ms, p99 <= {late['p99'] * 1000:g} ms; "
        f"rebases {f['rebases']}, skipped frames {f['skipped_frames']}"
    )
    cpu = ", ".join(
        f"{name} {seconds} s ({seconds / f['seconds'] * 100:.0f}% of a core)"
        for name, seconds in f["cpu_seconds"].items()
    )
    print(f"CPU used: {cpu}")
    print(
        f"load average (1, 5, 15 min) on {os.cpu_count()} cores: before {f['load_before']}, after {f['load_after']}"
    )
    print("targets met" if targets_met(f) else "targets NOT met")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls in progress at all times")
    parser.add_argument("--seconds", type=float, default=600.0, help="how long new calls keep starting")
    parser.add_argument("--warmup", type=float, default=60.0, help="RSS growth is measured from here")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds over which the first calls start")
    parser.add_argument(
        "--final-timeout", type=float, default=90.0, help="longest a visitor waits for a reply"
    )
    parser.add_argument("--max-legs", type=int, default=600, help="the gateway's PORTEIRO_GATEWAY_MAX_LEGS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print_figures(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0 if targets_met(figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
