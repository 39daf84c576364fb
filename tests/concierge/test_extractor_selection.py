"""PORTEIRO_CONCIERGE_LLM_MODEL selects CrewAI; with the LLM unreachable the call still goes on."""

from __future__ import annotations

import pytest

from tests.support.processes import free_port

pytestmark = pytest.mark.slow  # importing crewai takes seconds


async def test_unreachable_llm_falls_back_to_deterministic(concierge_factory, fakes, session_id):
    concierge = await concierge_factory(
        llm_model="openai/porteiro-test",
        llm_base_url=f"http://127.0.0.1:{free_port()}/v1",  # nothing listens there
        llm_api_key="test-key",
        llm_timeout_seconds=2.0,
    )
    assert concierge.app.reader.extractor.name == "crewai"
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Aqui é o João, entrega para a Renata do 501")
    await visitor.expect("entrega para Renata Oliveira", timeout=10)
