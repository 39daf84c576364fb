"""What the visitor hears when a part of the system fails in the middle of a call.

Issue 15, items 3 and 4: each dependency cut mid-call (through a TCP proxy; the machine's
Redis and RabbitMQ are shared, so they are never stopped) gives the caller a sentence within
2 s, measured on the caller's side (the simulator's received audio), the call ends or goes on
cleanly, it is recorded for what happened (porteiro_concierge_call_failures_total{reason}),
and the next call works once the dependency is back, nothing restarted.

Redis is used all the time, so the 2 s run from the cut itself, with nobody speaking. The
directory, the dialer and its broker are only used when a sentence needs them: they are cut
while the caller is silent, and the 2 s run from the end of the caller's next sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

from porteiro_common.audiosocket import FRAME_SECONDS, SILENCE_FRAME, Kind, encode, encode_audio
from porteiro_sim.call import CallResult
from porteiro_sim.metrics import scrape, value
from porteiro_sim.pbx import Resident
from porteiro_sim.scenarios import SCENARIOS, VISITOR_OUTCOMES, caller_lines, visitor_answers
from porteiro_sim.script import AwaitEvent, AwaitHangUp, AwaitReply, Converse, Speak
from porteiro_sim.visitor import place_call
from tests.e2e.conftest import FAST_ENV, start_e2e, stop_e2e
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_speech_stopped_mid_call_plays_the_fallback_and_ends_the_call(e2e_dir):
    e2e = await start_e2e(e2e_dir)
    try:
        await e2e.fake_speech.servicer.register_lines(["Entrega.", "Meu nome é João."])
        events = {"speech-stopped": asyncio.Event()}
        steps = [
            AwaitReply(),
            Speak("Entrega."),
            AwaitReply(),
            AwaitEvent("speech-stopped", 20),
            Speak("Meu nome é João."),
            AwaitHangUp(20),
        ]
        call = asyncio.create_task(
            place_call(
                "127.0.0.1", e2e.stack.visitor_port, steps, e2e.voice, events=events, matcher=e2e.matcher
            )
        )
        await _until(lambda: e2e.fake_speech.servicer.transcripts == ["Entrega."], 20)
        await asyncio.sleep(2.0)  # the concierge's question is played
        await e2e.fake_speech.stop()
        events["speech-stopped"].set()
        record = await asyncio.wait_for(call, 40)
        assert "fallback" in record.heard_keys, e2e.explain_leg(record)
        assert record.client.close_reason in ("hangup-frame", "eof")
        assert record.timed_out == []
        assert e2e.stack.gateway.running  # the gateway carries on
        samples = scrape(e2e.stack.gateway.metrics_url)
        assert value(samples, "porteiro_gateway_fallbacks_total", reason="speech") >= 1
    finally:
        await stop_e2e(e2e)


async def test_broker_unreachable_the_visitor_is_told_the_resident_cannot_be_called(e2e_dir):
    # Never stop the machine's RabbitMQ (others use it): the dialer reaches it through a proxy we cut.
    proxy = TcpProxy(("127.0.0.1", 5672)).start()
    e2e = await start_e2e(e2e_dir, amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F")
    try:
        proxy.close()
        result = await e2e.call("delivery")
        assert result.visitor_outcome == "visitor_dialer_unavailable", e2e.explain(result)
        assert result.commands == [] and result.residents == []
        assert result.visitor.client.close_reason in ("hangup-frame", "eof")
    finally:
        await stop_e2e(e2e)
        proxy.close()


async def test_concierge_killed_mid_call_a_second_one_carries_it_on(e2e_dir):
    gateway_env = {
        "PORTEIRO_GATEWAY_ON_DEPENDENCY_FAILURE": "retry",
        "PORTEIRO_GATEWAY_MAX_DEPENDENCY_FAILURES": "3",
    }
    e2e = await start_e2e(e2e_dir, redis=True, concierges=2, env={"gateway": gateway_env})
    try:
        scenario = SCENARIOS["delivery"]
        await e2e.fake_speech.servicer.register_lines(caller_lines(scenario))
        answers = visitor_answers("Entrega")
        # The fallback sentence is not the end here: the call goes on after it.
        steps = [Converse(answers, VISITOR_OUTCOMES - {"fallback"}, timeout=40, max_replies=20)]
        call = asyncio.create_task(e2e.call_with_steps(scenario, steps))
        await _until(lambda: len(e2e.fake_speech.servicer.transcripts) >= 1, 20)
        await asyncio.sleep(1.5)
        # Kill whichever concierge holds the call (gRPC picked one of the two addresses).
        first, second = sorted(e2e.stack.concierges, key=lambda c: -_visitor_turns(c))
        assert _visitor_turns(first) >= 1 and _visitor_turns(second) == 0
        first.kill()
        result = await asyncio.wait_for(call, 90)
        assert "fallback" in result.visitor.heard_keys, e2e.explain(result)
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        assert second.running and not first.running
        assert (
            value(scrape(second.metrics_url), "porteiro_concierge_call_outcomes_total", outcome="authorized")
            == 1
        )
    finally:
        await stop_e2e(e2e)


def _visitor_turns(concierge) -> float:
    return value(scrape(concierge.metrics_url), "porteiro_concierge_turns_total", leg="visitor")


async def _until(predicate, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not met")


# ---- issue 15: every dependency cut mid-call ends in words -------------------------------------

WORDS_WITHIN_SECONDS = 2.0
REDIS = ("127.0.0.1", 6379)
# Where a proxy points before the stack is up and its upstream known (nothing listens there).
NOWHERE = ("127.0.0.1", 9)
# The visitor's lines: the third names whom to call with a cue, so it is understood even while
# the directory is away, and it is the sentence that needs the directory and then the dialer.
INTENT, NAME, WHOM = "Entrega.", "Meu nome é João.", "Para a Renata do 501."


def concierge_env(**extra: str) -> dict:
    return {"concierge": {**FAST_ENV["concierge"], **extra}}


def failures(e2e, reason: str) -> float:
    return sum(
        value(scrape(c.metrics_url), "porteiro_concierge_call_failures_total", reason=reason)
        for c in e2e.stack.concierges
        if c.running
    )


def directory_errors(e2e) -> float:
    """Visitor turns answered with the directory's apology."""
    samples = scrape(e2e.stack.concierge.metrics_url)
    return value(samples, "porteiro_concierge_turns_total", leg="visitor", outcome="error")


def first_sentence_after(e2e, record, moment: float) -> tuple[float, list[str]]:
    """Seconds from `moment` to the first voiced frame the caller received after it, and what
    that sentence was (prompt keys); no audio after it at all is a silent call."""
    for segment in record.segments:
        if segment.start >= moment:
            return segment.start - moment, [s.key for s in e2e.matcher.identify(segment.pcm)]
    raise AssertionError(f"silence: nothing heard after the cut{e2e.explain_leg(record)}")


def turn_ended(record, text: str) -> float:
    """When the caller's last voiced frame of `text` went out (its first saying)."""
    return next(turn.ended for turn in record.turns if turn.text == text)


def directed_call(back: bool = False, holding: bool = False) -> list:
    """Greeting, intent, name; the test cuts a dependency ("cut"); whom to call. With `back`: the
    test restores it ("back"), the visitor says whom again and the call goes on to its end;
    `holding`: a holding sentence comes before the reply."""
    steps = [
        AwaitReply(),
        Speak(INTENT),
        AwaitReply(),
        Speak(NAME),
        AwaitReply(),
        AwaitEvent("cut", 30),
        Speak(WHOM),
    ]
    if not back:
        return [*steps, AwaitHangUp(30)]
    return [
        *steps,
        *([AwaitReply()] if holding else []),
        AwaitReply(),
        AwaitEvent("back", 30),
        Speak(WHOM),
        Converse(visitor_answers("Entrega"), VISITOR_OUTCOMES, timeout=40, max_replies=12),
    ]


async def directed(e2e, steps: list, events: dict[str, asyncio.Event]) -> CallResult:
    """The delivery scenario's PBX and resident (who says yes), the visitor playing `steps`
    with the test's `events`."""
    scenario = SCENARIOS["delivery"]
    resident = Resident(scenario.resident_steps(), None, 0.3)
    visitor, pbx = await e2e.call_with_pbx(steps, resident, scenario, events)
    return CallResult(scenario, visitor, list(pbx.legs), list(pbx.commands))


async def until_heard(e2e, line: str, played_seconds: float) -> None:
    """The caller said `line`, and the reply to it has had `played_seconds` to play."""
    await _until(lambda: line in e2e.fake_speech.servicer.transcripts, 30)
    await asyncio.sleep(played_seconds)


async def test_redis_cut_mid_call_the_caller_hears_words_within_2s_and_the_next_call_works(e2e_dir):
    proxy = TcpProxy(REDIS).start()
    env = concierge_env(PORTEIRO_CONCIERGE_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0")
    e2e = await start_e2e(e2e_dir, redis=True, env=env)
    try:
        await e2e.fake_speech.servicer.register_lines([INTENT])
        # The caller answers the greeting, then says nothing more and listens until hung up.
        steps = [AwaitReply(), Speak(INTENT), AwaitHangUp(40)]
        call = asyncio.create_task(
            place_call("127.0.0.1", e2e.stack.visitor_port, steps, e2e.voice, matcher=e2e.matcher)
        )
        await until_heard(e2e, INTENT, 3.0)  # the name question has played: the caller is silent
        cut = time.monotonic()
        proxy.close()
        record = await asyncio.wait_for(call, 60)
        seconds, keys = first_sentence_after(e2e, record, cut)
        assert seconds <= WORDS_WITHIN_SECONDS, e2e.explain_leg(record)
        assert keys == ["fallback"], e2e.explain_leg(record)
        assert record.client.close_reason in ("hangup-frame", "eof") and record.timed_out == []
        assert failures(e2e, "dependency_redis") == 1
        print(f"\nredis cut -> first audio of the sentence: {seconds:.2f} s")

        proxy.reopen()
        result = await e2e.call("delivery")
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
    finally:
        await stop_e2e(e2e)
        proxy.close()


@pytest.mark.parametrize("cut", ["refused", "frozen"])
async def test_directory_cut_mid_call_the_visitor_hears_words_within_2s_and_the_call_goes_on(e2e_dir, cut):
    """Refused: the connection is cut, the apology comes at once. Frozen: the directory stops
    answering (connections held open), the holding sentence comes while the lookups run out
    their deadlines, then the apology."""
    proxy = TcpProxy(NOWHERE).start()
    e2e = await start_e2e(
        e2e_dir, env=concierge_env(PORTEIRO_CONCIERGE_DIRECTORY_TARGET=f"127.0.0.1:{proxy.port}")
    )
    try:
        proxy.upstream = ("127.0.0.1", e2e.stack.directory.known_port("grpc"))
        await e2e.fake_speech.servicer.register_lines([INTENT, NAME, WHOM])
        events = {"cut": asyncio.Event(), "back": asyncio.Event()}
        call = asyncio.create_task(directed(e2e, directed_call(back=True, holding=cut == "frozen"), events))
        await until_heard(e2e, NAME, 3.0)
        if cut == "refused":
            proxy.close()
        else:
            proxy.freeze()
        events["cut"].set()
        await _until(lambda: directory_errors(e2e) >= 1, 40)  # the concierge gave up on it
        await asyncio.sleep(4.0)  # the apology has played
        if cut == "refused":
            proxy.reopen()  # the directory is back: the visitor says it again, the call goes on
        else:
            proxy.thaw()
        events["back"].set()
        result = await asyncio.wait_for(call, 90)
        visitor = result.visitor
        seconds, keys = first_sentence_after(e2e, visitor, turn_ended(visitor, WHOM))
        assert seconds <= WORDS_WITHIN_SECONDS, e2e.explain(result)
        first = "directory_unavailable" if cut == "refused" else "holding"
        assert keys == [first], e2e.explain(result)
        assert "directory_unavailable" in visitor.heard_keys, e2e.explain(result)
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
        print(f"\ndirectory {cut}: end of the sentence -> first audio of the reply: {seconds:.2f} s")
    finally:
        await stop_e2e(e2e)
        proxy.close()


@pytest.mark.parametrize("cut_between", ["concierge-dialer", "dialer-rabbitmq"])
async def test_dialer_or_its_broker_cut_mid_call_ends_in_words_failed_and_the_next_call_works(
    e2e_dir, cut_between
):
    if cut_between == "concierge-dialer":
        proxy = TcpProxy(NOWHERE).start()
        env = concierge_env(PORTEIRO_CONCIERGE_DIALER_TARGET=f"127.0.0.1:{proxy.port}")
        e2e = await start_e2e(e2e_dir, env=env)
        proxy.upstream = ("127.0.0.1", e2e.stack.dialer.known_port("grpc"))
    else:
        proxy = TcpProxy(("127.0.0.1", 5672)).start()
        e2e = await start_e2e(e2e_dir, amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F")
    try:
        await e2e.fake_speech.servicer.register_lines([INTENT, NAME, WHOM])
        events = {"cut": asyncio.Event()}
        call = asyncio.create_task(directed(e2e, directed_call(), events))
        await until_heard(e2e, NAME, 3.0)
        proxy.close()
        events["cut"].set()
        result = await asyncio.wait_for(call, 60)
        visitor = result.visitor
        spoke = turn_ended(visitor, WHOM)
        seconds, keys = first_sentence_after(e2e, visitor, spoke)
        assert seconds <= WORDS_WITHIN_SECONDS, e2e.explain(result)
        assert keys[:1] == ["confirm_delivery"], e2e.explain(result)
        assert result.visitor_outcome == "visitor_dialer_unavailable", e2e.explain(result)
        assert visitor.client.close_reason in ("hangup-frame", "eof") and visitor.timed_out == []
        assert result.commands == [] and result.residents == []
        assert failures(e2e, "dependency_dialer") == 1
        told = [round(segment.start - spoke, 2) for segment in visitor.segments if segment.start >= spoke]
        print(f"\n{cut_between} cut: end of the sentence -> audio at {told} s")

        proxy.reopen()
        await asyncio.sleep(1.5)  # the broken connection is retried (gRPC channel, AMQP)
        result = await e2e.call("delivery")
        assert result.visitor_outcome == "visitor_authorized_delivery", e2e.explain(result)
    finally:
        await stop_e2e(e2e)
        proxy.close()


async def test_a_resident_leg_lost_to_a_protocol_error_is_failed_and_the_visitor_told_the_line_dropped(
    e2e_dir,
):
    e2e = await start_e2e(e2e_dir)
    try:
        await e2e.fake_speech.servicer.register_lines([INTENT, NAME, WHOM])
        session_id = str(uuid.uuid4())
        steps = [AwaitReply(), Speak(INTENT), AwaitReply(), Speak(NAME), AwaitReply(), Speak(WHOM)]
        steps += [AwaitHangUp(40)]
        call = asyncio.create_task(
            place_call(
                "127.0.0.1",
                e2e.stack.visitor_port,
                steps,
                e2e.voice,
                session_id=session_id,
                matcher=e2e.matcher,
            )
        )
        await until_heard(e2e, WHOM, 0.5)  # the resident's phone rings (no PBX: the test answers)
        await broken_resident(e2e.stack.resident_port, session_id)
        record = await asyncio.wait_for(call, 60)
        assert "visitor_resident_lost" in record.heard_keys, e2e.explain_leg(record)
        assert "visitor_resident_hung_up" not in record.heard_keys, e2e.explain_leg(record)
        assert record.client.close_reason in ("hangup-frame", "eof") and record.timed_out == []
        assert failures(e2e, "protocol_error") == 1
        assert e2e.outcomes("resident_hung_up") == 0
    finally:
        await stop_e2e(e2e)


async def broken_resident(port: int, session_id: str) -> None:
    """The resident's leg as a PBX that breaks the protocol: its UUID, a second of silence while
    the brief starts, then a frame of a kind AudioSocket does not have."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(encode(Kind.UUID, uuid.UUID(session_id).bytes))
        for _ in range(50):
            writer.write(encode_audio(SILENCE_FRAME))
            await writer.drain()
            await asyncio.sleep(FRAME_SECONDS)
        writer.write(encode(0x55, b"?"))
        await writer.drain()
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(5):
                while await reader.read(4096):  # the gateway closes the leg
                    pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
