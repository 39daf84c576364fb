"""One call with the real offline recogniser (faster-whisper) and synthesiser (espeak-ng).

The callers' sentences are synthesized by the speech service itself and recognised
by it again: short phrases, plus keys where the flow allows them. Runs once (CPU).
"""

from __future__ import annotations

import dataclasses

import pytest

from porteiro_sim.scenarios import SCENARIOS
from tests.e2e.conftest import start_e2e, stop_e2e

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.acoustic]


async def test_delivery_with_the_real_recogniser_and_synthesiser(e2e_dir):
    e2e = await start_e2e(e2e_dir, fake=False)
    # Short phrases by voice ("Entrega.", "Meu nome é Pedro.", "Renata Oliveira.", "Sim, pode subir."),
    # the apartment on the keypad (espeak-ng's numbers are not recognised), and the resident
    # presses 1 if asked again.
    scenario = dataclasses.replace(SCENARIOS["delivery"], spoken_apartment=False)
    try:
        result = await e2e.call(scenario)
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        assert result.commands and result.commands[0].guid == result.session_id
        assert "resident_ack_authorized" in result.residents[0].heard_keys
        # The greeting and the outcome were identified on the wire, so the real synthesis reached the caller.
        assert result.visitor.heard_keys[0] == "greeting"
    finally:
        await stop_e2e(e2e)
