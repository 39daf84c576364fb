"""A resident of a typed apartment refused: its other residents are looked up, never the refused one.

make eval (sample condominium, seed 61, call 6): a delivery for João Pedro Silva typed "101#";
"É uma entrega para Ana Beatriz Silva, do 101?" was refused, "É uma entrega?" answered "Sim", and
the concierge asked the directory about nobody ("", ""): refused, it said "Desculpe, não consegui
consultar a lista de moradores agora" and the call ended. The real directory answers here.
"""

from __future__ import annotations

from porteiro_concierge.extraction.base import Extraction
from porteiro_concierge.session import VISITOR
from porteiro_directory.settings import SAMPLE_DATA_FILE
from tests.concierge.core_harness import harness_on_directory

SCRIPT = {"Meu nome é João.": Extraction(visitor_name="João")}
SILVAS = "sip:101@condominio.local"


async def typed_after_a_guess(harness) -> None:
    await harness.start_visitor()
    await harness.say(VISITOR, "Bom dia. Pêu bem pra cá.")  # no intent: a delivery is guessed
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.press(VISITOR, "101#")
    assert harness.last_said(VISITOR) == "É uma entrega para Ana Beatriz Silva, do 101?"
    await harness.say(VISITOR, "Não é esse, não.")  # after a typed apartment: about the intent
    assert harness.last_said(VISITOR) == "É uma entrega?"


async def test_the_other_resident_of_the_typed_apartment_is_called() -> None:
    async with harness_on_directory(SAMPLE_DATA_FILE, SCRIPT, whom_question="resident") as harness:
        await typed_after_a_guess(harness)
        await harness.say(VISITOR, "Sim.")  # the guess was right: Ana Beatriz Silva was not
        assert harness.count(VISITOR, "não consegui consultar") == 0
        assert harness.dialer.attempts == [(SILVAS, 1)]
        assert "João Pedro Silva" in harness.last_said(VISITOR)


async def test_every_resident_refused_asks_for_the_apartment_again() -> None:
    async with harness_on_directory(SAMPLE_DATA_FILE, SCRIPT, whom_question="resident") as harness:
        await typed_after_a_guess(harness)
        session = await harness.session()
        assert session is not None
        session.validation.excluded.append("101/João Pedro Silva")  # refused before, say
        await harness.store.save(session)
        await harness.say(VISITOR, "Sim.")
        assert harness.dialer.attempts == []
        assert harness.said(VISITOR)[-2:] == [
            "Não consegui encontrar.",
            "Por favor, digite o número do apartamento no teclado e termine com a tecla jogo da velha.",
        ]


async def test_a_garbled_name_that_picks_the_refused_resident_does_not_hide_the_other() -> None:
    """Make eval, seed 121, call 20: apartment 501 has Renata Oliveira and Daner dos Reis; Daner
    was refused, the name heard ("Doratei a casa" for "Dona Renata") ranks him first in 501, and the
    directory lists only him for a name it does not find. Every "501#" was then answered "Não
    consegui encontrar" until the call failed. The number alone finds Renata."""
    async with harness_on_directory(SAMPLE_DATA_FILE, SCRIPT, whom_question="resident") as harness:
        await harness.start_visitor()
        await harness.say(VISITOR, "Meu nome é João.")
        session = await harness.session()
        assert session is not None
        session.slots.resident_name = "Doratei a casa"
        session.validation.excluded.append("501/Daner dos Reis")
        await harness.store.save(session)
        await harness.press(VISITOR, "501#")
        assert harness.count(VISITOR, "Não consegui encontrar") == 0
        assert "Renata Oliveira" in harness.last_said(VISITOR) or harness.dialer.attempts
        assert "Daner" not in harness.last_said(VISITOR)
        if harness.last_said(VISITOR).endswith("?"):  # asked about her: a yes calls her
            await harness.say(VISITOR, "Sim.")
        assert harness.dialer.attempts == [("1003030", 1)]  # 501's line
