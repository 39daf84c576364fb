"""One stack serving two condominiums at once (issue 20), through the real gateway, concierge,
directory and dialer processes, RabbitMQ and the simulators (the scripted speech fake).

The two condominiums have the sample condominium's apartments (so the simulators' scenarios
apply) with their own names, greetings and destinations: a call carrying one's code in its
UUID must greet with that one's name and ring that one's resident. A UUID with no served code
hears the apology and is hung up; a condominium written into the folder while the stack runs
takes calls within the reload interval.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from porteiro_common.ids import session_id_for
from porteiro_directory.settings import SAMPLE_DATA_FILE
from porteiro_sim.metrics import scrape, value
from tests.e2e.conftest import FAST_ENV, start_e2e, stop_e2e

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

RELOAD_SECONDS = 0.5
APOLOGY = "Desculpe, este interfone não está cadastrado no nosso atendimento. Até logo."
CONDOMINIUMS = {
    "araras": (
        "b05c0a2a",
        "Condomínio Bosque das Araras",
        "Bosque das Araras, bom dia! Em que posso ajudar?",
    ),
    "jacaranda": ("1aca0da0", "Residencial Jacarandá", "Residencial Jacarandá, em que posso ajudar?"),
}


def write_condominium(folder: Path, condominium_id: str, code: str, name: str, greeting: str) -> None:
    """A tenant subfolder: the sample apartments, each dialled at this condominium's own address."""
    apartments = json.loads(SAMPLE_DATA_FILE.read_text(encoding="utf-8"))
    for apartment in apartments:
        apartment["voip_number"] = f"sip:{apartment['apartment_number']}@{condominium_id}.example"
    staging = folder / f".{condominium_id}"  # hidden while written: the reload sees it whole
    staging.mkdir()
    (staging / "directory.json").write_text(json.dumps(apartments), encoding="utf-8")
    (staging / "condominium.yaml").write_text(
        yaml.safe_dump({"code": code, "name": name}, allow_unicode=True), encoding="utf-8"
    )
    (staging / "prompts.yaml").write_text(
        yaml.safe_dump({"greeting": greeting}, allow_unicode=True), encoding="utf-8"
    )
    staging.rename(folder / condominium_id)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tenants_e2e(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tenants")
    folder = tmp / "condominiums"
    folder.mkdir()
    for condominium_id, (code, name, greeting) in CONDOMINIUMS.items():
        write_condominium(folder, condominium_id, code, name, greeting)
    reload = {"RELOAD_INTERVAL_SECONDS": str(RELOAD_SECONDS), "TENANTS_DIR": str(folder)}
    env = {
        service: {
            **FAST_ENV.get(service, {}),
            **{f"PORTEIRO_{service.upper()}_{key}": item for key, item in reload.items()},
        }
        for service in ("directory", "concierge", "gateway")
    }
    env["concierge"]["PORTEIRO_CONCIERGE_METRICS_CONDOMINIUMS"] = "*"
    e2e = await start_e2e(tmp, env=env)
    e2e.folder = folder
    yield e2e
    await stop_e2e(e2e)


def greetings_heard(e2e, since: int) -> list[str]:
    return [text for text in e2e.fake_speech.servicer.synthesized[since:] if "ajudar" in text]


def condominium_calls(e2e, condominium: str, outcome: str = "authorized") -> float:
    return sum(
        value(
            scrape(c.metrics_url),
            "porteiro_concierge_condominium_call_outcomes_total",
            condominium=condominium,
            outcome=outcome,
        )
        for c in e2e.stack.concierges
        if c.running
    )


async def test_each_condominium_greets_with_its_name_and_rings_its_resident(tenants_e2e):
    e2e = tenants_e2e
    for condominium_id, (code, _name, greeting) in CONDOMINIUMS.items():
        before = condominium_calls(e2e, condominium_id)
        synthesized = len(e2e.fake_speech.servicer.synthesized)
        result = await e2e.call("delivery", session_id=session_id_for(code))
        assert result.succeeded, e2e.explain(result)
        assert result.visitor_outcome == "visitor_authorized_delivery"
        assert greetings_heard(e2e, synthesized)[:1] == [greeting]
        assert [command.origin for command in result.commands] == [f"sip:501@{condominium_id}.example"]
        assert condominium_calls(e2e, condominium_id) == before + 1


async def test_both_condominiums_at_the_same_time(tenants_e2e):
    e2e = tenants_e2e
    sessions = {condominium_id: session_id_for(code) for condominium_id, (code, *_) in CONDOMINIUMS.items()}
    results = await asyncio.gather(*(e2e.call("delivery", session_id=s) for s in sessions.values()))
    for result in results:
        assert result.succeeded, e2e.explain(result)
    # The two calls' PBX simulators share the queue: which one took which command does not matter.
    commands = {command.guid: command.origin for result in results for command in result.commands}
    assert commands == {
        session: f"sip:501@{condominium_id}.example" for condominium_id, session in sessions.items()
    }


async def test_a_call_with_an_unknown_code_hears_the_apology_and_is_hung_up(tenants_e2e):
    e2e = tenants_e2e
    metrics_url = e2e.stack.gateway.metrics_url
    refused = value(scrape(metrics_url), "porteiro_gateway_condominium_calls_total", condominium="unknown")
    synthesized = len(e2e.fake_speech.servicer.synthesized)
    result = await e2e.call("delivery", session_id=session_id_for("0badc0de"))
    assert result.visitor.client.close_reason == "hangup-frame", e2e.explain(result)
    assert result.commands == [] and result.residents == []
    assert greetings_heard(e2e, synthesized) == []  # the concierge never took the call
    assert APOLOGY in e2e.fake_speech.servicer.synthesized
    after = value(scrape(metrics_url), "porteiro_gateway_condominium_calls_total", condominium="unknown")
    assert after == refused + 1


async def test_a_condominium_added_to_the_folder_takes_calls_without_restart(tenants_e2e):
    e2e = tenants_e2e
    pids = [service.process.pid for service in e2e.stack.services if service.process]
    greeting = "Edifício Ipê Amarelo, boa tarde! Em que posso ajudar?"
    write_condominium(e2e.folder, "ipe", "0000a1be", "Edifício Ipê Amarelo", greeting)
    await asyncio.sleep(RELOAD_SECONDS * 4)  # a few reload intervals of every service
    synthesized = len(e2e.fake_speech.servicer.synthesized)
    result = await e2e.call("delivery", session_id=session_id_for("0000a1be"))
    assert result.succeeded, e2e.explain(result)
    assert greetings_heard(e2e, synthesized)[:1] == [greeting]
    assert [command.origin for command in result.commands] == ["sip:501@ipe.example"]
    assert [
        service.process.pid for service in e2e.stack.services if service.process
    ] == pids  # nothing restarted
