"""A real Leg in process and in virtual time (tests/gateway/harness.py): each test runs in milliseconds."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.audiosocket import HANGUP_FRAME, Kind, encode
from porteiro_gateway.fallback import busy_tone
from porteiro_gateway.leg import Leg
from tests.gateway.harness import (
    FALLBACK_TEXT,
    FRAME_BYTES,
    START,
    FakeTransport,
    LegHarness,
    accepted,
    audio_frames,
    hang_up,
    recognition,
    rpc_error,
    run_leg,
    say,
    uuid_frame,
)
from tests.gateway.support import silence, spoken, voiced_frames

Reason = concierge_pb2.LegEndReason
SESSION = "5f0c6a44-29a4-4bd4-9a6e-3f1f2b0c8d11"
SENTENCE = "Eu vim entregar uma encomenda para o apartamento cento e dois"
SILENT_FRAME = bytes(FRAME_BYTES)


def sound_span(payloads: list[bytes]) -> tuple[int, int]:
    """(first, last + 1) index of the non-silent frames."""
    loud = [i for i, payload in enumerate(payloads) if any(payload)]
    return loud[0], loud[-1] + 1


async def test_greeting_is_played_frame_by_frame_bit_exact_then_silence():
    run = await run_leg([uuid_frame(SESSION)], [(0.0, say("g", "Condomínio Apoena, bom dia"))], seconds=2.0)
    events, frames_out = run
    greeting = run.harness.speech.audio("Condomínio Apoena, bom dia")

    assert all(f.kind == Kind.AUDIO_8K and len(f.payload) == FRAME_BYTES for f in frames_out)
    payloads = [f.payload for f in frames_out]
    assert payloads[0] == SILENT_FRAME, "the first frame leaves at once, before any Say (asterisk issue 2089)"
    first, end = sound_span(payloads)
    assert b"".join(payloads[first:end]) == greeting
    assert all(p == SILENT_FRAME for p in payloads[end:]) and len(payloads[end:]) > 10, "silence when idle"
    # One write per 20 ms tick, on the virtual schedule, from the first tick to the last.
    times = [at for at, _ in run.harness.transport.writes]
    assert times == pytest.approx([START + n * 0.02 for n in range(len(times))], abs=1e-9)
    assert run.harness.lateness and max(run.harness.lateness) < 1e-9
    finished = run.of("playback_finished")
    assert [(f.say_id, f.interrupted) for f in finished] == [("g", False)]
    assert finished[0].played_seconds == pytest.approx(len(greeting) / 16000)
    assert run.of("leg_started")[0] == concierge_pb2.LegStarted(
        session_id=SESSION, leg=common_pb2.LEG_VISITOR, sample_rate_hz=8000
    )
    assert (
        run.kinds()[-1] == "leg_ended"
        and run.of("leg_ended")[0].reason == Reason.LEG_END_REASON_CALLER_HANGUP
    )
    assert "leg_ended" in [e.WhichOneof("event") for e in events]


async def test_an_utterance_is_recognised_with_its_pre_roll_and_sent_as_an_utterance():
    caller = silence(0.6) + spoken(SENTENCE) + silence(1.0)
    run = await run_leg(
        [uuid_frame(SESSION), *audio_frames(caller)], [(0.0, recognition("Apoena", "entrega"))], seconds=8
    )
    speech = run.harness.speech
    assert run.kinds().index("speech_started") < run.kinds().index("utterance")
    utterance = run.of("utterance")[0]
    assert utterance.text == speech.transcript and utterance.confidence == pytest.approx(0.9)
    assert 0 <= utterance.recognition_seconds <= 0.02  # the fake answers within the tick
    (transcription,) = speech.transcriptions
    assert transcription.finished and not transcription.cancelled
    assert list(transcription.config.hints) == ["Apoena", "entrega"]
    assert transcription.config.session_id == SESSION and transcription.config.sample_rate_hz == 8000
    # What speech got is one contiguous piece of what the caller said, with >= 200 ms before the voice.
    audio = bytes(transcription.audio)
    start = caller.find(audio)
    assert start >= 0 and len(audio) == utterance.audio_seconds * 16000
    first_voiced = voiced_frames(caller)[0] * FRAME_BYTES
    assert (first_voiced - start) / 16 >= 200
    assert start + len(audio) >= voiced_frames(caller)[-1] * FRAME_BYTES


async def test_turn_latency_is_measured_in_virtual_time_on_the_turn_span():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caller = spoken(SENTENCE) + silence(1.0)
    # Without speculative recognition the transcription is finished at the end of speech (with it, at
    # the pause before: tests/gateway/test_speculative_recognition.py).
    no_speculation = {"speculative_recognition_ms": 0}
    async with LegHarness(tracer=provider.get_tracer("test"), settings=no_speculation) as h:
        h.receive(uuid_frame(SESSION))
        for frame in audio_frames(caller):
            h.receive(frame)
            if h.speech.transcriptions and h.speech.transcriptions[0].finished:
                speech_ended_at = h.time.now()
                break
            await h.step()
        await h.step(15)  # recognition, then the concierge takes 300 ms to answer
        h.act(say("reply", "Um momento"))
        await h.until(lambda: bool(h.events_of("playback_finished")))
        first_reply_frame_at = min(at for at, data in h.transport.writes if any(data[3:]))
    (turn,) = [span for span in exporter.get_finished_spans() if span.name == "TURN"]
    assert turn.attributes["outcome"] == "utterance" and turn.attributes["porteiro.turn"] == 1
    # End of speech -> first reply frame on the wire, in virtual time.
    expected_ms = round((first_reply_frame_at - speech_ended_at) * 1000, 1)
    assert turn.attributes["turn_latency_ms"] == expected_ms and 300 < expected_ms < 360
    assert [e.name for e in turn.events][:3] == ["SPEECH_DETECTED", "SILENCE_DETECTED", "SPEECH_ENDED"]
    assert turn.attributes["porteiro.transcript"] == "[redacted]"  # PORTEIRO_TRACE_PERSONAL_DATA is off
    # The latency histograms carry the turn's trace id as an exemplar (observed outside its span).
    trace_id = format(turn.context.trace_id, "032x")
    exposition = generate_openmetrics(REGISTRY).decode()
    for histogram in ("porteiro_gateway_turn_latency_seconds", "porteiro_gateway_reply_latency_seconds"):
        exemplars = [line for line in exposition.splitlines() if line.startswith(f"{histogram}_bucket")]
        assert any(f'trace_id="{trace_id}"' in line for line in exemplars), histogram
    call = next(span for span in exporter.get_finished_spans() if span.name == "CALL")
    assert turn.parent.span_id == call.context.span_id
    assert call.attributes["porteiro.session_id"] == SESSION
    call_events = [event.name for event in call.events]
    assert call_events[0] == "CALL_SETUP" and call_events[-1] == "CALL_ENDED"
    assert "GREETING" in call_events
    states = [(e.attributes["from"], e.attributes["to"]) for e in call.events if e.name == "STATE_CHANGE"]
    assert states == [
        ("CONNECTED", "CALLER_SPEAKING"),
        ("CALLER_SPEAKING", "LISTENING"),
        ("LISTENING", "PLAYING"),
        ("PLAYING", "LISTENING"),
        ("LISTENING", "ENDING"),
    ]


async def test_barge_in_stops_playback_at_the_next_tick_and_drops_the_queue():
    async with LegHarness() as h:
        h.speech.texts["longa"] = h.speech.audio("longa") * 4  # 4 s
        h.receive(uuid_frame())
        h.act(say("s1", "longa"), say("s2", "depois"))
        await h.step(30)  # 600 ms of the Say: past the 300 ms echo guard
        words = spoken("não, espera") + silence(1.0)
        first_voiced = voiced_frames(words)[0]
        sent_at = []
        for frame in audio_frames(words):
            sent_at.append(h.time.now())
            h.receive(frame)
            await h.step()
            if h.events_of("barge_in"):
                break
        (barge,) = h.events_of("barge_in")
        assert barge.say_id == "s1" and barge.played_seconds == pytest.approx(0.62, abs=0.021)
        finished = h.events_of("playback_finished")
        assert [(f.say_id, f.interrupted) for f in finished] == [("s1", True), ("s2", True)]
        await h.step(5)
        writes = h.transport.writes
        last_sound = max(at for at, data in writes if any(data[3:]))
        first_silence = min(at for at, data in writes if at > last_sound)
        assert all(not any(data[3:]) for at, data in writes if at > last_sound)
        stop_ms = (first_silence - sent_at[first_voiced]) * 1000
        assert stop_ms <= 100, f"silence {stop_ms:.0f} ms after the caller's first voiced frame"


async def test_a_say_without_barge_in_plays_to_its_end_over_the_caller():
    async with LegHarness() as h:
        h.receive(uuid_frame())
        h.act(say("s1", "curta", allow_barge_in=False))
        await h.step(20)
        for frame in audio_frames(spoken("oi oi oi") + silence(0.3)):
            h.receive(frame)
            await h.step()
        await h.until(lambda: bool(h.events_of("playback_finished")))
        assert not h.events_of("barge_in")
        assert not h.events_of("playback_finished")[0].interrupted


async def test_keys_become_dtmf_events_in_order():
    run = await run_leg([uuid_frame(), encode(Kind.DTMF, b"1"), encode(Kind.DTMF, b"#")], seconds=0.2)
    assert [d.digit for d in run.of("dtmf")] == ["1", "#"]


async def test_hang_up_after_playback_plays_everything_then_sends_a_hangup_frame_and_closes():
    run = await run_leg([uuid_frame()], [(0.0, say("bye", "Até logo")), (0.02, hang_up(after_playback=True))])
    h = run.harness
    assert h.audio_out().find(h.speech.audio("Até logo")) >= 0
    assert run.frames_out[-1].kind == Kind.HANGUP and h.transport.closed
    assert h.transport.writes[-1][1] == HANGUP_FRAME
    assert run.kinds()[-2:] == ["playback_finished", "leg_ended"]
    assert not run.of("playback_finished")[0].interrupted
    assert run.of("leg_ended")[0].reason == Reason.LEG_END_REASON_HANGUP_REQUESTED
    # The leg ended right after the Say: 1 s of audio, not the 10 s the run allowed.
    assert h.time.now() - START < 1.2


async def test_hang_up_now_interrupts_playback():
    run = await run_leg([uuid_frame()], [(0.0, say("s1", "longa")), (0.2, hang_up(after_playback=False))])
    assert [(f.say_id, f.interrupted) for f in run.of("playback_finished")] == [("s1", True)]
    assert run.frames_out[-1].kind == Kind.HANGUP


async def test_a_failed_synthesis_plays_the_fallback_sentence_then_hangs_up():
    harness = LegHarness()
    harness.speech.failing_texts.add("quebrada")
    run = await run_leg([uuid_frame()], [(0.0, say("bad", "quebrada"))], harness=harness)
    h = run.harness
    assert [(f.say_id, f.interrupted) for f in run.of("playback_finished")] == [("bad", True)]
    assert h.speech.audio(FALLBACK_TEXT) in h.audio_out()
    assert run.frames_out[-1].kind == Kind.HANGUP
    assert run.of("leg_ended")[0].reason == Reason.LEG_END_REASON_DEPENDENCY_FAILURE


async def test_busy_tone_while_the_fallback_sentence_is_not_ready():
    harness = LegHarness(fallback_ready=False)
    harness.speech.failing_texts.add("quebrada")
    run = await run_leg([uuid_frame()], [(0.0, say("bad", "quebrada"))], harness=harness)
    assert busy_tone() in run.harness.audio_out()
    assert run.harness.leg.end_reason == Reason.LEG_END_REASON_DEPENDENCY_FAILURE


async def test_concierge_gone_mid_call_plays_the_fallback_then_hangs_up():
    async with LegHarness() as h:
        h.receive(uuid_frame())
        await h.step()
        h.concierge.break_stream()
        await h.until(lambda: h.ended)
        assert h.speech.audio(FALLBACK_TEXT) in h.audio_out()
        assert h.frames_out[-1].kind == Kind.HANGUP
        assert h.leg.end_reason == Reason.LEG_END_REASON_DEPENDENCY_FAILURE


async def test_recognition_failure_plays_the_fallback():
    async with LegHarness() as h:
        h.speech.recognition_error = rpc_error(grpc.StatusCode.UNAVAILABLE, "whisper is down")
        h.receive(uuid_frame())
        for frame in audio_frames(spoken(SENTENCE) + silence(1.0)):
            h.receive(frame)
            await h.step()
        await h.until(lambda: h.ended)
        assert not h.events_of("utterance")
        assert h.speech.audio(FALLBACK_TEXT) in h.audio_out()
        assert h.leg.end_reason == Reason.LEG_END_REASON_DEPENDENCY_FAILURE


async def test_rejected_utterances_are_dropped_without_a_fallback():
    async with LegHarness() as h:
        h.speech.recognition_error = rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "too short")
        h.receive(uuid_frame())
        for frame in audio_frames(spoken(SENTENCE) + silence(1.0)):
            h.receive(frame)
            await h.step()
        await h.step(10)
        assert not h.events_of("utterance") and not h.ended
        assert not any(h.audio_out()), "nothing but silence was played"


async def test_retry_mode_reopens_the_concierge_stream_after_the_fallback():
    async with LegHarness(settings={"on_dependency_failure": "retry", "max_dependency_failures": 3}) as h:
        h.receive(uuid_frame(SESSION))
        await h.step()
        h.concierge.break_stream()
        await h.until(lambda: h.concierge.opened == 2)
        assert not h.ended
        assert [e.session_id for e in h.events_of("leg_started")] == [SESSION, SESSION]
        h.act(say("again", "de volta"))
        await h.until(lambda: bool(h.events_of("playback_finished")))
        audio = h.audio_out()
        assert audio.index(h.speech.audio(FALLBACK_TEXT)) < audio.index(h.speech.audio("de volta"))


async def test_retry_mode_plays_the_fallback_after_a_failed_synthesis_and_carries_on():
    async with LegHarness(settings={"on_dependency_failure": "retry", "max_dependency_failures": 3}) as h:
        h.speech.failing_texts.add("quebrada")
        h.receive(uuid_frame())
        h.act(say("bad", "quebrada"))
        await h.until(lambda: bool(h.events_of("playback_finished")))
        assert [(f.say_id, f.interrupted) for f in h.events_of("playback_finished")] == [("bad", True)]
        h.act(say("good", "depois do problema"))
        await h.until(lambda: len(h.events_of("playback_finished")) == 2)
        assert not h.events_of("playback_finished")[1].interrupted and not h.ended
        audio = h.audio_out()
        fallback, after = h.speech.audio(FALLBACK_TEXT), h.speech.audio("depois do problema")
        assert 0 <= audio.index(fallback) < audio.index(after)


async def test_a_reset_after_the_hangup_frame_is_still_a_caller_hangup():
    async with LegHarness() as h:
        h.receive(uuid_frame())
        h.receive(HANGUP_FRAME)
        h.leg.socket.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        await h.until(lambda: h.ended)
        assert h.leg.end_reason == Reason.LEG_END_REASON_CALLER_HANGUP
        assert h.events_of("leg_ended")[0].detail == "hangup frame"
        assert h.frames_out[-1].kind == Kind.AUDIO_8K, "no hangup frame back to a caller who hung up"


async def test_a_reset_after_a_hangup_frame_that_arrived_before_the_leg_started():
    async with LegHarness() as h:
        early = Leg(h.leg.deps, common_pb2.LEG_VISITOR, FakeTransport(h.time))
        early.socket.data_received(uuid_frame() + HANGUP_FRAME)  # read before run() has its tasks
        early.socket.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        await early.run()
        assert early.end_reason == Reason.LEG_END_REASON_CALLER_HANGUP


async def test_a_reset_without_a_hangup_frame_is_a_connection_error():
    async with LegHarness() as h:
        h.receive(uuid_frame())
        h.leg.socket.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        await h.until(lambda: h.ended)
        assert h.leg.end_reason == Reason.LEG_END_REASON_CONNECTION_ERROR


async def test_a_peer_that_stops_reading_ends_the_leg():
    async with LegHarness() as h:
        h.receive(uuid_frame())
        h.transport.unsent_bytes = 70_000
        await h.until(lambda: h.ended, seconds=0.2)
        assert h.leg.end_reason == Reason.LEG_END_REASON_CONNECTION_ERROR


async def test_max_call_duration_in_virtual_time():
    silence_frames = [encode(Kind.AUDIO_8K, SILENT_FRAME)] * 3000  # Asterisk sends audio all along
    harness = LegHarness(settings={"max_call_seconds": 30})
    run = await run_leg([uuid_frame(), *silence_frames], seconds=60, harness=harness)
    assert run.harness.leg.end_reason == Reason.LEG_END_REASON_MAX_DURATION
    assert run.harness.time.now() - START == pytest.approx(30, abs=0.021)
    assert run.frames_out[-1].kind == Kind.HANGUP
    ticks = [at for at, data in run.harness.transport.writes if data != HANGUP_FRAME]
    assert len(ticks) == round((ticks[-1] - START) / 0.02) + 1, "one frame per tick for 30 s, no gap"


async def test_no_uuid_in_time_is_a_protocol_error():
    run = await run_leg([], seconds=5)
    assert run.harness.leg.end_reason == Reason.LEG_END_REASON_PROTOCOL_ERROR
    assert run.harness.time.now() - START == pytest.approx(2.0, abs=0.021)
    assert run.frames_out[-1].kind == Kind.HANGUP and run.events == []


async def test_resident_leg_waits_for_the_visitors_traceparent_and_announces_itself():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    harness = LegHarness(leg_kind=common_pb2.LEG_RESIDENT, tracer=provider.get_tracer("test"))
    run = await run_leg([uuid_frame(SESSION)], [(0.02, accepted(traceparent))], seconds=0.5, harness=harness)
    assert run.of("leg_started")[0].leg == common_pb2.LEG_RESIDENT
    (span,) = exporter.get_finished_spans()
    assert span.name == "RESIDENT_LEG"
    assert format(span.context.trace_id, "032x") == traceparent.split("-")[1]
