"""Dialogue-aware extraction: what an answer means depends on what was asked.

Text level, through the real engine, core and deterministic extractor (its directory a fake
that knows the harness's residents).
"""

from __future__ import annotations

import pytest

from porteiro_concierge.core.events import Utterance
from porteiro_concierge.extraction.base import Extraction, Intent, Slots
from porteiro_concierge.extraction.deterministic import DeterministicExtractor, bare_name, leading_name
from porteiro_concierge.session import VISITOR
from tests.concierge.core_harness import CallHarness


class NameDirectory:
    """parse_apartment finds digits; search_by_name knows Mariana and Renata."""

    async def parse_apartment(self, text: str):
        class Parsed:
            found = False
            apartment = ""

        return Parsed()

    async def search_by_name(self, name: str, limit: int = 5):
        class Found:
            candidates = [name] if name.split()[0] in ("Mariana", "Renata") else []

        return Found()


@pytest.mark.parametrize(
    ("sentence", "visitor", "resident", "intent"),
    [
        ("sou a prima dele, meu nome é Joana", "Joana", None, Intent.VISIT),
        ("pode me chamar de Tião", "Tião", None, None),
        ("eu sou a Carla, irmã da Mariana", "Carla", "Mariana", Intent.VISIT),
        ("sou o primo da Renata, me chamo Paulo", "Paulo", "Renata", Intent.VISIT),
        ("é o Marcos entregador do Mercado Livre", None, None, Intent.DELIVERY),
    ],
)
async def test_who_is_who(
    sentence: str, visitor: str | None, resident: str | None, intent: Intent | None
) -> None:
    extraction = await DeterministicExtractor(NameDirectory()).extract(sentence, Slots(), [])
    assert (extraction.visitor_name, extraction.resident_name, extraction.intent) == (
        visitor,
        resident,
        intent,
    )


@pytest.mark.parametrize(
    "sentence", ["sim, pode subir", "autorizado", "Pode sim.", "não, não autorizo", "liberado"]
)
async def test_answers_and_authorization_are_nobodys_name(sentence: str) -> None:
    extraction = await DeterministicExtractor(NameDirectory()).extract(
        sentence, Slots(visitor_name="Ana"), []
    )
    assert extraction.visitor_name is None and extraction.resident_name is None
    assert bare_name(sentence) is None and leading_name(sentence) is None


def test_leading_name_of_a_longer_answer() -> None:
    assert leading_name("é o Marcos entregador do Mercado Livre") == "Marcos"
    assert leading_name("Aqui é a Joana, prima do seu Lucas") == "Joana"


async def test_answer_to_name_question_naming_the_apartments_resident_is_the_resident() -> None:
    harness = CallHarness({"Uma visita no 501.": Extraction(intent=Intent.VISIT, apartment="501")})
    await harness.start_visitor()
    await harness.say(VISITOR, "Uma visita no 501.")
    assert "seu nome" in harness.last_said(VISITOR)
    await harness.say(VISITOR, "É a Renata Oliveira.")  # Renata lives in 501: she is whom to call
    session = await harness.session()
    assert session is not None
    assert (session.slots.visitor_name, session.slots.resident_name) == (None, "Renata Oliveira")
    assert "seu nome" in harness.last_said(VISITOR)  # the visitor's own name is still asked


async def test_a_cued_name_is_the_visitors_even_when_a_resident_has_it() -> None:
    harness = CallHarness(
        {
            "Uma visita no 501.": Extraction(intent=Intent.VISIT, apartment="501"),
            "Meu nome é Renata Oliveira.": Extraction(visitor_name="Renata Oliveira"),
        }
    )
    await harness.start_visitor()
    await harness.say(VISITOR, "Uma visita no 501.")
    await harness.say(VISITOR, "Meu nome é Renata Oliveira.")  # a namesake of 501's resident
    session = await harness.session()
    assert session is not None
    assert (session.slots.visitor_name, session.slots.resident_name) == ("Renata Oliveira", None)


async def test_marcos_delivery_answer_to_name_question() -> None:
    harness = CallHarness({"Entrega.": Extraction(intent=Intent.DELIVERY)})
    await harness.start_visitor()
    await harness.say(VISITOR, "Entrega.")
    await harness.say(VISITOR, "é o Marcos entregador do Mercado Livre")
    session = await harness.session()
    assert session is not None and session.slots.visitor_name == "Marcos"


async def test_the_visitors_own_name_is_not_read_again_as_a_resident() -> None:
    # João Pedro Silva lives in 101: "Pedro" alone would name him, but here it follows "meu nome é".
    harness = CallHarness(
        {
            "Entrega.": Extraction(intent=Intent.DELIVERY),
            "Meu nome é João.": Extraction(visitor_name="João"),
            "Meu nome é Lucas.": Extraction(visitor_name="Lucas"),
        }
    )
    await harness.start_visitor()
    await harness.say(VISITOR, "Entrega.")
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Meu nome é Lucas.")  # asked whom to call; Lucas Martins lives in 302
    session = await harness.session()
    assert session is not None
    assert (session.slots.visitor_name, session.slots.resident_name) == ("Lucas", None)
    assert harness.directory.asked == []


async def test_a_name_recognised_with_little_confidence_is_left_out() -> None:
    """make eval (seed 61): "Fábio." came out "Apeu." (confidence 0.32) and the resident heard
    "Apeu está na portaria"; "Aqui é a Claudia." (0.85) is kept."""
    for text, confidence, kept in (("É a mavió.", 0.40, None), ("Aqui é a Claudia.", 0.85, "Claudia")):
        harness = CallHarness({"Entrega.": Extraction(intent=Intent.DELIVERY)}, whom_question="resident")
        await harness.start_visitor()
        await harness.say(VISITOR, "Entrega.")
        assert harness.last_said(VISITOR) == "Qual é o seu nome, por favor?"
        await harness.send(Utterance(VISITOR, text, confidence=confidence))
        session = await harness.session()
        assert session is not None and session.slots.visitor_name == kept
        assert harness.last_said(VISITOR) == "Qual é o nome do morador?"  # on at once either way
