"""Honest outcomes (issue 15, item 4): a leg lost to a failure is FAILED with its reason, never a hang-up.

The real engine and core over a real in-memory store (tests/concierge/core_harness.py).
Checked: the gateway's reasons for a lost leg become the call's failure reason (metric,
span event, the session the register records); the other leg hears that the line dropped,
not that the caller hung up; a decision already taken is never lost or contradicted, even
when the store fails on the event that took it or the call is later lost to the store.
"""

from __future__ import annotations

import asyncio
import copy

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.stages import CALL_ENDED
from porteiro_concierge.call_register import call_record
from porteiro_concierge.core.events import LegEnded
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.leg import LegHandler
from porteiro_concierge.session import RESIDENT, VISITOR, FailureReason, FlowState, Outcome, Session
from porteiro_concierge.store import StoreUnavailable
from tests.concierge.core_harness import SESSION_ID, CallHarness

WHOLE_REQUEST = "Aqui é o João, entrega para a Renata do 501"
SCRIPT = {
    WHOLE_REQUEST: Extraction(
        intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata"
    )
}
RESIDENT_HUNG_UP = "O morador desligou"
RESIDENT_LOST = "A ligação com o morador caiu"
VISITOR_HUNG_UP = "O visitante desligou"
VISITOR_LOST = "A ligação com o visitante caiu"


class RecordingRegister:
    """The engine's CallRegister: keeps a copy of each finished session it is handed."""

    def __init__(self) -> None:
        self.records: list[Session] = []

    async def start(self) -> None:
        return None

    def record(self, session: Session) -> None:
        self.records.append(copy.deepcopy(session))

    async def close(self, grace_seconds: float) -> None:
        return None


def failures(reason: FailureReason) -> float:
    value = REGISTRY.get_sample_value("porteiro_concierge_call_failures_total", {"reason": reason.value})
    return value or 0.0


async def resident_on_line(**settings: object) -> tuple[CallHarness, RecordingRegister]:
    call = CallHarness(SCRIPT, **settings)
    register = RecordingRegister()
    call.engine.call_register = register
    await call.start_visitor()
    await call.say(VISITOR, WHOLE_REQUEST)
    await call.start_resident()
    assert call.count(RESIDENT, "Pode liberar") == 1
    return call, register


@pytest.mark.parametrize("reason", [FailureReason.DEPENDENCY_SPEECH, FailureReason.PROTOCOL_ERROR])
async def test_a_lost_resident_leg_fails_the_call_and_the_visitor_hears_the_line_dropped(reason):
    call, register = await resident_on_line()
    before = failures(reason)
    await call.send(LegEnded(RESIDENT, lost=reason))
    assert call.count(VISITOR, RESIDENT_LOST) == 1
    assert call.count(VISITOR, RESIDENT_HUNG_UP) == 0
    assert call.hung_up(VISITOR)
    [record] = register.records
    assert (record.outcome, record.failure) == (Outcome.FAILED, reason)
    assert failures(reason) == before + 1


async def test_a_lost_visitor_leg_fails_the_call_and_the_resident_hears_the_line_dropped():
    call, register = await resident_on_line()
    await call.send(LegEnded(VISITOR, lost=FailureReason.PROTOCOL_ERROR))
    assert call.count(RESIDENT, VISITOR_LOST) == 1
    assert call.count(RESIDENT, VISITOR_HUNG_UP) == 0
    [record] = register.records
    assert (record.outcome, record.failure) == (Outcome.FAILED, FailureReason.PROTOCOL_ERROR)


async def test_a_caller_who_hangs_up_is_still_a_hang_up_without_a_failure_reason():
    call, register = await resident_on_line()
    await call.hang_up(RESIDENT)
    assert call.count(VISITOR, RESIDENT_HUNG_UP) == 1
    [record] = register.records
    assert (record.outcome, record.failure) == (Outcome.RESIDENT_HUNG_UP, None)


async def test_a_decision_taken_stands_when_the_resident_leg_is_lost_afterwards():
    call, register = await resident_on_line()
    await call.say(RESIDENT, "Pode subir")
    await call.send(LegEnded(RESIDENT, lost=FailureReason.DEPENDENCY_SPEECH))
    assert call.count(VISITOR, "autorizou") == 1
    assert call.count(VISITOR, RESIDENT_LOST) == 0 and call.count(VISITOR, RESIDENT_HUNG_UP) == 0
    [record] = register.records
    assert (record.outcome, record.failure) == (Outcome.AUTHORIZED, None)


async def test_a_decision_is_told_and_registered_even_when_its_session_cannot_be_saved():
    call, register = await resident_on_line()

    async def store_gone(session: Session) -> None:
        raise StoreUnavailable("redis save: ConnectionError: connection refused")

    call.store.save = store_gone  # type: ignore[method-assign]
    await call.say(RESIDENT, "Pode subir")
    assert call.count(VISITOR, "autorizou") == 1 and call.hung_up(VISITOR)
    assert call.count(RESIDENT, "será liberada") == 1 and call.hung_up(RESIDENT)
    [record] = register.records
    assert record.outcome == Outcome.AUTHORIZED
    # The legs then see the store gone: the decision taken in this process is not contradicted.
    call.engine.lost(SESSION_ID, await call.session(), FailureReason.DEPENDENCY_REDIS)
    assert len(register.records) == 1


async def test_an_event_that_cannot_be_saved_before_any_decision_raises_for_the_leg_to_end_the_call():
    call, register = await resident_on_line()

    async def store_gone(session: Session) -> None:
        raise StoreUnavailable("redis save: ConnectionError: connection refused")

    call.store.save = store_gone  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await call.say(RESIDENT, "Hum, deixa eu ver")
    assert register.records == []


async def test_a_call_lost_to_the_store_is_recorded_failed_once_from_the_last_copy():
    call, register = await resident_on_line()
    copy_of_call = await call.session()
    before = failures(FailureReason.DEPENDENCY_REDIS)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("leg"):
        sentence = call.engine.lost(SESSION_ID, copy_of_call, FailureReason.DEPENDENCY_REDIS)
        call.engine.lost(SESSION_ID, copy_of_call, FailureReason.DEPENDENCY_REDIS)  # the other leg
    assert "problema técnico" in sentence
    [record] = register.records
    assert (record.outcome, record.failure) == (Outcome.FAILED, FailureReason.DEPENDENCY_REDIS)
    assert record.call.target is not None and record.call.target.apartment == "501"
    assert failures(FailureReason.DEPENDENCY_REDIS) == before + 1
    [span] = exporter.get_finished_spans()
    [ended] = [event for event in span.events if event.name == CALL_ENDED]
    assert ended.attributes == {"outcome": "failed", "attempt": 1, "reason": "dependency_redis"}
    assert copy_of_call is not None and copy_of_call.state == FlowState.WAITING_RESIDENT  # a copy changed


async def test_dependency_failures_name_the_dependency():
    directory_down = CallHarness(SCRIPT, max_directory_errors=1)
    directory_down.directory.down = True
    await directory_down.start_visitor()
    await directory_down.say(VISITOR, WHOLE_REQUEST)
    session = await directory_down.session()
    assert session is not None
    assert (session.outcome, session.failure) == (Outcome.FAILED, FailureReason.DEPENDENCY_DIRECTORY)

    dialer_down = CallHarness(SCRIPT)
    dialer_down.dialer.down = True
    await dialer_down.start_visitor()
    await dialer_down.say(VISITOR, WHOLE_REQUEST)
    assert dialer_down.count(VISITOR, "Não consegui chamar o morador") == 1
    session = await dialer_down.session()
    assert session is not None
    assert (session.outcome, session.failure) == (Outcome.FAILED, FailureReason.DEPENDENCY_DIALER)


async def test_a_silent_visitor_fails_for_silence():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.played(VISITOR)
    for _ in range(3):
        await call.advance(
            call.settings.playback_allowance_seconds + call.settings.visitor_reply_timeout_seconds
        )
        await call.played(VISITOR)
    session = await call.session()
    assert session is not None
    assert (session.outcome, session.failure) == (Outcome.FAILED, FailureReason.VISITOR_SILENT)


def test_the_failure_reason_survives_the_store_and_an_unknown_one_reads_as_generic():
    session = Session(session_id=SESSION_ID, outcome=Outcome.FAILED, failure=FailureReason.DEPENDENCY_DIALER)
    assert Session.from_json(session.to_json()).failure == FailureReason.DEPENDENCY_DIALER
    newer = session.to_json().replace('"dependency_dialer"', '"dependency_something_new"')
    assert Session.from_json(newer).failure == FailureReason.CONVERSATION


@pytest.mark.parametrize(
    ("reason", "detail", "lost"),
    [
        (concierge_pb2.LEG_END_REASON_CALLER_HANGUP, "hangup frame", None),
        (concierge_pb2.LEG_END_REASON_CONNECTION_ERROR, "socket closed", None),
        (concierge_pb2.LEG_END_REASON_HANGUP_REQUESTED, "concierge hung up", None),
        (
            concierge_pb2.LEG_END_REASON_PROTOCOL_ERROR,
            "unknown frame kind 0x55",
            FailureReason.PROTOCOL_ERROR,
        ),
        (
            concierge_pb2.LEG_END_REASON_DEPENDENCY_FAILURE,
            "speech unavailable",
            FailureReason.DEPENDENCY_SPEECH,
        ),
        (
            concierge_pb2.LEG_END_REASON_DEPENDENCY_FAILURE,
            "other unavailable",
            FailureReason.DEPENDENCY_GATEWAY,
        ),
    ],
)
def test_the_gateways_leg_end_reasons_map_to_a_hang_up_or_a_failure(reason, detail, lost):
    ended = concierge_pb2.LegEnded(reason=reason, detail=detail)
    assert LegHandler._lost_to(ended) == lost


async def test_the_register_record_carries_the_failure_reason_and_a_decided_call_none():
    lost, register = await resident_on_line()
    await lost.send(LegEnded(RESIDENT, lost=FailureReason.DEPENDENCY_SPEECH))
    [failed] = register.records
    record = call_record(failed)
    assert record.outcome == common_pb2.CALL_OUTCOME_FAILED
    assert record.failure_reason == "dependency_speech"

    decided, register = await resident_on_line()
    await decided.say(RESIDENT, "Pode subir")
    [authorized] = register.records
    assert call_record(authorized).failure_reason == ""


async def test_an_event_the_concierge_refuses_ends_the_call_failed_as_a_protocol_error(concierge, session_id):
    before = failures(FailureReason.PROTOCOL_ERROR)
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    visitor.send(concierge_pb2.LegEvent(dtmf=concierge_pb2.Dtmf(digit="12")))
    await asyncio.wait_for(visitor.closed.wait(), 5)
    assert visitor.error is not None and visitor.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failures(FailureReason.PROTOCOL_ERROR) == before + 1
