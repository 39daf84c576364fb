"""A leg end to end over its sockets: a real gateway, fake speech/concierge gRPC servers, an AudioSocket client.

What a leg does with frames and actions is tested in process and in virtual time
(test_leg_in_process.py); these tests keep what only real sockets and gRPC show.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import uuid

import pytest

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.audiosocket import encode
from porteiro_gateway import metrics
from porteiro_gateway.fallback import busy_tone
from tests.gateway.support import (
    AsteriskClient,
    silence,
    spoken,
    start_stack,
    voiced_frames,
)

Reason = concierge_pb2.LegEndReason
SENTENCE = "Eu vim entregar uma encomenda para o apartamento cento e dois"


@pytest.fixture
async def stack():
    started = await start_stack()
    yield started
    await started.close()


async def connect(stack, port=None):
    client = await AsteriskClient.connect(port or stack.visitor_port)
    leg = await asyncio.wait_for(stack.concierge.legs.get(), 5)
    return client, leg


async def test_sends_silence_at_once_before_anything_else(stack):
    began = time.monotonic()
    client = await AsteriskClient.connect(stack.visitor_port, send_uuid=False)
    await asyncio.sleep(0.15)
    assert client.received, "nothing sent on connect (asterisk issue 2089)"
    assert client.received[0].kind == 0x10 and client.received[0].silent
    assert client.received[0].at - began < 0.1
    await client.close()


async def test_leg_started_carries_the_uuid_and_dtmf_is_forwarded(stack):
    client, leg = await connect(stack)
    assert leg.started.session_id == client.session_id
    assert leg.started.leg == common_pb2.LEG_VISITOR
    assert leg.started.sample_rate_hz == 8000
    client.send(encode(0x03, b"1") + encode(0x03, b"#"))
    assert (await leg.next_event("dtmf")).digit == "1"
    assert (await leg.next_event("dtmf")).digit == "#"
    await client.close()


async def test_resident_leg_announces_itself(stack):
    client, leg = await connect(stack, stack.resident_port)
    assert leg.started.leg == common_pb2.LEG_RESIDENT
    await client.hang_up()  # a hangup frame, then read until the gateway closes (as Asterisk does)
    ended = await leg.next_event("leg_ended")
    assert (ended.reason, ended.detail) == (Reason.LEG_END_REASON_CALLER_HANGUP, "hangup frame")
    assert client.closed.is_set()


@pytest.mark.slow
async def test_endpointing_keeps_pre_roll_streams_while_speaking_and_ends_within_silence(stack):
    client, leg = await connect(stack)
    speech = spoken(SENTENCE)
    sent = silence(1.0) + speech + silence(1.5)
    speech_end_offset = len(silence(1.0)) + len(speech)
    await client.play(sent)
    record = await asyncio.wait_for(stack.speech.transcribed.get(), 5)
    utterance = await leg.next_event("utterance")
    assert utterance.text == stack.speech.transcript
    assert list(record.config.hints) == list(stack.concierge.hints)
    assert record.config.session_id == client.session_id

    start = sent.find(bytes(record.audio[:640]))
    assert start >= 0 and start % 2 == 0
    first_voiced = voiced_frames(sent)[0] * 320
    pre_roll_ms = (first_voiced - start) / 16
    assert pre_roll_ms >= 200, f"only {pre_roll_ms} ms before the first voiced frame were kept"

    # Audio reached speech while the person was still speaking.
    speech_end_sent_at = client.sent_at[speech_end_offset // 320]
    assert record.first_audio_at < speech_end_sent_at - 1.0
    # End of speech decided within the configured silence (600 ms) plus scheduling slack.
    last_voiced_sent_at = client.sent_at[voiced_frames(sent)[-1]]
    assert record.closed_at - last_voiced_sent_at < 0.6 + 0.3
    kinds = [event.WhichOneof("event") for event in leg.received]
    assert kinds.index("speech_started") < kinds.index("utterance")
    await client.close()


async def test_hang_up_after_playback_plays_everything_then_sends_hangup_and_closes(stack):
    client, leg = await connect(stack)
    leg.say("bye", "Até logo")
    leg.hang_up(after_playback=True)
    await client.wait_closed()
    assert client.received[-1].kind == 0x00
    heard = client.audio_since()
    assert stack.speech.audio("Até logo") in heard
    finished = await leg.next_event("playback_finished")
    assert finished.say_id == "bye" and not finished.interrupted
    ended = await leg.next_event("leg_ended")
    assert ended.reason == Reason.LEG_END_REASON_HANGUP_REQUESTED
    await asyncio.wait_for(leg.closed.wait(), 2)
    await stack.wait_no_legs()


async def test_caller_eof_ends_the_leg_and_tells_the_concierge(stack):
    client, leg = await connect(stack)
    leg.say("long", "frase longa")
    await client.wait_for_sound()
    await client.close()
    assert (await leg.next_event("playback_finished")).interrupted
    assert (await leg.next_event("leg_ended")).reason == Reason.LEG_END_REASON_CALLER_HANGUP
    await asyncio.wait_for(leg.closed.wait(), 2)
    await stack.wait_no_legs()
    leg_tasks = {"LegTasks._guarded", "LegListener._run"}  # a leg's own tasks, and the one running it
    assert not [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") in leg_tasks]


async def test_connection_reset_ends_the_leg(stack):
    sock = socket.create_connection(("127.0.0.1", stack.visitor_port))
    sock.sendall(encode(0x01, uuid.uuid4().bytes))
    leg = await asyncio.wait_for(stack.concierge.legs.get(), 5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST, what Asterisk's hang-up often looks like
    ended = await leg.next_event("leg_ended")
    assert ended.reason in (Reason.LEG_END_REASON_CONNECTION_ERROR, Reason.LEG_END_REASON_CALLER_HANGUP)
    await stack.wait_no_legs()


async def test_hangup_frame_from_the_caller(stack):
    client, leg = await connect(stack)
    client.send(encode(0x00))
    assert (await leg.next_event("leg_ended")).reason == Reason.LEG_END_REASON_CALLER_HANGUP
    await client.wait_closed()


async def test_unknown_kind_closes_the_leg_cleanly(stack):
    before = metrics.PROTOCOL_ERRORS.labels("unknown_kind")._value.get()
    client, leg = await connect(stack)
    client.send(encode(0x42, b"??"))
    assert (await leg.next_event("leg_ended")).reason == Reason.LEG_END_REASON_PROTOCOL_ERROR
    await client.wait_closed(1.0)
    assert client.received[-1].kind == 0x00
    assert metrics.PROTOCOL_ERRORS.labels("unknown_kind")._value.get() == before + 1


async def test_concierge_down_mid_call_plays_the_fallback_sentence_then_hangs_up(stack):
    await stack.wait_fallback_ready()
    client, leg = await connect(stack)
    leg.say("s1", "olá")
    await leg.next_event("playback_finished")
    down_at = time.monotonic()
    await stack.concierge_server.server.stop(None)
    await client.wait_closed(10)
    fallback = stack.speech.audio(stack.app.fallback.text)
    assert fallback in client.audio_since(down_at), "the fallback sentence was not heard"
    assert client.received[-1].kind == 0x00


async def test_speech_down_caller_still_hears_something_then_hangup():
    # Synthesis waits for speech and retries for speech_outage_seconds before the fallback.
    started = await start_stack(
        speech_target="127.0.0.1:1", fallback_retry_seconds=30, rpc_timeout_seconds=1, speech_outage_seconds=1
    )
    try:
        client, leg = await connect(started)
        playing = asyncio.create_task(client.play(silence(10)))  # Asterisk sends audio all along
        leg.say("s1", "olá")
        await client.wait_closed(10)
        playing.cancel()
        assert busy_tone() in client.audio_since(), "no fallback tone while speech is down"
        assert (await leg.next_event("leg_ended")).reason == Reason.LEG_END_REASON_DEPENDENCY_FAILURE
    finally:
        await started.close()


async def test_beyond_max_legs_connections_are_refused_with_a_hangup_frame():
    started = await start_stack(max_legs=1)
    before = metrics.REFUSALS.labels("max_legs")._value.get()
    try:
        first, _ = await connect(started)
        second = await AsteriskClient.connect(started.visitor_port)
        await second.wait_closed(1.0)
        assert second.kinds() == [0x00]
        assert metrics.REFUSALS.labels("max_legs")._value.get() == before + 1
        assert not first.closed.is_set()
        await first.close()
    finally:
        await started.close()


async def test_sources_outside_the_allowlist_are_closed_without_a_word():
    started = await start_stack(allowed_networks="10.0.0.0/8")
    before = metrics.REFUSALS.labels("not_allowed")._value.get()
    try:
        client = await AsteriskClient.connect(started.visitor_port)
        await client.wait_closed(1.0)
        assert client.received == []
        assert metrics.REFUSALS.labels("not_allowed")._value.get() == before + 1
        assert started.concierge.legs.empty()
    finally:
        await started.close()


async def test_stop_refuses_new_calls_and_ends_the_rest_after_the_grace_period():
    started = await start_stack()
    try:
        client, leg = await connect(started)
        began = time.monotonic()
        stopping = asyncio.create_task(started.app.stop(0.5))
        await asyncio.sleep(0.1)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", started.visitor_port)
        assert not client.closed.is_set(), "a live call was cut before the grace period"
        assert (await leg.next_event("leg_ended")).reason == Reason.LEG_END_REASON_SHUTDOWN
        await client.wait_closed(2)
        assert client.received[-1].kind == 0x00
        await stopping
        assert 0.5 <= time.monotonic() - began < 3
    finally:
        await started.speech_server.server.stop(None)
        await started.concierge_server.server.stop(None)
