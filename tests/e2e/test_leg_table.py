"""A whole call while others press on the gateway's leg table (issue 15, items 5 and 6).

The five services as processes, RabbitMQ, the visitor and PBX simulators, the scripted
recogniser. The gateway has 10 legs, 2 kept for residents. While a delivery call runs,
connections that send a UUID and then nothing keep the visitor port's share full, and a
hijacker connects again and again with the call's own UUID, sending audio. The call must
end as if they were not there: its resident gets in, and only the real visitor steers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import pytest

from porteiro_common.audiosocket import SILENCE_FRAME, Kind, encode_audio, encode_uuid, read_frame
from porteiro_sim.metrics import scrape, value
from tests.e2e.conftest import FAST_ENV, start_e2e, stop_e2e

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

MAX_LEGS, RESERVE_SHARE = 10, 0.2
GATEWAY_ENV = {
    **FAST_ENV["gateway"],
    "PORTEIRO_GATEWAY_MAX_LEGS": str(MAX_LEGS),
    "PORTEIRO_GATEWAY_RESIDENT_RESERVE_SHARE": str(RESERVE_SHARE),
}
SILENT_CONNECTIONS = 12  # more than the visitor port's share (8): kept that many at all times


@dataclass
class Pressure:
    silent_opened: int = 0
    silent_ended_by_gateway: int = 0
    # (when it connected, the kinds of the frames it got) for each hijacker
    hijacks: list[tuple[float, list[int]]] = field(default_factory=list)

    def hijacks_before(self, moment: float) -> list[list[int]]:
        return [kinds for began, kinds in self.hijacks if began < moment]


async def frames_until_closed(reader: asyncio.StreamReader, within: float) -> list[int]:
    """The kinds of the frames the gateway sends until it closes (or `within` passes)."""
    kinds: list[int] = []
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(within):
            while (frame := await read_frame(reader)) is not None:
                kinds.append(frame.kind)
    return kinds


async def silent_connection(port: int, pressure: Pressure) -> None:
    """A UUID, then nothing: the gateway refuses it or ends it within its first-audio timeout."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pressure.silent_opened += 1
    try:
        writer.write(encode_uuid(str(uuid.uuid4())))
        kinds = await frames_until_closed(reader, within=10.0)
        if kinds and kinds[-1] == Kind.HANGUP:
            pressure.silent_ended_by_gateway += 1
    finally:
        writer.close()


async def hijack(port: int, session_id: str, pressure: Pressure) -> None:
    """The call's own UUID on a second connection, then audio as Asterisk would send it."""
    began = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(encode_uuid(session_id) + encode_audio(SILENCE_FRAME) * 5)
        pressure.hijacks.append((began, await frames_until_closed(reader, within=3.0)))
    finally:
        writer.close()


async def press(port: int, session_id: str, stop: asyncio.Event, pressure: Pressure) -> None:
    await hijack(port, session_id, pressure)  # while the table has room: refused for the UUID alone
    silent: set[asyncio.Task] = set()
    while not stop.is_set():
        while len(silent) < SILENT_CONNECTIONS:
            task = asyncio.create_task(silent_connection(port, pressure))
            silent.add(task)
            task.add_done_callback(silent.discard)
        await hijack(port, session_id, pressure)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    await asyncio.gather(*silent)


async def test_a_delivery_goes_through_a_full_visitor_port_and_a_hijacker(e2e_dir):
    e2e = await start_e2e(e2e_dir, env={"gateway": GATEWAY_ENV})
    try:
        metrics_url = e2e.stack.gateway.metrics_url
        session_id = str(uuid.uuid4())
        stop, pressure = asyncio.Event(), Pressure()

        async def press_once_the_call_is_in() -> None:
            await asyncio.sleep(1.0)  # the visitor's leg first: a call in progress
            await press(e2e.stack.visitor_port, session_id, stop, pressure)

        pressing = asyncio.create_task(press_once_the_call_is_in())
        try:
            result = await e2e.call("delivery", session_id=session_id)
        finally:
            stop.set()
            await pressing

        assert result.succeeded, e2e.explain(result)
        assert result.visitor_outcome == "visitor_authorized_delivery"
        [resident] = result.residents  # got in through the reserve while the visitor port was full
        assert "resident_ack_authorized" in resident.heard_keys
        # While the call's visitor leg was live, every hijacker got a hangup frame (after the call
        # the UUID is free again: a new connection with it is a new leg).
        visitor_gone = result.visitor.client.closed_at
        assert visitor_gone is not None
        hijacks = pressure.hijacks_before(visitor_gone - 0.5)
        assert len(hijacks) >= 3
        assert all(kinds and kinds[-1] == Kind.HANGUP for kinds in hijacks), hijacks
        assert pressure.silent_opened > SILENT_CONNECTIONS
        assert pressure.silent_ended_by_gateway == pressure.silent_opened
        samples = scrape(metrics_url)
        refused = {
            reason: value(samples, "porteiro_gateway_refusals_total", reason=reason)
            for reason in ("uuid_in_use", "resident_reserve")
        }
        assert refused["uuid_in_use"] >= 1 and refused["resident_reserve"] >= 1, refused
        assert value(samples, "porteiro_gateway_protocol_errors_total", error="no_audio") >= 1
    finally:
        await stop_e2e(e2e)
