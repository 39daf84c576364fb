"""The concierge serving many condominiums (PORTEIRO_CONCIERGE_TENANTS_DIR): the real directory
with the example tenants folder, the fake dialer, real gRPC streams.

A call gets its condominium from LegStarted (the gateway's routing) or the code in its UUID; it
hears that condominium's sentences in its voice, the directory is asked for that condominium's
residents, PlaceCall names it, the session and the finished-call record carry it, and the
per-condominium outcome counter counts it."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from porteiro.concierge.v1 import concierge_pb2
from porteiro.register.v1 import register_pb2
from porteiro_common.ids import session_id_for
from porteiro_concierge.call_register import PublishingCallRegister
from porteiro_directory.settings import SAMPLE_DATA_FILE
from tests.concierge.driver import LEGS, LegDriver
from tests.directory.conftest import directory_server

EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "directory" / "examples" / "tenants"
ARARAS_CODE = "b05c0a2a"


class RoutedLeg(LegDriver):
    """A leg whose LegStarted names the condominium, as the gateway sends it."""

    def __init__(self, *args, condominium: str = "", **options) -> None:
        super().__init__(*args, **options)
        self.condominium = condominium

    async def start(self, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - test helper
        started = concierge_pb2.LegStarted(
            session_id=self.session_id, leg=LEGS[self.leg], sample_rate_hz=8000, condominium=self.condominium
        )
        self._events.put_nowait(concierge_pb2.LegEvent(leg_started=started))
        self._call = self.stub.Converse(self._outgoing())
        self._reader = asyncio.create_task(self._read())
        return await asyncio.wait_for(asyncio.shield(self.accepted), timeout)


@pytest.fixture
async def tenants_concierge(concierge_factory, tmp_path):
    folder = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, folder)
    async with directory_server(SAMPLE_DATA_FILE, tenants_dir=folder, reload_interval_seconds=0) as directory:
        target = f"127.0.0.1:{directory.bound.port}"
        yield await concierge_factory(directory_target=target, tenants_dir=folder, metrics_condominiums="*")


def routed_leg(concierge, session_id: str, leg: str, condominium: str = "") -> RoutedLeg:
    driver = RoutedLeg(concierge.channel, session_id, leg, condominium=condominium)
    concierge.drivers.append(driver)
    return driver


class CollectingPublisher:
    """The register's event publisher (EventPublisher), keeping what it is given."""

    def __init__(self) -> None:
        self.records: list[register_pb2.CallRecord] = []

    async def start(self) -> None: ...

    async def publish(self, record: register_pb2.CallRecord, wait_seconds: float | None = None) -> bool:
        self.records.append(record)
        return True

    async def close(self, grace_seconds: float = 5.0) -> int:
        return 0


def outcomes_of(condominium: str, outcome: str) -> float:
    labels = {"condominium": condominium, "outcome": outcome}
    return REGISTRY.get_sample_value("porteiro_concierge_condominium_call_outcomes_total", labels) or 0.0


async def test_the_gateways_condominium_gives_the_sentences_residents_and_placed_call(
    tenants_concierge, fakes
):
    session_id = str(uuid.uuid4())  # no code in it: LegStarted alone routes the call
    visitor = routed_leg(tenants_concierge, session_id, "visitor", "bosque-das-araras")
    await visitor.start()
    await visitor.expect("Bosque das Araras, boa tarde! É entrega ou visita?")
    await visitor.utter("Boa tarde, aqui é o João, tenho uma entrega para a Sônia Queiroz do apartamento 12")
    await visitor.expect("Sônia Queiroz", "12")
    call = await fakes.dialer.next_call()
    assert (call.condominium, call.destination) == ("bosque-das-araras", "sip:12@araras.example")
    session = await tenants_concierge.app.store.load(session_id)
    assert session.condominium == "bosque-das-araras"
    # Every sentence in the condominium's voice.
    voices = {action.say.voice for action in visitor.actions if action.HasField("say")}
    assert voices == {"pt-br"}


async def test_the_uuid_code_routes_a_call_the_gateway_did_not_name(tenants_concierge):
    visitor = routed_leg(tenants_concierge, session_id_for(ARARAS_CODE), "visitor")
    await visitor.start()
    await visitor.expect("Bosque das Araras")


async def test_another_condominium_at_the_same_time_has_its_own_name_and_no_voice(tenants_concierge):
    araras = routed_leg(tenants_concierge, str(uuid.uuid4()), "visitor", "bosque-das-araras")
    jacaranda = routed_leg(tenants_concierge, str(uuid.uuid4()), "visitor", "jacaranda")
    await asyncio.gather(araras.start(), jacaranda.start())
    await jacaranda.expect("Residencial Jacarandá, em que posso ajudar?")
    await araras.expect("Bosque das Araras")
    assert {action.say.voice for action in jacaranda.actions if action.HasField("say")} == {""}


async def test_a_finished_call_is_counted_and_recorded_under_its_condominium(tenants_concierge):
    publisher = CollectingPublisher()
    register = PublishingCallRegister(publisher)
    for tenant in tenants_concierge.app.tenants.current.by_id.values():
        tenant.data.engine.call_register = register
    before = outcomes_of("jacaranda", "visitor_hung_up")
    session_id = str(uuid.uuid4())
    visitor = routed_leg(tenants_concierge, session_id, "visitor", "jacaranda")
    await visitor.start()
    await visitor.expect("Jacarandá")
    await visitor.hang_up()
    await visitor.closed.wait()
    for _ in range(50):
        if outcomes_of("jacaranda", "visitor_hung_up") > before:
            break
        await asyncio.sleep(0.05)
    assert outcomes_of("jacaranda", "visitor_hung_up") == before + 1
    for _ in range(50):
        if publisher.records:
            break
        await asyncio.sleep(0.05)
    [record] = publisher.records
    assert (record.call_id, record.condominium) == (session_id, "jacaranda")


async def test_a_condominium_not_served_is_refused_without_a_session(tenants_concierge):
    session_id = str(uuid.uuid4())
    visitor = routed_leg(tenants_concierge, session_id, "visitor", "nowhere")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await visitor.start()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await tenants_concierge.app.store.load(session_id) is None


async def test_a_call_in_progress_keeps_its_condominium_when_it_leaves_the_folder(tenants_concierge):
    """Removing a condominium stops new calls for it; the ones already talking finish with it."""
    session_id = str(uuid.uuid4())
    visitor = routed_leg(tenants_concierge, session_id, "visitor", "jacaranda")
    await visitor.start()
    await visitor.expect("Jacarandá")
    registry = tenants_concierge.app.tenants
    (registry.folder / "jacaranda.yaml").unlink()
    assert registry.refresh().changed and registry.current.get("jacaranda") is None
    await visitor.utter("Boa tarde, aqui é o João, tenho uma entrega para a Irene Bastos do 102 bloco A")
    await visitor.expect("Irene Bastos")  # resolved in jacaranda's own directory
    newcomer = routed_leg(tenants_concierge, str(uuid.uuid4()), "visitor", "jacaranda")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await newcomer.start()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
