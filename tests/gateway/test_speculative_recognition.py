"""Speculative recognition (issue 17, speculation.py): a real Leg in process and in virtual time.

The recogniser is a fake at the speech boundary (`TimedSpeechClient`, the real `SpeechClient`
interface) whose transcript comes `delay` virtual seconds after a stream is closed, and names
the stream it came from, so the test sees which recognition the concierge got.
"""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from porteiro.concierge.v1 import concierge_pb2
from porteiro.speech.v1 import speech_pb2
from porteiro_gateway.caller_audio import endpointing_config
from porteiro_gateway.endpointing import rms
from porteiro_gateway.settings import GatewaySettings
from tests.gateway.harness import (
    FRAME_BYTES,
    FakeSpeechClient,
    LegHarness,
    VirtualTime,
    audio_frames,
    say,
    uuid_frame,
)
from tests.gateway.support import silence, spoken, voiced_frames

SESSION = "7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
WORD = "Entrega"  # one word: no pause inside it
PAUSE_MS, END_MS = 200, 600  # speculative_recognition_ms, end of speech (no kind expected)
END_BYTES = 8000 * END_MS // 1000 * 2  # that silence as 8 kHz slin
RECOGNITION_SECONDS = 0.5


class TimedTranscription:
    """A Transcription whose transcript ("recognition N") arrives `delay` after `finish`."""

    def __init__(
        self, client: TimedSpeechClient, number: int, config: speech_pb2.TranscriptionConfig
    ) -> None:
        self._client = client
        self.number = number
        self.config = config
        self.audio = bytearray()
        self.audio_bytes = 0
        self.started = self.finished = self.cancelled = False
        self.finished_at: float | None = None
        self._answering: asyncio.Future[None] | None = None
        self._result: asyncio.Future[speech_pb2.TranscribeResponse] = (
            asyncio.get_running_loop().create_future()
        )

    def start(self, max_utterance_seconds: float) -> None:
        self.started = True

    def send(self, pcm: bytes) -> None:
        assert not self.finished, "audio sent to a closed stream"
        self.audio += pcm
        self.audio_bytes += len(pcm)

    def finish(self) -> None:
        self.finished, self.finished_at = True, self._client.time.now()
        self._answering = asyncio.ensure_future(self._answer())

    async def _answer(self) -> None:
        await self._client.time.sleep(self._client.delay)
        if not self._result.done():
            self._result.set_result(speech_pb2.TranscribeResponse(text=f"recognition {self.number}"))

    async def result(self) -> speech_pb2.TranscribeResponse:
        return await self._result

    def cancel(self) -> None:
        self.cancelled = True
        if not self._result.done():
            self._result.cancel()
        if self._answering is not None:
            self._answering.cancel()


class TimedSpeechClient(FakeSpeechClient):
    """FakeSpeechClient's synthesis; recognition that takes `delay` of virtual time."""

    def __init__(self, delay: float = RECOGNITION_SECONDS) -> None:
        super().__init__()
        self.delay = delay
        self.time = VirtualTime()  # replaced by the harness's once it runs
        self.streams: list[TimedTranscription] = []

    def transcription(self, config: speech_pb2.TranscriptionConfig) -> TimedTranscription:  # type: ignore[override]
        stream = TimedTranscription(self, len(self.streams) + 1, config)
        self.streams.append(stream)
        return stream


def last_sound_frame(pcm: bytes) -> int:
    """The last frame webrtcvad calls speech and that is above the pause floor (200 RMS): the
    VAD goes on calling ~5 silent frames after it speech (its hangover)."""
    return max(i for i in voiced_frames(pcm) if rms(pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]) >= 200)


def speculations(result: str) -> float:
    value = REGISTRY.get_sample_value("porteiro_gateway_speculative_recognitions_total", {"result": result})
    return value or 0.0


async def play(h: LegHarness, pcm: bytes) -> dict[str, float]:
    """Feed the caller's audio one frame per tick (frame i is read at the start + i x 20 ms);
    return when (virtual time) the first utterance reached the concierge, if it did."""
    seen: dict[str, float] = {}
    for frame in audio_frames(pcm):
        h.receive(frame)
        await h.step()
        if "utterance" not in seen and h.events_of("utterance"):
            seen["utterance"] = h.time.now()
    return seen


@pytest.fixture
def speech() -> TimedSpeechClient:
    return TimedSpeechClient()


async def start_leg(h: LegHarness, speech: TimedSpeechClient) -> None:
    speech.time = h.time
    h.receive(uuid_frame(SESSION))
    await h.step()


async def test_the_early_transcript_is_used_when_the_pause_is_the_end(speech):
    caller = silence(0.4) + spoken(WORD) + silence(1.6)
    last_sound = last_sound_frame(caller)
    assert voiced_frames(caller)[-1] - last_sound >= 3  # the VAD's hangover, which the pause skips
    used, discarded = speculations("used"), speculations("discarded")
    async with LegHarness(speech=speech) as h:
        await start_leg(h, speech)
        began = h.time.now()
        seen = await play(h, caller)
    (stream,) = speech.streams  # one stream: closed at the pause, never a second recognition
    (utterance,) = h.events_of("utterance")
    assert utterance.text == "recognition 1" and stream.finished and not stream.cancelled
    # Closed 200 ms after the last sound, long before the end of speech (600 ms after the VAD's last
    # voiced frame, itself ~100 ms later).
    last_sound_at = began + last_sound * 0.02  # frame i is read at began + i x 20 ms
    assert (stream.finished_at - last_sound_at) * 1000 == pytest.approx(PAUSE_MS, abs=1)
    # The transcript reached the concierge at pause + recognition, not end of speech + recognition.
    waited = seen["utterance"] - last_sound_at
    assert waited <= (PAUSE_MS + 40) / 1000 + RECOGNITION_SECONDS + 0.02
    assert waited < END_MS / 1000 + RECOGNITION_SECONDS - 0.3
    # Its audio is the utterance up to the pause, the last voiced frame included, then the
    # silence that ends an utterance: whisper heard "Não." cut at the pause as "É uma..." (make
    # eval), and the early transcript is only used when that silence does follow.
    said, tail = bytes(stream.audio[:-END_BYTES]), bytes(stream.audio[-END_BYTES:])
    start = caller.find(said)
    assert start >= 0 and start + len(said) >= (last_sound + 1) * FRAME_BYTES
    assert tail == b"\x00" * END_BYTES
    assert utterance.audio_seconds == pytest.approx(len(stream.audio) / 16000)
    assert utterance.recognition_seconds == pytest.approx(RECOGNITION_SECONDS, abs=0.021)
    assert (speculations("used") - used, speculations("discarded") - discarded) == (1, 0)


async def test_the_end_of_speech_still_decides_when_recognition_is_quicker_than_the_silence():
    speech = TimedSpeechClient(delay=0.1)
    caller = silence(0.4) + spoken(WORD) + silence(1.6)
    last_voiced = voiced_frames(caller)[-1]
    async with LegHarness(speech=speech) as h:
        await start_leg(h, speech)
        began = h.time.now()
        seen = await play(h, caller)
    (utterance,) = h.events_of("utterance")
    assert utterance.text == "recognition 1"
    # The transcript was there after 300 ms; the concierge got it at the end of speech (600 ms).
    waited_ms = (seen["utterance"] - began - last_voiced * 0.02) * 1000
    assert END_MS <= waited_ms <= END_MS + 40, waited_ms
    assert utterance.recognition_seconds == pytest.approx(0.1, abs=0.021)


async def test_the_early_transcript_is_discarded_when_the_caller_goes_on(speech):
    # "Entrega" ... 400 ms ... "Entrega": a pause longer than 200 ms, shorter than the end (600 ms).
    caller = silence(0.4) + spoken(WORD) + silence(0.4) + spoken(WORD) + silence(1.6)
    used, discarded = speculations("used"), speculations("discarded")
    async with LegHarness(speech=speech) as h:
        await start_leg(h, speech)
        await play(h, caller)
    first, second = speech.streams
    assert first.finished and first.cancelled  # the early run, cancelled when the caller went on
    assert second.finished and not second.cancelled
    (utterance,) = h.events_of("utterance")
    assert utterance.text == "recognition 2"
    # The new stream got the whole utterance, from its pre-roll, the early run's audio first
    # (without the end-of-speech silence the early run was given after it).
    assert bytes(second.audio).startswith(bytes(first.audio[: len(first.audio) - END_BYTES]))
    start = caller.find(bytes(second.audio))
    assert start >= 0 and start + len(second.audio) >= (voiced_frames(caller)[-1] + 1) * FRAME_BYTES
    # The second pause (the end) had no early run: one speculation per utterance.
    assert (speculations("used") - used, speculations("discarded") - discarded) == (0, 1)


async def test_at_most_one_early_run_per_utterance(speech):
    caller = silence(0.4) + (spoken(WORD) + silence(0.4)) * 3 + spoken(WORD) + silence(1.6)
    discarded = speculations("discarded")
    async with LegHarness(speech=speech) as h:
        await start_leg(h, speech)
        await play(h, caller)
    assert len(speech.streams) == 2  # the early run and the stream that replaced it
    assert [s.cancelled for s in speech.streams] == [True, False]
    assert [u.text for u in h.events_of("utterance")] == ["recognition 2"]
    assert speculations("discarded") - discarded == 1


async def test_each_utterance_gets_its_own_early_run(speech):
    caller = silence(0.4) + spoken(WORD) + silence(1.2) + spoken(WORD) + silence(1.6)
    used = speculations("used")
    async with LegHarness(speech=speech) as h:
        await start_leg(h, speech)
        await play(h, caller)
    assert [u.text for u in h.events_of("utterance")] == ["recognition 1", "recognition 2"]
    assert speculations("used") - used == 2


async def test_an_early_run_in_flight_is_cancelled_when_the_leg_ends(speech):
    discarded = speculations("discarded")
    async with LegHarness(speech=speech) as h:
        await start_leg(h, speech)
        await play(h, silence(0.4) + spoken(WORD) + silence(0.3))  # paused, not ended
        (stream,) = speech.streams
        assert stream.finished and not stream.cancelled
        h.leg.socket.eof_received()  # the caller hangs up
        await h.step()
    assert stream.cancelled and h.events_of("utterance") == []
    assert speculations("discarded") - discarded == 1


async def test_turn_span_and_histograms_break_the_reply_latency_into_parts(speech):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caller = silence(0.4) + spoken(WORD) + silence(1.6)
    before = {
        stage: REGISTRY.get_sample_value("porteiro_gateway_turn_stage_seconds_count", {"stage": stage}) or 0.0
        for stage in ("end_of_speech", "recognition", "concierge", "synthesis", "playback_start")
    }
    async with LegHarness(speech=speech, tracer=provider.get_tracer("test")) as h:
        await start_leg(h, speech)
        await play(h, caller)
        await h.step(5)  # the concierge answers 100 ms after the utterance
        h.act(say("reply", "Qual é o seu nome?"))
        await h.until(lambda: bool(h.events_of("playback_finished")))
    (turn,) = [span for span in exporter.get_finished_spans() if span.name == "TURN"]
    parts = {
        name: turn.attributes[f"{name}_ms"]
        for name in ("end_of_speech", "recognition", "concierge", "synthesis", "playback_start")
    }
    assert sum(parts.values()) == pytest.approx(turn.attributes["reply_latency_ms"], abs=0.5)
    assert parts["recognition"] == pytest.approx(RECOGNITION_SECONDS * 1000, abs=21)
    assert PAUSE_MS <= parts["end_of_speech"] <= PAUSE_MS + 40
    assert parts["concierge"] >= 100 - 21
    assert all(value >= 0 for value in parts.values())
    for stage, count in before.items():
        after = REGISTRY.get_sample_value("porteiro_gateway_turn_stage_seconds_count", {"stage": stage})
        assert after == count + 1, stage


def test_speculation_metrics_exist_at_zero():
    for result in ("used", "discarded"):
        assert (
            REGISTRY.get_sample_value("porteiro_gateway_speculative_recognitions_total", {"result": result})
            is not None
        )
    assert REGISTRY.get_sample_value("porteiro_gateway_reply_latency_seconds_count") is not None


def test_every_kind_of_answer_has_its_own_silence_setting():
    # The concierge's enum and the gateway's settings cover the same kinds (a new kind needs both).
    kinds = set(concierge_pb2.ExpectedAnswer.values()) - {concierge_pb2.EXPECTED_ANSWER_UNSPECIFIED}
    config = endpointing_config(GatewaySettings(end_of_speech_silence_ms=1234))
    assert all(config.end_silence_for(kind) != 1234 for kind in kinds)
