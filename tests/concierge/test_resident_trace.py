"""The resident leg's work is recorded in the call's trace, though its stream starts a trace of its own."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from porteiro_concierge.telemetry import RESIDENT_LEG_SPAN
from tests.concierge.test_conversation import authorized_delivery
from tests.support.tracing import recording_spans

CONVERSE = "/porteiro.concierge.v1.ConciergeService/Converse"


async def finished_span(spans: InMemorySpanExporter, name: str, timeout: float = 5.0):  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            found = [span for span in spans.get_finished_spans() if span.name == name]
            if found:
                return found[0]
            await asyncio.sleep(0.05)


async def test_resident_leg_events_and_stages_join_the_visitor_trace(concierge, fakes, session_id):
    spans = recording_spans()
    await authorized_delivery(concierge, fakes, session_id)

    resident_leg = await finished_span(spans, RESIDENT_LEG_SPAN)
    finished = spans.get_finished_spans()
    [visitor_stream] = [
        s for s in finished if s.name == CONVERSE and s.attributes["porteiro.leg"] == "visitor"
    ]
    [resident_stream] = [
        s for s in finished if s.name == CONVERSE and s.attributes["porteiro.leg"] == "resident"
    ]
    call_trace = visitor_stream.context.trace_id
    # The resident's stream has its own trace (the gateway opened it before knowing the call's);
    # the leg's span sits in the call's trace, under the visitor's stream, linked to its own stream.
    assert resident_stream.context.trace_id != call_trace
    assert resident_leg.context.trace_id == call_trace
    assert resident_leg.parent.span_id == visitor_stream.context.span_id
    assert [link.context.span_id for link in resident_leg.links] == [resident_stream.context.span_id]
    assert resident_leg.attributes["porteiro.session_id"] == session_id
    assert "porteiro.session_id" not in resident_stream.attributes
    assert "MORADOR_CONNECTED" in [event.name for event in resident_leg.events]
    resident_turns = [
        s for s in finished if s.name == "AI_PROCESSING" and s.attributes["porteiro.leg"] == "resident"
    ]
    assert resident_turns and all(s.parent.span_id == resident_leg.context.span_id for s in resident_turns)
    ended = [e for s in resident_turns for e in s.events if e.name == "CALL_ENDED"]
    assert [e.attributes["outcome"] for e in ended] == ["authorized"]
