"""What the visitor hears when a part of the system fails in the middle of a call."""

from __future__ import annotations

import asyncio

import pytest

from porteiro_sim.metrics import scrape, value
from porteiro_sim.scenarios import SCENARIOS, VISITOR_OUTCOMES, caller_lines, visitor_answers
from porteiro_sim.script import AwaitEvent, AwaitHangUp, AwaitReply, Converse, Speak
from porteiro_sim.visitor import place_call
from tests.e2e.conftest import start_e2e, stop_e2e
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_speech_stopped_mid_call_plays_the_fallback_and_ends_the_call(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    try:
        await e2e.fake_speech.servicer.register_lines(["Entrega.", "Meu nome é João."])
        events = {"speech-stopped": asyncio.Event()}
        steps = [
            AwaitReply(),
            Speak("Entrega."),
            AwaitReply(),
            AwaitEvent("speech-stopped", 20),
            Speak("Meu nome é João."),
            AwaitHangUp(20),
        ]
        call = asyncio.create_task(
            place_call(
                "127.0.0.1", e2e.stack.visitor_port, steps, e2e.voice, events=events, matcher=e2e.matcher
            )
        )
        await _until(lambda: e2e.fake_speech.servicer.transcripts == ["Entrega."], 20)
        await asyncio.sleep(2.0)  # the concierge's question is played
        await e2e.fake_speech.stop()
        events["speech-stopped"].set()
        record = await asyncio.wait_for(call, 40)
        assert "fallback" in record.heard_keys, e2e.explain_leg(record)
        assert record.client.close_reason in ("hangup-frame", "eof")
        assert record.timed_out == []
        assert e2e.stack.gateway.running  # the gateway carries on
        samples = scrape(e2e.stack.gateway.metrics_url)
        assert value(samples, "porteiro_gateway_fallbacks_total", reason="speech") >= 1
    finally:
        await stop_e2e(e2e)


async def test_broker_unreachable_the_visitor_is_told_the_resident_cannot_be_called(e2e_dir):
    # Never stop the machine's RabbitMQ (others use it): the dialer reaches it through a proxy we cut.
    proxy = TcpProxy(("127.0.0.1", 5672)).start()
    e2e = await start_e2e(e2e_dir, amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F")
    try:
        proxy.close()
        result = await e2e.call("delivery")
        assert result.visitor_outcome == "visitor_dialer_unavailable", e2e.explain(result)
        assert result.commands == [] and result.residents == []
        assert result.visitor.client.close_reason in ("hangup-frame", "eof")
    finally:
        await stop_e2e(e2e)
        proxy.close()


async def test_concierge_killed_mid_call_a_second_one_carries_it_on(e2e_dir):
    gateway_env = {
        "PORTEIRO_GATEWAY_ON_DEPENDENCY_FAILURE": "retry",
        "PORTEIRO_GATEWAY_MAX_DEPENDENCY_FAILURES": "3",
    }
    e2e = await start_e2e(e2e_dir, redis=True, concierges=2, env={"gateway": gateway_env})
    try:
        scenario = SCENARIOS["delivery"]
        await e2e.fake_speech.servicer.register_lines(caller_lines(scenario))
        answers = visitor_answers("Entrega")
        # The fallback sentence is not the end here: the call goes on after it.
        steps = [Converse(answers, VISITOR_OUTCOMES - {"fallback"}, timeout=40, max_replies=20)]
        call = asyncio.create_task(e2e.call_with_steps(scenario, steps))
        await _until(lambda: len(e2e.fake_speech.servicer.transcripts) >= 1, 20)
        await asyncio.sleep(1.5)
        # Kill whichever concierge holds the call (gRPC picked one of the two addresses).
        first, second = sorted(e2e.stack.concierges, key=lambda c: -_visitor_turns(c))
        assert _visitor_turns(first) >= 1 and _visitor_turns(second) == 0
        first.kill()
        result = await asyncio.wait_for(call, 90)
        assert "fallback" in result.visitor.heard_keys, e2e.explain(result)
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        assert second.running and not first.running
        assert (
            value(scrape(second.metrics_url), "porteiro_concierge_call_outcomes_total", outcome="authorized")
            == 1
        )
    finally:
        await stop_e2e(e2e)


def _visitor_turns(concierge) -> float:
    return value(scrape(concierge.metrics_url), "porteiro_concierge_turns_total", leg="visitor")


async def _until(predicate, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not met")
