"""Whom "Qual é o seu nome, por favor?" is asked (`ask_visitor_name`): by default visitors only.

A courier is not asked: the resident decides on the delivery ("Um entregador está na portaria
com uma entrega para o apartamento 501"), and the question cost every delivery a turn while make
eval heard the answer right in 1 or 2 calls of 40. A name said unasked is kept; a delivery guessed
and turned out a visit is asked the name before anyone is called.
"""

from __future__ import annotations

from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.session import RESIDENT, VISITOR
from porteiro_concierge.settings import ConciergeSettings
from tests.concierge.core_harness import RENATA, CallHarness

DEFAULT = ConciergeSettings.model_fields["ask_visitor_name"].default
WHOM = "Para qual apartamento e qual o nome do morador?"
NAME = "Qual é o seu nome, por favor?"
SCRIPT = {
    "Entrega.": Extraction(intent=Intent.DELIVERY),
    "É uma visita.": Extraction(intent=Intent.VISIT),
    "Sou o Marcos, tenho uma entrega.": Extraction(intent=Intent.DELIVERY, visitor_name="Marcos"),
    "Meu nome é João.": Extraction(visitor_name="João"),
    "Renata, do 501.": Extraction(apartment="501", resident_name="Renata"),
    "Não, é uma visita.": Extraction(intent=Intent.VISIT),
}
GARBLED = "Minha menua. Minha."  # make eval's "Vim fazer uma visita.": no intent, guessed a delivery


async def _visitor_says(harness: CallHarness, *lines: str) -> None:
    """Greeted, the visitor says `lines` one after the other."""
    await harness.start_visitor()
    for line in lines:
        await harness.say(VISITOR, line)


async def _brief(harness: CallHarness) -> str:
    """The resident's first sentence, once the call placed is answered."""
    await harness.start_resident()
    return harness.said(RESIDENT)[0]


def test_the_default_asks_visitors_only() -> None:
    assert DEFAULT == "visits"


async def test_a_courier_is_not_asked_the_name_and_the_resident_hears_um_entregador() -> None:
    harness = CallHarness(SCRIPT, ask_visitor_name=DEFAULT)
    await _visitor_says(harness, "Entrega.")
    assert harness.last_said(VISITOR) == WHOM
    await harness.say(VISITOR, "Renata, do 501.")
    assert harness.last_said(VISITOR).startswith("Certo, entrega para Renata Oliveira, apartamento 501.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    assert harness.count(VISITOR, "seu nome") == 0
    brief = await _brief(harness)
    assert "Um entregador está na portaria com uma entrega para o apartamento 501" in brief


async def test_a_visitor_is_asked_the_name() -> None:
    harness = CallHarness(SCRIPT, ask_visitor_name=DEFAULT)
    await _visitor_says(harness, "É uma visita.")
    assert harness.last_said(VISITOR) == NAME
    await harness.say(VISITOR, "Meu nome é João.")
    assert harness.last_said(VISITOR) == WHOM
    await harness.say(VISITOR, "Renata, do 501.")
    assert harness.last_said(VISITOR).startswith("Certo, João, visita para Renata Oliveira")
    assert "João está na portaria para uma visita" in await _brief(harness)


async def test_a_couriers_name_said_unasked_is_kept() -> None:
    harness = CallHarness(SCRIPT, ask_visitor_name=DEFAULT)
    await _visitor_says(harness, "Sou o Marcos, tenho uma entrega.")
    assert harness.last_said(VISITOR) == WHOM
    await harness.say(VISITOR, "Renata, do 501.")
    assert harness.last_said(VISITOR).startswith("Certo, Marcos, entrega para Renata Oliveira")
    assert "Marcos está na portaria com uma entrega" in await _brief(harness)


async def test_a_guessed_delivery_that_is_a_visit_asks_the_name_before_the_call() -> None:
    harness = CallHarness(SCRIPT, ask_visitor_name=DEFAULT)
    await harness.start_visitor()
    await harness.say(VISITOR, GARBLED)  # guessed a delivery: not asked the name
    assert harness.last_said(VISITOR) == WHOM
    await harness.say(VISITOR, "Renata, do 501.")
    assert harness.last_said(VISITOR) == "É uma entrega para Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Não, é uma visita.")
    assert harness.dialer.attempts == []
    # Now a visit: its name, then whom (the intent was wrong, whom may be too), before any call.
    assert harness.last_said(VISITOR) == NAME
    await harness.say(VISITOR, "Meu nome é João.")
    assert harness.last_said(VISITOR) == "Renata Oliveira, do 501?"
    assert harness.dialer.attempts == []
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    assert harness.last_said(VISITOR).startswith("Certo, João, visita para Renata Oliveira")


async def test_never_asks_nobody_and_the_resident_hears_um_visitante() -> None:
    harness = CallHarness(SCRIPT, ask_visitor_name="never")
    await _visitor_says(harness, "É uma visita.")
    assert harness.last_said(VISITOR) == WHOM
    await harness.say(VISITOR, "Renata, do 501.")
    assert harness.last_said(VISITOR).startswith("Certo, visita para Renata Oliveira")
    assert "Um visitante está na portaria para uma visita" in await _brief(harness)


async def test_always_asks_a_courier_too() -> None:
    harness = CallHarness(SCRIPT, ask_visitor_name="always")
    await _visitor_says(harness, "Entrega.")
    assert harness.last_said(VISITOR) == NAME


async def test_a_visit_settled_by_a_yes_to_the_other_intent_asks_the_name_then_calls() -> None:
    harness = CallHarness(
        {**SCRIPT, "Renata Oliveira, do 501.": Extraction(apartment="501", resident_name="Renata Oliveira")},
        ask_visitor_name=DEFAULT,
    )
    await _visitor_says(harness, GARBLED)
    await harness.say(VISITOR, "Renata Oliveira, do 501.")  # named clearly
    assert harness.last_said(VISITOR) == "É uma entrega para Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Não é. Não é a minha.")  # "Não, é visita.", as whisper heard it
    assert harness.last_said(VISITOR) == "É uma visita para Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Sim.")
    assert harness.last_said(VISITOR) == NAME
    assert harness.dialer.attempts == []
    await harness.say(VISITOR, "Meu nome é João.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    assert harness.last_said(VISITOR).startswith("Certo, João, visita para Renata Oliveira")
