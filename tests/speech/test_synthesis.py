"""Real espeak-ng synthesis through the gRPC service: audio, cache, warm-up, errors, spans."""

from __future__ import annotations

import asyncio
import statistics
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2

from porteiro.speech.v1 import speech_pb2
from porteiro_speech.offline.espeak import synthesize_slin
from tests.speech.conftest import metric

GREETING = "Condomínio Apoena, em que posso ajudar?"


async def synthesize(stub, text: str, **fields) -> tuple[list[speech_pb2.SynthesizeResponse], float]:
    """All responses, and the seconds until the first one arrived."""
    began = time.perf_counter()
    first_at = None
    responses = []
    async for response in stub.Synthesize(speech_pb2.SynthesizeRequest(text=text, **fields), timeout=30):
        if first_at is None:
            first_at = time.perf_counter() - began
        responses.append(response)
    assert first_at is not None, "no chunk at all"
    return responses, first_at


def rms(audio: bytes) -> float:
    samples = np.frombuffer(audio, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


async def test_espeak_streams_8khz_speech_whose_length_fits_the_text(start_speech):
    speech = await start_speech()
    responses, _ = await synthesize(speech.stub, GREETING)
    audio = b"".join(response.audio for response in responses)
    assert len(responses) > 1, "audio should arrive in several chunks"
    assert all(response.sample_rate_hz == 8000 and len(response.audio) % 2 == 0 for response in responses)
    assert not any(response.cached for response in responses)
    seconds = len(audio) / 16000
    words = len(GREETING.split())  # 6 words at 160 wpm ≈ 2.3 s of speech plus pauses
    assert 0.2 * words < seconds < 1.0 * words, seconds
    assert rms(audio) > 500, "audio is (nearly) silent"


async def test_16khz_output_is_twice_as_long_in_samples(start_speech):
    speech = await start_speech()
    low, _ = await synthesize(speech.stub, "Entrega para o apartamento cento e um.")
    high, _ = await synthesize(speech.stub, "Entrega para o apartamento cento e um.", sample_rate_hz=16000)
    low_bytes = sum(len(response.audio) for response in low)
    high_bytes = sum(len(response.audio) for response in high)
    assert all(response.sample_rate_hz == 16000 for response in high)
    assert high_bytes / low_bytes == pytest.approx(2.0, rel=0.02)


async def test_streamed_resampling_matches_one_shot_soxr_resampling(start_speech):
    """Chunked soxr resampling of espeak's 22.05 kHz stream equals resampling it whole."""
    speech = await start_speech()
    responses, _ = await synthesize(speech.stub, GREETING)
    streamed = np.frombuffer(b"".join(response.audio for response in responses), dtype="<i2")
    oneshot = np.frombuffer(synthesize_slin(GREETING, "pt-br", 8000, 160), dtype="<i2")
    assert abs(len(streamed) - len(oneshot)) <= 32
    common = min(len(streamed), len(oneshot))
    assert np.corrcoef(streamed[:common], oneshot[:common])[0, 1] > 0.99


async def test_cache_hit_is_faster_and_marked_cached(start_speech):
    speech = await start_speech()
    texts = [f"Apartamento {number}, um momento por favor." for number in (101, 202, 303, 404, 505)]
    uncached, cached = [], []
    for text in texts:
        responses, first = await synthesize(speech.stub, text)
        assert not responses[0].cached
        uncached.append(first)
    hits_before = metric("porteiro_speech_tts_first_chunk_seconds_count", backend="espeak", cached="true")
    for text in texts:
        responses, first = await synthesize(speech.stub, text)
        assert all(response.cached for response in responses)
        cached.append(first)
    hits_after = metric("porteiro_speech_tts_first_chunk_seconds_count", backend="espeak", cached="true")
    assert hits_after - hits_before == len(texts)
    assert statistics.median(cached) < statistics.median(uncached), (cached, uncached)


async def test_same_text_other_voice_or_rate_is_not_a_cache_hit(start_speech):
    speech = await start_speech()
    await synthesize(speech.stub, "Pode subir.")
    other_rate, _ = await synthesize(speech.stub, "Pode subir.", sample_rate_hz=16000)
    other_voice, _ = await synthesize(speech.stub, "Pode subir.", voice="pt")
    assert not other_rate[0].cached and not other_voice[0].cached


async def test_fixed_prompts_are_cached_at_start_from_the_configured_file(start_speech, tmp_path):
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text(
        f'greeting: "{GREETING}"\nbye: "Até logo."\nconfirm: "Entrega para {{resident_name}}."\n',
        encoding="utf-8",
    )
    speech = await start_speech(prompts_file=prompts, warmup=True)
    assert speech.bound.health.serving
    assert len(speech.app.servicer.cache) == 2  # the sentence with a placeholder is not fixed
    responses, _ = await synthesize(speech.stub, GREETING)
    assert all(response.cached for response in responses)
    status = await speech.bound.health.servicer.Check(
        health_pb2.HealthCheckRequest(service="porteiro.speech.v1.SpeechService"), None
    )
    assert status.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"text": ""}, "empty"),
        ({"text": "   "}, "empty"),
        ({"text": "a" * 41}, "limit 40"),
        ({"text": "Olá", "sample_rate_hz": 11025}, "11025"),
    ],
)
async def test_bad_requests_are_invalid_argument(start_speech, fields, fragment):
    speech = await start_speech(max_text_chars=40)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await synthesize(speech.stub, **fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in caught.value.details()


async def test_espeak_failure_is_unavailable_with_reason_and_the_service_stays_up(start_speech):
    # A voice the settings accept but espeak-ng does not have: the backend itself fails.
    speech = await start_speech(espeak_voices="zz-unknown-voice")
    before = metric("porteiro_speech_errors_total", backend="espeak", operation="synthesize")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await synthesize(speech.stub, "Olá", voice="zz-unknown-voice")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "voice does not exist" in caught.value.details()
    assert metric("porteiro_speech_errors_total", backend="espeak", operation="synthesize") == before + 1
    responses, _ = await synthesize(speech.stub, "Olá")
    assert sum(len(response.audio) for response in responses) > 0


async def test_synthesis_span_redacts_text_by_default(start_speech):
    speech = await start_speech()
    await synthesize(speech.stub, "Maria Silva")
    (span,) = [span for span in speech.spans.get_finished_spans() if span.name == "SYNTHESIS"]
    assert span.attributes["text"] == "[redacted]"
    assert span.attributes["audio_bytes"] > 0 and span.attributes["cached"] is False
    assert [event.name for event in span.events] == ["SYNTHESIS_START", "SYNTHESIS_COMPLETE"]


async def test_synthesis_span_shows_text_when_personal_data_is_enabled(start_speech):
    speech = await start_speech(trace_personal_data=True)
    await synthesize(speech.stub, "Maria Silva")
    (span,) = [span for span in speech.spans.get_finished_spans() if span.name == "SYNTHESIS"]
    assert span.attributes["text"] == "Maria Silva"


async def test_client_leaving_mid_stream_ends_the_span_as_cancelled_and_caches_nothing(start_speech):
    speech = await start_speech(synthesis_chunk_ms=20)
    text = " ".join(["Por favor, aguarde um instante enquanto eu chamo o morador."] * 6)
    call = speech.stub.Synthesize(speech_pb2.SynthesizeRequest(text=text), timeout=30)
    first = await call.read()
    assert len(first.audio) > 0
    call.cancel()  # what the gateway does on barge-in
    for _ in range(100):
        spans = [span for span in speech.spans.get_finished_spans() if span.name == "SYNTHESIS"]
        if spans:
            break
        await asyncio.sleep(0.02)
    (span,) = spans
    assert span.attributes["outcome"] == "cancelled"
    assert "ERROR" not in [event.name for event in span.events]
    assert len(speech.app.servicer.cache) == 0
    responses, _ = await synthesize(speech.stub, "Ainda estou aqui.")  # the service carries on
    assert responses
