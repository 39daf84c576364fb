"""The caller knows the concierge's confirmations and outcomes whoever they name, and answers them.

"Eduardo Almeida, do 402?" (a misheard name matched somebody else) has no fixed words: it is known
on the wire only if synthesized beforehand, for every resident of the directory; failing that, its
transcript is a short question, answered as a confirmation. The system's voice here is the local
espeak-ng (deterministic, like the speech service's cache), with a prompts file cut down to what
the test needs (the persona's own sentences are synthesized too).
"""

import asyncio
from pathlib import Path

import pytest

from porteiro_sim import audio
from porteiro_sim.evaluation import phrasing as p
from porteiro_sim.evaluation.calls import CallEnvironment, directory_sentences, persona_matcher
from porteiro_sim.evaluation.personas import Persona, Target, draw_personas, load_targets, spoken_apartments
from porteiro_sim.evaluation.questions import PromptGuesser, reply_question, visitor_question
from porteiro_sim.evaluation.run import parse_args, stack_config
from porteiro_sim.speech import EspeakVoice, SpeechServiceVoice

BLOCKS = Path(__file__).resolve().parents[1] / "directory" / "data" / "condominio_blocos.yaml"
PROMPTS = """
condominium_name: "Condomínio Apoena"
ask_apartment: "Para qual apartamento?"
confirm_resident: "{resident_name}, do {apartment}?"
confirm_apartment: "Apartamento {apartment}?"
visitor_authorized_visit: "{resident_name} autorizou a sua entrada. Pode entrar."
visitor_denied: "O morador não autorizou a entrada. Obrigado."
unknown_visitor: "Um visitante"
"""
espeak = pytest.mark.skipif(not audio.espeak_available(), reason="needs espeak-ng")


def persona_for(targets: list[Target], resident: str) -> Persona:
    return next(
        item for item in draw_personas(targets, 80, 3, ["pt-br@150"]) if item.target.resident == resident
    )


def book_for(persona: Persona, targets: list[Target]) -> p.Phrasebook:
    return p.Phrasebook(persona, tuple(target.resident for target in targets))


def test_directory_sentences_fill_every_resident_as_the_concierge_does():
    texts = {sentence.text: sentence.key for sentence in directory_sentences(load_targets())}
    assert texts["Eduardo Almeida, do 402?"] == "confirm_resident"
    assert texts["Apartamento 402?"] == "confirm_apartment"
    assert texts["Eduardo Almeida autorizou a sua entrada. Pode entrar."] == "visitor_authorized_visit"
    assert len([key for key in texts.values() if key == "confirm_resident"]) == 16  # every resident
    assert len([key for key in texts.values() if key == "confirm_apartment"]) == 10  # every apartment once
    # Fixed outcomes are every persona's already; the visitor's name is never filled here.
    assert "visitor_denied" not in texts.values()
    assert not any("confirm_delivery" in key or "brief" in key for key in texts.values())
    # Blocks and towers: the concierge says the directory's number alone ("Apartamento 202?"); it
    # reads an answer against every number the directory lists (ListVocabulary), so it
    # may take a block's name or an apartment without residents ("12") for an apartment too.
    assert spoken_apartments(BLOCKS) == ["101", "102", "201", "202", "1002", "562", "12", "A", "B", "2"]
    blocks = {
        sentence.text for sentence in directory_sentences(load_targets(BLOCKS), spoken_apartments(BLOCKS))
    }
    assert {"Luísa Mendes, do 202?", "Paula Henriques Santos, do 101?", "Apartamento 1002?"} <= blocks
    assert {"Apartamento B?", "Apartamento 2?", "Apartamento 12?"} <= blocks
    assert not any("bloco" in text.casefold() or "torre" in text.casefold() for text in blocks)


@espeak
async def test_confirmations_of_someone_else_are_identified_and_answered_no(tmp_path: Path):
    prompts_file = tmp_path / "prompts.yaml"
    prompts_file.write_text(PROMPTS, encoding="utf-8")
    voice = EspeakVoice("pt-br", 175)
    targets = load_targets()
    guesser = PromptGuesser(str(prompts_file))
    env = CallEnvironment("127.0.0.1", 0, voice, None, guesser, None, targets, [], str(prompts_file))  # type: ignore[arg-type]
    persona = persona_for(targets, "Renata Oliveira")  # 501, with Daner dos Reis
    matcher = await persona_matcher(env, persona)
    book = book_for(persona, targets)

    async def answer(text: str) -> tuple[list[str], str]:
        sentences = matcher.identify(audio.silence(0.3) + await voice.speak(text) + audio.silence(0.5))
        keys = [sentence.key for sentence in sentences]
        question = visitor_question(keys, guesser.prompts)
        assert question == p.CONFIRMATION, (text, keys)
        said = book.answer(question, " ".join(sentence.text for sentence in sentences))
        assert said is not None
        return keys, ("sim" if said.text in p.CONFIRM_YES else "nao")

    assert await answer("Eduardo Almeida, do 402?") == (["confirm_resident"], "nao")
    assert await answer("Apartamento 402?") == (["confirm_apartment"], "nao")
    assert await answer("Renata Oliveira, do 501?") == (["confirm_resident"], "sim")
    assert await answer("Apartamento 501?") == (["confirm_apartment"], "sim")
    assert await answer("Daner dos Reis, do 501?") == (["confirm_resident"], "nao")  # a housemate
    # The outcome naming another resident (the concierge called them) still ends the dialogue.
    outcome = audio.silence(0.3) + await voice.speak("Eduardo Almeida autorizou a sua entrada. Pode entrar.")
    assert [sentence.key for sentence in matcher.identify(outcome)] == ["visitor_authorized_visit"]


def test_with_blocks_the_apartment_alone_is_yes_only_for_the_personas_number():
    targets = load_targets(BLOCKS)
    persona = persona_for(targets, "Luiza Mendes")  # 201, block B
    book = book_for(persona, targets)

    def decision(sentence: str) -> str:
        said = book.answer(p.CONFIRMATION, sentence)
        assert said is not None
        return "sim" if said.text in p.CONFIRM_YES else "nao"

    assert decision("Apartamento 202?") == "nao"
    assert decision("Luísa Mendes, do 202?") == "nao"  # sounds alike, another apartment
    assert decision("Apartamento 201?") == "sim"
    assert decision("Luiza Mendes, do 201?") == "sim"


def test_an_unidentified_short_question_is_a_confirmation_never_a_repeat():
    guesser = PromptGuesser()
    # Known by nothing but its transcript: "{resident_name}, do {apartment}?" has no fixed words.
    assert guesser.keys_of("Eduardo Almeida, do 402?") == []
    assert reply_question([], "Eduardo Almeida, do 402?", guesser) == p.CONFIRMATION
    assert reply_question([], "Apartamento 402?", guesser) == p.CONFIRMATION
    # Not a short question: the caller says its last line again.
    assert reply_question([], "", guesser) == p.REPEAT  # not transcribed
    assert reply_question([], "Eu tive o limauro de forma sua indrata.", guesser) == p.REPEAT
    long_question = "Bom dia, o senhor poderia me dizer quem está aí na portaria agora mesmo?"
    assert reply_question([], long_question, guesser) == p.REPEAT
    # Identified replies keep their prompts' question.
    assert reply_question(["ask_apartment"], "Eduardo Almeida, do 402?", guesser) == p.ASK_APARTMENT
    assert reply_question(["confirm_delivery"], "", guesser) is None
    # Answered from the transcript: yes only when it names the persona's resident or apartment.
    targets = load_targets()
    book = book_for(persona_for(targets, "Renata Oliveira"), targets)
    for transcript, decision in (
        ("Eduardo Almeida, do 402?", "nao"),
        ("Apartamento 402?", "nao"),
        ("Renata Oliveira, do 501?", "sim"),
    ):
        said = book.answer(reply_question([], transcript, guesser) or "", transcript)
        assert said is not None and ("sim" if said.text in p.CONFIRM_YES else "nao") == decision, transcript


async def test_calls_asking_the_same_sentence_at_once_get_one_synthesis():
    """Two syntheses of a sentence can differ by a sample value: a run asks the speech service once."""
    voice = SpeechServiceVoice("127.0.0.1:9")  # never reached: the synthesis is replaced below
    calls: list[str] = []

    async def synthesize(text: str) -> bytes:
        calls.append(text)
        await asyncio.sleep(0.05)
        return text.encode() * 2

    voice._synthesize = synthesize  # type: ignore[method-assign]
    try:
        first, second = await asyncio.gather(voice.speak("Apartamento 402?"), voice.speak("Apartamento 402?"))
        assert first == second and calls == ["Apartamento 402?"]
        assert await voice.speak("Apartamento 402?") == first and len(calls) == 1
    finally:
        await voice.close()


def test_the_speech_service_of_a_run_keeps_every_sentence_the_callers_know(tmp_path: Path):
    """Evicted from its cache, a sentence is synthesized again, a sample value apart: not identified."""
    env = stack_config(parse_args(["--calls", "40"]), tmp_path, "q").env
    assert env["speech"]["PORTEIRO_SPEECH_CACHE_ENTRIES"] == "5000"  # the default 256 is 6 calls' worth
    custom = parse_args(["--calls", "40", "--set", "PORTEIRO_SPEECH_CACHE_ENTRIES=300"])
    assert stack_config(custom, tmp_path, "q").env["speech"]["PORTEIRO_SPEECH_CACHE_ENTRIES"] == "300"


def test_a_confirmation_with_the_intent_is_yes_only_when_both_are_the_personas():
    targets = load_targets()
    persona = persona_for(targets, "Renata Oliveira")
    book = book_for(persona, targets)
    own, other = (
        (p.DELIVERY_FOR, p.VISIT_FOR) if persona.intent == "delivery" else (p.VISIT_FOR, p.DELIVERY_FOR)
    )

    def decision(question: str, sentence: str) -> str:
        said = book.answer(question, sentence)
        assert said is not None
        return "sim" if said.text in p.CONFIRM_YES else "nao"

    assert decision(own, "Renata Oliveira, do 501?") == "sim"
    assert decision(other, "Renata Oliveira, do 501?") == "nao"  # whom right, the intent wrong
    correction = book.answer(other, "Renata Oliveira, do 501?")
    assert (
        correction is not None and correction.text in p.CORRECT_INTENT[persona.intent]
    )  # "Não, é uma visita."
    assert decision(own, "Eduardo Almeida, do 402?") == "nao"


def test_the_confirmations_with_the_intent_are_known_for_every_resident():
    texts = {sentence.text: sentence.key for sentence in directory_sentences(load_targets())}
    assert texts["É uma entrega para Eduardo Almeida, do 402?"] == "confirm_resident_delivery"
    assert texts["É uma visita para Renata Oliveira, do 501?"] == "confirm_resident_visit"
    assert visitor_question(["confirm_resident_delivery"], {}) == p.DELIVERY_FOR
    assert visitor_question(["confirm_resident_visit"], {}) == p.VISIT_FOR
