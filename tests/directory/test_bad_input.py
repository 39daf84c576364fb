"""Oversized fields and pages get INVALID_ARGUMENT naming the field; the apartment stays out of
spans unless personal data may be traced. Real directory gRPC server, sample condominium."""

from __future__ import annotations

import grpc
import pytest

from porteiro.directory.v1 import directory_pb2 as Req
from porteiro_directory.settings import SAMPLE_DATA_FILE
from tests.directory.conftest import directory_server
from tests.support.tracing import recording_spans

MEGABYTE = 1024 * 1024
UINT32_MAX = 4294967295


async def refused(call) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value
    return raised.value.details()


MEGABYTE_FIELDS = {
    "resolve-apartment": (
        "Resolve",
        Req.ResolveRequest(apartment="5" * MEGABYTE, resident_name="Ana"),
        "apartment",
    ),
    "resolve-name": (
        "Resolve",
        Req.ResolveRequest(apartment="501", resident_name="R" * MEGABYTE),
        "resident_name",
    ),
    "resolve-block": ("Resolve", Req.ResolveRequest(apartment="501", block="B" * MEGABYTE), "block"),
    "search-name": ("SearchByName", Req.SearchByNameRequest(name="a" * MEGABYTE), "name"),
    "get-apartment": ("GetApartment", Req.GetApartmentRequest(apartment="1" * MEGABYTE), "apartment"),
    "get-block": ("GetApartment", Req.GetApartmentRequest(apartment="101", block="b" * MEGABYTE), "block"),
    "parse-text": ("ParseApartment", Req.ParseApartmentRequest(text="x" * MEGABYTE), "text"),
}


@pytest.mark.parametrize(("rpc", "request_", "field"), MEGABYTE_FIELDS.values(), ids=MEGABYTE_FIELDS.keys())
async def test_megabyte_fields_are_refused_naming_the_field_and_the_limit(sample, rpc, request_, field):
    details = await refused(getattr(sample.stub, rpc)(request_, timeout=10))
    assert details == (
        f"{field} has {MEGABYTE} characters; the limit is 200 (PORTEIRO_DIRECTORY_MAX_TEXT_LENGTH)"
    )


@pytest.mark.parametrize("limit", [101, UINT32_MAX])
async def test_search_page_over_the_maximum_is_refused(sample, limit):
    details = await refused(sample.stub.SearchByName(Req.SearchByNameRequest(name="Oliveira", limit=limit)))
    assert details == f"limit is {limit}; it must be at most 100 (0 means 5)"


async def test_search_pages_up_to_the_maximum_are_served(sample):
    widest = await sample.stub.SearchByName(Req.SearchByNameRequest(name="Oliveira", limit=100), timeout=5)
    default = await sample.stub.SearchByName(Req.SearchByNameRequest(name="Oliveira"), timeout=5)
    one = await sample.stub.SearchByName(Req.SearchByNameRequest(name="Oliveira", limit=1), timeout=5)
    assert len(widest.candidates) == len(default.candidates) == 2
    assert [c.resident_name for c in one.candidates] == ["Carlos Oliveira"]


def attribute_values(spans) -> list[str]:
    return [str(value) for span in spans for value in dict(span.attributes or {}).values()]


async def test_apartment_is_redacted_in_every_span_by_default():
    process_spans = recording_spans()  # the gRPC server spans, on the process's tracer provider
    async with directory_server(SAMPLE_DATA_FILE) as running:
        await running.stub.Resolve(
            Req.ResolveRequest(apartment="quinhentos e um", resident_name="dona Renata")
        )
        (span,) = [s for s in running.spans.get_finished_spans() if s.name == "FUZZY_VALIDATION"]
    assert span.attributes["porteiro.apartment"] == "[redacted]"
    assert span.attributes["outcome"] == "match"  # it did resolve 501: only its trace is hidden
    every_value = attribute_values([*running.spans.get_finished_spans(), *process_spans.get_finished_spans()])
    assert any("Resolve" in value for value in every_value)  # the server span was recorded
    assert not [
        value for value in every_value if "501" == value or "quinhentos" in value or "Renata" in value
    ]


async def test_apartment_is_traced_when_personal_data_is_allowed():
    async with directory_server(SAMPLE_DATA_FILE, trace_personal_data=True) as running:
        await running.stub.Resolve(
            Req.ResolveRequest(apartment="quinhentos e um", resident_name="dona Renata")
        )
        (span,) = [s for s in running.spans.get_finished_spans() if s.name == "FUZZY_VALIDATION"]
    assert span.attributes["porteiro.apartment"] == "501"
    assert span.attributes["porteiro.match"] == "Renata Oliveira"
