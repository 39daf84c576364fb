"""Slot extraction by an LLM through CrewAI, with the deterministic extractor as the safety net.

One crew call per visitor sentence: one Agent, one Task whose answer is the
``SlotReading`` pydantic model. The blocking ``Crew.kickoff`` runs in a worker
thread under a deadline; an error, a timeout or an answer that does not fit the
model sends that turn to the fallback extractor, so ``extract`` never raises.

What the LLM returns is untrusted: every value is cleaned and checked (names
must be names that occur in the sentence, the apartment must be digits) and the
answer model holds slots only, so no LLM answer can authorize a visit.

crewai takes seconds to import, so it is imported once, lazily, on the
extractor's own worker threads as soon as one is constructed (``warm_up`` awaits
it). Those threads are separate from asyncio's default executor so slow LLM
calls cannot starve other ``to_thread`` users (DNS lookups of Redis/gRPC clients).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from pydantic import ValidationError

from porteiro_common.ptbr import fold
from porteiro_concierge.extraction.base import Extraction, Extractor, Intent, Slots, Turn
from porteiro_concierge.extraction.crewai_prompt import (
    BACKSTORY,
    EXPECTED_OUTPUT,
    GOAL,
    ROLE,
    SlotReading,
    task_description,
)

logger = logging.getLogger(__name__)

LLM_CALL_SPAN = "LLM_CALL"
MAX_NAME_CHARS = 60
MAX_NAME_WORDS = 6
# Crew calls in flight at once; more sentences wait their turn within their own deadline.
MAX_CONCURRENT_CALLS = 8
_APARTMENT_PREFIX = re.compile(r"^(?:apartamento|apto\.?|ap\.?)\s*(?:n[º°o]\.?|número|numero)?\s*")
_APARTMENT = re.compile(r"\d{1,6}")
# Letters of any script, joined by single spaces, apostrophes, hyphens or periods ("Sr. João D'Ávila").
_NAME = re.compile(r"[^\W\d_]+(?:(?:\. ?| |'|-)[^\W\d_]+)*\.?")
# Values that mean "the sentence did not say" rather than a name or a number.
_NOT_SAID = frozenset({"", "-", "?", "null", "none", "nenhum", "n/a", "na", "desconhecido"}) | {
    f"{no} {word}" for no in ("não", "nao") for word in ("informado", "mencionado", "disse")
}


class MalformedAnswer(ValueError):
    """The crew finished but its answer is not a SlotReading."""


class _EmptyTaskOutputStore:
    """Stands in for crewai's task-output SQLite store, which would keep what visitors said on disk."""

    def reset(self) -> None:
        pass

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add(self, *args: Any, **kwargs: Any) -> None:
        pass

    def load(self) -> None:
        return None


@dataclass(frozen=True)
class _CrewKit:
    """What the worker threads need from crewai, built once per extractor."""

    agent_class: Any
    task_class: Any
    crew_class: Any
    llm: Any


_import_lock = threading.Lock()
_crewai_classes: tuple[Any, Any, Any, Any] | None = None


def _import_crewai() -> tuple[Any, Any, Any, Any]:
    """Import crewai once per process (blocking; call from a worker thread).

    Telemetry is switched off through crewai's own variable; OTEL_SDK_DISABLED is
    left alone because it would switch off Porteiro's tracing as well.
    """
    global _crewai_classes
    with _import_lock:
        if _crewai_classes is None:
            os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
            import crewai
            from pydantic import PrivateAttr

            class EphemeralCrew(crewai.Crew):
                # A stand-in with the store's methods, not a subclass of it.
                _task_output_handler: _EmptyTaskOutputStore = PrivateAttr(  # type: ignore[assignment]
                    default_factory=_EmptyTaskOutputStore
                )

            _crewai_classes = (crewai.Agent, crewai.Task, EphemeralCrew, crewai.LLM)
        return _crewai_classes


def _build_kit(model: str, api_key: str | None, base_url: str | None, timeout_seconds: float) -> _CrewKit:
    agent_class, task_class, crew_class, llm_class = _import_crewai()
    # The HTTP timeout ends an abandoned call soon after its turn gave up on it; no client
    # retries: one request per sentence, the fallback extractor covers failures.
    llm = llm_class(model=model, base_url=base_url, api_key=api_key, timeout=timeout_seconds, max_retries=0)
    return _CrewKit(agent_class, task_class, crew_class, llm)


class CrewAIExtractor:
    name = "crewai"

    def __init__(
        self,
        model: str,
        api_key: str | None,
        base_url: str | None,
        timeout_seconds: float,
        fallback: Extractor,
        *,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._model = model
        self._timeout = timeout_seconds
        self._fallback = fallback
        self._tracer = tracer or trace.get_tracer("porteiro.concierge")
        self._executor = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="crewai")
        self._kit: Future[_CrewKit] = self._executor.submit(
            _build_kit, model, api_key, base_url, timeout_seconds
        )

    async def warm_up(self) -> bool:
        """Wait until crewai is imported and the LLM client built; False when that failed."""
        try:
            await asyncio.wrap_future(self._kit)
        except Exception as error:
            logger.error(
                "CrewAI extractor unavailable, every turn will use %s: %s", self._fallback.name, error
            )
            return False
        return True

    def close(self) -> None:
        """Drop queued crew calls; a call in flight ends by its HTTP timeout."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def extract(self, sentence: str, known: Slots, history: list[Turn]) -> Extraction:
        description = task_description(sentence, known, history)
        deadline = time.monotonic() + self._timeout
        with self._tracer.start_as_current_span(LLM_CALL_SPAN, attributes={"llm.model": self._model}) as span:
            began = time.perf_counter()
            try:
                call = asyncio.get_running_loop().run_in_executor(
                    self._executor, self._run_crew, description, deadline
                )
                reading = await asyncio.wait_for(call, self._timeout)
                outcome, failure = "ok", None
            except TimeoutError:
                outcome, failure = "timeout", f"timeout after {self._timeout:g}s"
            except (ValidationError, MalformedAnswer) as error:
                outcome, failure = "malformed", f"malformed answer ({type(error).__name__})"
            except Exception as error:
                outcome, failure = "error", f"error ({type(error).__name__})"
            span.set_attribute("outcome", outcome)
            span.set_attribute("duration_ms", round((time.perf_counter() - began) * 1000.0, 3))
        if failure is not None:
            return await self._fall_back(sentence, known, history, failure)
        return clean_reading(reading, sentence)

    def _run_crew(self, description: str, deadline: float) -> SlotReading:
        """One blocking crew call (worker thread)."""
        kit = self._kit.result(timeout=max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            raise TimeoutError("turn deadline passed before the LLM call")
        agent = kit.agent_class(
            role=ROLE,
            goal=GOAL,
            backstory=BACKSTORY,
            llm=kit.llm,
            allow_delegation=False,
            max_iter=1,
            max_retry_limit=0,
            verbose=False,
        )
        task = kit.task_class(
            description=description, expected_output=EXPECTED_OUTPUT, agent=agent, output_pydantic=SlotReading
        )
        output = kit.crew_class(agents=[agent], tasks=[task], verbose=False, tracing=False).kickoff()
        if isinstance(output.pydantic, SlotReading):
            return output.pydantic
        if not output.raw:
            raise MalformedAnswer("empty answer")
        return SlotReading.model_validate_json(output.raw)

    async def _fall_back(self, sentence: str, known: Slots, history: list[Turn], failure: str) -> Extraction:
        fallback_name = self._fallback.name
        logger.warning(
            "CrewAI extraction failed (%s); using the %s extractor for this turn", failure, fallback_name
        )
        try:
            extraction = await self._fallback.extract(sentence, known, history)
        except Exception as error:
            logger.exception("Fallback extractor %s failed", fallback_name)
            extraction = Extraction(notes=[f"{fallback_name} failed ({type(error).__name__})"])
        extraction.source = f"{self.name}->{fallback_name}"
        extraction.notes.insert(0, f"crewai {failure}; used {fallback_name}")
        return extraction


def clean_reading(reading: SlotReading, sentence: str) -> Extraction:
    """Turn the LLM's answer into an Extraction, keeping only values that pass the checks."""
    extraction = Extraction(source=CrewAIExtractor.name)
    if reading.intent is not None:
        extraction.intent = Intent(reading.intent)
    for slot in ("visitor_name", "resident_name"):
        value, note = _clean_name(getattr(reading, slot), sentence)
        setattr(extraction, slot, value)
        if note:
            extraction.notes.append(f"{slot} discarded: {note}")
    extraction.apartment, note = _clean_apartment(reading.apartment)
    if note:
        extraction.notes.append(f"apartment discarded: {note}")
    # A correction without a corrected value is noise.
    extraction.correction = reading.correction and bool(extraction.mentioned())
    return extraction


def _clean_name(value: str | None, sentence: str) -> tuple[str | None, str | None]:
    text = _said(value)
    if text is None:
        return None, None
    if len(text) > MAX_NAME_CHARS or len(text.split()) > MAX_NAME_WORDS:
        return None, "too long"
    if not _NAME.fullmatch(text):
        return None, "not a name"
    sentence_words = set(_words(sentence))
    if not all(word in sentence_words for word in _words(text)):
        return None, "not in the sentence"
    return text, None


def _clean_apartment(value: str | None) -> tuple[str | None, str | None]:
    text = _said(value)
    if text is None:
        return None, None
    digits = re.sub(r"(?<=\d)[\s.-]+(?=\d)", "", _APARTMENT_PREFIX.sub("", text.lower()))
    if not _APARTMENT.fullmatch(digits):
        return None, "not an apartment number"
    return digits, None


def _said(value: str | None) -> str | None:
    """The value with spacing normalised, or None when it stands for "not said"."""
    if value is None:
        return None
    text = " ".join(unicodedata.normalize("NFC", value).split()).strip(" ,;:!?\"'")
    return None if text.lower() in _NOT_SAID else text


def _words(text: str) -> list[str]:
    """Lower-case words without accents, so "João" in the answer matches "joao" in a transcript."""
    return re.findall(r"[^\W\d_]+", fold(text))
