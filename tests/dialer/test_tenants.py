"""Each condominium's PBX settings in its click-to-call commands (PORTEIRO_DIALER_TENANTS_DIR),
against the machine's real RabbitMQ through a real gRPC stub."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import grpc
import pytest
import yaml

from porteiro.common.v1 import common_pb2
from porteiro.dialer.v1 import dialer_pb2
from tests.dialer.conftest import SERVING, BrokerQueue

EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "directory" / "examples" / "tenants"


def place(session_id: str, condominium: str, attempt: int = 1) -> dialer_pb2.PlaceCallRequest:
    return dialer_pb2.PlaceCallRequest(
        session_id=session_id,
        destination="sip:501@example",
        attempt=attempt,
        context=dialer_pb2.CallContext(intent=common_pb2.INTENT_VISIT, apartment="501"),
        condominium=condominium,
    )


@pytest.fixture
def condominium_queue():
    queue = BrokerQueue(f"porteiro-test-condominium-{uuid.uuid4().hex[:12]}")
    yield queue
    queue.delete()


@pytest.fixture
def tenants(tmp_path, condominium_queue) -> Path:
    """The example condominiums; Jacarandá's commands go to a queue of this test's."""
    folder = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, folder)
    one_file = folder / "jacaranda.yaml"
    document = yaml.safe_load(one_file.read_text(encoding="utf-8"))
    document["pbx"]["queue"] = condominium_queue.name
    one_file.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return folder


async def test_a_condominium_with_its_own_queue_and_license(
    start_dialer, broker_queue, condominium_queue, tenants
):
    dialer = await start_dialer(tenants_dir=tenants, license="000000000000", destiny="IA-DEFAULT")
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())

    await dialer.stub.PlaceCall(place(session, "jacaranda", attempt=1), timeout=5)
    await dialer.stub.PlaceCall(place(session, "jacaranda", attempt=2), timeout=5)  # supersedes attempt 1
    await dialer.stub.CancelCall(dialer_pb2.CancelCallRequest(session_id=session, attempt=1), timeout=5)

    deliveries = await asyncio.to_thread(condominium_queue.drain)
    assert [d.body["operation"]["type"] for d in deliveries] == [
        "clicktocall",
        "clicktocall",
        "cancelclicktocall",
    ]
    # Jacarandá's license; its destiny is not set, so the dialer's own.
    assert {(d.body["data"]["license"], d.body["data"]["destiny"]) for d in deliveries} == {
        ("000000000102", "IA-DEFAULT")
    }
    assert await asyncio.to_thread(broker_queue.drain) == []  # nothing on the dialer's own queue


async def test_the_default_condominium_keeps_the_dialers_own_settings(start_dialer, broker_queue, tenants):
    dialer = await start_dialer(tenants_dir=tenants, license="000000000000", destiny="IA-DEFAULT")
    await dialer.wait_health(SERVING)
    session = str(uuid.uuid4())
    await dialer.stub.PlaceCall(place(session, ""), timeout=5)
    [delivery] = await asyncio.to_thread(broker_queue.drain)
    assert delivery.body["data"]["license"] == "000000000000"
    assert delivery.body["data"]["destiny"] == "IA-DEFAULT"


async def test_a_condominium_not_served_is_refused_and_nothing_is_published(
    start_dialer, broker_queue, tenants
):
    dialer = await start_dialer(tenants_dir=tenants)
    await dialer.wait_health(SERVING)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await dialer.stub.PlaceCall(place(str(uuid.uuid4()), "nowhere"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nowhere" in raised.value.details()
    assert await asyncio.to_thread(broker_queue.drain) == []
