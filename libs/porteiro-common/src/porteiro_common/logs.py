"""JSON logs that carry the current trace and span ids."""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from porteiro_common.settings import ObservabilitySettings


class TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


# Libraries that log request/response bodies (the visitor's words) on errors.
LLM_LOGGERS = ("crewai", "LiteLLM", "litellm", "openai", "httpx", "httpcore", "instructor")


class LlmPayloadFilter(logging.Filter):
    """Replaces LLM libraries' messages, which may quote personal data, with a neutral line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in LLM_LOGGERS:
            record.msg = f"{record.name} reported a {record.levelname.lower()} (details redacted)"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


class DetachNoiseFilter(logging.Filter):
    """OTel logs "Failed to detach context" when gRPC finishes a cancelled stream's
    handler in another context (client gone mid-Synthesize). Harmless; dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "opentelemetry.context" and "detach" in str(record.msg))


def configure_logging(service_name: str, settings: ObservabilitySettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "asctime": "time"},
                static_fields={"service": service_name},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(TraceContextFilter())
    handler.addFilter(DetachNoiseFilter())
    if not settings.trace_personal_data:
        handler.addFilter(LlmPayloadFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
