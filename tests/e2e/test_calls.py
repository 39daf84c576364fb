"""Whole calls through the five real services, RabbitMQ and the simulators.

The recogniser is the scripted fake (tests/e2e/fake_speech.py) so outcomes are
deterministic; every other part is the real thing.
"""

from __future__ import annotations

import asyncio

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


async def test_delivery_authorized_by_the_residents_voice(shared_e2e):
    before = shared_e2e.outcomes("authorized")
    result = await shared_e2e.call("delivery")
    assert result.succeeded, shared_e2e.explain(result)
    assert result.visitor_outcome == "visitor_authorized_delivery"
    assert [command.guid for command in result.commands] == [result.session_id]
    [resident] = result.residents
    assert resident.client.session_id == result.session_id
    assert "resident_ack_authorized" in resident.heard_keys
    assert resident.turns[0].text == "Sim, pode subir."
    assert result.visitor.client.close_reason in ("hangup-frame", "eof")
    assert shared_e2e.outcomes("authorized") == before + 1


async def test_visit_denied(shared_e2e):
    result = await shared_e2e.call("denied")
    assert result.visitor_outcome == "visitor_denied", shared_e2e.explain(result)
    assert "resident_ack_denied" in result.residents[0].heard_keys
    assert result.succeeded


async def test_delivery_left_at_the_front_desk(shared_e2e):
    result = await shared_e2e.call("front-desk")
    assert result.visitor_outcome == "visitor_left_at_front_desk", shared_e2e.explain(result)
    assert "resident_ack_left_at_front_desk" in result.residents[0].heard_keys


async def test_no_answer_on_both_attempts(shared_e2e):
    before = shared_e2e.outcomes("no_answer")
    result = await shared_e2e.call("no-answer")
    assert result.visitor_outcome == "visitor_no_answer", shared_e2e.explain(result)
    assert len(result.commands) == 2 and {c.guid for c in result.commands} == {result.session_id}
    assert result.residents == []
    assert shared_e2e.outcomes("no_answer") == before + 1


async def test_visitor_hangs_up_while_the_resident_is_called(shared_e2e):
    before = shared_e2e.outcomes("visitor_hung_up")
    result = await shared_e2e.call("visitor-hangs-up")
    assert result.succeeded, shared_e2e.explain(result)
    assert result.visitor_outcome is None  # hung up before any outcome
    for _ in range(50):
        if shared_e2e.outcomes("visitor_hung_up") > before:
            break
        await asyncio.sleep(0.2)
    assert shared_e2e.outcomes("visitor_hung_up") == before + 1


async def test_keypad_fallback_for_the_apartment(shared_e2e):
    result = await shared_e2e.call("keypad")
    assert "offer_keypad" in result.visitor.heard_keys, shared_e2e.explain(result)
    assert any(turn.text == "[DTMF 501#]" for turn in result.visitor.turns)
    assert result.visitor_outcome == "visitor_authorized_delivery", shared_e2e.explain(result)
    assert result.residents[0].turns[0].text == "[DTMF 1]"
