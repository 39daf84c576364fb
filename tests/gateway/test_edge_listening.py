"""Listening in the native edge (edge_endpointer.py): the edge endpoints a leg's audio, the loop gets
only events, and a call comes out as it does when the loop reads every frame. The gateway in
process, real sockets, the real engine thread, real gRPC fakes, real time."""

from __future__ import annotations

import asyncio

import pytest

from porteiro_common.audiosocket import Kind, encode
from porteiro_gateway.caller_socket import CallerSocket
from porteiro_gateway.edge_endpointer import available
from tests.gateway.fakes import tone
from tests.gateway.support import AsteriskClient, silence, spoken, start_stack

pytestmark = pytest.mark.skipif(not available(), reason="the native edge is not built")

SPEECH = spoken("eu vim entregar uma encomenda para o apartamento cento e dois")


@pytest.fixture
def loop_reads(monkeypatch) -> list[int]:
    """The bytes of every read the loop handled (CallerSocket.data_received), across legs."""
    sizes: list[int] = []
    original = CallerSocket.data_received

    def counting(self, data: bytes) -> None:
        sizes.append(len(data))
        original(self, data)

    monkeypatch.setattr(CallerSocket, "data_received", counting)
    return sizes


async def one_call(edge_listening: bool, play) -> tuple[list[bytes], int]:
    """A call on the native edge with edge listening on or off: `play(client, leg, stack)` is the
    caller's side; returns the audio speech was given to transcribe, and how many legs the edge
    listened for at the end of `play`."""
    stack = await start_stack(media_engine="native", media_batch_ms=40, edge_listening=edge_listening)
    try:
        client = await AsteriskClient.connect(stack.visitor_port)
        leg = await asyncio.wait_for(stack.concierge.legs.get(), 5)
        await play(client, leg, stack)
        listening = stack.app.media.listening_legs()
        await client.hang_up()
        await stack.wait_no_legs()
        return [bytes(record.audio) for record in stack.speech.transcribe_records], listening
    finally:
        await stack.close()


async def test_a_callers_utterance_reaches_the_loop_as_events_with_the_same_audio(loop_reads):
    async def speak(client, leg, stack):
        await client.play(silence(1.0) + SPEECH + silence(1.2))
        await leg.next_event("utterance", within=5)

    heard_in_edge, listening = await one_call(True, speak)
    assert listening == 1
    edge_bytes = sum(loop_reads)
    loop_reads.clear()
    heard_in_loop, listening = await one_call(False, speak)
    assert listening == 0
    played = len(silence(1.0) + SPEECH + silence(1.2)) * 323 // 320
    assert heard_in_edge == heard_in_loop and len(heard_in_edge) == 1  # the same utterance, bit for bit
    assert SPEECH[6400:-6400] in heard_in_edge[0]
    assert sum(loop_reads) >= played * 0.95  # the loop read every frame
    assert edge_bytes < played * 0.05  # the edge did: the loop saw only the first frame or so


async def test_a_key_press_mid_utterance_reaches_the_leg_and_the_utterance_stays_whole(loop_reads):
    async def speak_and_press(client, leg, stack):
        playing = asyncio.create_task(client.play(silence(1.0) + SPEECH + silence(1.2)))
        await asyncio.sleep(1.0 + len(SPEECH) / 16000 / 2)  # halfway through the words
        client.send(encode(Kind.DTMF, b"5"))
        assert (await leg.next_event("dtmf", within=5)).digit == "5"
        await playing
        await leg.next_event("utterance", within=5)
        await asyncio.sleep(0.3)  # the loop gave the leg back to the edge

    heard_in_edge, listening = await one_call(True, speak_and_press)
    assert listening == 1
    heard_in_loop, _ = await one_call(False, speak_and_press)
    assert heard_in_edge == heard_in_loop and len(heard_in_edge) == 1


async def test_over_a_say_the_caller_may_interrupt_the_loop_listens_then_gives_the_leg_back(loop_reads):
    async def over_a_question(client, leg, stack):
        stack.speech.texts["pergunta"] = tone(440, 1.0, amplitude=0.5)
        await client.play(silence(0.3))
        assert stack.app.media.listening_legs() == 1
        leg.say("q1", "pergunta", allow_barge_in=True)
        await client.wait_for_sound()
        reads_before = len(loop_reads)
        await client.play(silence(0.4))
        assert stack.app.media.listening_legs() == 0
        assert len(loop_reads) - reads_before >= 5  # every 40 ms batch reaches the loop
        await leg.next_event("playback_finished", within=5)
        await client.play(silence(0.3))

    _, listening = await one_call(True, over_a_question)
    assert listening == 1


async def test_audio_the_edge_endpoints_keeps_the_leg_alive_and_counted():
    async def long_silence(client, leg, stack):
        await client.play(silence(3.0))  # audio_timeout_seconds=1: the leg lives on the edge's count
        assert stack.app.media.listening_legs() == 1

    stack = await start_stack(media_engine="native", audio_timeout_seconds=1.0)
    try:
        client = await AsteriskClient.connect(stack.visitor_port)
        leg = await asyncio.wait_for(stack.concierge.legs.get(), 5)
        await long_silence(client, leg, stack)
        assert not client.closed.is_set()
        await client.hang_up()
        ended = await leg.next_event("leg_ended", within=5)
        assert ended.reason != 0 and "audio" not in ended.detail
    finally:
        await stack.close()
