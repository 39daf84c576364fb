"""A recognition worker that never returns takes the service out of rotation, and back when it does.

make eval (2026-12-02, blocks condominium, seed 61): both whisper workers stopped returning after a
few hundred transcriptions; every later one was refused ("no recognition worker of 2 freed up")
while health said SERVING, and six minutes of calls ended on the technical-problem sentence.
"""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health_pb2, health_pb2_grpc

from porteiro_common.health import LIVENESS
from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from tests.speech.conftest import metric, transcribe, transcribe_messages
from tests.speech.fakes import ScriptedRecognizer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def health_becomes(channel, service: str, status: int, within: float = 5.0) -> None:
    """Until the health service reports `status` for `service` (its Watch stream, as a probe sees it)."""
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=service))
    try:
        async with asyncio.timeout(within):
            async for response in watch:
                if response.status == status:
                    return
    finally:
        watch.cancel()


async def test_a_stuck_worker_makes_the_service_not_serving_until_it_returns(start_speech) -> None:
    recognizer = ScriptedRecognizer("Sim.")
    recognizer.release.clear()  # finish() waits: the worker is stuck
    speech = await start_speech(
        Backends(recognizer, EspeakSynthesizer()), stt_workers=1, stt_stuck_seconds=0.4
    )
    await speech.bound.health.set_alive()  # as `porteiro_common.server.serve` does at start
    call = asyncio.create_task(
        transcribe(speech.stub, transcribe_messages(b"\x00\x01" * 800, sample_rate_hz=8000))
    )
    await recognizer.wait_finishing(1)
    await health_becomes(speech.channel, LIVENESS, NOT_SERVING)
    await health_becomes(speech.channel, "", NOT_SERVING)
    assert metric("porteiro_speech_workers_stuck", kind="recognition") == 1
    recognizer.release.set()  # it returns after all
    response = await call
    assert response.text == "Sim."
    await health_becomes(speech.channel, LIVENESS, SERVING)
    await health_becomes(speech.channel, "", SERVING)
    assert metric("porteiro_speech_workers_stuck", kind="recognition") == 0


async def test_slow_but_moving_workers_keep_the_service_serving(start_speech) -> None:
    recognizer = ScriptedRecognizer("Sim.")
    recognizer.release.clear()
    speech = await start_speech(Backends(recognizer, EspeakSynthesizer()), stt_workers=1, stt_stuck_seconds=5)
    await speech.bound.health.set_alive()
    call = asyncio.create_task(
        transcribe(speech.stub, transcribe_messages(b"\x00\x01" * 800, sample_rate_hz=8000))
    )
    await recognizer.wait_finishing(1)
    await asyncio.sleep(1.5)  # several checks of the watchdog, all under the limit
    stub = health_pb2_grpc.HealthStub(speech.channel)
    assert (await stub.Check(health_pb2.HealthCheckRequest(service=LIVENESS))).status == SERVING
    recognizer.release.set()
    assert (await call).text == "Sim."
