from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from porteiro_common.stages import stage_span


@pytest.fixture
def traced():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_stage_span_has_start_and_complete_events(traced):
    tracer, exporter = traced
    with stage_span(tracer, "TRANSCRIPTION", {"audio_bytes": 320}):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.name == "TRANSCRIPTION"
    assert [event.name for event in span.events] == ["TRANSCRIPTION_START", "TRANSCRIPTION_COMPLETE"]
    assert span.attributes["audio_bytes"] == 320 and span.attributes["duration_ms"] >= 0


def test_stage_span_records_error_event(traced):
    tracer, exporter = traced
    with pytest.raises(RuntimeError), stage_span(tracer, "SYNTHESIS"):
        raise RuntimeError("espeak failed")
    (span,) = exporter.get_finished_spans()
    names = [event.name for event in span.events]
    assert "ERROR" in names and names[-1] == "SYNTHESIS_COMPLETE"
    assert span.status.status_code.name == "ERROR"
