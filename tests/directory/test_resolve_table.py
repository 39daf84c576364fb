"""Resolve cases through the real gRPC server: the ways visitors (and the recogniser) say things."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from porteiro.directory.v1 import directory_pb2

MATCH = directory_pb2.RESOLVE_STATUS_MATCH
AMBIGUOUS = directory_pb2.RESOLVE_STATUS_AMBIGUOUS
NO_APARTMENT = directory_pb2.RESOLVE_STATUS_NO_APARTMENT
NO_RESIDENT = directory_pb2.RESOLVE_STATUS_NO_RESIDENT


@dataclass(frozen=True)
class Case:
    apartment: str
    name: str
    status: int
    # MATCH: (apartment, block, resident). Otherwise: expected candidates, best first,
    # as (apartment, block, resident); for AMBIGUOUS the order among equals is not checked.
    expect: tuple = ()
    block: str = ""
    normalized: str | None = None

    def __str__(self) -> str:
        return f"{self.apartment!r}/{self.name!r}/{self.block!r}"


SAMPLE_CASES = [
    # Spoken numbers: digits, words, dictation, "apto", mixtures.
    Case("501", "Renata", MATCH, ("501", "", "Renata Oliveira")),
    Case("quinhentos e um", "Renata Oliveira", MATCH, ("501", "", "Renata Oliveira"), normalized="501"),
    Case("cinco zero um", "Daner", MATCH, ("501", "", "Daner dos Reis"), normalized="501"),
    Case("apto 501", "dona Renata", MATCH, ("501", "", "Renata Oliveira")),
    Case("apartamento 502", "Vinícius", MATCH, ("502", "", "Vinícius Barros")),
    Case("cento e um", "João Pedro", MATCH, ("101", "", "João Pedro Silva"), normalized="101"),
    Case("um zero um", "Ana Beatriz", MATCH, ("101", "", "Ana Beatriz Silva"), normalized="101"),
    Case("duzentos e dois", "Mariana", MATCH, ("202", "", "Mariana Costa")),
    Case("trezentos e dois", "seu Lucas", MATCH, ("302", "", "Lucas Martins")),
    Case("quatrocentos e um", "sra. Paula Fernandes", MATCH, ("401", "", "Paula Fernandes")),
    Case("quinhentos e dois", "Marina", MATCH, ("502", "", "Marina Barros")),
    Case("cento e dois", "Sr. Carlos", MATCH, ("102", "", "Carlos Oliveira")),
    Case("quinhentos e 1", "a Renata", MATCH, ("501", "", "Renata Oliveira")),
    Case("5 0 1", "Daner", MATCH, ("501", "", "Daner dos Reis")),
    Case("Apto. 402", "Bruna", MATCH, ("402", "", "Bruna Almeida")),
    # Accents, case, word order, honorifics.
    Case("três zero um", "Leticia", MATCH, ("301", "", "Letícia Lima"), normalized="301"),
    Case("301", "LETÍCIA LIMA", MATCH, ("301", "", "Letícia Lima")),
    Case("402", "almeida eduardo", MATCH, ("402", "", "Eduardo Almeida")),
    Case("502", "Vinicius Barros", MATCH, ("502", "", "Vinícius Barros")),
    Case("301", "doutor Rodrigo", MATCH, ("301", "", "Rodrigo Lima")),
    # Partial names and recognition noise.
    Case("201", "Tiago", MATCH, ("201", "", "Tiago Souza")),
    Case("201", "Thiago", MATCH, ("201", "", "Tiago Souza")),
    Case("302", "Lucas Martin", MATCH, ("302", "", "Lucas Martins")),
    Case("202", "Mariana Kosta", MATCH, ("202", "", "Mariana Costa")),
    Case("501", "Oliveira", MATCH, ("501", "", "Renata Oliveira")),
    Case("5011", "Renata", MATCH, ("501", "", "Renata Oliveira"), normalized="5011"),  # fuzzy number >= 85
    # Aliases from the data file (the prototype's hard-coded table).
    Case("501", "Daniel", MATCH, ("501", "", "Daner dos Reis")),
    Case("501", "Taner", MATCH, ("501", "", "Daner dos Reis")),
    Case("501", "Dani dos Reis", MATCH, ("501", "", "Daner dos Reis")),
    Case("501", "Renato", MATCH, ("501", "", "Renata Oliveira")),
    # Two residents of one apartment share its destination: a MATCH, not a question.
    Case("101", "Silva", MATCH, ("101", "", "Ana Beatriz Silva")),
    # Wrong apartment, right resident: NO_RESIDENT, and the candidate says where they live.
    Case("502", "Renata", NO_RESIDENT, (("501", "", "Renata Oliveira"), ("502", "", "Marina Barros"))),
    Case("101", "Carlos", NO_RESIDENT, (("102", "", "Carlos Oliveira"),)),
    Case("999", "Renata", NO_APARTMENT, (("501", "", "Renata Oliveira"),), normalized="999"),
    # Nothing matching.
    Case("novecentos e um", "Fulano", NO_APARTMENT, (), normalized="901"),
    Case("501", "Xavier", NO_RESIDENT),
    Case("", "Fulano de Tal", NO_RESIDENT),
    # Name alone: searched in every apartment.
    Case("", "Renata", MATCH, ("501", "", "Renata Oliveira"), normalized=""),
    Case("", "Daniel", MATCH, ("501", "", "Daner dos Reis")),
    Case("", "Oliveira", AMBIGUOUS, (("102", "", "Carlos Oliveira"), ("501", "", "Renata Oliveira"))),
    # Apartment alone: it exists, the name must still be asked; its residents are listed.
    Case("501", "", NO_RESIDENT, (("501", "", "Renata Oliveira"), ("501", "", "Daner dos Reis"))),
]

BLOCK_CASES = [
    Case("101", "Paulo", MATCH, ("101", "A", "Paulo Henrique Santos")),
    Case(
        "101",
        "Santos",
        AMBIGUOUS,
        (
            ("101", "A", "Paulo Henrique Santos"),
            ("101", "A", "Lúcia Santos"),
            ("101", "B", "Paula Henriques Santos"),
        ),
    ),
    Case("101", "Santos", MATCH, ("101", "B", "Paula Henriques Santos"), block="B"),
    Case("bloco B apartamento cento e um", "Paula", MATCH, ("101", "B", "Paula Henriques Santos")),
    Case("101", "Paula", MATCH, ("101", "B", "Paula Henriques Santos"), block="bloco bê"),
    Case(
        "101",
        "Paul Santos",
        AMBIGUOUS,
        (("101", "A", "Paulo Henrique Santos"), ("101", "B", "Paula Henriques Santos")),
    ),
    Case("", "Mendes", AMBIGUOUS, (("201", "B", "Luiza Mendes"), ("202", "B", "Luísa Mendes"))),
    Case("", "Luica Mendes", AMBIGUOUS, (("201", "B", "Luiza Mendes"), ("202", "B", "Luísa Mendes"))),
    Case("", "Luiza", MATCH, ("201", "B", "Luiza Mendes")),
    Case("mil e dois", "Zé", MATCH, ("1002", "2", "José Antônio Ferreira"), normalized="1002"),
    Case("apartamento 1.002", "José Antônio", MATCH, ("1002", "2", "José Antônio Ferreira")),
    Case("um zero zero dois", "Tonho", MATCH, ("1002", "2", "José Antônio Ferreira"), block="torre dois"),
    Case("cinco meia dois", "Beatriz", MATCH, ("562", "2", "Beatriz Gonçalves"), block="2", normalized="562"),
    Case("", "Ferreira", MATCH, ("1002", "2", "José Antônio Ferreira"), block="torre 2"),
    Case("", "Paulinho", MATCH, ("101", "A", "Paulo Henrique Santos")),
    Case("101", "Roberto", NO_APARTMENT, (("102", "A", "Roberto Nunes"),), block="C"),
    Case("12", "Roberto", NO_RESIDENT, (("102", "A", "Roberto Nunes"),)),
]


def where(candidate: directory_pb2.Candidate) -> tuple[str, str, str]:
    return candidate.apartment, candidate.block, candidate.resident_name


async def check(stub, case: Case, destinations: dict[tuple[str, str], str]) -> None:
    response = await stub.Resolve(
        directory_pb2.ResolveRequest(apartment=case.apartment, resident_name=case.name, block=case.block),
        timeout=5,
    )
    assert response.status == case.status, response
    if case.normalized is not None:
        assert response.normalized_apartment == case.normalized
    if case.status == MATCH:
        assert where(response.match) == case.expect
        assert response.match.destination == destinations[case.expect[:2]]
        assert 75 <= response.match.score <= 100
        assert not response.candidates
        return
    got = [where(candidate) for candidate in response.candidates]
    scores = [candidate.score for candidate in response.candidates]
    assert scores == sorted(scores, reverse=True)
    if case.status == AMBIGUOUS:
        assert set(got) == set(case.expect)
        assert all(score >= 75 for score in scores)
    elif case.expect:
        assert got[: len(case.expect)] == list(case.expect)
    if case.status == NO_RESIDENT and case.name and got:
        # The candidate from the requested apartment is below the threshold.
        assert all(c.score < 75 for c in response.candidates if c.apartment == response.normalized_apartment)


def destinations_of(running) -> dict[tuple[str, str], str]:
    return {(a.number, a.block): a.destination for a in running.app.store.current.apartments}


@pytest.mark.parametrize("case", SAMPLE_CASES, ids=str)
async def test_resolve_sample_condominium(sample, case):
    await check(sample.stub, case, destinations_of(sample))


@pytest.mark.parametrize("case", BLOCK_CASES, ids=str)
async def test_resolve_condominium_with_blocks(blocks, case):
    await check(blocks.stub, case, destinations_of(blocks))


async def test_no_resident_gives_the_best_candidate_and_its_score(sample):
    response = await sample.stub.Resolve(
        directory_pb2.ResolveRequest(apartment="501", resident_name="Xavier")
    )
    assert response.status == NO_RESIDENT
    (best,) = response.candidates
    assert best.apartment == "501" and best.resident_name in {"Renata Oliveira", "Daner dos Reis"}
    assert 0 < best.score < 75


async def test_match_carries_the_destination_to_dial(sample):
    response = await sample.stub.Resolve(directory_pb2.ResolveRequest(apartment="501", resident_name="Daner"))
    assert response.match.destination == "1003030"
    assert response.match.score == 100
