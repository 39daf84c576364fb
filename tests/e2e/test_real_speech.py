"""Calls with the real offline recogniser (faster-whisper) and synthesiser (espeak-ng).

The callers' sentences are synthesized by the speech service itself and recognised
by it again: short phrases, plus keys where the flow allows them. One stack for the
module, so whisper loads once.
"""

from __future__ import annotations

import dataclasses

import pytest
import pytest_asyncio

from porteiro_sim.call import run_call
from porteiro_sim.scenarios import CALLER_VOICE, CALLER_WORDS_PER_MINUTE, SCENARIOS
from porteiro_sim.speech import EspeakVoice
from tests.e2e.conftest import start_e2e, stop_e2e

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.acoustic,
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def real_e2e(tmp_path_factory):
    """One stack with the real speech service for the module."""
    e2e = await start_e2e(tmp_path_factory.mktemp("e2e-real"), fake=False)
    yield e2e
    await stop_e2e(e2e)


async def test_delivery_with_the_real_recogniser_and_synthesiser(real_e2e):
    e2e = real_e2e
    # Short phrases by voice ("Entrega.", "Meu nome é Pedro.", "Renata Oliveira.", "Sim, pode subir."),
    # the apartment on the keypad (espeak-ng's numbers are not recognised), and the resident
    # presses 1 if asked again.
    scenario = dataclasses.replace(SCENARIOS["delivery"], spoken_apartment=False)
    result = await e2e.call(scenario)
    assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
    assert result.commands and result.commands[0].guid == result.session_id
    assert "resident_ack_authorized" in result.residents[0].heard_keys
    # The greeting and the outcome were identified on the wire, so the real synthesis reached the caller.
    assert result.visitor.heard_keys[0] == "greeting"


async def test_visit_denied_with_the_real_recogniser_and_synthesiser(real_e2e):
    """The visit intent by voice: espeak-ng's "Visita." is never recognised, "Eu sou amiga." is.

    The callers speak with the demo's caller voice (another espeak-ng variant and pace);
    the resident refuses by voice ("Não, não conheço.") and presses 2 if asked again.
    """
    e2e = real_e2e
    scenario = dataclasses.replace(SCENARIOS["denied"], spoken_apartment=False)
    callers = EspeakVoice(CALLER_VOICE, CALLER_WORDS_PER_MINUTE)
    result = await run_call(
        scenario,
        visitor_port=e2e.stack.visitor_port,
        resident_port=e2e.stack.resident_port,
        voice=callers,
        matcher=e2e.matcher,
        queue=e2e.queue,
        ring_seconds=0.3,
        final_timeout=40.0,
    )
    assert result.visitor_outcome == "visitor_denied", e2e.explain(result)
    assert "ask_visitor_name" in result.visitor.heard_keys  # the visit intent was understood by voice
    assert "resident_ack_denied" in result.residents[0].heard_keys
