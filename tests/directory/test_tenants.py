"""Many condominiums in one directory: a real gRPC server on a real tenants folder."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from porteiro_directory.settings import SAMPLE_DATA_FILE
from tests.directory.conftest import directory_server

Req = directory_pb2
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "services/directory/examples/tenants"
HEALTH = health_pb2.HealthCheckRequest(service="porteiro.directory.v1.DirectoryService")
INTERVAL = 0.05


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def wait_for(condition, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def write_yaml(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    os.replace(temporary, path)


def sabia(residents: list[str]) -> dict[str, object]:
    return {
        "code": "5ab1a000",
        "name": "Edifício Sabiá",
        "apartments": [{"number": "7", "destination": "sip:7@sabia.example", "residents": residents}],
    }


@pytest.fixture
def tenants_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.fixture
async def two(tenants_dir):
    async with directory_server(
        SAMPLE_DATA_FILE, tenants_dir=tenants_dir, reload_interval_seconds=INTERVAL
    ) as running:
        yield running


async def code_of(call) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_two_condominiums_answer_from_their_own_directories(two):
    araras = await two.stub.Resolve(
        Req.ResolveRequest(condominium="bosque-das-araras", apartment="onze", resident_name="dona Beatriz")
    )
    assert araras.status == Req.RESOLVE_STATUS_MATCH
    assert (araras.match.resident_name, araras.match.destination) == (
        "Beatriz Arantes",
        "sip:11@araras.example",
    )
    jacaranda = await two.stub.Resolve(
        Req.ResolveRequest(condominium="jacaranda", apartment="cento e um", resident_name="Helena", block="B")
    )
    assert (jacaranda.match.resident_name, jacaranda.match.destination) == (
        "Helena Prates",
        "sip:b101@jacaranda.example",
    )
    # Beatriz does not live in Jacarandá; Helena without a block is in two of its apartments.
    elsewhere = await two.stub.Resolve(
        Req.ResolveRequest(condominium="jacaranda", resident_name="Beatriz Arantes")
    )
    assert elsewhere.status == Req.RESOLVE_STATUS_NO_RESIDENT
    both = await two.stub.Resolve(Req.ResolveRequest(condominium="jacaranda", resident_name="Helena"))
    assert both.status == Req.RESOLVE_STATUS_AMBIGUOUS


async def test_every_rpc_takes_the_condominium(two):
    found = await two.stub.SearchByName(
        Req.SearchByNameRequest(condominium="bosque-das-araras", name="Vagner")
    )
    assert [c.resident_name for c in found.candidates] == ["Wagner Tavares"]
    assert not (
        await two.stub.SearchByName(Req.SearchByNameRequest(condominium="jacaranda", name="Vagner"))
    ).candidates
    apartment = await two.stub.GetApartment(Req.GetApartmentRequest(condominium="jacaranda", apartment="102"))
    assert [r.name for r in apartment.residents] == ["Irene Bastos"]
    listed = await two.stub.ListApartments(Req.ListApartmentsRequest(condominium="bosque-das-araras"))
    assert [a.number for a in listed.apartments] == ["11", "12", "21", "22"]
    parsed = await two.stub.ParseApartment(
        Req.ParseApartmentRequest(condominium="jacaranda", text="é o cento e dois")
    )
    assert (parsed.apartment, parsed.exists) == ("102", True)
    parsed = await two.stub.ParseApartment(
        Req.ParseApartmentRequest(condominium="bosque-das-araras", text="é o cento e dois")
    )
    assert (parsed.apartment, parsed.exists) == ("102", False)


async def test_vocabulary_is_per_condominium(two):
    araras = await two.stub.ListVocabulary(Req.ListVocabularyRequest(condominium="bosque-das-araras"))
    jacaranda = await two.stub.ListVocabulary(Req.ListVocabularyRequest(condominium="jacaranda"))
    assert "Wagner Tavares" in araras.resident_names and "Vagner" in araras.resident_names
    assert "Wagner Tavares" not in jacaranda.resident_names
    assert set(jacaranda.resident_names) == {
        "Helena Figueiredo",
        "Lena",
        "Helena Prates",
        "Caio Prates",
        "Irene Bastos",
    }
    assert list(jacaranda.apartment_numbers) == ["101", "102", "A", "B"]


@pytest.mark.parametrize("condominium", ["apoena-park", "", "default", "JACARANDA"])
async def test_an_unknown_condominium_is_not_found_naming_it(two, condominium):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await two.stub.Resolve(Req.ResolveRequest(condominium=condominium, apartment="101"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"condominium {condominium or 'default'!r} is not served here" in raised.value.details()
    for call in (
        two.stub.ListVocabulary(Req.ListVocabularyRequest(condominium=condominium)),
        two.stub.GetApartment(Req.GetApartmentRequest(condominium=condominium, apartment="101")),
        two.stub.SearchByName(Req.SearchByNameRequest(condominium=condominium, name="Helena")),
    ):
        assert await code_of(call) == grpc.StatusCode.NOT_FOUND


async def test_unknown_condominiums_are_counted_and_long_names_rejected(two):
    before = metric("porteiro_directory_resolve_outcomes_total", {"status": "unknown_condominium"})
    await code_of(two.stub.Resolve(Req.ResolveRequest(condominium="apoena-park", apartment="101")))
    after = metric("porteiro_directory_resolve_outcomes_total", {"status": "unknown_condominium"})
    assert after == before + 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await two.stub.ListApartments(Req.ListApartmentsRequest(condominium="x" * 201))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == (
        "condominium has 201 characters; the limit is 200 (PORTEIRO_DIRECTORY_MAX_TEXT_LENGTH)"
    )


async def test_the_span_carries_the_condominium(two):
    await two.stub.Resolve(
        Req.ResolveRequest(condominium="jacaranda", apartment="102", resident_name="Irene")
    )
    (span,) = [s for s in two.spans.get_finished_spans() if s.name == "FUZZY_VALIDATION"]
    assert span.attributes["porteiro.condominium"] == "jacaranda"
    assert span.attributes["outcome"] == "match"


async def test_the_single_condominium_deployment_is_the_default_tenant(sample):
    for condominium in ("", "default"):
        answer = await sample.stub.Resolve(
            Req.ResolveRequest(condominium=condominium, apartment="501", resident_name="Renata")
        )
        assert answer.match.resident_name == "Renata Oliveira"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await sample.stub.ListApartments(Req.ListApartmentsRequest(condominium="jacaranda"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "condominium 'jacaranda' is not served here: this directory serves one condominium" in (
        raised.value.details()
    )
    spans = [s for s in sample.spans.get_finished_spans() if s.name == "FUZZY_VALIDATION"]
    assert [span.attributes["porteiro.condominium"] for span in spans] == ["default", "default"]


async def test_a_default_tenant_in_the_folder_answers_empty_condominium(tenants_dir):
    shutil.copyfile(SAMPLE_DATA_FILE, tenants_dir / "directory.json")  # a stray file is skipped
    default = tenants_dir / "default"
    write_yaml(default / "condominium.yaml", {"code": "00000001", "name": "Condomínio Apoena"})
    shutil.copyfile(SAMPLE_DATA_FILE, default / "directory.json")
    async with directory_server(SAMPLE_DATA_FILE, tenants_dir=tenants_dir) as running:
        answer = await running.stub.Resolve(Req.ResolveRequest(apartment="501", resident_name="Renata"))
        assert answer.match.resident_name == "Renata Oliveira"
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await running.stub.ListApartments(Req.ListApartmentsRequest(condominium="directory"))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert "its data was rejected" in raised.value.details()  # directory.json read as a one-file tenant


async def test_a_new_condominium_is_served_within_the_reload_interval_without_restart(two, tenants_dir):
    request = Req.ResolveRequest(condominium="sabia", apartment="sete", resident_name="Jurema")
    assert await code_of(two.stub.Resolve(request)) == grpc.StatusCode.NOT_FOUND
    reloads_ok = metric("porteiro_directory_reloads_total", {"result": "ok"})
    began = time.monotonic()
    write_yaml(tenants_dir / "sabia.yaml", sabia(["Jurema Antunes"]))

    async def served() -> bool:
        return await code_of(two.stub.Resolve(request)) == grpc.StatusCode.OK

    await wait_for(served)
    picked_up_in = time.monotonic() - began
    answer = await two.stub.Resolve(request)
    assert answer.match.destination == "sip:7@sabia.example"
    assert picked_up_in < 10  # the interval is 0.05 s; the bound is loose for a loaded machine
    assert metric("porteiro_directory_reloads_total", {"result": "ok"}) == reloads_ok + 1
    assert metric("porteiro_directory_condominiums", {"state": "served"}) == 3


async def test_a_broken_file_keeps_that_condominiums_data_and_the_others_reload(two, tenants_dir):
    failed = metric("porteiro_directory_reloads_total", {"result": "failed"})
    araras = Req.ResolveRequest(condominium="bosque-das-araras", apartment="12", resident_name="Sônia")
    (tenants_dir / "bosque-das-araras" / "directory.json").write_text(
        '[{"apartment_number": "12", "residents": ["Sônia Queiroz"]}]'  # no destination
    )
    write_yaml(tenants_dir / "sabia.yaml", sabia(["Jurema Antunes"]))

    async def both_seen() -> bool:
        newcomer = await code_of(two.stub.ListApartments(Req.ListApartmentsRequest(condominium="sabia")))
        return newcomer == grpc.StatusCode.OK and metric(
            "porteiro_directory_reloads_total", {"result": "failed"}
        ) == (failed + 1)

    await wait_for(both_seen)
    kept = await two.stub.Resolve(araras)
    assert kept.match.destination == "sip:12@araras.example"  # the last good data
    assert metric("porteiro_directory_condominiums", {"state": "rejected"}) == 1
    assert two.app.tenants is not None
    assert "destination (destination / voip_number) is missing" in two.app.tenants.problem(
        "bosque-das-araras"
    )
    jacaranda = await two.stub.GetApartment(Req.GetApartmentRequest(condominium="jacaranda", apartment="102"))
    assert jacaranda.destination == "sip:a102@jacaranda.example"


async def test_a_removed_condominium_stops_being_served(two, tenants_dir):
    (tenants_dir / "jacaranda.yaml").unlink()
    request = Req.ListApartmentsRequest(condominium="jacaranda")

    async def gone() -> bool:
        return await code_of(two.stub.ListApartments(request)) == grpc.StatusCode.NOT_FOUND

    await wait_for(gone)
    still = await two.stub.ListApartments(Req.ListApartmentsRequest(condominium="bosque-das-araras"))
    assert len(still.apartments) == 4


async def test_health_waits_for_the_folder(tmp_path):
    folder = tmp_path / "tenants"
    async with directory_server(
        SAMPLE_DATA_FILE, tenants_dir=folder, reload_interval_seconds=INTERVAL
    ) as running:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.bound.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert (await health.Check(HEALTH)).status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await running.stub.ListApartments(Req.ListApartmentsRequest(condominium="jacaranda"))
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "the tenants folder has not been read yet: cannot list the tenants folder" in (
                raised.value.details()
            )
            shutil.copytree(EXAMPLES, folder)

            async def serving() -> bool:
                return (await health.Check(HEALTH)).status == health_pb2.HealthCheckResponse.SERVING

            await wait_for(serving)
        listed = await running.stub.ListApartments(Req.ListApartmentsRequest(condominium="jacaranda"))
        assert len(listed.apartments) == 3


@pytest.mark.slow
def test_a_new_condominium_in_a_real_process(tenants_dir, run_service):
    service = run_service(
        "porteiro_directory",
        "PORTEIRO_DIRECTORY_",
        {
            "PORTEIRO_DIRECTORY_TENANTS_DIR": str(tenants_dir),
            "PORTEIRO_DIRECTORY_RELOAD_INTERVAL_SECONDS": "0.1",
        },
    )
    service.wait_serving(timeout=60)
    request = Req.ResolveRequest(condominium="sabia", apartment="7", resident_name="Jurema")
    with grpc.insecure_channel(service.target) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        jacaranda = stub.GetApartment(
            Req.GetApartmentRequest(condominium="jacaranda", apartment="102"), timeout=5
        )
        assert jacaranda.residents[0].name == "Irene Bastos"
        with pytest.raises(grpc.RpcError) as raised:
            stub.Resolve(request, timeout=5)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        write_yaml(tenants_dir / "sabia.yaml", sabia(["Jurema Antunes"]))
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = stub.Resolve(request, timeout=5)
                break
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
                assert time.monotonic() < deadline, service.logs()
                time.sleep(0.1)
        assert answer.match.resident_name == "Jurema Antunes"
    assert service.terminate() in (0, -15)
