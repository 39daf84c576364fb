"""The deterministic pt-BR extractor, against the fake directory over real gRPC."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from porteiro_concierge.dependencies import DirectoryClient
from porteiro_concierge.extraction.base import Intent, Slots
from porteiro_concierge.extraction.deterministic import DeterministicExtractor, bare_name


@pytest.fixture
async def extractor(fakes):
    client = DirectoryClient(fakes.target, 2.0)
    yield DeterministicExtractor(client)
    await client.close()


CASES = [
    (
        "Boa tarde, aqui é o João, tenho uma entrega do Mercado Livre para a Renata do apartamento 501",
        {"intent": Intent.DELIVERY, "visitor_name": "João", "apartment": "501", "resident_name": "Renata"},
    ),
    ("Meu nome é Pedro Santos, vim visitar o Carlos", {"intent": Intent.VISIT, "visitor_name": "Pedro Santos",
                                                       "resident_name": "Carlos"}),
    ("Sou a Maria, do iFood", {"intent": Intent.DELIVERY, "visitor_name": "Maria"}),
    ("encomenda dos Correios pro quinhentos e um", {"intent": Intent.DELIVERY, "apartment": "501"}),
    ("Eu sou o entregador", {"intent": Intent.DELIVERY}),
    ("Vim ver a dona Renata Oliveira", {"intent": Intent.VISIT, "resident_name": "Renata Oliveira"}),
    ("Pacote para o senhor Lucas", {"intent": Intent.DELIVERY, "resident_name": "Lucas"}),
    ("Boa tarde", {}),
]


@pytest.mark.parametrize(("sentence", "expected"), CASES)
async def test_slots_from_one_sentence(extractor, sentence, expected):
    extraction = await extractor.extract(sentence, Slots(), [])
    assert extraction.mentioned() == expected
    assert extraction.source == "deterministic"


async def test_correction_is_flagged(extractor):
    extraction = await extractor.extract("Não, é o 502", Slots(apartment="501"), [])
    assert extraction.correction and extraction.apartment == "502"


async def test_directory_down_still_reads_digits(extractor, fakes):
    fakes.directory.down = True
    extraction = await extractor.extract("entrega para a Renata do apartamento 501", Slots(), [])
    assert extraction.apartment == "501" and extraction.resident_name == "Renata"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_bare_name_never_raises(text):
    name = bare_name(text)
    assert name is None or 0 < len(name.split()) <= 3


@pytest.mark.parametrize(("text", "expected"), [("João", "João"), ("é a Renata Oliveira", "Renata Oliveira"),
                                                 ("sim", None), ("501", None)])
def test_bare_name(text, expected):
    assert bare_name(text) == expected
