"""Spans named with the prototype's call-event vocabulary.

A stage (TRANSCRIPTION, SYNTHESIS, AI_PROCESSING, INTENT_EXTRACTION,
FUZZY_VALIDATION, CALL_MORADOR...) is a span with that name carrying the events
``<STAGE>_START`` and ``<STAGE>_COMPLETE`` and a ``duration_ms`` attribute, so an
operator of the old per-call logs finds the same steps. Point events
(SPEECH_DETECTED, STATE_CHANGE, MORADOR_CONNECTED, CALL_ENDED...) are span
events on the leg or turn span; failures add an ERROR event.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

# Point events of the prototype's vocabulary.
CALL_SETUP = "CALL_SETUP"
GREETING = "GREETING"
SPEECH_DETECTED = "SPEECH_DETECTED"
SPEECH_ENDED = "SPEECH_ENDED"
SILENCE_DETECTED = "SILENCE_DETECTED"
STATE_CHANGE = "STATE_CHANGE"
MORADOR_CONNECTED = "MORADOR_CONNECTED"
CALL_ENDED = "CALL_ENDED"
ERROR = "ERROR"


def record_error(span: Span, error: BaseException | str, error_type: str | None = None) -> None:
    """Mark `span` failed and add the prototype's ERROR event."""
    message = str(error)
    kind = error_type or (type(error).__name__ if isinstance(error, BaseException) else "error")
    span.add_event(ERROR, {"error_type": kind, "message": message})
    span.set_status(Status(StatusCode.ERROR, message))


@contextmanager
def stage_span(
    tracer: trace.Tracer, stage: str, attributes: dict[str, AttributeValue] | None = None
) -> Iterator[Span]:
    """A span named `stage` with `<stage>_START` / `<stage>_COMPLETE` events."""
    with tracer.start_as_current_span(stage, attributes=attributes or {}, record_exception=False) as span:
        began = time.perf_counter()
        span.add_event(f"{stage}_START")
        try:
            yield span
        except BaseException as error:
            record_error(span, error)
            raise
        finally:
            elapsed_ms = (time.perf_counter() - began) * 1000.0
            span.set_attribute("duration_ms", round(elapsed_ms, 3))
            span.add_event(f"{stage}_COMPLETE", {"duration_ms": round(elapsed_ms, 3)})
