"""The leg table under a flood: connections that send a UUID and then nothing (issue 15).

Run from the repository root: `.venv/bin/python bench/bench_leg_flood.py [--connections 500]`.

A gateway (in this process, with fake speech and concierge gRPC servers, default settings:
300 legs, 30 of them kept for residents) carries one real call whose visitor sends audio
as Asterisk does. Then `--connections` connections arrive at the visitor port, each sending
a UUID and nothing more, and the call's resident leg connects while they hold the table.
Prints how the flood was taken (legs, refusals), whether the resident got in and the
call's visitor leg lived through it, how long the flood held the legs, and when a new
visitor call got in again. Issue 15 measured ~35 s for 500 connections, resident refused.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' fakes and helpers

from porteiro.common.v1 import common_pb2  # noqa: E402
from porteiro_gateway import metrics  # noqa: E402
from tests.gateway.fakes import FakeLeg  # noqa: E402
from tests.gateway.support import AsteriskClient, Stack, silence, start_stack  # noqa: E402


def counted(counter, label: str) -> float:
    return counter.labels(label)._value.get()


async def next_leg(stack: Stack, side: int, within: float) -> FakeLeg | None:
    """The next leg of `side` to reach the concierge (others skipped); None if none within."""
    try:
        async with asyncio.timeout(within):
            while (leg := await stack.concierge.legs.get()).started.leg != side:
                pass
            return leg
    except TimeoutError:
        return None


async def run(connections: int, call_seconds: float) -> None:
    stack = await start_stack()
    settings = stack.app.settings
    before = {
        reason: counted(metrics.REFUSALS, reason)
        for reason in ("resident_reserve", "max_legs", "uuid_in_use")
    }
    no_audio_before = counted(metrics.PROTOCOL_ERRORS, "no_audio")
    flood: list[AsteriskClient] = []
    try:
        visitor = await AsteriskClient.connect(stack.visitor_port)
        visitor_audio = asyncio.create_task(visitor.play(silence(call_seconds)))
        await next_leg(stack, common_pb2.LEG_VISITOR, 5.0)

        began = time.monotonic()
        flood = list(
            await asyncio.gather(*(AsteriskClient.connect(stack.visitor_port) for _ in range(connections)))
        )
        connected = time.monotonic() - began
        resident = await AsteriskClient.connect(stack.resident_port, visitor.session_id)
        resident_audio = asyncio.create_task(resident.play(silence(call_seconds - 1)))
        resident_leg = await next_leg(stack, common_pb2.LEG_RESIDENT, 5.0)

        await asyncio.gather(*(client.wait_closed(60.0) for client in flood), return_exceptions=True)
        held = time.monotonic() - began
        newcomer = await AsteriskClient.connect(stack.visitor_port)
        newcomer_leg = await next_leg(stack, common_pb2.LEG_VISITOR, 5.0)
        newcomer_after = time.monotonic() - began
        await newcomer.close()

        refused = {reason: counted(metrics.REFUSALS, reason) - value for reason, value in before.items()}
        print(
            f"gateway: max_legs {settings.max_legs}, kept for residents {stack.app.registry.resident_reserve}, "
            f"first audio timeout {settings.first_audio_timeout_seconds:g} s"
        )
        print(f"flood: {connections} connections (UUID, then nothing) opened in {connected:.2f} s")
        print(
            f"  refused: resident_reserve {refused['resident_reserve']:.0f}, max_legs {refused['max_legs']:.0f}; "
            f"legs ended for no audio: {counted(metrics.PROTOCOL_ERRORS, 'no_audio') - no_audio_before:.0f}"
        )
        print(f"  the flood held legs for {held:.2f} s (from its first connection to the last one closed)")
        print(
            f"call in progress: its resident leg got in during the flood: {'yes' if resident_leg else 'NO'}; "
            f"its visitor leg lived through it: {'yes' if not visitor.closed.is_set() else 'NO'}"
        )
        print(
            f"a new visitor call got in {newcomer_after:.2f} s after the flood began: "
            f"{'yes' if newcomer_leg else 'NO'}"
        )
        await asyncio.gather(visitor_audio, resident_audio)
        await resident.close()
        await visitor.close()
    finally:
        for client in flood:
            client.writer.close()
        await stack.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--call-seconds", type=float, default=10.0, help="how long the real call sends audio")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # one warning per refused connection otherwise
    asyncio.run(run(args.connections, args.call_seconds))


if __name__ == "__main__":
    main()
