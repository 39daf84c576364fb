"""The gateway with a tenants folder (PORTEIRO_GATEWAY_TENANTS_DIR, PORT_MAP): real TCP AudioSocket
connections, the fake concierge and speech over real gRPC.

A visitor leg's condominium comes from the code in its UUID, or from the mapped port it arrived
on, and reaches the concierge in LegStarted; a visitor leg for no condominium served here hears
the apology (audio, never silence), gets the hangup frame, never reaches the concierge, and is
counted; a resident leg is never refused."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from porteiro_common.audiosocket import Kind
from porteiro_common.ids import session_id_for
from tests.gateway.support import AsteriskClient, start_stack

EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "directory" / "examples" / "tenants"
APOLOGY = "Desculpe, este interfone não está cadastrado no nosso atendimento. Até logo."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def refused() -> float:
    labels = {"condominium": "unknown"}
    return REGISTRY.get_sample_value("porteiro_gateway_condominium_calls_total", labels) or 0.0


@pytest.fixture
async def stack(tmp_path):
    folder = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, folder)
    mapped = free_port()
    running = await start_stack(tenants_dir=folder, port_map=f"{mapped}=bosque-das-araras")
    running.mapped_port = mapped
    yield running
    await running.close()


async def started_leg(stack, port: int, session_id: str):
    client = await AsteriskClient.connect(port, session_id)
    leg = await asyncio.wait_for(stack.concierge.legs.get(), 5)
    return client, leg.started


async def test_the_code_in_the_uuid_names_the_condominium(stack):
    client, started = await started_leg(stack, stack.visitor_port, session_id_for("1aca0da0"))
    assert started.condominium == "jacaranda"
    await client.close()


async def test_a_mapped_port_names_its_condominium_whatever_the_uuid(stack):
    client, started = await started_leg(stack, stack.mapped_port, str(uuid.uuid4()))
    assert started.condominium == "bosque-das-araras"
    await client.close()


async def test_an_unknown_code_hears_the_apology_then_the_hangup_frame(stack):
    before = refused()
    await stack.wait_fallback_ready()  # the apology is synthesized at start like the fallback
    client = await AsteriskClient.connect(stack.visitor_port, session_id_for("0badc0de"))
    await client.wait_closed(within=10)
    assert Kind.HANGUP in client.kinds()
    assert any(not frame.silent for frame in client.received), "the caller heard only silence"
    assert APOLOGY in stack.speech.synthesize_requests
    assert stack.concierge.legs.empty()  # the concierge never heard of it
    assert refused() == before + 1


async def test_a_resident_leg_is_never_refused(stack):
    client, started = await started_leg(stack, stack.resident_port, session_id_for("0badc0de"))
    assert started.condominium == ""
    await client.close()
