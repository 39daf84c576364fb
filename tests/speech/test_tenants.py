"""The speech service with a tenants folder (PORTEIRO_SPEECH_TENANTS_DIR): each condominium's
voice is checked when it is loaded, and its fixed sentences are warmed into the cache in that
voice (real espeak-ng synthesizer, real gRPC server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from porteiro.speech.v1 import speech_pb2
from porteiro_speech.cache import SynthesisKey

ARARAS_GREETING = "Bosque das Araras, bom dia! Em que posso ajudar?"


def write_condominium(folder: Path, condominium_id: str, code: str, voice: str, greeting: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "code": code,
        "name": f"Condomínio {condominium_id}",
        "voice": voice,
        "prompts": {"greeting": greeting},
        "apartments": [{"number": "101", "destination": "sip:101@example", "residents": ["Ana"]}],
    }
    (folder / f"{condominium_id}.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )


async def cached(stub, text: str, voice: str) -> bool:
    request = speech_pb2.SynthesizeRequest(text=text, voice=voice, sample_rate_hz=8000)
    responses = [response async for response in stub.Synthesize(request, timeout=20)]
    return all(response.cached for response in responses)


async def test_a_condominium_voice_not_accepted_is_rejected_and_named(start_speech, tmp_path):
    folder = tmp_path / "tenants"
    write_condominium(folder, "araras", "b05c0a2a", "pt", ARARAS_GREETING)
    write_condominium(folder, "ipe", "0000a1be", "pt-BR-FranciscaNeural", "Ipê, em que posso ajudar?")
    speech = await start_speech(tenants_dir=folder, espeak_voices="pt-br,pt")
    registry = speech.app.tenants.registry
    assert set(registry.current.by_id) == {"araras"}
    problem = registry.problems["ipe"]
    assert "pt-BR-FranciscaNeural" in problem and "pt-br" in problem  # the voice, and those accepted
    assert registry.current.get("araras").data == "pt"


async def test_each_condominiums_sentences_are_warmed_in_its_voice(start_speech, tmp_path):
    folder = tmp_path / "tenants"
    write_condominium(folder, "araras", "b05c0a2a", "pt", ARARAS_GREETING)
    speech = await start_speech(tenants_dir=folder, espeak_voices="pt-br,pt", warmup=True)
    key = SynthesisKey(ARARAS_GREETING, "pt", 8000)
    for _ in range(200):  # the condominiums' warm-up runs in the background
        if key in speech.app.servicer.cache:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the condominium's greeting was not warmed in its voice")
    assert await cached(speech.stub, ARARAS_GREETING, "pt")
    assert not await cached(speech.stub, ARARAS_GREETING, "pt-br")  # not in the default voice
    assert not await cached(speech.stub, "Uma frase que ninguém aqueceu.", "pt")
