"""Sessions in real Redis: two concierge processes serve the two legs of one call, and a restart loses nothing."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from redis import asyncio as redis_asyncio

from tests.concierge.driver import LegDriver

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"
SESSION_KEY = "porteiro:concierge:session:{}"


@pytest.fixture
def start_concierge(run_service, fakes):
    async def start():
        service = run_service(
            "porteiro_concierge",
            "PORTEIRO_CONCIERGE_",
            {
                "REDIS_URL": REDIS_URL,  # the plain name is accepted too
                "PORTEIRO_CONCIERGE_DIRECTORY_TARGET": fakes.target,
                "PORTEIRO_CONCIERGE_DIALER_TARGET": fakes.target,
                "PORTEIRO_CONCIERGE_RESIDENT_CONNECT_TIMEOUT_SECONDS": "1.5",
                "PORTEIRO_CONCIERGE_DEADLINE_REREAD_SECONDS": "0.05",
            },
        )
        await asyncio.to_thread(service.wait_serving, 60)
        return service

    return start


@pytest.fixture
async def redis():
    client = redis_asyncio.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


async def test_two_processes_serve_the_two_legs_of_one_call(start_concierge, fakes, redis, session_id):
    first, second = await start_concierge(), await start_concierge()
    async with grpc.aio.insecure_channel(first.target) as a, grpc.aio.insecure_channel(second.target) as b:
        visitor = LegDriver(a, session_id, "visitor")
        traceparent = await visitor.start()
        await visitor.expect("em que posso ajudar")
        await visitor.utter("Boa tarde, aqui é o João, entrega para a Renata do 501")
        await visitor.expect("entrega para Renata Oliveira")
        await fakes.dialer.next_call()
        assert 0 < await redis.ttl(SESSION_KEY.format(session_id)) <= 900

        resident = LegDriver(b, session_id, "resident")
        assert await resident.start() == traceparent
        await resident.expect("João", "entrega", "501")
        await visitor.expect("O morador atendeu")  # said by process B, heard through process A
        await resident.utter("Pode subir")
        await visitor.expect("autorizou")
        await visitor.expect_hangup()
        await resident.expect_hangup()
    assert not await redis.exists(SESSION_KEY.format(session_id))


async def test_restart_mid_call_loses_nothing(start_concierge, fakes, redis, session_id):
    first = await start_concierge()
    async with grpc.aio.insecure_channel(first.target) as channel:
        visitor = LegDriver(channel, session_id, "visitor")
        await visitor.start()
        await visitor.utter("Aqui é o João, tenho uma entrega")
        await visitor.expect("Qual é o nome do morador")
    first.kill()  # no goodbye: the process dies

    second = await start_concierge()
    async with grpc.aio.insecure_channel(second.target) as channel:
        visitor = LegDriver(channel, session_id, "visitor")  # the gateway's new stream
        await visitor.start()
        await visitor.expect("vamos continuar")
        await visitor.expect("Qual é o nome completo do morador")  # intent and name were kept
        await visitor.utter("Para a Renata do 501")
        await visitor.expect("João", "entrega para Renata Oliveira")
        assert (await fakes.dialer.next_call()).attempt == 1
    second.kill()  # dies while the resident is being called; its timer dies with it

    third = await start_concierge()
    async with grpc.aio.insecure_channel(third.target) as channel:
        visitor = LegDriver(channel, session_id, "visitor")
        await visitor.start()
        await visitor.expect("Ainda estou chamando")
        # The connect deadline stored in Redis is re-armed here: attempt 2 follows.
        assert (await fakes.dialer.next_call(timeout=6)).attempt == 2
        resident = LegDriver(channel, session_id, "resident")
        await resident.start()
        await resident.expect("João", "entrega")
        await resident.press("1")
        await visitor.expect("autorizou")
        await visitor.expect_hangup()
        await resident.expect_hangup()
