"""Reading a visitor's sentence: the configured extractor, the deterministic one if it fails.

Done by the shell before the core sees the sentence (an extractor may be an
LLM, or ask the directory), so the core gets the `Extraction` as data.
"""

from __future__ import annotations

import asyncio
import logging
import time

from porteiro_common.redaction import Redactor
from porteiro_common.stages import record_error, stage_span
from porteiro_concierge.extraction.base import Extraction, Extractor
from porteiro_concierge.session import Session
from porteiro_concierge.telemetry import EXTRACTION_SECONDS, tracer

log = logging.getLogger(__name__)


class SentenceReader:
    def __init__(
        self, extractor: Extractor, fallback_extractor: Extractor, redact: Redactor, budget_seconds: float
    ) -> None:
        self.extractor = extractor
        self.fallback_extractor = fallback_extractor
        self.redact = redact
        self.budget_seconds = budget_seconds

    async def read(self, text: str, session: Session) -> Extraction:
        """What `text` says; an extractor that fails or runs out of time gives way to the fallback."""
        for extractor in dict.fromkeys([self.extractor, self.fallback_extractor]):
            began = time.perf_counter()
            with stage_span(tracer, "INTENT_EXTRACTION", {"extractor": extractor.name}) as span:
                try:
                    extraction = await asyncio.wait_for(
                        extractor.extract(text, session.slots, list(session.history)), self.budget_seconds
                    )
                except Exception as error:  # a broken extractor must not end the call
                    record_error(span, error)
                    log.warning("extractor failed", extra={"extractor": extractor.name, "error": str(error)})
                    continue
                finally:
                    EXTRACTION_SECONDS.labels(extractor.name).observe(time.perf_counter() - began)
                for slot, value in extraction.mentioned().items():
                    span.set_attribute(f"porteiro.slot.{slot}", self._redacted(slot, value))
                return extraction
        return Extraction(source="none")

    def _redacted(self, slot: str, value: object) -> str:
        if slot == "intent":
            return str(getattr(value, "value", value))
        return self.redact(str(value))
