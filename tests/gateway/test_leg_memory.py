"""A finished leg is freed by reference counting, not left to the cyclic garbage collector.

Under load (issue 15's soak, 200 calls), dead legs waiting for a full collection grew the
gateway's memory by 16-40% in 5-10 minutes, and each full collection stopped the loop for up to
450 ms (frames skipped on every call). The garbage collector is off while these calls run: what
is still alive after the call is kept by a reference cycle (or a leak).
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from tests.gateway.support import AsteriskClient, silence, spoken, start_stack

SENTENCE = "Eu vim entregar uma encomenda"


@pytest.fixture
async def stack():
    started = await start_stack()
    await started.wait_fallback_ready()
    yield started
    await started.close()


@pytest.fixture
def no_cyclic_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def a_whole_call(stack) -> weakref.ref:
    """A call that talks (a Transcribe stream, an utterance), hears a Say and is hung up."""
    client = await AsteriskClient.connect(stack.visitor_port)
    concierge_leg = await asyncio.wait_for(stack.concierge.legs.get(), 5)
    (leg,) = stack.app.registry.legs
    gone = weakref.ref(leg)
    del leg
    await client.play(silence(0.3) + spoken(SENTENCE) + silence(1.0))
    await concierge_leg.next_event("utterance")
    concierge_leg.say("bye", "Até logo")
    concierge_leg.hang_up(after_playback=True)
    await client.wait_closed()
    await asyncio.wait_for(concierge_leg.closed.wait(), 3)
    await stack.wait_no_legs()
    return gone


async def test_a_finished_leg_is_freed_without_the_garbage_collector(stack, no_cyclic_gc):
    gone = await a_whole_call(stack)
    for _ in range(20):  # the leg's last callbacks run on the next turns of the loop
        if gone() is None:
            break
        await asyncio.sleep(0.05)
    assert gone() is None, "the leg outlived its call: kept by a reference cycle"
