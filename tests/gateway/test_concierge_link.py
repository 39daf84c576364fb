"""ConciergeLink over real gRPC, with the OpenTelemetry client interceptors of production:
the Converse request stream ends however the call ends (issue 15's soak: gRPC's task reading
it was left waiting forever when the concierge closed the stream first, then destroyed by the
garbage collector: "Task was destroyed but it is pending", "aclose(): asynchronous generator is
already running")."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2, concierge_pb2_grpc
from porteiro_common.channels import create_channel
from porteiro_gateway.concierge_link import ConciergeGone, ConciergeLink, LegAction
from tests.gateway.fakes import FakeConcierge, FakeLeg, serve_concierge

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


@dataclass
class Talking:
    """A ConciergeLink talking to the fake concierge, both pumps running."""

    link: ConciergeLink
    leg: FakeLeg  # the concierge's side of the stream
    out: asyncio.Task
    into: asyncio.Task
    actions: list[LegAction]


@pytest.fixture
async def talking():
    fake = FakeConcierge()
    bound = await serve_concierge(fake)
    try:
        async with create_channel(f"127.0.0.1:{bound.port}", wait_for_ready=True) as channel:
            link = ConciergeLink(concierge_pb2_grpc.ConciergeServiceStub(channel), 60)
            actions: list[LegAction] = []
            link.open(STARTED)
            out = asyncio.create_task(link.pump_out())
            into = asyncio.create_task(link.pump_in(actions.append))
            leg = await asyncio.wait_for(fake.legs.get(), 5)
            yield Talking(link, leg, out, into, actions)
            for task in (out, into):
                task.cancel()
            await asyncio.gather(out, into, return_exceptions=True)
    finally:
        await bound.server.stop(0)


async def test_the_concierge_ending_the_stream_first_leaves_no_request_reader(talking):
    """The usual end of a call: the concierge closes its side (after HangUp) before the leg
    half-closes; the leg's LegEnded then finds the call over."""
    talking.leg.actions.put_nowait(None)  # the concierge ends the stream, status OK
    with pytest.raises(ConciergeGone, match="ended the stream"):
        await asyncio.wait_for(talking.into, 5)
    talking.link.finish(ENDED)
    await asyncio.wait_for(asyncio.gather(talking.out, return_exceptions=True), 5)
    assert await no_request_reader_left()
    assert talking.actions[0].WhichOneof("action") == "accepted"


async def test_a_stream_abandoned_after_it_failed_leaves_no_request_reader(talking):
    talking.leg.actions.put_nowait(None)
    with pytest.raises(ConciergeGone):
        await asyncio.wait_for(talking.into, 5)
    talking.link.abandon()  # no LegEnded: the leg drops a stream that is gone
    await asyncio.wait_for(asyncio.gather(talking.out, return_exceptions=True), 5)
    assert await no_request_reader_left()


async def test_a_leg_that_half_closes_first_gets_its_events_through(talking):
    """The other order: LegEnded and the half-close reach the concierge, which then ends."""
    talking.link.send(concierge_pb2.LegEvent(dtmf=concierge_pb2.Dtmf(digit="5")))
    talking.link.finish(ENDED)
    await asyncio.wait_for(talking.leg.closed.wait(), 5)
    await asyncio.wait_for(asyncio.gather(talking.out, talking.into), 5)
    assert await no_request_reader_left()
    kinds = [event.WhichOneof("event") for event in talking.leg.received]
    assert kinds == ["dtmf", "leg_ended"]
