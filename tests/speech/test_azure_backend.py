"""The Azure backends through the real gRPC service, with the SDK replaced at its boundary."""

from __future__ import annotations

import grpc
import pytest

from porteiro.speech.v1 import speech_pb2
from porteiro_speech.azure_speech import AzureRecognizer, AzureSession, AzureSynthesizer, best_confidence
from porteiro_speech.backends import Backends, RecognitionConfig
from porteiro_speech.factory import build_backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from porteiro_speech.offline.whisper import WhisperRecognizer
from porteiro_speech.settings import SpeechSettings
from tests.speech.conftest import metric, transcribe, transcribe_messages
from tests.speech.fake_azure_sdk import (
    CancellationReason,
    Cloud,
    FakeSpeechSdk,
    OutputFormat,
    SpeechSynthesisOutputFormat,
)

KEY, REGION = "test-key", "test-region"
AUDIO = b"\x10\x00" * 4000  # 0.5 s at 8 kHz


@pytest.fixture
def sdk() -> FakeSpeechSdk:
    return FakeSpeechSdk(Cloud())


@pytest.fixture
async def azure_speech(start_speech, sdk):
    backends = Backends(
        AzureRecognizer(KEY, REGION, timeout_seconds=5, sdk=sdk),
        AzureSynthesizer(KEY, REGION, timeout_seconds=5, sdk=sdk),
    )
    return await start_speech(backends)


async def test_recognition_request_is_built_from_config_and_hints(azure_speech, sdk):
    response = await transcribe(
        azure_speech.stub,
        transcribe_messages(AUDIO, sample_rate_hz=16000, hints=["entrega", "Maria Silva", "101"]),
    )
    (config,) = sdk.configs
    assert (config.subscription, config.region) == (KEY, REGION)
    assert config.speech_recognition_language == "pt-BR"
    assert config.output_format == OutputFormat.Detailed
    (recognizer,) = sdk.recognizers
    stream = recognizer.audio_config.stream
    assert (stream.stream_format.samples_per_second, stream.stream_format.bits_per_sample) == (16000, 16)
    assert stream.stream_format.channels == 1
    assert recognizer.phrases == ["entrega", "Maria Silva", "101"]
    assert bytes(stream.written) == AUDIO and stream.writes_before_close == len(AUDIO) // 320
    assert stream.closed.is_set() and recognizer.started and recognizer.stopped
    assert response.backend == "azure" and response.audio_duration_seconds == pytest.approx(0.25)


async def test_recognized_phrases_map_to_text_and_confidence(azure_speech, sdk):
    sdk.cloud.phrases = [("Entrega", 0.81), ("para o 101.", 0.64)]
    response = await transcribe(azure_speech.stub, transcribe_messages(AUDIO, language="pt-BR"))
    assert response.text == "Entrega para o 101."
    assert response.confidence == pytest.approx(0.64)
    assert response.language == "pt-BR"


async def test_nothing_recognised_is_an_empty_text_without_confidence(azure_speech, sdk):
    sdk.cloud.phrases = []
    response = await transcribe(azure_speech.stub, transcribe_messages(AUDIO))
    assert response.text == "" and not response.HasField("confidence")


async def test_recognition_cancelled_with_error_is_unavailable_with_the_reason(azure_speech, sdk):
    sdk.cloud.recognition_error = "WebSocket upgrade failed: Authentication error (401)"
    before = metric("porteiro_speech_errors_total", backend="azure", operation="transcribe")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await transcribe(azure_speech.stub, transcribe_messages(AUDIO))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "Authentication error (401)" in caught.value.details()
    assert str(CancellationReason.Error) in caught.value.details()
    assert metric("porteiro_speech_errors_total", backend="azure", operation="transcribe") == before + 1


async def test_synthesis_uses_default_voice_and_raw_8khz_output(azure_speech, sdk):
    chunks = [
        r async for r in azure_speech.stub.Synthesize(speech_pb2.SynthesizeRequest(text="Olá"), timeout=10)
    ]
    (config,) = sdk.configs
    assert config.speech_synthesis_voice_name == "pt-BR-AntonioNeural"
    assert config.synthesis_output_format == SpeechSynthesisOutputFormat.Raw8Khz16BitMonoPcm
    (synthesizer,) = sdk.synthesizers
    assert synthesizer.audio_config is None and synthesizer.texts == ["Olá"]
    assert [chunk.audio for chunk in chunks] == sdk.cloud.synthesis_chunks
    assert all(chunk.sample_rate_hz == 8000 and not chunk.cached for chunk in chunks)


async def test_synthesis_at_16khz_with_a_requested_voice(azure_speech, sdk):
    request = speech_pb2.SynthesizeRequest(text="Olá", voice="pt-BR-FranciscaNeural", sample_rate_hz=16000)
    chunks = [r async for r in azure_speech.stub.Synthesize(request, timeout=10)]
    (config,) = sdk.configs
    assert config.speech_synthesis_voice_name == "pt-BR-FranciscaNeural"
    assert config.synthesis_output_format == SpeechSynthesisOutputFormat.Raw16Khz16BitMonoPcm
    assert {chunk.sample_rate_hz for chunk in chunks} == {16000}


async def test_odd_sized_azure_chunks_are_regrouped_into_whole_samples(azure_speech, sdk):
    sdk.cloud.synthesis_chunks = [b"\x01\x02\x03", b"\x04\x05\x06\x07\x08\x09"]
    chunks = [
        r async for r in azure_speech.stub.Synthesize(speech_pb2.SynthesizeRequest(text="Sim"), timeout=10)
    ]
    assert all(len(chunk.audio) % 2 == 0 for chunk in chunks)
    assert b"".join(chunk.audio for chunk in chunks) == b"\x01\x02\x03\x04\x05\x06\x07\x08"


async def test_synthesis_cancelled_is_unavailable_with_the_reason(azure_speech, sdk):
    sdk.cloud.synthesis_error = "Unsupported voice pt-BR-Nobody"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in azure_speech.stub.Synthesize(speech_pb2.SynthesizeRequest(text="Olá"), timeout=10):
            pass
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "Unsupported voice pt-BR-Nobody" in caught.value.details()


def test_best_confidence_reads_the_detailed_json_and_tolerates_junk():
    assert best_confidence('{"NBest": [{"Confidence": 0.7}, {"Confidence": 0.2}]}') == pytest.approx(0.7)
    assert (
        best_confidence("{}") is None
        and best_confidence("not json") is None
        and best_confidence(None) is None
    )


def test_azure_is_chosen_only_when_key_and_region_are_both_set():
    azure = build_backends(SpeechSettings(azure_key=KEY, azure_region=REGION))
    assert isinstance(azure.recognizer, AzureRecognizer) and isinstance(azure.synthesizer, AzureSynthesizer)
    assert azure.synthesizer.default_voice == "pt-BR-AntonioNeural"
    for partial in ({"azure_key": KEY}, {"azure_region": REGION}, {}):
        offline = build_backends(SpeechSettings(**{"azure_key": None, "azure_region": None, **partial}))
        assert isinstance(offline.recognizer, WhisperRecognizer)
        assert isinstance(offline.synthesizer, EspeakSynthesizer)


async def test_request_building_is_accepted_by_the_real_sdk_objects():
    """Nothing connects until recognition starts, so the real SDK can check what we build."""
    import azure.cognitiveservices.speech as speechsdk

    recognizer = AzureRecognizer(KEY, REGION, sdk=speechsdk)
    config = recognizer.speech_config("pt-BR")
    assert config.speech_recognition_language == "pt-BR"
    assert config.output_format == speechsdk.OutputFormat.Detailed
    session = AzureSession(speechsdk, config, RecognitionConfig(8000, "pt-BR", ("entrega", "Maria Silva")), 5)
    await session.feed(b"\x00\x00" * 160)
    synthesizer = AzureSynthesizer(KEY, REGION, sdk=speechsdk)
    for rate, name in ((8000, "raw-8khz-16bit-mono-pcm"), (16000, "raw-16khz-16bit-mono-pcm")):
        synthesis_config = synthesizer.speech_config("pt-BR-AntonioNeural", rate)
        assert synthesis_config.speech_synthesis_voice_name == "pt-BR-AntonioNeural"
        output = synthesis_config.get_property(speechsdk.PropertyId.SpeechServiceConnection_SynthOutputFormat)
        assert output == name
