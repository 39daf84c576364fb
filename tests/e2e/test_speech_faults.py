"""Busy is not broken (issue 15): speech and concierge slow, cut or restarted under real calls.

The whole stack runs as processes; speech is the scripted fake at its gRPC boundary
(tests/e2e/fake_speech.py), restarted here on the same port, or made busy with two
"recognizer workers" (`BusySpeech`). What is checked is what the caller hears: the
holding sentence or the fallback within 2 s of the silence a fault would leave, the
call carrying on when the dependency is back, and no call failing for a restart.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from porteiro_sim.metrics import scrape, value
from porteiro_sim.scenarios import SCENARIOS, caller_lines
from porteiro_sim.script import AwaitEvent, AwaitHangUp, AwaitReply, HangUp, LegRecord, Pause, Speak
from porteiro_sim.visitor import place_call
from tests.e2e.conftest import E2E, start_e2e, stop_e2e
from tests.e2e.speech_burst import BusySpeech, replace_speech, run_burst

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LINES = ["Entrega.", "Meu nome é João."]
# The gateway's end of speech in these tests (FAST_ENV) and its holding delay (the default).
END_OF_SPEECH_SECONDS = 0.5
HOLDING_AFTER_SECONDS = 2.0
WITHIN_SECONDS = 2.0  # the bound: a spoken sentence within 2 s of the silence
OWN_SENTENCES = {"greeting", "holding", "fallback"}


async def test_a_call_right_after_speech_restarts_succeeds(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    try:
        await e2e.fake_speech.servicer.register_lines(caller_lines(SCENARIOS["delivery"]))  # ready now
        await e2e.fake_speech.stop()
        # Meanwhile the gateway's channel tries to reconnect, further and further apart (gRPC's
        # backoff grows to minutes; capped at 1 s by porteiro_common.channels).
        await asyncio.sleep(10.0)
        await replace_speech(e2e)  # SERVING on the same port
        result = await e2e.call("delivery")  # at once
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        assert "fallback" not in result.visitor.heard_keys, e2e.explain(result)
        assert value(scrape(e2e.stack.gateway.metrics_url), "porteiro_gateway_fallbacks_total") == 0
    finally:
        await stop_e2e(e2e)


async def test_a_call_right_after_the_concierge_restarts_succeeds(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    try:
        await e2e.fake_speech.servicer.register_lines(caller_lines(SCENARIOS["delivery"]))  # ready now
        port = await kill_concierge(e2e)
        # A call while it is down hears the fallback (and drives the gateway's channel into its
        # reconnection backoff, as calls do during a real restart).
        during = await _visitor(e2e, [AwaitHangUp(20)], {})
        assert "fallback" in _keys_after(e2e, during, 0), e2e.explain_leg(during)
        await asyncio.sleep(4.0)
        await start_concierge(e2e, port)
        result = await e2e.call("delivery")  # at once
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        assert "fallback" not in result.visitor.heard_keys, e2e.explain(result)
    finally:
        await stop_e2e(e2e)


async def test_speech_lost_during_an_utterance_and_back_the_call_goes_on(e2e_dir):
    """Speech stops while the caller speaks and is back 3 s later: the caller hears the holding
    sentence within 2 s of the end of their speech, then the answer to what they said."""
    e2e = await start_e2e(e2e_dir)
    try:
        await e2e.fake_speech.servicer.register_lines(LINES)
        pcm = await e2e.voice.speak("Entrega.")
        events = {"speak": asyncio.Event()}
        steps = [AwaitReply(), AwaitEvent("speak", 20), Speak("Entrega."), Pause(10.0), HangUp()]
        call = asyncio.create_task(_visitor(e2e, steps, events))
        await asyncio.sleep(4.0)  # the greeting is played
        events["speak"].set()
        await asyncio.sleep(len(pcm) / 16000 / 2)  # half the utterance is out
        await e2e.fake_speech.stop()
        await asyncio.sleep(3.0)
        await replace_speech(e2e)
        record = await asyncio.wait_for(call, 40)
        turn = record.turns[-1]
        heard = _keys_after(e2e, record, turn.ended)
        assert heard[:1] == ["holding"], f"heard {heard}" + e2e.explain_leg(record)
        assert set(heard) - OWN_SENTENCES, f"no answer to 'Entrega.' after the holding sentence: {heard}"
        assert "fallback" not in heard
        silence = record.client.first_voiced_after(turn.ended) - (turn.ended + END_OF_SPEECH_SECONDS)
        assert silence <= WITHIN_SECONDS + 0.5, f"{silence:.2f} s of silence after the end of speech"
        assert record.timed_out == [] and record.error is None, e2e.explain_leg(record)
        samples = scrape(e2e.stack.gateway.metrics_url)
        assert value(samples, "porteiro_gateway_speech_retries_total", rpc="transcribe") >= 1
        assert value(samples, "porteiro_gateway_holding_sentences_total", result="said") == 1
    finally:
        await stop_e2e(e2e)


async def test_speech_gone_for_good_holding_then_fallback_and_the_call_ends(e2e_dir):
    env = {"gateway": {"PORTEIRO_GATEWAY_RECOGNITION_TIMEOUT_SECONDS": "5"}}
    e2e = await start_e2e(e2e_dir, env=env)
    try:
        await e2e.fake_speech.servicer.register_lines(LINES)
        events = {"speak": asyncio.Event()}
        steps = [AwaitReply(), AwaitEvent("speak", 20), Speak("Entrega."), Pause(15.0)]
        call = asyncio.create_task(_visitor(e2e, steps, events))
        await asyncio.sleep(4.0)
        await e2e.fake_speech.stop()
        events["speak"].set()
        record = await asyncio.wait_for(call, 40)
        turn = record.turns[-1]
        heard = _keys_after(e2e, record, turn.ended)
        assert heard == ["holding", "fallback"], f"heard {heard}" + e2e.explain_leg(record)
        silence = record.client.first_voiced_after(turn.ended) - (turn.ended + END_OF_SPEECH_SECONDS)
        assert silence <= WITHIN_SECONDS + 0.5, f"{silence:.2f} s of silence after the end of speech"
        assert record.client.close_reason == "hangup-frame", e2e.explain_leg(record)
        assert record.client.closed_at - turn.ended < 15.0
    finally:
        await stop_e2e(e2e)


async def test_concierge_killed_mid_call_the_fallback_within_2_s_then_a_clean_end(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    try:
        await e2e.fake_speech.servicer.register_lines(LINES)
        events = {"killed": asyncio.Event()}
        steps = [AwaitReply(), Speak("Entrega."), AwaitReply(), AwaitEvent("killed", 30), Pause(6.0)]
        call = asyncio.create_task(_visitor(e2e, steps, events))
        await _until(lambda: e2e.fake_speech.servicer.transcripts == ["Entrega."], 20)
        await asyncio.sleep(4.0)  # the concierge's question is played; the caller listens
        e2e.stack.concierge.kill()
        killed_at = time.monotonic()
        events["killed"].set()
        record = await asyncio.wait_for(call, 30)
        heard = _keys_after(e2e, record, killed_at)
        assert heard[:1] == ["fallback"], f"heard {heard}" + e2e.explain_leg(record)
        first = record.client.first_voiced_after(killed_at)
        assert first is not None and first - killed_at <= WITHIN_SECONDS, e2e.explain_leg(record)
        assert record.client.close_reason == "hangup-frame", e2e.explain_leg(record)
        assert e2e.stack.gateway.running
        logs = e2e.stack.gateway.logs(200_000)
        assert logs.count("concierge failed mid-call") == 1, "one log line for the call, not per attempt"
    finally:
        await stop_e2e(e2e)


async def test_a_whole_call_with_every_recognition_late_hears_the_holding_sentence_and_ends_well(e2e_dir):
    """Every transcript takes 2.6 s: each turn brings the holding sentence, the call still goes
    its whole way (the simulated visitor, like a person, waits for the answer after it)."""
    e2e = await start_e2e(e2e_dir)
    try:
        await replace_speech(e2e, BusySpeech(e2e.fake_speech.servicer, workers=2, seconds=(2.6,)))
        result = await e2e.call("delivery")
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        assert result.visitor.heard_keys.count("holding") >= 2, result.visitor.heard_keys
        assert "fallback" not in result.visitor.heard_keys
    finally:
        await stop_e2e(e2e)


async def test_thirty_callers_speaking_at_once_against_two_recognizer_workers_all_answered(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    try:
        busy = BusySpeech(e2e.fake_speech.servicer, workers=2)
        await replace_speech(e2e, busy)
        burst = await run_burst(e2e, callers=30)
        print(burst.summary())
        assert burst.hung_up == [], burst.summary()
        assert burst.unanswered == [], burst.summary() + e2e.explain_leg(burst.records[burst.unanswered[0]])
        assert len(busy.waits) == 30 and busy.most_running == 2
        assert value(scrape(e2e.stack.gateway.metrics_url), "porteiro_gateway_fallbacks_total") == 0
    finally:
        await stop_e2e(e2e)


# ---- helpers -----------------------------------------------------------------------------------


async def _visitor(e2e: E2E, steps: list, events: dict[str, asyncio.Event]) -> LegRecord:
    return await place_call(
        "127.0.0.1", e2e.stack.visitor_port, steps, e2e.voice, events=events, matcher=e2e.matcher
    )


def _keys_after(e2e: E2E, record: LegRecord, after: float) -> list[str]:
    """The sentences the caller heard that started after `after`, by prompt key, in order."""
    keys: list[str] = []
    for segment in record.client.segments:
        if segment.start >= after:
            keys.extend(sentence.key for sentence in e2e.matcher.identify(segment.pcm))
    return keys


async def kill_concierge(e2e: E2E) -> int:
    """Kill the concierge; its gRPC port, for `start_concierge`."""
    concierge = e2e.stack.concierge
    port = concierge.grpc_port
    concierge.kill()
    await concierge.wait_exit(10)
    return port


async def start_concierge(e2e: E2E, port: int) -> None:
    """Start the concierge again on `port` (where the gateway looks for it); wait until SERVING."""
    concierge = e2e.stack.concierge
    concierge.env = {**concierge.env, "PORTEIRO_CONCIERGE_GRPC_PORT": str(port)}
    concierge.start(
        e2e.stack.cwd,
        {
            "PORTEIRO_CONCIERGE_DIRECTORY_TARGET": e2e.stack.directory.target,
            "PORTEIRO_CONCIERGE_DIALER_TARGET": e2e.stack.dialer.target,
        },
    )
    await concierge.wait_listening(("grpc", "metrics"), 60)
    await concierge.wait_serving(60)


async def _until(predicate, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not met")
