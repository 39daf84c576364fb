"""A number typed on the keypad that is in several blocks never calls one of them on its own.

make eval (condominium with blocks, seed 21): a visitor for Paula Henriques Santos (101, block B)
typed "101#" and Paulo Henrique Santos (101, block A) was called at once.
"""

from __future__ import annotations

from porteiro.directory.v1 import directory_pb2
from porteiro_concierge.extraction.base import Extraction
from porteiro_concierge.session import VISITOR
from porteiro_concierge.understanding import ResidentChoice
from tests.concierge.core_harness import TO_WHOM_QUESTION, CallHarness, reach_whom_question

PAULO = directory_pb2.Candidate(
    apartment="101", block="A", resident_name="Paulo Henrique Santos", destination="sip:a101@condominio.test"
)
LUCIA = directory_pb2.Candidate(
    apartment="101", block="A", resident_name="Lúcia Santos", destination="sip:a101@condominio.test"
)
PAULA = directory_pb2.Candidate(
    apartment="101", block="B", resident_name="Paula Henriques Santos", destination="sip:b101@condominio.test"
)
RESIDENTS = (PAULO, LUCIA, PAULA)
SCRIPT = {
    **TO_WHOM_QUESTION,
    "Paula Henriques Santos.": Extraction(resident_name="Paula Henriques Santos"),
    "Paulo Henrique Santos.": Extraction(resident_name="Paulo Henrique Santos"),
}


async def resolve_blocks(apartment: str, resident_name: str) -> directory_pb2.ResolveResponse:
    """As the directory answers for tests/directory/data/condominio_blocos.yaml's apartment 101."""
    if apartment not in ("", "101"):
        return directory_pb2.ResolveResponse(
            status=directory_pb2.RESOLVE_STATUS_NO_APARTMENT, normalized_apartment=apartment
        )
    named = [candidate for candidate in RESIDENTS if candidate.resident_name == resident_name]
    if named:
        return directory_pb2.ResolveResponse(status=directory_pb2.RESOLVE_STATUS_MATCH, match=named[0])
    return directory_pb2.ResolveResponse(
        status=directory_pb2.RESOLVE_STATUS_NO_RESIDENT, normalized_apartment=apartment, candidates=RESIDENTS
    )


def harness_with_blocks() -> CallHarness:
    harness = CallHarness(SCRIPT)
    harness.directory.resolve = resolve_blocks  # type: ignore[method-assign]
    vocabulary = harness.vocabulary
    vocabulary.apartments = ["101"]
    vocabulary.residents = [candidate.resident_name for candidate in RESIDENTS]
    vocabulary.residents_of = {"101": vocabulary.residents}
    vocabulary.resident_choices = [
        ResidentChoice(candidate.resident_name, candidate.apartment, (), candidate.block)
        for candidate in RESIDENTS
    ]
    return harness


async def test_the_residents_of_the_number_in_every_block_are_offered_then_confirmed() -> None:
    harness = harness_with_blocks()
    await reach_whom_question(harness)
    await harness.press(VISITOR, "101#")
    assert harness.dialer.attempts == []
    offered = harness.last_said(VISITOR)
    assert (
        "Qual deles?" in offered
        and "Paula Henriques Santos" in offered
        and "Paulo Henrique Santos" in offered
    )
    await harness.say(VISITOR, "Paula Henriques Santos.")
    assert harness.dialer.attempts == []
    assert harness.last_said(VISITOR) == "Paula Henriques Santos, do 101?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(PAULA.destination, 1)]


async def test_a_refused_name_then_the_number_typed_offers_the_others() -> None:
    """make eval (blocks, seed 21): "Paulo Henrique Santos" heard for "Paula Henriques Santos",
    refused, heard again, then "101#": "O apartamento 101 não existe" (it does). The same with a
    name that sounds like no other (Lúcia Santos; for a name that does, see the next test)."""
    harness = harness_with_blocks()
    await reach_whom_question(harness)
    await harness.say(VISITOR, "Lúcia Santos.")
    assert harness.last_said(VISITOR) == "Lúcia Santos, do 101?"
    await harness.say(VISITOR, "Não.")
    assert harness.last_said(VISITOR) == "Qual é o nome do morador?"
    await harness.say(VISITOR, "Lúcia Santos.")  # the same misreading, kept as the name
    await harness.press(VISITOR, "101#")
    # The two residents of 101 left, in blocks A and B, asked about one at a time.
    assert harness.last_said(VISITOR) == "Paulo Henrique Santos, do 101?"
    await harness.say(VISITOR, "Não.")
    assert harness.last_said(VISITOR) == "Paula Henriques Santos, do 101?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(PAULA.destination, 1)]
    assert harness.count(VISITOR, "não existe") == 0


async def test_a_refused_name_asks_about_the_one_that_sounds_the_same() -> None:
    """make eval (blocks, seed 11): "Paulo Henrique Santos" heard for "Paula Henriques Santos" and
    refused; whom was asked again. Their names sound the same: the other is asked about at once, and
    called in its own block."""
    harness = harness_with_blocks()
    await reach_whom_question(harness)
    await harness.say(VISITOR, "Paulo Henrique Santos.")
    assert harness.last_said(VISITOR) == "Paulo Henrique Santos, do 101?"
    await harness.say(VISITOR, "Não.")
    assert harness.last_said(VISITOR) == "Paula Henriques Santos, do 101?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(PAULA.destination, 1)]
    assert harness.count(VISITOR, "Paula Henriques Santos, do 101?") == 1  # not asked twice
