"""`make demo`: the whole stack on the offline defaults, one scripted call, the conversation printed.

    python -m porteiro_sim.demo --scenario delivery   # visit, denied, front-desk, no-answer, keypad, ...

Exit status 0 only when the visitor heard the expected final sentence (the
resident's decision, or "no answer" for that scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
import uuid
from pathlib import Path

from porteiro_sim.call import CallResult, candidate_matcher, delete_queue_async, run_call
from porteiro_sim.report import call_spans, format_stage_table, leg_transcripts, read_spans
from porteiro_sim.scenarios import CALLER_VOICE, CALLER_WORDS_PER_MINUTE, SCENARIOS, Scenario
from porteiro_sim.speech import EspeakVoice, SpeechServiceRecogniser, SpeechServiceVoice, Voice, WavVoice
from porteiro_sim.stack import Stack, StackConfig, new_run_folder
from porteiro_sim.timeline import describe_replies, describe_turns, format_timeline, turn_latencies

# Shorter than production so the no-answer scenario does not take a minute.
DEMO_ENV = {"concierge": {"PORTEIRO_CONCIERGE_RESIDENT_CONNECT_TIMEOUT_SECONDS": "8"}}


def say(message: str) -> None:
    print(message, flush=True)


async def demo(
    scenario: Scenario,
    work_dir: Path,
    transcribe: bool,
    wav_dir: Path | None = None,
    caller_voice: Voice | None = None,
) -> int:
    work = new_run_folder(work_dir, "demo")
    queue = f"porteiro-demo-{uuid.uuid4().hex[:8]}"
    config = StackConfig(
        work, queue=queue, span_file=work / "spans.jsonl", trace_personal_data=True, env=DEMO_ENV
    )
    stack = Stack(config)
    say(f"== Porteiro demo: {scenario.name} — {scenario.description}")
    say(f"   logs and spans in {work}; click-to-call queue {queue}")
    started = time.monotonic()
    try:
        await stack.start(wait_seconds=180.0)
    except (RuntimeError, TimeoutError) as error:
        say(f"!! the stack did not start: {error}")
        return 2
    say(
        f"   five services SERVING after {time.monotonic() - started:.1f} s "
        f"(visitor port {stack.visitor_port}, resident port {stack.resident_port})"
    )
    voice = SpeechServiceVoice(stack.speech_target)
    # Recorded human sentences, when given, speak for the callers; the system's voice stays the service's.
    synthetic_callers = caller_voice or voice
    callers = WavVoice(wav_dir, fallback=synthetic_callers) if wav_dir else synthetic_callers
    recogniser = SpeechServiceRecogniser(
        stack.speech_target, hints=["Renata Oliveira", "501", "entrega", "sim"]
    )
    try:
        matcher = await candidate_matcher(voice)
        say(f"   {len(matcher)} prompt sentences ready to recognise on the wire; calling…")
        result = await run_call(
            scenario,
            visitor_port=stack.visitor_port,
            resident_port=stack.resident_port,
            voice=callers,
            matcher=matcher,
            queue=queue,
        )
        await asyncio.sleep(1.0)  # the services export their last spans
        fill_heard_as(result, config.span_file)
        if transcribe:
            say("   transcribing what was not identified (whisper, a few seconds)…")
        for leg in result.legs:
            await describe_replies(leg, recogniser.transcribe if transcribe else None)
            if transcribe:
                await describe_turns(leg, recogniser.transcribe)
        result.visitor.client.write_received_wav(work / "visitor-received.wav")
        result.visitor.client.write_conversation_wav(work / "visitor-conversation.wav")
    finally:
        await voice.close()
        await recogniser.close()
        codes = await stack.stop()
        await delete_queue_async(queue)
    print_result(result, config.span_file)
    unclean = {name: code for name, code in codes.items() if code not in (0, None)}
    if unclean:
        say(f"!! services exited with {unclean}")
    return 0 if result.succeeded else 1


def fill_heard_as(result: CallResult, span_file: Path | None) -> None:
    """The callers' sentences as the gateway recognised them, from its TURN spans, if any were written."""
    if span_file is None:
        return
    spans = read_spans(span_file)
    for leg in result.legs:
        heard = leg_transcripts(spans, result.session_id, leg.role)
        spoken = [turn for turn in leg.turns if turn.pcm]
        if len(heard) == len(spoken):
            for turn, text in zip(spoken, heard, strict=True):
                turn.heard_as = text


def print_result(result: CallResult, span_file: Path | None) -> None:
    say("\n== Conversation (system sentences identified on the wire; callers as scripted, recognised as)")
    say(format_timeline(result.legs))
    visitor = result.visitor
    latencies = turn_latencies(visitor)
    say("\n== Timings")
    if visitor.greeting_latency is not None:
        say(
            f"   first frame after the UUID frame: {visitor.greeting_latency * 1000:.0f} ms; "
            f"greeting speech after {(visitor.greeting_speech_latency or 0) * 1000:.0f} ms"
        )
    if latencies:
        say(
            "   visitor turn latency (end of speech → first reply frame): "
            + ", ".join(f"{value * 1000:.0f} ms" for value in latencies)
        )
    for leg in result.residents:
        values = turn_latencies(leg)
        if values:
            say("   resident turn latency: " + ", ".join(f"{value * 1000:.0f} ms" for value in values))
    if span_file is not None:
        say("\n== Per-stage timings (spans of this call)")
        say(format_stage_table(call_spans(read_spans(span_file), result.session_id)))
    say(f"\n   click-to-call commands: {len(result.commands)}; resident legs: {len(result.residents)}")
    problems = [f"{leg.role}: {item}" for leg in result.legs for item in leg.timed_out]
    problems += [f"{leg.role}: {leg.error}" for leg in result.legs if leg.error]
    if problems:
        say("   waited in vain for: " + "; ".join(problems))
    expected = result.scenario.expected_visitor_outcome or "(visitor hangs up)"
    verdict = "OK" if result.succeeded else "FAILED"
    say(f"== {verdict}: expected the visitor to hear {expected!r}, heard {result.visitor_outcome!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Porteiro end to end with simulated visitor and PBX.")
    parser.add_argument("--scenario", default="delivery", choices=sorted(SCENARIOS))
    parser.add_argument(
        "--work-dir", type=Path, default=Path("var"), help="logs, spans and recordings go here"
    )
    parser.add_argument(
        "--keyed-apartment",
        action="store_true",
        help="key the apartment in (#501#) instead of saying it; by default the visitor says it, and "
        "the resident's name (the offline recogniser rarely understands espeak-ng's numbers) with the "
        "confirmation that follows finds whom to call",
    )
    parser.add_argument(
        "--wav-dir",
        type=Path,
        default=None,
        help="recorded caller sentences (<slug of the sentence>.wav, any rate, 16-bit); "
        "sentences without a recording use --caller-voice",
    )
    parser.add_argument(
        "--caller-voice",
        default=CALLER_VOICE,
        help="espeak-ng voice of the simulated visitor and resident ('service': the speech "
        "service's own voice and pace)",
    )
    parser.add_argument(
        "--caller-wpm",
        type=int,
        default=CALLER_WORDS_PER_MINUTE,
        help="speaking rate of --caller-voice, words per minute",
    )
    parser.add_argument(
        "--no-transcripts",
        action="store_true",
        help="skip transcribing the callers' audio and unidentified replies",
    )
    args = parser.parse_args(argv)
    try:
        scenario = dataclasses.replace(SCENARIOS[args.scenario], spoken_apartment=not args.keyed_apartment)
        callers = None if args.caller_voice == "service" else EspeakVoice(args.caller_voice, args.caller_wpm)
        return asyncio.run(demo(scenario, args.work_dir, not args.no_transcripts, args.wav_dir, callers))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
