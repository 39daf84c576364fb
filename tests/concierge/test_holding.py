"""The holding sentence while the visitor waits on a slow directory (issue 15, item 3).

The real engine and core over a real in-memory store (tests/concierge/core_harness.py),
with a directory and an extractor that take their time (short real waits): past
`holding_after_seconds` the visitor hears "Um momento, por favor." once for the event,
then the answer; a quick answer has none, and 0 turns it off.
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from porteiro.directory.v1 import directory_pb2
from porteiro_common.redaction import Redactor
from porteiro_concierge.extraction.base import Extraction, Intent, Slots, Turn
from porteiro_concierge.holding import VisitorWait
from porteiro_concierge.reading import SentenceReader
from porteiro_concierge.session import VISITOR
from tests.concierge.core_harness import CallHarness, FakeDirectory, ScriptedExtractor

WHOLE_REQUEST = "Aqui é o João, entrega para a Renata do 501"
SCRIPT = {
    WHOLE_REQUEST: Extraction(
        intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata"
    )
}
HOLDING = "Um momento, por favor."
CONFIRMED = "entrega para Renata Oliveira"


class SlowDirectory(FakeDirectory):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def resolve(self, apartment: str, resident_name: str) -> directory_pb2.ResolveResponse:
        await asyncio.sleep(self.delay)
        return await super().resolve(apartment, resident_name)


class SlowExtractor(ScriptedExtractor):
    def __init__(self, delay: float) -> None:
        super().__init__(SCRIPT)
        self.delay = delay

    async def extract(self, sentence: str, known: Slots, history: list[Turn]) -> Extraction:
        await asyncio.sleep(self.delay)
        return await super().extract(sentence, known, history)


def holding_sentences() -> float:
    return REGISTRY.get_sample_value("porteiro_concierge_holding_sentences_total") or 0.0


async def call_with(
    directory_delay: float = 0.0, extraction_delay: float = 0.0, holding_after: float = 0.05
) -> CallHarness:
    call = CallHarness(SCRIPT, holding_after_seconds=holding_after)
    call.engine.directory = SlowDirectory(directory_delay)
    extractor = SlowExtractor(extraction_delay)
    call.engine.reader = SentenceReader(extractor, extractor, Redactor(False), budget_seconds=5.0)
    await call.start_visitor()
    return call


async def test_a_slow_directory_answer_is_preceded_by_the_holding_sentence():
    before = holding_sentences()
    call = await call_with(directory_delay=0.3)
    await call.say(VISITOR, WHOLE_REQUEST)
    said = call.said(VISITOR)
    assert said.count(HOLDING) == 1
    confirmed = next(i for i, text in enumerate(said) if CONFIRMED in text)
    assert said.index(HOLDING) < confirmed
    assert holding_sentences() == before + 1


async def test_a_slow_reading_and_a_slow_directory_hold_once_for_the_sentence():
    call = await call_with(directory_delay=0.2, extraction_delay=0.2)
    await call.say(VISITOR, WHOLE_REQUEST)
    assert call.said(VISITOR).count(HOLDING) == 1
    assert call.count(VISITOR, CONFIRMED) == 1


@pytest.mark.parametrize(("delay", "holding_after"), [(0.0, 0.5), (0.2, 0.0)])
async def test_no_holding_sentence_for_a_quick_answer_or_when_turned_off(delay, holding_after):
    call = await call_with(directory_delay=delay, holding_after=holding_after)
    await call.say(VISITOR, WHOLE_REQUEST)
    assert HOLDING not in call.said(VISITOR)
    assert call.count(VISITOR, CONFIRMED) == 1


async def test_a_wait_cancelled_cancels_its_work():
    said: list[str] = []

    async def say_holding() -> None:
        said.append(HOLDING)

    started = asyncio.Event()

    async def work() -> str:
        started.set()
        await asyncio.sleep(10)
        return "never"

    wait = VisitorWait(say_holding, 0.01)
    waiting = asyncio.create_task(wait.around(work()))
    await started.wait()
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert said == [HOLDING]  # said once while waiting; the work is gone with the wait
