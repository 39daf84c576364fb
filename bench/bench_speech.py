"""Speech service figures: transcription time vs utterance length (faster-whisper, bundled
base model) and time to the first synthesized chunk, cached vs uncached (espeak-ng).

Runs a real speech server in-process on a free loopback port and calls it over gRPC.
`python bench/bench_speech.py [--repeats N]`. Prints figures; asserts nothing.

`--options` compares recognizer settings on short intercom answers instead (espeak-ng pt-BR
at three speeds, resampled to 8 kHz, with the gateway's 0.3 s pre-roll and 0.6 s end-of-speech
silence around them): for each encoder window
(`WHISPER_WINDOW_MARGIN_SECONDS`, 0 = faster-whisper's 30 s window) and CPU thread count,
the wall time and CPU seconds per utterance (one at a time, then two at once as two
workers run them) and the word error rate of the transcripts against the text (all answers,
and the short ones of at most 4 words), then every transcript.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time
import unicodedata

import grpc

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.server import build_server
from porteiro_common.settings import ObservabilitySettings
from porteiro_concierge.hints import DECISION_HINTS, INTENT_HINTS, NAME_ANSWER_HINTS
from porteiro_speech.app import SpeechApp
from porteiro_speech.backends import RecognitionConfig
from porteiro_speech.offline.espeak import synthesize_slin
from porteiro_speech.offline.whisper import WhisperRecognizer
from porteiro_speech.settings import SpeechSettings

SENTENCES = [
    "Entrega.",
    "Sim, pode subir.",
    "É uma entrega para o apartamento cento e um.",
    "Boa tarde, eu sou a Maria Silva, vim visitar o João Pereira do apartamento duzentos e dois.",
    "Boa tarde, eu sou entregador, trago uma encomenda grande para a família Souza do apartamento "
    "trezentos e três, bloco B, e preciso que alguém assine o recebimento, por favor.",
]

# Short answers a visitor or resident gives the doorman, each with the hints the concierge sends
# for the question it answers (porteiro_concierge.hints).
RESIDENTS = ("Renata Oliveira", "João Pereira", "Maria Silva")
ANSWERS = [
    ("Entrega.", INTENT_HINTS),
    ("Visita.", INTENT_HINTS),
    ("É uma entrega para a Renata Oliveira.", INTENT_HINTS),
    ("Meu nome é Pedro.", NAME_ANSWER_HINTS),
    ("Renata Oliveira.", RESIDENTS),
    ("Apartamento cento e um.", ("apartamento", "101", "202", "303")),
    ("Sim, pode subir.", DECISION_HINTS),
    ("Não.", DECISION_HINTS),
]
# (encoder window margin in seconds, 0 = the full 30 s window; CPU threads, 0 = library default)
OPTIONS = [(0.0, 0), (3.0, 0), (5.0, 0), (8.0, 0)]
# What the gateway sends around an utterance: its pre-roll and the end-of-speech silence.
PRE_ROLL_SECONDS, END_SILENCE_SECONDS = 0.3, 0.6


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text.casefold())
    return re.findall(r"\w+", text)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference word count)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word))
    return row[len(hyp)], len(ref)


async def bench_options(repeats: int) -> None:
    speeds = (130, 150, 170)
    clips = [
        (
            text,
            RecognitionConfig(8000, "pt-BR", tuple(hints)),
            as_the_gateway_sends(synthesize_slin(text, speed=speed)),
        )
        for text, hints in ANSWERS
        for speed in speeds
    ]
    audio_seconds = statistics.mean(len(audio) / 16000 for _, _, audio in clips)
    print(
        f"Recognizer options: {len(clips)} espeak-ng pt-BR answers ({', '.join(map(str, speeds))} wpm, "
        f"mean {audio_seconds:.2f} s, 8 kHz), whisper base int8 greedy, {repeats} run(s) each"
    )
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    print(
        f"{'window':>10} {'threads':>7} {'wall p50':>9} {'wall p95':>9} {'CPU s/utt':>10} "
        f"{'2-at-once p50':>14} {'WER':>6} {'WER short':>9}"
    )
    heard_by_option: dict[str, list[str]] = {}
    for margin, threads in OPTIONS:
        recognizer = WhisperRecognizer(workers=2, cpu_threads=threads, window_margin_seconds=margin)
        await recognizer.start()
        await recognizer.transcribe(clips[0][2], clips[0][1])  # warm
        walls, cpus, heard_all = [], [], []
        for run in range(repeats):
            for _text, config, audio in clips:
                wall, cpu = time.perf_counter(), time.process_time()
                heard = (await recognizer.transcribe(audio, config)).text
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                if run == 0:
                    heard_all.append(heard)
        pair_walls = []
        for index in range(0, len(clips) - 1, 2):  # two utterances at once, as two workers take them
            began = time.perf_counter()
            await asyncio.gather(
                *(recognizer.transcribe(clips[i][2], clips[i][1]) for i in (index, index + 1))
            )
            pair_walls.append(time.perf_counter() - began)
        await recognizer.close()
        window = "30 s" if margin == 0 else f"fit+{margin:g}s"
        label = f"{window}/{threads or 'auto'}"
        heard_by_option[label] = heard_all
        print(
            f"{window:>10} {threads or 'auto':>7} {statistics.median(walls):9.3f} "
            f"{percentile(walls, 0.95):9.3f} {statistics.mean(cpus):10.3f} "
            f"{statistics.median(pair_walls):14.3f} {error_rate(clips, heard_all):6.1%} "
            f"{error_rate(clips, heard_all, max_words=4):9.1%}",
            flush=True,
        )
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")
    print("\nTranscripts (first run), one line per answer and speed:")
    for index, (text, _, audio) in enumerate(clips):
        print(f"  {text!r} ({len(audio) / 16000:.1f} s)")
        for label, heard_all in heard_by_option.items():
            print(f"    {label:>12}: {heard_all[index]!r}")


def as_the_gateway_sends(audio: bytes) -> bytes:
    """8 kHz speech with the gateway's pre-roll before it and its end-of-speech silence after it."""
    return b"\x00\x00" * int(8000 * PRE_ROLL_SECONDS) + audio + b"\x00\x00" * int(8000 * END_SILENCE_SECONDS)


def error_rate(clips: list, heard: list[str], max_words: int = 1000) -> float:
    """Word error rate over the answers of at most `max_words` words."""
    errors = total = 0
    for (text, _, _), transcript in zip(clips, heard, strict=True):
        if len(words(text)) <= max_words:
            wrong, count = word_errors(text, transcript)
            errors, total = errors + wrong, total + count
    return errors / total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def transcribe(stub, audio: bytes) -> speech_pb2.TranscribeResponse:
    async def requests():
        yield speech_pb2.TranscribeRequest(config=speech_pb2.TranscriptionConfig(hints=["entrega", "visita"]))
        for start in range(0, len(audio), 320):  # 20 ms frames, as the gateway sends them
            yield speech_pb2.TranscribeRequest(audio=audio[start : start + 320])

    return await stub.Transcribe(requests(), timeout=120)


async def first_chunk_seconds(stub, text: str) -> tuple[float, bool]:
    began = time.perf_counter()
    first: tuple[float, bool] | None = None
    async for response in stub.Synthesize(speech_pb2.SynthesizeRequest(text=text), timeout=30):
        first = first or (time.perf_counter() - began, response.cached)  # then drain the stream
    if first is None:
        raise RuntimeError("no audio")
    return first


async def bench_transcription(stub, repeats: int) -> None:
    print("Transcription (faster-whisper base, int8, beam 1; 8 kHz, 20 ms frames)")
    print(f"{'audio s':>8} {'median s':>9} {'max s':>7} {'RTF':>6}  text heard (first run)")
    await transcribe(stub, synthesize_slin("Sim.", speed=130))  # first inference warms caches
    for sentence in SENTENCES:
        audio = synthesize_slin(sentence, speed=140)
        seconds = len(audio) / 16000
        times, heard = [], ""
        for run in range(repeats):
            response = await transcribe(stub, audio)
            times.append(response.processing_seconds)
            heard = heard or response.text if run == 0 else heard
        median = statistics.median(times)
        print(f"{seconds:8.2f} {median:9.3f} {max(times):7.3f} {median / seconds:6.2f}  {heard[:60]!r}")


async def bench_synthesis(stub, repeats: int) -> None:
    texts = [
        f"Apartamento {100 + n}, um momento por favor, estou chamando o morador." for n in range(repeats * 5)
    ]
    uncached = [(await first_chunk_seconds(stub, text))[0] for text in texts]
    cached = []
    for text in texts:
        seconds, was_cached = await first_chunk_seconds(stub, text)
        assert was_cached
        cached.append(seconds)
    print("\nSynthesis time to first chunk over gRPC (espeak-ng pt-br, 8 kHz), client side")
    for label, values in (("uncached", uncached), ("cached", cached)):
        print(
            f"{label:>9}: median {statistics.median(values) * 1000:7.2f} ms   "
            f"p95 {percentile(values, 0.95) * 1000:7.2f} ms   n={len(values)}"
        )


async def main(repeats: int, options: bool) -> None:
    if options:
        await bench_options(repeats)
        return
    settings = SpeechSettings(grpc_host="127.0.0.1", grpc_port=0, warmup=False)
    app = SpeechApp(settings, observability=ObservabilitySettings())
    bound = build_server(app, settings.grpc_host, settings.grpc_port)
    await bound.server.start()
    began = time.perf_counter()
    await app.start(bound.health)
    print(f"model loaded and service ready in {time.perf_counter() - began:.2f} s\n")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}") as channel:
            stub = speech_pb2_grpc.SpeechServiceStub(channel)
            await bench_transcription(stub, repeats)
            await bench_synthesis(stub, repeats)
    finally:
        await bound.server.stop(0)
        await app.stop(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per utterance")
    parser.add_argument(
        "--options", action="store_true", help="compare encoder windows and threads (time, CPU, WER)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repeats, arguments.options))
