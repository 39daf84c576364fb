"""The resident's leg from ring to goodbye on the real stack (issue 16, item 1).

The five services as processes, the real RabbitMQ and the PBX simulator; speech is the
scripted fake (the tests are about timing, not recognition). Times are measured on the
simulated lines: when the visitor hung up or the resident keyed, and when the sentence
that answers it started (the last sentence of a leg ends where the leg's audio ends, so
it started its own length earlier, whether or not a cut sentence runs into it).
"""

from __future__ import annotations

import pytest

from porteiro_concierge.prompts import Prompts
from porteiro_sim import audio
from porteiro_sim.pbx import Pbx, Resident, resident_says
from porteiro_sim.scenarios import SCENARIOS, VALUES, VISITOR_OUTCOMES, visitor_answers
from porteiro_sim.script import AwaitHangUp, Converse, HangUp, Keys, LegRecord, Pause
from tests.e2e.conftest import E2E, FAST_ENV, start_e2e, stop_e2e

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

DELIVERY = SCENARIOS["delivery"]
PROMPTS = Prompts()


async def run(e2e: E2E, visitor_steps: list, resident: Resident) -> tuple[LegRecord, Pbx]:
    """One call: the visitor's script on the visitor port, `resident` behind the PBX simulator."""
    return await e2e.call_with_pbx(visitor_steps, resident, DELIVERY)


def answering(until: frozenset[str] = VISITOR_OUTCOMES) -> Converse:
    return Converse(visitor_answers("Entrega"), until, timeout=40.0, max_replies=16)


async def spoken_seconds(e2e: E2E, key: str) -> float:
    """How long the system's voice takes to say prompt `key` (the fake speech speaks with e2e.voice)."""
    return audio.seconds_of(await e2e.voice.speak(PROMPTS.text(key, **VALUES)))


async def last_sentence_start(e2e: E2E, record: LegRecord, key: str) -> float:
    """When the leg's last sentence (prompt `key`) started: where its audio ends, minus its length."""
    assert record.segments, "the leg heard nothing"
    assert key in record.heard_keys, f"{record.role} did not hear {key}: {record.heard_keys}"
    return record.segments[-1].end - await spoken_seconds(e2e, key)


def explain(e2e: E2E, *records: LegRecord) -> str:
    return "".join(e2e.explain_leg(record) for record in records)


async def test_visitor_hanging_up_during_the_brief_cuts_it_and_the_resident_hears_why_within_1_s(
    shared_e2e,
):
    listens = Resident([AwaitHangUp(40.0)], None, 0.3)  # hears the brief, says nothing

    visitor, pbx = await run(shared_e2e, [answering(frozenset({"resident_answered"})), HangUp()], listens)

    assert len(pbx.legs) == 1, explain(shared_e2e, visitor) + f"\ncommands: {pbx.commands}"
    [resident] = pbx.legs
    hung_up_at = visitor.client.closed_at
    assert visitor.client.close_reason == "local", explain(shared_e2e, visitor, resident)
    notice_at = await last_sentence_start(shared_e2e, resident, "resident_visitor_hung_up")
    assert notice_at - hung_up_at <= 1.0, explain(shared_e2e, visitor, resident)
    # The brief (several seconds more) was cut: the line closes once the short notice is said.
    notice = await spoken_seconds(shared_e2e, "resident_visitor_hung_up")
    assert resident.client.closed_at - hung_up_at <= 1.0 + notice + 0.5, explain(shared_e2e, resident)
    assert resident.client.close_reason in ("hangup-frame", "eof")
    assert pbx.cancels == []  # the resident had answered: nothing was left ringing


async def test_resident_pressing_1_during_the_brief_authorizes_within_1_s(shared_e2e):
    before = shared_e2e.outcomes("authorized")
    # The phone rings 2 s (the visitor has heard "Vou chamar, aguarde"); 3 s into the brief, "1".
    keys_early = Resident([Pause(3.0), Keys("1"), AwaitHangUp(20.0)], None, 2.0)

    visitor, pbx = await run(shared_e2e, [answering()], keys_early)

    [resident] = pbx.legs
    keyed_at = resident.turns[0].ended
    brief = await spoken_seconds(shared_e2e, "resident_brief_delivery")
    assert keyed_at - resident.client.uuid_sent_at < brief  # pressed while the brief was playing
    told_at = await last_sentence_start(shared_e2e, visitor, "visitor_authorized_delivery")
    assert told_at - keyed_at <= 1.0, explain(shared_e2e, visitor, resident)
    acked_at = await last_sentence_start(shared_e2e, resident, "resident_ack_authorized")
    assert acked_at - keyed_at <= 1.0, explain(shared_e2e, resident)
    assert shared_e2e.outcomes("authorized") == before + 1


async def test_a_retry_cancels_the_first_attempt_before_placing_the_second(shared_e2e):
    # The connect timeout is 3 s here (FAST_ENV); the resident only answers the second attempt.
    second_only = Resident(resident_says("#1"), {2}, 0.5)

    visitor, pbx = await run(shared_e2e, [answering()], second_only)

    assert "visitor_authorized_delivery" in visitor.heard_keys, explain(shared_e2e, visitor, *pbx.legs)
    first, second = pbx.commands
    [cancel] = pbx.cancels
    assert cancel.command_id == first.command_id != second.command_id
    assert cancel.guid == first.guid == visitor.client.session_id
    assert cancel.received_at <= second.received_at
    assert len(pbx.legs) == 1


async def test_a_phone_still_ringing_when_its_attempt_is_superseded_is_never_answered(shared_e2e):
    # Each attempt rings 4 s and the concierge waits 3 s: attempt 1 is cancelled by the retry,
    # attempt 2 when the concierge gives up. Neither rings the resident into the call afterwards.
    slow_phone = Resident(resident_says("#1"), None, 4.0)

    visitor, pbx = await run(shared_e2e, [answering()], slow_phone)

    assert "visitor_no_answer" in visitor.heard_keys, explain(shared_e2e, visitor)
    assert [c.command_id for c in pbx.cancels] == [c.command_id for c in pbx.commands]
    assert len(pbx.commands) == 2
    assert pbx.cancelled_while_ringing == [c.command_id for c in pbx.commands]
    assert pbx.legs == []


async def test_resident_answering_after_15_s_of_ringing_is_one_call_and_one_click_to_call(tmp_path):
    # The shipped connect timeout (30 s): ringing is not failure.
    concierge = {k: v for k, v in FAST_ENV["concierge"].items() if "CONNECT" not in k}
    e2e = await start_e2e(tmp_path, env={"concierge": concierge})
    try:
        before = e2e.outcomes("authorized")
        late = Resident(resident_says("#1"), None, 15.0)

        visitor, pbx = await run(e2e, [answering()], late)

        assert "visitor_authorized_delivery" in visitor.heard_keys, explain(e2e, visitor, *pbx.legs)
        assert "retrying_call" not in visitor.heard_keys
        assert len(pbx.commands) == 1 and pbx.cancels == []
        [resident] = pbx.legs
        assert resident.client.uuid_sent_at - pbx.commands[0].received_at >= 15.0
        assert e2e.outcomes("authorized") == before + 1
    finally:
        await stop_e2e(e2e)
