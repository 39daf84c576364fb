"""The visitor simulator: calls the gateway's visitor port like Asterisk and follows a script.

    python -m porteiro_sim.visitor --say "Entrega." --say "Apartamento 501." \
        --speech-target 127.0.0.1:50051 --wav var/visitor.wav
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from porteiro_sim.audiosocket_client import AudioSocketClient
from porteiro_sim.script import AwaitHangUp, AwaitReply, Keys, LegRecord, ScriptRunner, Speak, Step
from porteiro_sim.sentences import SentenceMatcher
from porteiro_sim.speech import EspeakVoice, SpeechServiceRecogniser, SpeechServiceVoice, Voice, WavVoice
from porteiro_sim.timeline import describe_replies, describe_turns, format_timeline


async def place_call(
    host: str,
    port: int,
    steps: list[Step],
    voice: Voice | None,
    *,
    role: str = "visitor",
    session_id: str | None = None,
    events: dict[str, asyncio.Event] | None = None,
    reply_end_silence: float = 0.8,
    matcher: SentenceMatcher | None = None,
) -> LegRecord:
    """Connect, play the script to its end, and return what happened (the socket is closed)."""
    client = AudioSocketClient(host, port, session_id, reply_end_silence=reply_end_silence)
    record = LegRecord(role, client)
    try:
        await client.connect()
    except OSError as error:
        record.error = f"cannot connect to {host}:{port}: {error}"
        return record
    try:
        await ScriptRunner(record, voice, events, matcher).run(steps)
    finally:
        await client.close()
    return record


def conversation(lines: list[str], final_timeout: float = 60.0) -> list[Step]:
    """Greeting, then each line answered in turn ("#123" presses keys), then wait for the hang-up."""
    steps: list[Step] = [AwaitReply()]
    for line in lines:
        steps.append(Keys(line[1:]) if line.startswith("#") else Speak(line))
        steps.append(AwaitReply())
    steps.append(AwaitHangUp(final_timeout))
    return steps


def build_voice(speech_target: str | None, wav_dir: str | None) -> Voice:
    voice: Voice = SpeechServiceVoice(speech_target) if speech_target else EspeakVoice()
    return WavVoice(wav_dir, fallback=voice) if wav_dir else voice


async def _main(args: argparse.Namespace) -> int:
    voice = build_voice(args.speech_target, args.wav_dir)
    record = await place_call(
        args.host, args.port, conversation(args.say, args.timeout), voice, session_id=args.uuid
    )
    recogniser = SpeechServiceRecogniser(args.speech_target) if args.speech_target else None
    identify = recogniser.transcribe if recogniser else None
    await describe_replies(record, identify)
    await describe_turns(record, identify)
    print(format_timeline([record]))
    if args.wav:
        record.client.write_received_wav(args.wav)
        print(f"received audio: {args.wav}")
    if record.error:
        print(record.error, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Call Porteiro's visitor port like Asterisk would.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--uuid", default=None, help="AudioSocket UUID (random by default)")
    parser.add_argument(
        "--say", action="append", default=[], help='a visitor line; "#501#" presses keys instead (repeatable)'
    )
    parser.add_argument(
        "--speech-target",
        default=None,
        help="speech service host:port for the voice and for transcripts (else espeak-ng)",
    )
    parser.add_argument("--wav-dir", default=None, help="folder of recorded sentences (<slug>.wav)")
    parser.add_argument("--wav", type=Path, default=None, help="write everything received to this WAV")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the final hang-up")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
