"""Speech service figures: transcription time vs utterance length (faster-whisper, bundled
base model) and time to the first synthesized chunk, cached vs uncached (espeak-ng).

Runs a real speech server in-process on a free loopback port and calls it over gRPC.
`python bench/bench_speech.py [--repeats N]`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import grpc

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.server import build_server
from porteiro_common.settings import ObservabilitySettings
from porteiro_speech.app import SpeechApp
from porteiro_speech.offline.espeak import synthesize_slin
from porteiro_speech.settings import SpeechSettings

SENTENCES = [
    "Entrega.",
    "Sim, pode subir.",
    "É uma entrega para o apartamento cento e um.",
    "Boa tarde, eu sou a Maria Silva, vim visitar o João Pereira do apartamento duzentos e dois.",
    "Boa tarde, eu sou entregador, trago uma encomenda grande para a família Souza do apartamento "
    "trezentos e três, bloco B, e preciso que alguém assine o recebimento, por favor.",
]


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


async def main(repeats: int) -> None:
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
    asyncio.run(main(parser.parse_args().repeats))
