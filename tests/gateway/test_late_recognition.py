"""The holding sentence (issue 15, holding.py): a real Leg in process and in virtual time.

Recognition is a fake at the speech boundary (`TimedSpeechClient`: the transcript comes a
chosen time after the stream is closed); synthesis is the harness's (a tone per text), with a
Say whose synthesis is held back for the late-Say case. Speculative recognition is off, so the
stream is closed at the end of speech and the wait is counted from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from porteiro_gateway.fallback import FallbackAudio
from porteiro_gateway.holding import HOLDING_EVENT
from tests.gateway.harness import FRAME_BYTES, LegHarness, audio_for_text, audio_frames, say
from tests.gateway.support import silence, spoken
from tests.gateway.test_speculative_recognition import TimedSpeechClient, start_leg

HOLDING_TEXT = "Um momento, por favor."
HOLDING_AFTER = 2.0
SETTINGS = {"speculative_recognition_ms": 0, "holding_after_seconds": HOLDING_AFTER}


def holding_count(result: str) -> float:
    value = REGISTRY.get_sample_value("porteiro_gateway_holding_sentences_total", {"result": result})
    return value or 0.0


async def rendered_holding(speech: TimedSpeechClient, ready: bool = True) -> FallbackAudio:
    holding = FallbackAudio(HOLDING_TEXT, speech.synthesize_all, retry_seconds=60, name="holding")
    if ready:
        await holding.keep_trying()
    return holding


def sent_at(h: LegHarness, audio: bytes) -> list[float]:
    """Virtual times at which `audio` started going out whole (one per time it was played)."""
    out = h.audio_out()
    times, start = [], out.find(audio)
    while start >= 0:
        assert start % FRAME_BYTES == 0, "a sentence starts on a frame"
        times.append(h.transport.writes[start // FRAME_BYTES][0])  # one write per frame
        start = out.find(audio, start + len(audio))
    return times


async def listen(h: LegHarness, seconds: float) -> None:
    """Asterisk keeps sending 20 ms frames: silence while the caller listens."""
    for frame in audio_frames(silence(seconds)):
        h.receive(frame)
        await h.step()


async def speak(h: LegHarness, text: str = "Entrega") -> None:
    for frame in audio_frames(spoken(text)):
        h.receive(frame)
        await h.step()


async def speak_then_wait(h: LegHarness, speech: TimedSpeechClient, seconds: float) -> None:
    await start_leg(h, speech)
    await listen(h, 0.4)
    await speak(h)
    await listen(h, seconds)


async def test_a_late_transcript_brings_the_holding_sentence_once_and_is_still_used():
    speech = TimedSpeechClient(delay=5.0)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    said = holding_count("said")
    holding = await rendered_holding(speech)
    async with LegHarness(
        speech=speech, settings=SETTINGS, holding=holding, tracer=provider.get_tracer("t")
    ) as h:
        await speak_then_wait(h, speech, 7.0)
        (stream,) = speech.streams
        played = sent_at(h, audio_for_text(HOLDING_TEXT))
        (utterance,) = h.events_of("utterance")
        playback = h.events_of("playback_finished")
    assert len(played) == 1, "once per turn, however long the wait"
    # Said 2 s after the end of speech (the stream is closed then), at the next 20 ms tick.
    assert played[0] - stream.finished_at == pytest.approx(HOLDING_AFTER, abs=0.041)
    assert utterance.text == "recognition 1"  # the wait went on: the late transcript is used
    assert playback == []  # the gateway's own sentence: nothing for the concierge
    assert holding_count("said") - said == 1
    (turn,) = [span for span in exporter.get_finished_spans() if span.name == "TURN"]
    assert [event.name for event in turn.events].count(HOLDING_EVENT) == 1


async def test_a_transcript_in_time_brings_no_holding_sentence():
    speech = TimedSpeechClient(delay=HOLDING_AFTER - 0.5)
    said = holding_count("said")
    async with LegHarness(speech=speech, settings=SETTINGS, holding=await rendered_holding(speech)) as h:
        await speak_then_wait(h, speech, 4.0)
        assert h.events_of("utterance")
        assert sent_at(h, audio_for_text(HOLDING_TEXT)) == []
    assert holding_count("said") == said


async def test_each_late_turn_gets_its_own_holding_sentence():
    speech = TimedSpeechClient(delay=3.0)
    async with LegHarness(speech=speech, settings=SETTINGS, holding=await rendered_holding(speech)) as h:
        await speak_then_wait(h, speech, 4.0)
        await speak(h)
        await listen(h, 4.0)
        assert len(h.events_of("utterance")) == 2
        assert len(sent_at(h, audio_for_text(HOLDING_TEXT))) == 2


async def test_a_holding_sentence_not_rendered_yet_is_counted_and_nothing_is_queued():
    speech = TimedSpeechClient(delay=3.0)
    not_ready = holding_count("not_ready")
    holding = await rendered_holding(speech, ready=False)
    async with LegHarness(speech=speech, settings=SETTINGS, holding=holding) as h:
        await speak_then_wait(h, speech, 4.0)
        assert h.events_of("utterance")
        assert not h.leg.player.busy
    assert holding_count("not_ready") - not_ready == 1


async def test_holding_off_with_zero_seconds():
    speech = TimedSpeechClient(delay=3.0)
    settings = {**SETTINGS, "holding_after_seconds": 0}
    async with LegHarness(speech=speech, settings=settings, holding=await rendered_holding(speech)) as h:
        await speak_then_wait(h, speech, 4.0)
        assert sent_at(h, audio_for_text(HOLDING_TEXT)) == []


class HeldSynthesis(TimedSpeechClient):
    """Synthesis of `held` waits for `release` (speech slow, or retrying on another replica)."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.release = asyncio.Event()

    async def synthesize(self, text: str, voice: str = "") -> AsyncIterator[bytes]:
        if text == self.held:
            await self.release.wait()
        async for chunk in super().synthesize(text, voice):
            yield chunk


async def test_a_late_say_starts_with_the_holding_sentence_and_its_audio_follows():
    speech = HeldSynthesis("Qual é o apartamento?")
    holding = await rendered_holding(speech)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    async with LegHarness(speech=speech, settings=SETTINGS, holding=holding, tracer=tracer) as h:
        await start_leg(h, speech)
        h.act(say("s1", "Qual é o apartamento?"))
        await h.step()
        queued = h.time.now()
        await listen(h, 3.0)
        speech.release.set()
        await h.until(lambda: bool(h.events_of("playback_finished")), 5)
        (finished,) = h.events_of("playback_finished")
        holding_at = sent_at(h, audio_for_text(HOLDING_TEXT))
        say_at = sent_at(h, audio_for_text("Qual é o apartamento?"))
    assert len(holding_at) == 1 and holding_at[0] - queued == pytest.approx(HOLDING_AFTER, abs=0.041)
    assert len(say_at) == 1 and say_at[0] > holding_at[0]  # the Say's own audio after it
    assert finished.say_id == "s1" and not finished.interrupted
    (call,) = [span for span in exporter.get_finished_spans() if span.name == "CALL"]
    (event,) = [event for event in call.events if event.name == HOLDING_EVENT]
    assert event.attributes["say_id"] == "s1"


async def test_a_say_in_time_has_no_holding_sentence():
    speech = TimedSpeechClient()
    async with LegHarness(speech=speech, settings=SETTINGS, holding=await rendered_holding(speech)) as h:
        await start_leg(h, speech)
        h.act(say("s1", "Qual é o apartamento?"))
        await h.until(lambda: bool(h.events_of("playback_finished")), 5)
        await listen(h, 3.0)
        assert sent_at(h, audio_for_text(HOLDING_TEXT)) == []
