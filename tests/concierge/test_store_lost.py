"""Redis lost mid-call (issue 15, item 3): words within 2 s, one log line, a FAILED record, recovery.

A concierge in this process keeps its sessions in the real Redis, reached through a TCP
proxy the test cuts (the machine's Redis is shared: it is never stopped). The legs are
driven over real gRPC streams (tests/concierge/driver.py), the directory is real, the
dialer the fake of tests/concierge/conftest.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

REDIS = ("127.0.0.1", 6379)
TECHNICAL_PROBLEM = "problema técnico"
# The bound the issue sets from the cut to the caller hearing a sentence.
WORDS_WITHIN_SECONDS = 2.0


def redis_failures() -> float:
    samples = {"reason": "dependency_redis"}
    return REGISTRY.get_sample_value("porteiro_concierge_call_failures_total", samples) or 0.0


@pytest.fixture
def redis_proxy():
    proxy = TcpProxy(REDIS).start()
    yield proxy
    proxy.close()


@pytest.fixture
async def shared_concierge(concierge_factory, redis_proxy):
    return await concierge_factory(redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0")


async def test_redis_cut_while_the_resident_decides_both_legs_hear_words_and_the_call_is_failed(
    shared_concierge, redis_proxy, fakes, session_id, caplog
):
    visitor = shared_concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Aqui é o João, entrega para a Renata do 501")
    await visitor.expect("entrega para Renata Oliveira")
    await fakes.dialer.next_call()
    resident = shared_concierge.leg(session_id, "resident")
    await resident.start()
    await resident.expect("Pode liberar")
    before = redis_failures()

    caplog.set_level(logging.INFO, logger="porteiro_concierge")
    cut = time.monotonic()
    redis_proxy.close()
    # Nobody speaks: the legs learn it from their broken subscription, not from an event.
    said = await visitor.expect(TECHNICAL_PROBLEM, timeout=WORDS_WITHIN_SECONDS)
    assert time.monotonic() - cut <= WORDS_WITHIN_SECONDS, said
    await resident.expect(TECHNICAL_PROBLEM, timeout=WORDS_WITHIN_SECONDS)
    await visitor.expect_hangup()
    await resident.expect_hangup()

    assert redis_failures() == before + 1  # both legs in this process: one call, one record
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.exc_info is None for r in problems), "no traceback per failed operation"
    # Per leg: the first failure, the broken subscription, the count at the end of the leg.
    assert len(problems) <= 6, [r.getMessage() for r in problems]
    counted = [r for r in problems if r.getMessage() == "session store unreachable during the call"]
    assert counted and all(r.failures >= 1 for r in counted)


async def test_redis_cut_while_the_visitor_is_silent_ends_the_call_in_words(
    shared_concierge, redis_proxy, session_id
):
    visitor = shared_concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    cut = time.monotonic()
    redis_proxy.close()
    await visitor.expect(TECHNICAL_PROBLEM, timeout=WORDS_WITHIN_SECONDS)
    assert time.monotonic() - cut <= WORDS_WITHIN_SECONDS
    await visitor.expect_hangup()


async def test_the_next_call_works_once_redis_is_back_without_a_restart(
    shared_concierge, redis_proxy, fakes, session_id
):
    first = shared_concierge.leg(session_id, "visitor")
    await first.start()
    await first.expect("em que posso ajudar")
    redis_proxy.close()
    await first.expect(TECHNICAL_PROBLEM, timeout=WORDS_WITHIN_SECONDS)
    await first.expect_hangup()

    redis_proxy.reopen()
    second = shared_concierge.leg(str(uuid.uuid4()), "visitor")
    await second.start()
    await second.expect("em que posso ajudar")
    await second.utter("Aqui é o João, entrega para a Renata do 501")
    await second.expect("entrega para Renata Oliveira")
    await fakes.dialer.next_call()


async def test_a_leg_that_starts_while_redis_is_away_is_refused_as_unavailable(
    shared_concierge, redis_proxy, session_id
):
    redis_proxy.close()
    visitor = shared_concierge.leg(session_id, "visitor")
    with pytest.raises(Exception) as refused:
        await visitor.start()
    assert "UNAVAILABLE" in str(refused.value) and "session store" in str(refused.value)
    await asyncio.sleep(0)
