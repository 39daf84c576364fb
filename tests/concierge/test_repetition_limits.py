"""Nothing repeats forever: answers not understood, noise, wrong apartments, endless turns."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from porteiro_concierge.settings import ConciergeSettings
from tests.concierge.driver import fold
from tests.concierge.test_conversation import destination, outcomes

# What a recogniser may make of a reply it did not get: no slot in it, not a name.
MISHEARD = "Hein? Como assim?"


def count(said: list[str], fragment: str) -> int:
    return sum(fold(fragment) in fold(text) for text in said)


async def visitor_asked_for_whom(concierge, session_id):
    """A visitor whose intent and name are known, asked for the apartment and the resident."""
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Boa tarde, é uma entrega, meu nome é João")
    await visitor.expect("apartamento e qual o nome do morador")
    return visitor


async def test_not_understood_offers_the_keypad_then_ends_the_call(concierge, fakes, session_id):
    before = outcomes("failed")
    visitor = await visitor_asked_for_whom(concierge, session_id)
    await visitor.utter(MISHEARD)  # not asked again: the resident's name alone, once
    await visitor.expect("não entendi")
    await visitor.expect("Qual é o nome do morador")
    await visitor.utter(MISHEARD)
    await visitor.expect("Qual é o nome completo do morador")
    await visitor.utter(MISHEARD)  # the second in a row again: the keypad instead
    await visitor.expect("digite o número do apartamento", "jogo da velha")
    await visitor.utter(MISHEARD)
    await visitor.expect("digite o número do apartamento")
    await visitor.utter(MISHEARD)  # the fourth in a row since the name was asked: the call ends politely
    await visitor.expect("não consegui concluir o atendimento")
    await visitor.expect_hangup()
    assert count(visitor.said, "não entendi") == 4
    assert outcomes("failed") == before + 1
    assert fakes.dialer.requests == []


async def test_keypad_after_not_understood_calls_the_typed_apartment(concierge, fakes, session_id):
    visitor = await visitor_asked_for_whom(concierge, session_id)
    for _ in range(3):  # one to the apartment-and-resident question, two to the resident's name
        await visitor.utter(MISHEARD)
    await visitor.expect("jogo da velha")
    await visitor.press("501#")  # no resident's name was understood: the typed apartment is trusted
    await visitor.expect("entrega para", "apartamento 501", "aguarde")
    assert (await fakes.dialer.next_call()).destination == await destination(concierge, "501")


async def test_progress_resets_the_count(concierge_factory, fakes, session_id):
    concierge = await concierge_factory(intent_in_confirmation=False)  # the intent asked alone
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    for sentence in (
        MISHEARD,
        "É uma entrega",
        MISHEARD,
        "Meu nome é João",
        MISHEARD,
        "Apartamento 501, Renata Oliveira.",
    ):
        await visitor.utter(sentence)
    await visitor.expect("Certo, João, entrega para Renata Oliveira, apartamento 501")
    # The name's question is not repeated (no "não entendi" there): "Meu nome é João" answers the next.
    assert count(visitor.said, "não entendi") == 2 and count(visitor.said, "digite") == 0
    await fakes.dialer.next_call()


async def test_intent_not_understood_ends_the_call(concierge_factory, fakes, session_id):
    concierge = await concierge_factory(intent_in_confirmation=False)  # the intent asked alone
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    for _ in range(3):
        await visitor.utter(MISHEARD)
        await visitor.expect("não entendi")
        await visitor.expect("É uma entrega?")  # the intent as a yes or no, from the first miss on
    await visitor.utter(MISHEARD)
    await visitor.expect("não consegui concluir o atendimento")
    await visitor.expect_hangup()


async def test_visitor_name_not_understood_goes_on_without_it(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("É uma visita")
    await visitor.expect("Qual é o seu nome")
    await visitor.utter(MISHEARD)  # one answer without a name: on without it, no "não entendi"
    await visitor.expect("apartamento e qual o nome do morador")
    assert count(visitor.said, "não entendi") == 0 and count(visitor.said, "seu nome") == 1
    await visitor.utter("Apartamento 501, Renata Oliveira.")
    await visitor.expect("Certo, visita para Renata Oliveira, apartamento 501")
    await fakes.dialer.next_call()
    resident = concierge.leg(session_id, "resident")
    await resident.start()
    await resident.expect("Um visitante", "visita", "501")
    await resident.press("2")
    await visitor.expect("não autorizou")


async def test_name_not_understood_with_everything_else_known_calls_at_once(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Entrega para a Renata do 501")
    await visitor.expect("Qual é o seu nome")
    await visitor.utter(MISHEARD)
    await visitor.utter(MISHEARD)
    await visitor.expect("Certo, entrega para Renata Oliveira, apartamento 501")
    await fakes.dialer.next_call()


async def test_spoken_apartments_after_the_keypad_offer_end_the_call(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    # A name nobody has: the number is kept (a resident's name would be confirmed without it).
    await visitor.utter("Sou o João, entrega do iFood para o apartamento 909")
    await visitor.expect("Qual é o nome do morador")
    await visitor.utter("Xavier")
    await visitor.expect("Não encontrei o apartamento 909")
    await visitor.utter("É o 808")
    await visitor.expect("Qual é o nome completo do morador")
    await visitor.utter("Xavier")
    await visitor.expect("digite o número do apartamento")
    await visitor.utter("É o 707")  # spoken, not typed: still a miss
    await visitor.expect("digite o número do apartamento")
    await visitor.utter("É o 606")
    await visitor.expect("não consegui concluir o atendimento")
    await visitor.expect_hangup()
    assert fakes.dialer.requests == []


async def test_every_call_has_a_turn_budget(concierge_factory, fakes, session_id):
    concierge = await concierge_factory(max_visitor_turns=3)
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    # Each sentence changes something, so none is "not understood"; the budget still ends it.
    for sentence in ("É uma entrega", "Meu nome é João", "Meu nome é Pedro", "Meu nome é Paulo"):
        await visitor.utter(sentence)
    await visitor.expect("não consegui concluir o atendimento")
    await visitor.expect_hangup()


def test_the_end_limit_must_come_after_the_fallback():
    with pytest.raises(ValidationError, match="not_understood_before_end"):
        ConciergeSettings(not_understood_before_fallback=3, not_understood_before_end=3)


async def test_the_same_sentence_after_a_directory_outage_is_a_retry(concierge, fakes, directory, session_id):
    directory.down()
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Aqui é o João, entrega para a Renata do 501")
    await visitor.expect("não consegui consultar", "Pode repetir")
    await directory.up(concierge)
    await visitor.utter("Aqui é o João, entrega para a Renata do 501")  # nothing new, but asked to repeat
    await visitor.expect("entrega para Renata Oliveira, apartamento 501")
    assert count(visitor.said, "não entendi") == 0
    await fakes.dialer.next_call()
