"""What a client gets wrong is INVALID_ARGUMENT naming the field, never UNAVAILABLE (an outage):
unknown voice or language, oversized text, malformed session id, bad Transcribe messages.

Real gRPC server and servicer; the recognizer is the scripted fake, synthesis is the real
espeak-ng or the Azure backend with its SDK faked at the boundary.
"""

from __future__ import annotations

import grpc
import pytest

from porteiro.speech.v1 import speech_pb2
from porteiro_speech.azure_speech import AzureRecognizer, AzureSynthesizer
from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from tests.speech.conftest import metric, transcribe, transcribe_messages
from tests.speech.fake_azure_sdk import Cloud, FakeSpeechSdk
from tests.speech.fakes import ScriptedRecognizer

MEGABYTE = 1024 * 1024
ONE_SECOND_8K = b"\x01\x00" * 8000


async def synthesize(stub, **fields) -> list[speech_pb2.SynthesizeResponse]:
    request = speech_pb2.SynthesizeRequest(**fields)
    return [response async for response in stub.Synthesize(request, timeout=30)]


async def refused(call) -> str:
    """The INVALID_ARGUMENT message of awaiting `call` (fails on success or any other status)."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value
    return raised.value.details()


def rejections(operation: str, reason: str) -> float:
    return metric("porteiro_speech_rejections_total", operation=operation, reason=reason)


async def start_scripted(start_speech, **settings):
    recognizer = ScriptedRecognizer("Sim.")
    return recognizer, await start_speech(Backends(recognizer, EspeakSynthesizer()), **settings)


# ---- Synthesize ----------------------------------------------------------------------------


async def test_unknown_espeak_voice_is_invalid_argument_listing_the_voices(start_speech):
    speech = await start_speech()
    errors_before = metric("porteiro_speech_errors_total", backend="espeak", operation="synthesize")
    rejected_before = rejections("synthesize", "unknown_voice")

    details = await refused(synthesize(speech.stub, text="Olá", voice="zz-unknown-voice"))

    assert details == (
        "voice 'zz-unknown-voice' is not supported "
        "(supported: pt-br, pt, pt-pt; espeak; PORTEIRO_SPEECH_ESPEAK_VOICES)"
    )
    assert rejections("synthesize", "unknown_voice") == rejected_before + 1
    # Refused before espeak-ng ran: not counted as a backend error.
    assert metric("porteiro_speech_errors_total", backend="espeak", operation="synthesize") == errors_before


async def test_voice_names_match_whatever_their_case_and_share_the_cache(start_speech):
    speech = await start_speech()
    first = await synthesize(speech.stub, text="Pode subir.")
    again = await synthesize(speech.stub, text="Pode subir.", voice="PT-BR")
    assert not first[0].cached and all(response.cached for response in again)


async def test_configured_espeak_voices_are_accepted(start_speech):
    speech = await start_speech(espeak_voices="en")
    responses = await synthesize(speech.stub, text="Hello", voice="en")
    assert sum(len(response.audio) for response in responses) > 0
    assert "supported: pt-br, en;" in await refused(synthesize(speech.stub, text="Olá", voice="pt"))


async def test_unknown_azure_voice_never_reaches_azure(start_speech):
    sdk = FakeSpeechSdk(Cloud())
    backends = Backends(
        AzureRecognizer("key", "region", timeout_seconds=5, sdk=sdk),
        AzureSynthesizer("key", "region", timeout_seconds=5, sdk=sdk),
    )
    speech = await start_speech(backends)

    details = await refused(synthesize(speech.stub, text="Olá", voice="pt-BR-Nobody"))

    assert details.startswith("voice 'pt-BR-Nobody' is not supported (supported: pt-BR-AntonioNeural, ")
    assert details.endswith("; azure; PORTEIRO_SPEECH_AZURE_VOICES)")
    assert sdk.configs == [] and sdk.synthesizers == []
    await synthesize(speech.stub, text="Olá", voice="pt-br-franciscaneural")
    assert sdk.configs[0].speech_synthesis_voice_name == "pt-BR-FranciscaNeural"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "a" * MEGABYTE}, f"text has {MEGABYTE} characters (limit 1000)"),
        (
            {"text": "Olá", "voice": "v" * MEGABYTE},
            "voice 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv...' is not",
        ),
    ],
    ids=["megabyte-text", "megabyte-voice"],
)
async def test_oversized_synthesis_fields_are_refused_without_echoing_them(start_speech, fields, message):
    speech = await start_speech()
    details = await refused(synthesize(speech.stub, **fields))
    assert details.startswith(message) and len(details) < 200, details


# ---- Transcribe ----------------------------------------------------------------------------


async def test_unknown_language_is_invalid_argument_and_no_recognition_starts(start_speech):
    recognizer, speech = await start_scripted(start_speech)
    rejected_before = rejections("transcribe", "unknown_language")

    details = await refused(transcribe(speech.stub, transcribe_messages(b"", language="xx-YY")))

    assert details == (
        "config.language 'xx-YY' is not supported "
        "(supported: pt-BR, pt, en-US, en, es-ES, es; PORTEIRO_SPEECH_LANGUAGES)"
    )
    assert recognizer.sessions == []
    assert rejections("transcribe", "unknown_language") == rejected_before + 1


async def test_languages_match_whatever_their_case_and_follow_the_settings(start_speech):
    recognizer, speech = await start_scripted(start_speech, languages="fr-FR")

    response = await transcribe(speech.stub, transcribe_messages(ONE_SECOND_8K, language="FR-fr"))
    assert response.language == "fr-FR" and recognizer.sessions[-1].config.language == "fr-FR"
    default = await transcribe(speech.stub, transcribe_messages(ONE_SECOND_8K))
    assert default.language == "pt-BR"  # the default language is always accepted
    details = await refused(transcribe(speech.stub, transcribe_messages(b"", language="en-US")))
    assert "(supported: pt-BR, fr-FR; PORTEIRO_SPEECH_LANGUAGES)" in details


async def test_megabyte_language_is_refused_without_echoing_it(start_speech):
    _, speech = await start_scripted(start_speech)
    details = await refused(transcribe(speech.stub, transcribe_messages(b"", language="x" * MEGABYTE)))
    assert details.startswith("config.language 'xxxx") and len(details) < 200


@pytest.mark.parametrize("session_id", ["not-a-uuid", "a" * MEGABYTE], ids=["short", "megabyte"])
async def test_malformed_session_id_is_refused(start_speech, session_id):
    recognizer, speech = await start_scripted(start_speech)
    details = await refused(transcribe(speech.stub, transcribe_messages(b"", session_id=session_id)))
    assert details == "config.session_id: session id must be a UUID in 8-4-4-4-12 form"
    assert recognizer.sessions == []


async def test_oversized_audio_chunk_is_refused_and_the_session_abandoned(start_speech):
    recognizer, speech = await start_scripted(start_speech, stt_max_chunk_ms=500)
    messages = transcribe_messages(ONE_SECOND_8K[:8000], chunk=8000)  # exactly 500 ms: fine
    await transcribe(speech.stub, messages)

    too_long = transcribe_messages(ONE_SECOND_8K[:8002], chunk=8002)
    details = await refused(transcribe(speech.stub, too_long))

    assert details == (
        "audio chunk of 8002 bytes; the limit is 8000 bytes (500 ms at 8000 Hz, PORTEIRO_SPEECH_STT_MAX_CHUNK_MS)"
    )
    assert recognizer.sessions[-1].cancelled


async def test_default_chunk_limit_is_two_seconds_at_the_stream_rate(start_speech):
    _, speech = await start_scripted(start_speech)
    two_seconds_16k = b"\x01\x00" * 32000
    await transcribe(speech.stub, transcribe_messages(two_seconds_16k, chunk=64000, sample_rate_hz=16000))
    details = await refused(
        transcribe(
            speech.stub, transcribe_messages(two_seconds_16k + b"\x00\x00", chunk=64002, sample_rate_hz=16000)
        )
    )
    assert "the limit is 64000 bytes (2000 ms at 16000 Hz" in details


async def test_a_message_with_neither_config_nor_audio_is_refused(start_speech):
    recognizer, speech = await start_scripted(start_speech)
    messages = transcribe_messages(ONE_SECOND_8K)[:4] + [speech_pb2.TranscribeRequest()]
    details = await refused(transcribe(speech.stub, messages))
    assert details == "a Transcribe message after the first must carry audio"
    assert recognizer.sessions[-1].cancelled
