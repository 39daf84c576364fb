"""`make eval` / `porteiro-eval`: seeded persona calls through the whole real stack, then the figures.

    porteiro-eval --calls 20 --seed 1 --voices pt-br+m3@150,pt-br+f2@140 --json var/eval.json

Starts the five services on the offline defaults (as `make demo` does) with the directory
file given (`--data`), runs the calls one after another (or a few at a time,
`--concurrency`), then prints and writes the report. Everything the services logged and
their spans are kept in `var/eval-<time>/`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

from porteiro_common.prompts import load_prompts
from porteiro_sim import audio
from porteiro_sim.call import delete_queue_async
from porteiro_sim.evaluation.calls import CallEnvironment, CallRecord, PersonaPbx, run_persona_call
from porteiro_sim.evaluation.hearing import prompt_beginnings
from porteiro_sim.evaluation.personas import (
    Persona,
    Target,
    draw_personas,
    load_targets,
    spoken_apartments,
)
from porteiro_sim.evaluation.phrasing import Utterance
from porteiro_sim.evaluation.prompt_voice import (
    Variant,
    format_prompt_report,
    measure_variant,
    measured_sentences,
    parse_variant,
    prompt_report_json,
)
from porteiro_sim.evaluation.questions import PromptGuesser, SentenceReader
from porteiro_sim.evaluation.report import format_call, format_summary, to_json
from porteiro_sim.evaluation.scoring import (
    RESIDENT_DECISION_OUTCOMES,
    CallScore,
    align_transcripts,
    expected_outcome,
    intent_of,
    last_slot,
    leg_turn_spans,
    score_lines,
    speech_ends,
    summarize,
    system_sentences,
    understood,
)
from porteiro_sim.evaluation.voices import DEFAULT_VOICES, VoiceBox, parse_voices
from porteiro_sim.pbx import PbxSettings
from porteiro_sim.report import SpanRecord, read_spans
from porteiro_sim.speech import SpeechServiceRecogniser, SpeechServiceVoice
from porteiro_sim.stack import Stack, StackConfig, new_run_folder
from porteiro_sim.timeline import format_timeline

# As in `make demo`: a shorter wait for the resident than production's.
EVAL_ENV = {"concierge": {"PORTEIRO_CONCIERGE_RESIDENT_CONNECT_TIMEOUT_SECONDS": "8"}}
SERVICES = ("gateway", "speech", "concierge", "directory", "dialer")

# `--endpointing before`: the gateway as it listened before issue 17 (one 600 ms end-of-speech
# silence for every question, no speculative recognition), to compare a run against.
ENDPOINTING_BEFORE = {
    **{f"PORTEIRO_GATEWAY_END_OF_SPEECH_{kind}_MS": "600" for kind in ("YES_NO", "SHORT", "DIGITS", "OPEN")},
    "PORTEIRO_GATEWAY_SPECULATIVE_RECOGNITION_MS": "0",
}


def say(message: str) -> None:
    print(message, flush=True)


def service_of(variable: str) -> str:
    """The service a setting belongs to, from its prefix (PORTEIRO_GATEWAY_... -> gateway)."""
    service = variable.removeprefix("PORTEIRO_").split("_", 1)[0].lower()
    if not variable.startswith("PORTEIRO_") or service not in SERVICES:
        raise argparse.ArgumentTypeError(
            f"{variable}: not a PORTEIRO_<SERVICE>_ setting ({', '.join(SERVICES)})"
        )
    return service


def service_setting(text: str) -> tuple[str, str]:
    """`--set PORTEIRO_GATEWAY_END_OF_SPEECH_SHORT_MS=600` -> (variable, value)."""
    variable, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"{text}: expected VARIABLE=VALUE")
    service_of(variable.strip())
    return variable.strip(), value


# Sentences the speech service keeps per call of a run (its LRU cache; 256 by default in all): the
# caller synthesizes some 40 new sentences per persona to know them on the wire, and a sentence
# evicted before the concierge says it is synthesized again, a sample value or two apart (streamed
# resampling): no longer the same audio, not identified. About 50 KB each.
SPEECH_CACHE_PER_CALL, SPEECH_CACHE_BASE = 100, 1000


def stack_config(args: argparse.Namespace, work: Path, queue: str) -> StackConfig:
    env: dict[str, dict[str, str]] = {name: dict(values) for name, values in EVAL_ENV.items()}
    entries = min(SPEECH_CACHE_BASE + SPEECH_CACHE_PER_CALL * args.calls, 100000)
    env.setdefault("speech", {})["PORTEIRO_SPEECH_CACHE_ENTRIES"] = str(entries)
    if args.data:
        env.setdefault("directory", {})["PORTEIRO_DIRECTORY_DATA_FILE"] = str(Path(args.data).resolve())
    if args.prompts:
        prompts = str(Path(args.prompts).resolve())
        for service, variable in (
            ("concierge", "PORTEIRO_CONCIERGE_PROMPTS_FILE"),
            ("gateway", "PORTEIRO_GATEWAY_PROMPTS_FILE"),
            ("speech", "PORTEIRO_SPEECH_PROMPTS_FILE"),
        ):
            env.setdefault(service, {})[variable] = prompts
    settings = dict(ENDPOINTING_BEFORE) if args.endpointing == "before" else {}
    for variable, value in [*settings.items(), *args.set]:
        env.setdefault(service_of(variable), {})[variable] = value
    return StackConfig(work, queue=queue, span_file=work / "spans.jsonl", trace_personal_data=True, env=env)


async def evaluate(args: argparse.Namespace, personas: list[Persona]) -> int:
    work = new_run_folder(args.work_dir, "eval")
    queue = f"porteiro-eval-{uuid.uuid4().hex[:8]}"
    config = stack_config(args, work, queue)
    stack = Stack(config)
    say(f"== Porteiro voice evaluation: {len(personas)} calls, seed {args.seed}; logs and spans in {work}")
    source = source_version()  # now: the services run the code as it is when they start
    began = time.monotonic()
    try:
        await stack.start(wait_seconds=240.0)
    except (RuntimeError, TimeoutError) as error:
        say(f"!! the stack did not start: {error}")
        return 2
    say(f"   five services SERVING after {time.monotonic() - began:.1f} s; calling…")
    system_voice = SpeechServiceVoice(stack.speech_target)
    recogniser = SpeechServiceRecogniser(stack.speech_target)
    targets = load_targets(args.data)
    ring = args.ring_seconds
    pbx = PersonaPbx(PbxSettings(queue=queue, resident_port=stack.resident_port, ring_seconds=ring), ring)
    records: list[CallRecord] = []
    try:
        await pbx.start()
        guesser = PromptGuesser(args.prompts)
        env = CallEnvironment(
            "127.0.0.1",
            stack.visitor_port,
            system_voice,
            recogniser if args.transcribe_unknown else None,
            guesser,
            pbx,
            targets,
            await prompt_beginnings(system_voice, guesser.prompts),
            args.prompts,
            spoken_apartments(args.data),
        )
        records = await run_calls(env, personas, VoiceBox(args.noise, args.wav_dir), args.concurrency)
    except (ConnectionError, grpc.RpcError) as error:
        say(f"!! the run stopped: {error}")
        return 2
    finally:
        await pbx.stop()
        await system_voice.close()
        await recogniser.close()
        await stack.stop()
        await delete_queue_async(queue)
    spans = read_spans(work / "spans.jsonl")
    reader = SentenceReader(load_prompts(args.prompts))
    scores = [score_call(record, spans, reader) for record in records]
    return report(args, scores, time.monotonic() - began, source)


async def run_calls(
    env: CallEnvironment, personas: list[Persona], voices: VoiceBox, concurrency: int
) -> list[CallRecord]:
    """Each persona's call, at most `concurrency` at once, in persona order in the result."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(persona: Persona) -> CallRecord:
        async with gate:
            record = await run_persona_call(
                env, persona, voices.get(persona.visitor_voice), voices.get(persona.resident_voice)
            )
            say(
                f"   call {persona.index + 1}/{len(personas)}: {persona.intent} for {persona.target.resident}"
                f" -> {record.visitor_outcome or 'no outcome'} ({record.seconds:.0f} s;"
                f" its sentences synthesized in {record.matcher_seconds:.1f} s before)"
            )
            return record

    return list(await asyncio.gather(*(one(persona) for persona in personas)))


def score_call(record: CallRecord, spans: list[SpanRecord], reader: SentenceReader) -> CallScore:
    persona, session = record.persona, record.session_id
    traces = {span.trace_id for span in spans if span.attributes.get("porteiro.session_id") == session}
    sentences = system_sentences(spans, traces)
    intent, visitor_name, resident_named = understood([reader.read(text) for text in sentences])
    visitor_said = [(line.utterance, line.question, line.turn) for line in record.said]
    offset = record.wall_offset
    visitor_spans = leg_turn_spans(spans, session, "visitor")
    visitor_heard = align_transcripts([line.turn for line in record.said], visitor_spans, offset)
    lines = score_lines(visitor_said, visitor_heard, "visitor", speech_ends(visitor_spans, offset), offset)
    for leg in record.residents:
        turns = list(leg.turns)
        said = [(record.plan.said.get(turn.text) or _keys(turn.text), "decision", turn) for turn in turns]
        resident_spans = leg_turn_spans(spans, session, "resident")
        heard = align_transcripts(turns, resident_spans, offset)
        lines += score_lines(said, heard, "resident", speech_ends(resident_spans, offset), offset)
    destinations = [command.origin for command in record.commands]
    right = persona.target.destination
    outcome = record.visitor_outcome
    return CallScore(
        index=persona.index,
        persona=persona,
        session_id=session,
        reached_right_resident=right in destinations and outcome in RESIDENT_DECISION_OUTCOMES,
        reached_wrong_resident=any(destination != right for destination in destinations),
        destinations=destinations,
        intent_heard=intent or intent_of(last_slot(spans, traces, "intent")),
        visitor_name_heard=visitor_name,
        resident_named=resident_named,
        visitor_outcome=outcome,
        expected_outcome=expected_outcome(persona),
        used_keypad=any(line.utterance.keyed for line in record.said),
        resident_used_keypad=any(
            turn.text.startswith("[DTMF") for leg in record.residents for turn in leg.turns
        ),
        visitor_turns=len(record.visitor.turns),
        lines=lines,
        unidentified_replies=len(record.guessed),
        seconds=record.seconds,
        error=record.visitor.error,
        timeline=format_timeline([record.visitor, *record.residents]).splitlines(),
        system_sentences=sentences,
    )


def _keys(turn_text: str) -> Utterance:
    """The keys a resident pressed ("[DTMF 1]"), as an utterance."""
    return Utterance("#" + turn_text.removeprefix("[DTMF ").rstrip("]"), {}, "decision:keys")


def report(args: argparse.Namespace, scores: list[CallScore], seconds: float, source: str) -> int:
    summary = summarize(scores)
    settings = run_settings(args)
    settings["wall_seconds"] = round(seconds, 1)
    settings["source"] = source
    if args.verbose:
        for score in scores:
            say(format_call(score))
        say("")
    say(format_summary(summary, settings))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(summary, scores, settings), ensure_ascii=False, indent=2))
        say(f"JSON report: {args.json}")
    return 0 if scores else 1


def source_version() -> str:
    """The repository's commit ("-dirty" with local changes), so figures can be traced to the code."""
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "calls": args.calls,
        "seed": args.seed,
        "voices": ",".join(args.voices),
        "data": str(args.data or "sample condominium"),
        "noise_snr_db": args.noise,
        "wav_dir": str(args.wav_dir) if args.wav_dir else None,
        "concurrency": args.concurrency,
        "ring_seconds": args.ring_seconds,
        "endpointing": args.endpointing,
        "settings": ",".join(f"{variable}={value}" for variable, value in args.set) or None,
    }


async def evaluate_prompt_voice(args: argparse.Namespace, target: Target) -> int:
    """`--prompt-voice`: every prompt through the speech service and back, per variant of its settings."""
    work = new_run_folder(args.work_dir, "eval-prompts")
    sentences = measured_sentences(target, args.prompts)
    variants = args.variant or [Variant("defaults")]
    say(f"== Porteiro's own voice: {len(sentences)} prompts, {len(variants)} variant(s); logs in {work}")
    source = source_version()
    base = stack_config(args, work, "unused").env.get("speech", {})
    began = time.monotonic()
    results = [await measure_variant(variant, sentences, base, work, say) for variant in variants]
    settings = {
        "prompts": args.prompts or "shipped pt-BR prompts",
        "resident": target.resident,
        "apartment": target.apartment,
        "settings": ",".join(f"{variable}={value}" for variable, value in args.set) or None,
        "wall_seconds": round(time.monotonic() - began, 1),
        "source": source,
    }
    say(format_prompt_report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(prompt_report_json(results, settings), ensure_ascii=False, indent=2))
        say(f"JSON report: {args.json}")
    return 0 if results and all(result.error is None for result in results) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="porteiro-eval",
        description="Seeded simulated visitor calls through the whole real stack; recognition and outcome figures.",
    )
    parser.add_argument("--calls", type=int, default=20, help="number of calls (personas)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the personas and their phrasings")
    parser.add_argument(
        "--voices",
        type=parse_voices,
        default=list(DEFAULT_VOICES),
        help="comma-separated espeak-ng voices with rates, e.g. pt-br+m3@150,pt-br+f2@140 "
        f"(default {','.join(DEFAULT_VOICES)})",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="directory data file (default: the sample condominium)"
    )
    parser.add_argument(
        "--prompts", type=str, default=None, help="prompts file (default: the shipped pt-BR prompts)"
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=None,
        metavar="SNR_DB",
        help="add telephone-band noise at this SNR (dB)",
    )
    parser.add_argument(
        "--wav-dir", type=Path, default=None, help="recorded caller lines (<slug>.wav) to use when present"
    )
    parser.add_argument(
        "--transcribe-unknown",
        action="store_true",
        help="transcribe system sentences not identified on the wire and guess their prompt (slow: "
        "whisper on the system's voice; the caller answers late)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="calls at once (default 4: a call mostly waits for sentences played in real time, so 4 keep "
        "the speech service's 2 recognizer workers busy without queueing for long; 20 calls in about 7 minutes)",
    )
    parser.add_argument(
        "--ring-seconds", type=float, default=1.0, help="how long the resident's phone rings (default 1 s)"
    )
    parser.add_argument(
        "--endpointing",
        choices=("default", "before"),
        default="default",
        help="the gateway's end of speech: its defaults, or 'before' issue 17 (600 ms for every "
        "question, no speculative recognition) to compare utterances cut short",
    )
    parser.add_argument(
        "--set",
        type=service_setting,
        action="append",
        default=[],
        metavar="VARIABLE=VALUE",
        help="a service setting for this run (repeatable), e.g. PORTEIRO_GATEWAY_END_OF_SPEECH_SHORT_MS=600; "
        "the service is taken from the prefix",
    )
    parser.add_argument(
        "--prompt-voice",
        action="store_true",
        help="instead of calls: recognise every prompt as the caller receives it (speech service "
        "at 8 kHz -> whisper without hints), word error rate per prompt and per --variant",
    )
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        default=[],
        metavar="NAME:VARIABLE=VALUE,...",
        help="with --prompt-voice: speech service settings to measure (repeatable), e.g. "
        "'m3-140:PORTEIRO_SPEECH_ESPEAK_VOICE=pt-br+m3,PORTEIRO_SPEECH_ESPEAK_SPEED_WPM=140'",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the full report as JSON here")
    parser.add_argument("--work-dir", type=Path, default=Path("var"), help="logs and spans go here")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print every call's lines as said and heard"
    )
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        targets = load_targets(args.data)
    except (ValueError, OSError) as error:
        print(f"porteiro-eval: {error}", file=sys.stderr)
        return 2
    if not audio.espeak_available():
        print(
            "porteiro-eval: espeak-ng is not installed (apt-get install espeak-ng, or make setup)",
            file=sys.stderr,
        )
        return 2
    personas = draw_personas(targets, args.calls, args.seed, args.voices)
    # SIGTERM (a CI timeout, `kill`) as Ctrl-C: the stack's services are stopped on the way out
    # instead of left running without their parent.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if args.prompt_voice:
            return asyncio.run(evaluate_prompt_voice(args, targets[0]))
        return asyncio.run(evaluate(args, personas))
    except KeyboardInterrupt:
        return 130
