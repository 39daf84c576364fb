"""Rollouts that don't cut calls (issue 16, item 3), on the real stack as processes.

SIGTERM to the gateway in the middle of a call: its health stays served (NOT_SERVING),
a new visitor leg is refused with a hangup frame, the call's resident leg is still taken
and the call ends with its final sentence; then the gateway exits by itself. SIGTERM to
the one of two concierge replicas (sharing Redis) that holds a call: it hands the
streams over, the gateway reopens them on the other replica, which carries the call on
to its outcome; the visitor hears no fallback.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from porteiro_sim.metrics import scrape, value
from porteiro_sim.pbx import Pbx, Resident, resident_says
from porteiro_sim.scenarios import SCENARIOS, VISITOR_OUTCOMES, visitor_answers
from porteiro_sim.script import AwaitHangUp, Converse, LegRecord
from porteiro_sim.stack import ServiceProcess
from porteiro_sim.visitor import place_call
from tests.e2e.conftest import E2E, start_e2e, stop_e2e

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DELIVERY = SCENARIOS["delivery"]
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def answering() -> Converse:
    return Converse(visitor_answers("Entrega"), VISITOR_OUTCOMES, timeout=40.0, max_replies=20)


def visitor_call(e2e: E2E, pbx: Pbx, steps: list) -> asyncio.Task[LegRecord]:
    return asyncio.create_task(
        place_call(
            "127.0.0.1", e2e.stack.visitor_port, steps, e2e.voice, events=pbx.events, matcher=e2e.matcher
        )
    )


async def health(service: ServiceProcess) -> int:
    async with grpc.aio.insecure_channel(service.target) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        return reply.status


async def until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)


async def test_sigterm_to_the_gateway_mid_call_lets_the_call_finish(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    gateway = e2e.stack.gateway
    # The phone rings 2.5 s: the resident's leg connects while the gateway drains.
    pbx = await e2e.start_pbx(Resident(resident_says("#1"), None, 2.5), DELIVERY)
    try:
        call = visitor_call(e2e, pbx, [answering()])
        ringing = pbx.events.setdefault("resident-ringing", asyncio.Event())
        await asyncio.wait_for(ringing.wait(), 40)
        gateway.terminate()
        signalled = time.monotonic()

        # Health is still served, and says NOT_SERVING, all through the drain.
        statuses = [await health(gateway)]
        await asyncio.sleep(1.2)  # the shutdown delay: the drain has begun
        newcomer = await place_call("127.0.0.1", e2e.stack.visitor_port, [AwaitHangUp(5.0)], None)
        statuses.append(await health(gateway))

        visitor = await asyncio.wait_for(call, 60)
        await pbx.wait_idle(30)
        assert visitor.client.close_reason in ("hangup-frame", "eof"), e2e.explain_leg(visitor)
        assert "visitor_authorized_delivery" in visitor.heard_keys, e2e.explain_leg(visitor)
        [resident] = pbx.legs
        assert resident.client.uuid_sent_at > signalled + 1.0  # connected during the drain
        assert "resident_ack_authorized" in resident.heard_keys, e2e.explain_leg(resident)
        assert statuses == [NOT_SERVING, NOT_SERVING]
        assert newcomer.client.close_reason == "hangup-frame" and newcomer.segments == []
        assert await gateway.wait_exit(15) == 0, gateway.logs()
        assert "leg ended: shutdown" not in gateway.logs()
    finally:
        await pbx.stop()
        await stop_e2e(e2e)


async def test_sigterm_to_a_gateway_refuses_a_resident_leg_of_a_call_it_does_not_carry(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    gateway = e2e.stack.gateway
    pbx = await e2e.start_pbx(Resident([AwaitHangUp(40.0)], None, 0.3), DELIVERY)
    try:
        call = visitor_call(e2e, pbx, [answering()])
        await asyncio.wait_for(pbx.events.setdefault("resident-ringing", asyncio.Event()).wait(), 40)
        gateway.terminate()
        await asyncio.sleep(1.5)
        stranger = await place_call(
            "127.0.0.1",
            e2e.stack.resident_port,
            [AwaitHangUp(5.0)],
            None,
            role="resident",
            session_id="0b9f7f5e-4c4a-4d36-9d5e-0a0b3c1d2e3f",
        )
        assert stranger.client.close_reason == "hangup-frame" and stranger.segments == []
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
    finally:
        await pbx.stop()
        await stop_e2e(e2e)


async def test_sigterm_to_one_of_two_concierges_mid_call_the_other_carries_it_on(e2e_dir):
    e2e = await start_e2e(e2e_dir, redis=True, concierges=2)  # the gateway hangs up on a real failure
    pbx = await e2e.start_pbx(Resident(resident_says("#1"), None, 0.5), DELIVERY)
    try:
        call = visitor_call(e2e, pbx, [answering()])
        await until(lambda: len(e2e.fake_speech.servicer.transcripts) >= 1, 20, "the first answer")
        await asyncio.sleep(1.5)
        first, second = sorted(e2e.stack.concierges, key=lambda c: -_visitor_turns(c))
        assert _visitor_turns(first) >= 1 and _visitor_turns(second) == 0
        first.terminate()

        visitor = await asyncio.wait_for(call, 90)
        await pbx.wait_idle(30)
        assert "visitor_authorized_delivery" in visitor.heard_keys, e2e.explain_leg(visitor)
        assert "fallback" not in visitor.heard_keys, e2e.explain_leg(visitor)
        assert await first.wait_exit(20) == 0, first.logs()
        assert "leg handed over" in first.logs()
        outcomes = scrape(second.metrics_url)
        assert value(outcomes, "porteiro_concierge_call_outcomes_total", outcome="authorized") == 1
        assert _visitor_turns(second) >= 1  # the conversation went on there
    finally:
        await pbx.stop()
        await stop_e2e(e2e)


def _visitor_turns(concierge: ServiceProcess) -> float:
    return value(scrape(concierge.metrics_url), "porteiro_concierge_turns_total", leg="visitor")
