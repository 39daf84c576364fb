"""ConciergeLink over real gRPC, with the OpenTelemetry client interceptors of production:
the Converse request stream ends however the call ends (issue 15's soak: gRPC's task reading
it was left waiting forever when the concierge closed the stream first, then destroyed by the
garbage collector: "Task was destroyed but it is pending", "aclose(): asynchronous generator is
already running")."""

from __future__ import annotations

import asyncio

import pytest

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc
from porteiro_common.channels import create_channel
from porteiro_gateway.concierge_link import ConciergeGone, ConciergeLink, LegAction
from tests.gateway.fakes import FakeConcierge, serve_concierge

STARTED = concierge_pb2.LegStarted(session_id="s-1", leg=common_pb2.LEG_VISITOR, sample_rate_hz=8000)
ENDED = concierge_pb2.LegEnded(reason=concierge_pb2.LEG_END_REASON_HANGUP_REQUESTED)


def request_readers() -> list[asyncio.Task]:
    """gRPC's tasks that read a call's request stream, still waiting for a message."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and "_consume_request_iterator" in repr(task.get_coro())
    ]


async def no_request_reader_left(within: float = 1.0) -> bool:
    for _ in range(int(within / 0.01)):
        if not request_readers():
            return True
        await asyncio.sleep(0.01)
    return not request_readers()


@pytest.fixture
async def concierge():
    fake = FakeConcierge()
    bound = await serve_concierge(fake)
    try:
        yield fake, bound.port
    finally:
        await bound.server.stop(0)


async def pumped(link: ConciergeLink, actions: list[LegAction]) -> tuple[asyncio.Task, asyncio.Task]:
    link.open(STARTED)
    return asyncio.create_task(link.pump_out()), asyncio.create_task(link.pump_in(actions.append))


async def test_the_concierge_ending_the_stream_first_leaves_no_request_reader(concierge):
    """The usual end of a call: the concierge closes its side (after HangUp) before the leg
    half-closes; the leg's LegEnded then finds the call over."""
    fake, port = concierge
    async with create_channel(f"127.0.0.1:{port}", wait_for_ready=True) as channel:
        link = ConciergeLink(concierge_pb2_grpc.ConciergeServiceStub(channel), 60)
        actions: list[LegAction] = []
        out, into = await pumped(link, actions)
        leg = await asyncio.wait_for(fake.legs.get(), 5)
        leg.actions.put_nowait(None)  # the concierge ends the stream, status OK
        with pytest.raises(ConciergeGone, match="ended the stream"):
            await asyncio.wait_for(into, 5)
        link.finish(ENDED)
        await asyncio.wait_for(asyncio.gather(out, return_exceptions=True), 5)
        assert await no_request_reader_left()
    assert actions[0].WhichOneof("action") == "accepted"


async def test_a_stream_abandoned_after_it_failed_leaves_no_request_reader(concierge):
    fake, port = concierge
    async with create_channel(f"127.0.0.1:{port}", wait_for_ready=True) as channel:
        link = ConciergeLink(concierge_pb2_grpc.ConciergeServiceStub(channel), 60)
        out, into = await pumped(link, [])
        leg = await asyncio.wait_for(fake.legs.get(), 5)
        leg.actions.put_nowait(None)
        with pytest.raises(ConciergeGone):
            await asyncio.wait_for(into, 5)
        link.abandon()  # no LegEnded: the leg drops a stream that is gone
        await asyncio.wait_for(asyncio.gather(out, return_exceptions=True), 5)
        assert await no_request_reader_left()


async def test_a_leg_that_half_closes_first_gets_its_events_through(concierge):
    """The other order: LegEnded and the half-close reach the concierge, which then ends."""
    fake, port = concierge
    async with create_channel(f"127.0.0.1:{port}", wait_for_ready=True) as channel:
        link = ConciergeLink(concierge_pb2_grpc.ConciergeServiceStub(channel), 60)
        out, into = await pumped(link, [])
        leg = await asyncio.wait_for(fake.legs.get(), 5)
        link.send(concierge_pb2.LegEvent(dtmf=concierge_pb2.Dtmf(digit="5")))
        link.finish(ENDED)
        await asyncio.wait_for(leg.closed.wait(), 5)
        await asyncio.wait_for(asyncio.gather(out, into), 5)
        assert await no_request_reader_left()
    kinds = [event.WhichOneof("event") for event in leg.received]
    assert kinds == ["dtmf", "leg_ended"]
