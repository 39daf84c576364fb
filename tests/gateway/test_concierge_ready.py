"""ConciergeLink over real gRPC (issue 15): a new Converse stream waits for a restarting
concierge, within `ready_seconds`, and fails clearly past it."""

from __future__ import annotations

import asyncio
import time

import pytest

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc
from porteiro_common.channels import create_channel
from porteiro_gateway.concierge_link import ConciergeGone, ConciergeLink, LegAction
from tests.gateway.fakes import FakeConcierge, serve_concierge

STARTED = concierge_pb2.LegStarted(session_id="s-1", leg=common_pb2.LEG_VISITOR, sample_rate_hz=8000)


async def converse(link: ConciergeLink, actions: list[LegAction]) -> None:
    """Run the stream's two pumps until the first action arrives (or the stream fails)."""
    link.open(STARTED)
    out = asyncio.create_task(link.pump_out())
    got_one = asyncio.Event()

    def on_action(action: LegAction) -> None:
        actions.append(action)
        got_one.set()

    into = asyncio.create_task(link.pump_in(on_action))
    try:
        waiting = asyncio.create_task(got_one.wait())
        done, _ = await asyncio.wait({into, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if into in done:
            into.result()  # raises what ended the stream
    finally:
        link.abandon()
        for task in (out, into):
            task.cancel()
        await asyncio.gather(out, into, return_exceptions=True)


async def test_a_stream_opened_while_the_concierge_restarts_is_accepted_once_it_is_back():
    fake = FakeConcierge()
    first = await serve_concierge(fake)
    port = first.port
    await first.server.stop(0)
    async with create_channel(f"127.0.0.1:{port}", wait_for_ready=True) as channel:
        link = ConciergeLink(concierge_pb2_grpc.ConciergeServiceStub(channel), 60, ready_seconds=4.0)
        actions: list[LegAction] = []
        talking = asyncio.create_task(converse(link, actions))
        await asyncio.sleep(1.0)  # down meanwhile: the stream waits instead of failing
        assert not talking.done()
        restarted = await serve_concierge(fake, port)
        try:
            await asyncio.wait_for(talking, 5)
        finally:
            await restarted.server.stop(0)
    assert actions[0].WhichOneof("action") == "accepted"
    leg = fake.legs.get_nowait()
    assert leg.started.session_id == "s-1"


async def test_a_concierge_not_back_within_ready_seconds_is_a_clear_failure():
    async with create_channel("127.0.0.1:1", wait_for_ready=True) as channel:
        link = ConciergeLink(concierge_pb2_grpc.ConciergeServiceStub(channel), 60, ready_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(ConciergeGone, match="not ready within 0.5 s"):
            await converse(link, [])
        assert 0.4 <= time.monotonic() - started < 2.0
