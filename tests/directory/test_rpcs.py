"""The other RPCs, bad requests, metrics and spans, through the real gRPC server."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from porteiro.directory.v1 import directory_pb2
from tests.directory.conftest import BLOCKS_FILE, directory_server

Req = directory_pb2
# The sample directory's apartments, in file order.
SAMPLE_NUMBERS = ["101", "102", "201", "202", "301", "302", "401", "402", "501", "502"]


async def test_search_by_name_returns_apartments_best_first(sample):
    response = await sample.stub.SearchByName(Req.SearchByNameRequest(name="Oliveira"), timeout=5)
    assert [(c.apartment, c.resident_name) for c in response.candidates] == [
        ("102", "Carlos Oliveira"),
        ("501", "Renata Oliveira"),
    ]
    assert response.candidates[0].destination == "sip:102@condominio.local"
    only = await sample.stub.SearchByName(Req.SearchByNameRequest(name="dona Renata", limit=1))
    assert [(c.apartment, c.resident_name, c.score) for c in only.candidates] == [
        ("501", "Renata Oliveira", 100)
    ]


async def test_search_by_name_drops_candidates_below_the_threshold(sample):
    response = await sample.stub.SearchByName(Req.SearchByNameRequest(name="Marina"))
    scores = [c.score for c in response.candidates]
    assert response.candidates[0].resident_name == "Marina Barros"
    assert all(score >= 75 for score in scores) and scores == sorted(scores, reverse=True)
    none = await sample.stub.SearchByName(Req.SearchByNameRequest(name="Xenofonte"))
    assert list(none.candidates) == []


async def test_get_apartment_accepts_spoken_numbers(sample):
    apartment = await sample.stub.GetApartment(Req.GetApartmentRequest(apartment="cinco zero um"), timeout=5)
    assert apartment.number == "501" and apartment.destination == "1003030"
    assert [(r.name, list(r.aliases)) for r in apartment.residents] == [
        ("Renata Oliveira", ["Renato"]),
        ("Daner dos Reis", ["Daniel", "Dani", "Danir", "Taner"]),
    ]


async def test_get_apartment_not_found(sample):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await sample.stub.GetApartment(Req.GetApartmentRequest(apartment="novecentos"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "apartment 900 is not in the directory" in raised.value.details()


async def test_get_apartment_with_blocks(blocks):
    found = await blocks.stub.GetApartment(Req.GetApartmentRequest(apartment="101", block="B"))
    assert (found.number, found.block, found.residents[0].name) == ("101", "B", "Paula Henriques Santos")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await blocks.stub.GetApartment(Req.GetApartmentRequest(apartment="101"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "exists in blocks A, B" in raised.value.details()


async def test_list_apartments_in_file_order(sample):
    response = await sample.stub.ListApartments(Req.ListApartmentsRequest(), timeout=5)
    assert [a.number for a in response.apartments] == SAMPLE_NUMBERS
    assert response.apartments[0].residents[1].name == "João Pedro Silva"


async def test_list_vocabulary_has_names_aliases_numbers_and_blocks(blocks, sample):
    words = await sample.stub.ListVocabulary(Req.ListVocabularyRequest(), timeout=5)
    assert {"Renata Oliveira", "Renato", "Daner dos Reis", "Taner", "Letícia Lima"} <= set(
        words.resident_names
    )
    assert list(words.apartment_numbers) == SAMPLE_NUMBERS
    with_blocks = await blocks.stub.ListVocabulary(Req.ListVocabularyRequest())
    assert list(with_blocks.apartment_numbers) == [
        "101",
        "102",
        "201",
        "202",
        "1002",
        "562",
        "12",
        "A",
        "B",
        "2",
    ]


@pytest.mark.parametrize(
    ("text", "found", "apartment", "block", "exists"),
    [
        ("é uma entrega para a Renata do quinhentos e um", True, "501", "", True),
        ("visita para o apartamento cinco meia dois", True, "562", "", False),
        ("bom dia, é do bloco B", False, "", "B", False),
        ("é uma entrega", False, "", "", False),
    ],
)
async def test_parse_apartment_in_whole_sentences(sample, text, found, apartment, block, exists):
    response = await sample.stub.ParseApartment(Req.ParseApartmentRequest(text=text), timeout=5)
    assert (response.found, response.apartment, response.block, response.exists) == (
        found,
        apartment,
        block,
        exists,
    )


async def test_parse_apartment_checks_the_block(blocks):
    parse = blocks.stub.ParseApartment
    yes = await parse(Req.ParseApartmentRequest(text="torre dois, apartamento cinco meia dois"))
    assert (yes.apartment, yes.block, yes.exists) == ("562", "2", True)
    no = await parse(Req.ParseApartmentRequest(text="bloco A, apartamento cinco meia dois"))
    assert (no.apartment, no.block, no.exists) == ("562", "A", False)


@pytest.mark.parametrize(
    ("call", "request_", "fragment"),
    [
        ("Resolve", Req.ResolveRequest(), "apartment and resident_name are both empty"),
        ("Resolve", Req.ResolveRequest(apartment="  ", resident_name="?!"), "both empty"),
        (
            "Resolve",
            Req.ResolveRequest(apartment="501", resident_name="R" * 201),
            "resident_name has 201 characters",
        ),
        ("Resolve", Req.ResolveRequest(apartment="5" * 5000, resident_name="Ana"), "limit is 200"),
        ("SearchByName", Req.SearchByNameRequest(name=""), "name is empty"),
        ("SearchByName", Req.SearchByNameRequest(name="a" * 300), "name has 300 characters"),
        ("GetApartment", Req.GetApartmentRequest(apartment=""), "apartment is empty"),
        ("GetApartment", Req.GetApartmentRequest(apartment="1", block="b" * 201), "block has 201"),
        ("ParseApartment", Req.ParseApartmentRequest(text=" "), "text is empty"),
        ("ParseApartment", Req.ParseApartmentRequest(text="x" * 10_000), "text has 10000 characters"),
    ],
)
async def test_bad_requests_get_invalid_argument(sample, call, request_, fragment):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(sample.stub, call)(request_, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in raised.value.details()


async def test_text_limit_is_a_setting(tmp_path):
    async with directory_server(BLOCKS_FILE, max_text_length=10) as running:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await running.stub.Resolve(Req.ResolveRequest(apartment="101", resident_name="Paulo Henrique"))
        assert "limit is 10" in raised.value.details()


async def test_thresholds_and_margin_are_settings():
    strict = {"resident_threshold": 96.0}
    async with directory_server(BLOCKS_FILE, **strict) as running:
        alias = await running.stub.Resolve(Req.ResolveRequest(apartment="101", resident_name="Paulinho"))
        assert alias.status == directory_pb2.RESOLVE_STATUS_NO_RESIDENT  # aliases score 95
    async with directory_server(BLOCKS_FILE, ambiguity_margin=0.0) as running:
        tie = await running.stub.Resolve(Req.ResolveRequest(resident_name="Mendes"))
        assert tie.status == directory_pb2.RESOLVE_STATUS_MATCH
    async with directory_server(BLOCKS_FILE, apartment_threshold=95.0) as running:
        near = await running.stub.Resolve(Req.ResolveRequest(apartment="10022", resident_name="Zé"))
        assert near.status == directory_pb2.RESOLVE_STATUS_NO_APARTMENT
    async with directory_server(BLOCKS_FILE) as running:
        near = await running.stub.Resolve(Req.ResolveRequest(apartment="10022", resident_name="Zé"))
        assert near.status == directory_pb2.RESOLVE_STATUS_MATCH and near.match.apartment == "1002"


def sample_value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_resolve_metrics_count_outcomes_and_time(sample):
    before = {
        s: sample_value("porteiro_directory_resolve_outcomes_total", {"status": s})
        for s in ("match", "ambiguous", "no_apartment", "no_resident", "invalid")
    }
    observed = sample_value("porteiro_directory_resolve_seconds_count")
    stub = sample.stub
    await stub.Resolve(Req.ResolveRequest(apartment="501", resident_name="Renata"))
    await stub.Resolve(Req.ResolveRequest(resident_name="Oliveira"))
    await stub.Resolve(Req.ResolveRequest(apartment="999", resident_name="Renata"))
    await stub.Resolve(Req.ResolveRequest(apartment="501", resident_name="Xavier"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Resolve(Req.ResolveRequest())
    after = {s: sample_value("porteiro_directory_resolve_outcomes_total", {"status": s}) for s in before}
    assert {s: after[s] - before[s] for s in before} == {
        "match": 1,
        "ambiguous": 1,
        "no_apartment": 1,
        "no_resident": 1,
        "invalid": 1,
    }
    assert sample_value("porteiro_directory_resolve_seconds_count") - observed == 4
    assert sample_value("porteiro_directory_resolve_seconds_bucket", {"le": "0.005"}) > 0


async def test_fuzzy_validation_span_has_outcome_score_and_no_names(sample):
    await sample.stub.Resolve(Req.ResolveRequest(apartment="quinhentos e um", resident_name="dona Renata"))
    (span,) = [s for s in sample.spans.get_finished_spans() if s.name == "FUZZY_VALIDATION"]
    assert [e.name for e in span.events] == ["FUZZY_VALIDATION_START", "FUZZY_VALIDATION_COMPLETE"]
    attributes = dict(span.attributes)
    assert attributes["outcome"] == "match" and attributes["score"] == 100.0
    assert attributes["porteiro.apartment"] == "[redacted]"
    assert attributes["porteiro.resident_name"] == attributes["porteiro.match"] == "[redacted]"
    assert "Renata" not in repr(attributes) and "duration_ms" in attributes


async def test_names_in_spans_only_when_personal_data_is_allowed():
    async with directory_server(BLOCKS_FILE, trace_personal_data=True) as running:
        await running.stub.Resolve(Req.ResolveRequest(apartment="101", resident_name="Paula", block="B"))
        (span,) = running.spans.get_finished_spans()
        assert span.attributes["porteiro.resident_name"] == "Paula"
        assert span.attributes["porteiro.match"] == "Paula Henriques Santos"


async def test_unloadable_file_keeps_health_not_serving_and_rpcs_unavailable(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"apartment_number": "101", "residents": ["Ana"]}]')
    async with directory_server(broken, reload_interval_seconds=0) as running:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.bound.port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await running.stub.Resolve(Req.ResolveRequest(apartment="101", resident_name="Ana"))
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "entry 1 (apartment 101): destination" in raised.value.details()
