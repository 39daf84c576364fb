"""A spoken apartment that exists, with a name nobody has: its resident is confirmed, not refused.

make eval (blocks, seed 61, call 10): "O Zé do 1002 do torre 2." came out garbled, and the name
kept from before ("Camo Fálar") went with "Apto mil e dois, goto e dois.", which came through:
"Não encontrei Camo Fálar no apartamento 1002", "Não consegui encontrar", then the keypad. Here
the real directory (tests/directory/data/condominio_blocos.yaml, over gRPC) answers.
"""

from __future__ import annotations

from porteiro_concierge.extraction.base import Extraction
from porteiro_concierge.session import VISITOR
from tests.concierge.core_harness import TO_WHOM_QUESTION, harness_on_directory, reach_whom_question
from tests.directory.conftest import BLOCKS_FILE

JOSE = "sip:t2-1002@condominio.test"
SCRIPT = {
    **TO_WHOM_QUESTION,
    "Camo Fálar, do mil e dois.": Extraction(apartment="1002", resident_name="Camo Fálar"),
    "Roberto, do mil e dois.": Extraction(apartment="1002", resident_name="Roberto"),
    "Camo Fálar, do novecentos e nove.": Extraction(apartment="909", resident_name="Camo Fálar"),
}


async def test_the_apartments_resident_is_confirmed_then_called() -> None:
    async with harness_on_directory(BLOCKS_FILE, SCRIPT) as harness:
        await reach_whom_question(harness)
        await harness.say(VISITOR, "Camo Fálar, do mil e dois.")
        assert harness.last_said(VISITOR) == "José Antônio Ferreira, do 1002?"
        assert harness.dialer.attempts == []  # nobody called on a guess
        await harness.say(VISITOR, "Sim.")
        assert harness.dialer.attempts == [(JOSE, 1)]


async def test_a_no_is_not_asked_again() -> None:
    async with harness_on_directory(BLOCKS_FILE, SCRIPT) as harness:
        await reach_whom_question(harness)
        await harness.say(VISITOR, "Camo Fálar, do mil e dois.")
        await harness.say(VISITOR, "Não.")
        assert harness.dialer.attempts == []
        assert harness.last_said(VISITOR) == "Qual é o nome do morador?"
        await harness.say(VISITOR, "Camo Fálar, do mil e dois.")
        assert harness.count(VISITOR, "José Antônio Ferreira, do 1002?") == 1
        assert harness.dialer.attempts == []


async def test_a_name_found_elsewhere_keeps_the_question() -> None:
    """A resident who matches the name in another apartment: maybe the number was misheard."""
    async with harness_on_directory(BLOCKS_FILE, SCRIPT) as harness:
        await reach_whom_question(harness)
        await harness.say(VISITOR, "Roberto, do mil e dois.")
        assert "José Antônio Ferreira" not in harness.last_said(VISITOR)
        assert harness.dialer.attempts == []


async def test_an_apartment_nobody_has_is_still_not_found() -> None:
    async with harness_on_directory(BLOCKS_FILE, SCRIPT) as harness:
        await reach_whom_question(harness)
        await harness.say(VISITOR, "Camo Fálar, do novecentos e nove.")
        assert "Não encontrei o apartamento 909" in harness.last_said(VISITOR)
