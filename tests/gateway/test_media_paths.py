"""The two media paths, the native edge (media_engine.py) and the event loop's (playback.py), give
the same call on the wire: the gateway in process, real sockets, real gRPC fakes, real time."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.audiosocket import HANGUP_FRAME, Kind, encode
from porteiro_gateway.media_engine import MediaEngine, native_available
from tests.gateway.fakes import tone
from tests.gateway.support import AsteriskClient, start_stack

Reason = concierge_pb2.LegEndReason
NATIVE = pytest.mark.skipif(not native_available(), reason="not built")
# (media path, how often the loop takes the native edge's audio)
PATHS = [
    pytest.param(("native", 20), marks=NATIVE, id="native"),
    pytest.param(("native", 100), marks=NATIVE, id="native-100ms"),
    pytest.param(("python", 20), id="python"),
]


@pytest.fixture(params=PATHS)
async def stack(request):
    path, batch_ms = request.param
    stack = await start_stack(media_engine=path, media_batch_ms=batch_ms)
    yield stack
    await stack.close()


async def call(stack) -> tuple[AsteriskClient, object]:
    client = await AsteriskClient.connect(stack.visitor_port)
    return client, await asyncio.wait_for(stack.concierge.legs.get(), 5)


async def test_the_gateway_runs_the_path_it_is_asked_for(stack, request):
    wanted, batch_ms = request.node.callspec.params["stack"]
    assert isinstance(stack.app.media, MediaEngine) == (wanted == "native")
    if stack.app.media is not None:  # the Says' frames last past the next top-up
        assert stack.app.media.lookahead_frames >= batch_ms // 20 + 2


async def test_a_say_arrives_whole_and_bit_exact_and_ends_once_all_of_it_is_sent(stack):
    sound = tone(440, 1.0, amplitude=0.5)
    stack.speech.texts["um segundo"] = sound
    client, leg = await call(stack)
    leg.say("s1", "um segundo", allow_barge_in=False)
    finished = await leg.next_event("playback_finished", within=5)
    received = client.audio_since()
    # Every frame of it was on the wire when the concierge heard the end (TCP over loopback:
    # a few ms after the write at most).
    await asyncio.sleep(0.05)
    assert sound in client.audio_since()
    assert len(client.audio_since()) - len(received) <= 4 * 320  # then only silence, a few frames
    assert not finished.interrupted and abs(finished.played_seconds - 1.0) < 0.021
    frames = [item for item in client.received if item.kind == Kind.AUDIO_8K]
    assert {len(item.payload) for item in frames} == {320}
    await client.hang_up()


def frames_out() -> float:
    return (
        REGISTRY.get_sample_value("porteiro_gateway_frames_total", {"direction": "out", "leg": "visitor"})
        or 0.0
    )


async def test_silence_keeps_the_line_at_50_frames_a_second_and_every_frame_is_counted(stack):
    before = frames_out()
    client, _leg = await call(stack)
    await asyncio.sleep(1.0)
    frames = [item for item in client.received if item.kind == Kind.AUDIO_8K]
    assert 40 <= len(frames) <= 55 and all(item.silent for item in frames)
    await client.hang_up()
    await stack.wait_no_legs()
    sent = [item for item in client.received if item.kind == Kind.AUDIO_8K]
    assert frames_out() - before == len(sent)  # the edge's own silence too, its last ones included


async def test_a_barge_in_stops_the_say_at_once_and_reports_what_was_heard(stack):
    stack.speech.texts["longa"] = tone(440, 6.0, amplitude=0.5)
    client, leg = await call(stack)
    leg.say("s1", "longa", allow_barge_in=True)
    started = await client.wait_for_sound()
    await asyncio.sleep(0.6)
    await client.play(tone(300, 1.2, amplitude=0.6))  # the caller speaks over it
    barge_in = await leg.next_event("barge_in", within=5)
    await asyncio.sleep(0.2)
    sent = [item for item in client.received if item.kind == Kind.AUDIO_8K and not item.silent]
    heard = len(sent) * 0.02
    assert barge_in.played_seconds == pytest.approx(heard, abs=0.1)  # what the caller got, not more
    last_sound = sent[-1].at
    later = [item for item in client.received if item.at > last_sound + 0.05 and item.kind == Kind.AUDIO_8K]
    assert later and all(item.silent for item in later)  # stopped: silence after
    assert last_sound - started < 4.0
    await client.hang_up()


async def test_the_callers_audio_dtmf_and_hangup_reach_the_leg(stack):
    client, leg = await call(stack)
    await client.play(tone(300, 0.8, amplitude=0.6) + bytes(16000))
    client.send(encode(Kind.DTMF, b"1"))
    assert (await leg.next_event("dtmf", within=5)).digit == "1"
    record = await asyncio.wait_for(stack.speech.transcribed.get(), 5)
    assert len(record.audio) >= 0.8 * 16000 * 0.9  # the utterance went to speech
    client.send(HANGUP_FRAME)
    ended = await leg.next_event("leg_ended", within=5)
    assert ended.reason == Reason.LEG_END_REASON_CALLER_HANGUP
    await client.wait_closed(2)


async def test_a_concierge_hang_up_after_playback_sends_all_of_it_then_the_hangup_frame(stack):
    goodbye = tone(500, 0.5, amplitude=0.5)
    stack.speech.texts["tchau"] = goodbye
    client, leg = await call(stack)
    leg.say("bye", "tchau", allow_barge_in=False)
    leg.hang_up(after_playback=True)
    await client.wait_closed(5)
    assert goodbye in client.audio_since()
    assert client.received[-1].kind == Kind.HANGUP
    assert (await leg.next_event("leg_ended")).reason == Reason.LEG_END_REASON_HANGUP_REQUESTED
