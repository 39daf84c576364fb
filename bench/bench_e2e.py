"""End-to-end bench: the demo's delivery call repeated N times on the offline stack.

Prints p50/p95 of the visitor's turn latency as measured on the wire (end of the
visitor's speech -> first voiced reply frame), its breakdown by stage (means from
the services' Prometheus histograms over the run), and the greeting's first-frame
latency after the UUID frame.

    .venv/bin/python bench/bench_e2e.py --calls 5
Targets (issue 8): gateway+gRPC+concierge+directory overhead p95 <= 150 ms;
greeting's first frame <= 100 ms after the UUID frame.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from porteiro_sim.call import candidate_matcher, delete_queue_async, run_call
from porteiro_sim.metrics import histogram_mean, scrape
from porteiro_sim.scenarios import SCENARIOS
from porteiro_sim.speech import SpeechServiceVoice
from porteiro_sim.stack import Stack, StackConfig
from porteiro_sim.timeline import turn_latencies

STAGES = [
    # (label, service attribute, histogram)
    ("end-of-speech detection", "gateway", "porteiro_gateway_endpointing_seconds"),
    ("recognition (STT)", "speech", "porteiro_speech_stt_processing_seconds"),
    ("extraction", "concierge", "porteiro_concierge_extraction_seconds"),
    ("directory resolve", "directory", "porteiro_directory_resolve_seconds"),
    ("synthesis to first chunk", "speech", "porteiro_speech_tts_first_chunk_seconds"),
    ("gateway turn latency (its own clock)", "gateway", "porteiro_gateway_turn_latency_seconds"),
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def snapshot(stack: Stack) -> dict[str, dict]:
    services = {
        "gateway": stack.gateway,
        "speech": stack.speech,
        "concierge": stack.concierge,
        "directory": stack.directory,
    }
    return {name: scrape(service.metrics_url) for name, service in services.items() if service is not None}


def stage_means(before: dict[str, dict], after: dict[str, dict]) -> dict[str, float | None]:
    means = {}
    for label, service, histogram in STAGES:
        delta = {key: after[service].get(key, 0.0) - before[service].get(key, 0.0) for key in after[service]}
        means[label] = histogram_mean(delta, histogram)
    return means


async def bench(calls: int, scenario_name: str) -> int:
    work = Path(tempfile.mkdtemp(prefix="porteiro-bench-e2e-"))
    queue = f"porteiro-bench-{uuid.uuid4().hex[:8]}"
    # As in the demo: the apartment is keyed in (espeak-ng numbers are not recognised offline).
    scenario = dataclasses.replace(SCENARIOS[scenario_name], spoken_apartment=False)
    stack = Stack(StackConfig(work, queue=queue))
    await stack.start(wait_seconds=180.0)
    voice = SpeechServiceVoice(stack.speech_target)
    turn_values: list[float] = []
    first_frames: list[float] = []
    greeting_speech: list[float] = []
    succeeded = 0
    try:
        matcher = await candidate_matcher(voice)
        before = snapshot(stack)
        for number in range(1, calls + 1):
            result = await run_call(
                scenario,
                visitor_port=stack.visitor_port,
                resident_port=stack.resident_port,
                voice=voice,
                matcher=matcher,
                queue=queue,
            )
            succeeded += result.succeeded
            latencies = turn_latencies(result.visitor)
            turn_values += latencies
            if result.visitor.greeting_latency is not None:
                first_frames.append(result.visitor.greeting_latency)
            if result.visitor.greeting_speech_latency is not None:
                greeting_speech.append(result.visitor.greeting_speech_latency)
            print(
                f"call {number}: {'ok' if result.succeeded else 'FAILED'}; turn latencies "
                + ", ".join(f"{v * 1000:.0f}" for v in latencies)
                + " ms",
                flush=True,
            )
        after = snapshot(stack)
    finally:
        await voice.close()
        await stack.stop()
        await delete_queue_async(queue)
    print(f"\n{succeeded}/{calls} calls reached the expected outcome ({scenario_name}); logs in {work}")
    if turn_values:
        print(
            f"visitor turn latency on the wire: p50 {percentile(turn_values, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(turn_values, 0.95) * 1000:.0f} ms over {len(turn_values)} turns"
        )
    if first_frames:
        print(
            f"first frame after the UUID frame: p50 {percentile(first_frames, 0.5) * 1000:.1f} ms, "
            f"p95 {percentile(first_frames, 0.95) * 1000:.1f} ms (target <= 100 ms)"
        )
    if greeting_speech:
        print(f"greeting speech after the UUID frame: p50 {percentile(greeting_speech, 0.5) * 1000:.0f} ms")
    means = stage_means(before, after)
    print("\nbreakdown (means over the run, from the services' histograms):")
    for label, mean in means.items():
        print(f"  {label:<40} {'n/a' if mean is None else f'{mean * 1000:8.1f} ms'}")
    stt, tts = means["recognition (STT)"], means["synthesis to first chunk"]
    gateway_turn, endpointing = (
        means["gateway turn latency (its own clock)"],
        means["end-of-speech detection"],
    )
    if None not in (stt, tts, gateway_turn):
        overhead = gateway_turn - stt - tts  # type: ignore[operator]
        print(
            f"  {'gateway+gRPC+concierge+directory':<40} {overhead * 1000:8.1f} ms "
            "(gateway turn latency minus STT and TTS first chunk; target p95 <= 150 ms)"
        )
    if turn_values and None not in (endpointing, gateway_turn):
        unaccounted = statistics.mean(turn_values) - endpointing - gateway_turn  # type: ignore[operator]
        print(
            f"  {'wire minus endpointing minus gateway':<40} {unaccounted * 1000:8.1f} ms "
            "(VAD frame granularity, sockets, simulator clock)"
        )
    return 0 if succeeded == calls else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--scenario", default="delivery", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    return asyncio.run(bench(args.calls, args.scenario))


if __name__ == "__main__":
    sys.exit(main())
