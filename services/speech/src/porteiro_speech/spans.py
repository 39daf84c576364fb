"""A stage span for streaming handlers: same names and events as `stage_span`, never made current.

`stage_span` attaches its span to the context. In a server-streaming handler (an
async generator) that breaks when the client goes away mid-stream: the generator
is closed later by the event loop in another context, and detaching fails
("Failed to detach context"). This span is parented on the context current at
creation and only ended, never detached; a client that left is recorded as
outcome "cancelled", not as an ERROR.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from porteiro_common.stages import record_error


@contextmanager
def streaming_stage_span(
    tracer: trace.Tracer, stage: str, attributes: dict[str, AttributeValue] | None = None
) -> Iterator[Span]:
    span = tracer.start_span(stage, attributes=attributes or {}, record_exception=False)
    began = time.perf_counter()
    span.add_event(f"{stage}_START")
    try:
        yield span
    except (GeneratorExit, asyncio.CancelledError):
        span.set_attribute("outcome", "cancelled")
        raise
    except BaseException as error:
        record_error(span, error)
        raise
    finally:
        elapsed_ms = round((time.perf_counter() - began) * 1000.0, 3)
        span.set_attribute("duration_ms", elapsed_ms)
        span.add_event(f"{stage}_COMPLETE", {"duration_ms": elapsed_ms})
        span.end()
