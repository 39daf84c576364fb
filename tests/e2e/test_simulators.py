"""The simulators against small in-test AudioSocket servers and the real RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import uuid

import pika
import pytest

from porteiro_common.audiosocket import Kind
from porteiro_sim import audio
from porteiro_sim.audiosocket_client import AudioSocketClient
from porteiro_sim.pbx import Pbx, PbxSettings, Resident, resident_says
from porteiro_sim.script import AwaitHangUp, AwaitReply, Keys, LegRecord, ScriptRunner, Speak
from porteiro_sim.sentences import Sentence, SentenceMatcher
from porteiro_sim.speech import EspeakVoice
from porteiro_sim.timeline import format_timeline, turn_latencies
from tests.e2e.audiosocket_bot import AudioSocketBot


class ToneVoice:
    async def speak(self, text: str) -> bytes:
        return audio.tone(300 + 10 * len(text), 0.5)


@pytest.fixture
async def bot():
    server = AudioSocketBot()
    await server.start()
    yield server
    await server.stop()


async def test_uuid_first_then_paced_frames_then_a_hangup_frame(bot):
    session = str(uuid.uuid4())
    client = AudioSocketClient("127.0.0.1", bot.port, session)
    await client.connect()
    await asyncio.sleep(1.0)
    await client.hang_up()
    call = bot.calls[0]
    assert call.first_kind == Kind.UUID and call.uuid_payload == uuid.UUID(session).bytes
    assert call.frame_sizes == {320}
    arrivals = call.audio_arrivals
    assert 45 <= len(arrivals) <= 53  # 50 frames a second, no burst
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) < 0.06
    assert call.ended_by == "hangup-frame"  # hang_up returns once the server has seen it and closed


async def test_hanging_up_with_eof_only_on_request(bot):
    client = AudioSocketClient("127.0.0.1", bot.port)
    await client.connect()
    await asyncio.sleep(0.1)
    await client.hang_up(send_hangup_frame=False)
    assert bot.calls[0].ended_by == "eof"


async def test_closing_an_open_call_hangs_up_first(bot):
    client = AudioSocketClient("127.0.0.1", bot.port)
    await client.connect()
    await asyncio.sleep(0.1)
    await client.close()
    assert bot.calls[0].ended_by == "hangup-frame" and client.close_reason == "local"


async def test_the_server_hanging_up_is_read_to_the_end_and_closed_without_a_reset(bot):
    client = AudioSocketClient("127.0.0.1", bot.port)
    await client.connect()
    await client.send_dtmf("9")
    assert await client.wait_closed(5)
    await client.close()
    await bot.wait_calls_ended()
    assert client.close_reason == "hangup-frame"
    assert bot.calls[0].ended_by == "bot-hangup" and bot.calls[0].after_hangup == "eof"


async def test_waits_for_each_reply_and_measures_latency(bot):
    client = AudioSocketClient("127.0.0.1", bot.port, reply_end_silence=0.3)
    record = LegRecord("visitor", client)
    await client.connect()
    steps = [AwaitReply(timeout=5), Speak("uma frase"), AwaitReply(timeout=5), Keys("9"), AwaitHangUp(5)]
    await ScriptRunner(record, ToneVoice()).run(steps)
    await client.close()
    assert record.timed_out == [] and record.error is None
    assert client.close_reason == "hangup-frame"
    assert len(client.segments) == 2  # greeting and the reply
    assert abs(client.segments[0].seconds - 0.4) < 0.05 and abs(client.segments[1].seconds - 0.3) < 0.05
    assert bot.calls[0].dtmf == ["9"]
    [latency] = turn_latencies(record)
    # The bot replies 0.3 s after the end of speech it saw; loopback adds little.
    assert 0.25 < latency < 0.5
    assert "porteiro→visitor" in format_timeline([record])
    assert 0 <= record.greeting_latency < 0.1


async def test_records_what_it_received(bot, tmp_path):
    client = AudioSocketClient("127.0.0.1", bot.port, reply_end_silence=0.3)
    await client.connect()
    assert await client.wait_for_reply(0.0, 3) is not None
    await client.hang_up()
    path = client.write_received_wav(tmp_path / "received.wav")
    pcm = audio.read_wav(path)
    assert audio.trim_silence(pcm)[: len(bot.greeting) // 2] == bot.greeting[: len(bot.greeting) // 2]
    stereo = client.write_conversation_wav(tmp_path / "conversation.wav")
    assert stereo.stat().st_size > 44


async def test_espeak_voice_is_deterministic_and_trimmed():
    voice = EspeakVoice()
    first = await voice.speak("Sim, pode subir.")
    again = await EspeakVoice().speak("Sim, pode subir.")
    assert first == again and audio.seconds_of(first) > 0.5
    assert audio.is_speech(first[:320]) and audio.is_speech(first[-320:])


async def test_pbx_connects_the_resident_with_the_commands_guid(bot):
    queue = f"porteiro-sim-test-{uuid.uuid4().hex[:8]}"
    settings = PbxSettings(queue=queue, resident_port=bot.port, ring_seconds=0.2)
    pbx = Pbx(settings, Resident(resident_says("#19", final_timeout=5), ring_seconds=0.2), ToneVoice())
    await pbx.start()
    guid = str(uuid.uuid4())
    payload = {
        "data": {"destiny": "IA", "guid": guid, "license": "x", "origin": "1003030"},
        "operation": {
            "eventcode": "8001",
            "guid": f"cmd-{guid}",
            "msg": "",
            "timestamp": 0,
            "type": "clicktocall",
        },
    }
    try:
        await asyncio.to_thread(_publish, settings.amqp_url, queue, json.dumps(payload).encode())
        await asyncio.wait_for(pbx.events.setdefault("resident-ringing", asyncio.Event()).wait(), 5)
        await asyncio.sleep(0.5)
        await pbx.wait_idle(10)
    finally:
        await pbx.stop()
        await asyncio.to_thread(_delete_queue, settings.amqp_url, queue)
    assert [c.guid for c in pbx.commands] == [guid]
    assert bot.calls[0].uuid_payload == uuid.UUID(guid).bytes
    assert bot.calls[0].dtmf == ["1", "9"]
    assert pbx.legs[0].role == "resident"


async def test_pbx_that_never_answers_connects_nothing(bot):
    queue = f"porteiro-sim-test-{uuid.uuid4().hex[:8]}"
    settings = PbxSettings(queue=queue, resident_port=bot.port)
    pbx = Pbx(settings, Resident(resident_says("#1"), answer_attempts=set()), ToneVoice())
    await pbx.start()
    guid = str(uuid.uuid4())
    body = json.dumps({"data": {"guid": guid, "origin": "x"}, "operation": {"type": "clicktocall"}}).encode()
    try:
        await asyncio.to_thread(_publish, settings.amqp_url, queue, body)
        await asyncio.to_thread(_publish, settings.amqp_url, queue, b"not json")
        await asyncio.sleep(1.0)
    finally:
        await pbx.stop()
        await asyncio.to_thread(_delete_queue, settings.amqp_url, queue)
    assert len(pbx.commands) == 1 and len(pbx.rejected) == 1
    assert bot.calls == []


def _publish(url: str, queue: str, body: bytes) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)
    channel.basic_publish("", queue, body)
    connection.close()


def _delete_queue(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().queue_delete(queue)
    connection.close()


async def test_sentences_are_identified_from_the_audio_alone():
    voice = EspeakVoice()
    matcher = SentenceMatcher()
    texts = ["Desculpe, não entendi.", "Desculpe, estamos com um problema técnico.", "Qual é o seu nome?"]
    for index, text in enumerate(texts):
        matcher.add(Sentence(f"s{index}", text), await voice.speak(text))
    # As received: silence, one sentence, a pause, another, in arbitrary 2-byte alignment.
    stream = (
        audio.silence(0.13) + await voice.speak(texts[1]) + audio.silence(0.3) + await voice.speak(texts[2])
    )
    assert [s.key for s in matcher.identify(stream)] == ["s1", "s2"]
    assert matcher.identify(audio.tone(440, 2.0)) == []
    first_half = (await voice.speak(texts[1]))[: len(await voice.speak(texts[1])) // 2]
    assert matcher.identify(first_half) == []
    assert "s1" in [s.key for s in matcher.identify(first_half, beginnings_only=True)]
