"""Transcribe through the real servicer with a scripted recognizer: streaming, validation,
overload, backend failure, metrics and spans (the recognizer is the one fake boundary)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from porteiro.speech.v1 import speech_pb2
from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from tests.speech.conftest import metric, transcribe, transcribe_messages
from tests.speech.fakes import ScriptedRecognizer

SESSION = "0f8fad5b-d9cb-469f-a165-70867728950e"
ONE_SECOND = b"\x01\x00" * 8000


async def start_with(start_speech, recognizer: ScriptedRecognizer, **overrides):
    return await start_speech(Backends(recognizer, EspeakSynthesizer()), **overrides)


async def test_transcribes_with_config_defaults_and_reports_duration(start_speech):
    recognizer = ScriptedRecognizer("Sim, pode subir.")
    speech = await start_with(start_speech, recognizer)
    before = metric("porteiro_speech_stt_processing_seconds_count", backend="scripted")
    response = await transcribe(
        speech.stub,
        transcribe_messages(ONE_SECOND, hints=["entrega", " Maria  Silva ", ""], session_id=SESSION),
    )
    assert response.text == "Sim, pode subir." and response.backend == "scripted"
    assert response.language == "pt-BR" and response.HasField("confidence")
    assert response.audio_duration_seconds == pytest.approx(1.0)
    assert response.processing_seconds >= 0
    (session,) = recognizer.sessions
    assert session.config.sample_rate_hz == 8000  # 0 means 8 kHz
    assert session.config.hints == ("entrega", "Maria Silva")
    assert b"".join(session.chunks) == ONE_SECOND
    assert metric("porteiro_speech_stt_processing_seconds_count", backend="scripted") == before + 1
    assert metric("porteiro_speech_stt_real_time_factor_count", backend="scripted") >= 1


async def test_16khz_and_explicit_language_are_passed_on(start_speech):
    recognizer = ScriptedRecognizer("hello")
    speech = await start_with(start_speech, recognizer)
    response = await transcribe(
        speech.stub, transcribe_messages(ONE_SECOND, sample_rate_hz=16000, language="en-US")
    )
    assert response.language == "en-US"
    assert response.audio_duration_seconds == pytest.approx(0.5)
    assert recognizer.sessions[0].config.sample_rate_hz == 16000


async def test_audio_reaches_the_backend_while_the_caller_is_still_speaking(start_speech):
    recognizer = ScriptedRecognizer()
    speech = await start_with(start_speech, recognizer)
    call = speech.stub.Transcribe(timeout=10)
    await call.write(speech_pb2.TranscribeRequest(config=speech_pb2.TranscriptionConfig()))
    await call.write(speech_pb2.TranscribeRequest(audio=b"\x00\x01" * 160))
    await asyncio.wait_for(recognizer.fed.wait(), 5)  # fed before the stream ended
    await call.write(speech_pb2.TranscribeRequest(audio=b"\x00\x01" * 160))
    await call.done_writing()
    response = await call
    assert response.audio_duration_seconds == pytest.approx(0.04)
    assert len(recognizer.sessions[0].chunks) == 2


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([], "first Transcribe message must carry config"),
        ([speech_pb2.TranscribeRequest(audio=b"\x00\x00")], "first Transcribe message must carry config"),
        (transcribe_messages(b""), "no audio"),
        (transcribe_messages(b"\x00" * 321, chunk=321), "even count"),
        (transcribe_messages(b"", sample_rate_hz=44100), "44100"),
        (
            [
                *transcribe_messages(ONE_SECOND),
                speech_pb2.TranscribeRequest(config=speech_pb2.TranscriptionConfig()),
            ],
            "only allowed in the first",
        ),
        (transcribe_messages(ONE_SECOND * 2 + b"\x01\x00", chunk=8000), "longer than 2 s"),
    ],
    ids=["empty-stream", "audio-first", "no-audio", "odd-bytes", "bad-rate", "config-twice", "too-long"],
)
async def test_bad_input_is_invalid_argument_and_abandons_the_session(start_speech, messages, fragment):
    recognizer = ScriptedRecognizer()
    speech = await start_with(start_speech, recognizer, stt_max_audio_seconds=2)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await transcribe(speech.stub, messages)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in caught.value.details()
    assert all(session.cancelled for session in recognizer.sessions)


async def test_more_transcriptions_than_workers_queue_briefly_then_resource_exhausted(start_speech):
    recognizer = ScriptedRecognizer()
    recognizer.release.clear()  # hold every worker busy
    speech = await start_with(start_speech, recognizer, stt_workers=2, stt_queue_seconds=0.3)
    busy = [asyncio.create_task(transcribe(speech.stub, transcribe_messages(ONE_SECOND))) for _ in range(2)]
    await asyncio.wait_for(recognizer.wait_finishing(2), 5)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await transcribe(speech.stub, transcribe_messages(ONE_SECOND))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert loop.time() - began >= 0.3  # it queued before giving up
    # A request that queues while a worker frees up is served.
    queued = asyncio.create_task(transcribe(speech.stub, transcribe_messages(ONE_SECOND)))
    await asyncio.sleep(0.1)
    recognizer.release.set()
    responses = await asyncio.gather(*busy, queued)
    assert [response.text for response in responses] == ["Sim, pode subir."] * 3


async def test_backend_failure_is_unavailable_with_reason_and_the_service_stays_up(start_speech):
    recognizer = ScriptedRecognizer()
    recognizer.failure = "model exploded"
    speech = await start_with(start_speech, recognizer)
    before = metric("porteiro_speech_errors_total", backend="scripted", operation="transcribe")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await transcribe(speech.stub, transcribe_messages(ONE_SECOND))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "model exploded" in caught.value.details()
    assert metric("porteiro_speech_errors_total", backend="scripted", operation="transcribe") == before + 1
    recognizer.failure = None
    assert (await transcribe(speech.stub, transcribe_messages(ONE_SECOND))).text == "Sim, pode subir."


async def test_transcription_span_carries_session_and_redacted_transcript(start_speech):
    speech = await start_with(start_speech, ScriptedRecognizer("Maria Silva"))
    await transcribe(speech.stub, transcribe_messages(ONE_SECOND, session_id=SESSION))
    (span,) = [span for span in speech.spans.get_finished_spans() if span.name == "TRANSCRIPTION"]
    assert span.attributes["porteiro.session_id"] == SESSION
    assert span.attributes["transcript"] == "[redacted]"
    assert span.attributes["audio_bytes"] == len(ONE_SECOND)
    assert [event.name for event in span.events] == ["TRANSCRIPTION_START", "TRANSCRIPTION_COMPLETE"]
