"""Drives the concierge's shell and core in virtual time: no gRPC, no sleeping.

`CallHarness` runs the real `CallEngine` (session lock, the core, the I/O loop)
over a real `MemorySessionStore`, with fakes at one boundary each: a directory
and a dialer implementing the engine's Protocols, a scripted extractor, and a
clock the test moves (`advance`). Each leg's actions are read from its real
mailbox. A deadline fires when the test moves the clock past it, the way a
leg's timer would fire it.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from porteiro.concierge.v1 import concierge_pb2
from porteiro.dialer.v1 import dialer_pb2
from porteiro.directory.v1 import directory_pb2
from porteiro_common.redaction import Redactor
from porteiro_concierge.core import Conversation, Rules
from porteiro_concierge.core.events import (
    DeadlinePassed,
    Event,
    Key,
    LegEnded,
    LegIdle,
    ResidentStarted,
    SpeechStarted,
    Utterance,
    VisitorStarted,
)
from porteiro_concierge.dependencies import DependencyError, DirectoryClient
from porteiro_concierge.engine import CallEngine, Dispatched
from porteiro_concierge.extraction.base import Extraction, Intent, Slots, Turn
from porteiro_concierge.hints import Vocabulary
from porteiro_concierge.prompts import Prompts
from porteiro_concierge.reading import SentenceReader
from porteiro_concierge.session import RESIDENT, VISITOR, Session
from porteiro_concierge.settings import ConciergeSettings
from porteiro_concierge.store import Mailbox, MemorySessionStore
from porteiro_concierge.understanding import Answers
from tests.concierge.conftest import NAME_ALWAYS, WHOM_TOGETHER
from tests.concierge.driver import fold
from tests.directory.conftest import directory_server

SESSION_ID = "0b9f7f5e-4c4a-4d36-9d5e-0a0b3c1d2e3f"
# Score 100: the directory's exact match (a low score is confirmed with the visitor first).
RENATA = directory_pb2.Candidate(
    apartment="501", resident_name="Renata Oliveira", destination="sip:501@condominio.local", score=100.0
)
LUCAS = directory_pb2.Candidate(
    apartment="302", resident_name="Lucas Martins", destination="sip:302@condominio.local", score=100.0
)


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeDirectory:
    """The engine's `Directory`: Renata in 501 and Lucas in 302; `down` answers UNAVAILABLE."""

    down: bool = False
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def resolve(self, apartment: str, resident_name: str) -> directory_pb2.ResolveResponse:
        self.asked.append((apartment, resident_name))
        if self.down:
            raise DependencyError("directory", grpc.StatusCode.UNAVAILABLE, "directory down")
        known = {"501": RENATA, "302": LUCAS}
        if apartment and apartment not in known:
            return directory_pb2.ResolveResponse(
                status=directory_pb2.RESOLVE_STATUS_NO_APARTMENT, normalized_apartment=apartment
            )
        for candidate in known.values():
            if resident_name and resident_name.split()[0] in candidate.resident_name:
                if not apartment or apartment == candidate.apartment:
                    return directory_pb2.ResolveResponse(
                        status=directory_pb2.RESOLVE_STATUS_MATCH, match=candidate
                    )
        in_apartment = [known[apartment]] if apartment else []
        return directory_pb2.ResolveResponse(
            status=directory_pb2.RESOLVE_STATUS_NO_RESIDENT,
            normalized_apartment=apartment,
            candidates=in_apartment,
        )


@dataclass
class FakeDialer:
    """The engine's `Dialer`: records each attempt and each cancel; `down` answers UNAVAILABLE."""

    down: bool = False
    attempts: list[tuple[str, int]] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    async def place_call(
        self, session_id: str, destination: str, attempt: int, intent: str, apartment: str
    ) -> dialer_pb2.PlaceCallResponse:
        if self.down:
            raise DependencyError("dialer", grpc.StatusCode.UNAVAILABLE, "broker unreachable")
        self.attempts.append((destination, attempt))
        return dialer_pb2.PlaceCallResponse(command_id=f"cmd-{session_id}-{attempt}")

    async def cancel_call(self, session_id: str, attempt: int) -> dialer_pb2.CancelCallResponse:
        if self.down:
            raise DependencyError("dialer", grpc.StatusCode.UNAVAILABLE, "broker unreachable")
        self.cancelled.append(attempt)
        return dialer_pb2.CancelCallResponse(command_id=f"cmd-{session_id}-{attempt}")


class ScriptedExtractor:
    """An extractor that knows a few sentences by heart (anything else says nothing)."""

    name = "scripted"

    def __init__(self, script: dict[str, Extraction]) -> None:
        self.script = script

    async def extract(self, sentence: str, known: Slots, history: list[Turn]) -> Extraction:
        return self.script.get(sentence, Extraction(source=self.name))


class StaticVocabulary(Vocabulary):
    """The directory's vocabulary as fixed data; counts the shell's refreshes."""

    def __init__(self) -> None:
        super().__init__(directory=None)
        self.apartments = ["302", "501"]
        self.residents = ["Lucas Martins", "Renata Oliveira"]
        self.residents_of = {"302": ["Lucas Martins"], "501": ["Renata Oliveira"]}
        self.refreshes = 0

    async def refresh(self) -> None:
        self.refreshes += 1


class CallHarness:
    def __init__(
        self, script: dict[str, Extraction] | None = None, answers: Answers | None = None, **settings: object
    ) -> None:
        self.clock = FakeClock()
        settings = {**WHOM_TOGETHER, **NAME_ALWAYS, **settings}
        self.settings = ConciergeSettings(redis_url=None, llm_model=None, **settings)  # type: ignore[arg-type]
        self.store = MemorySessionStore(ttl_seconds=900)
        self.directory = FakeDirectory()
        self.dialer = FakeDialer()
        self.vocabulary = StaticVocabulary()
        extractor = ScriptedExtractor(script or {})
        reader = SentenceReader(extractor, extractor, Redactor(False), budget_seconds=1.0)
        rules = Rules(self.settings, Prompts(), self.vocabulary, answers or Answers.load())
        conversation = Conversation(rules)
        self.engine = CallEngine(
            self.store, conversation, self.directory, self.dialer, reader, self.vocabulary, clock=self.clock
        )
        self.mailboxes: dict[str, Mailbox] = {}
        self.heard: dict[str, list[concierge_pb2.LegAction]] = {VISITOR: [], RESIDENT: []}
        self.next_deadline: float | None = None

    async def send(self, event: Event) -> Dispatched:
        dispatched = await self.engine.dispatch(SESSION_ID, event)
        self.next_deadline = dispatched.next_deadline.at if dispatched.next_deadline else None
        self._collect()
        return dispatched

    async def start_visitor(self) -> None:
        self.mailboxes[VISITOR] = await self.store.open_mailbox(SESSION_ID, VISITOR)
        await self.send(VisitorStarted(SESSION_ID, "00-trace-span-01"))

    async def start_resident(self) -> None:
        self.mailboxes[RESIDENT] = await self.store.open_mailbox(SESSION_ID, RESIDENT)
        await self.send(ResidentStarted())

    async def say(self, leg: str, text: str) -> None:
        await self.send(Utterance(leg, text))

    async def press(self, leg: str, keys: str) -> None:
        for key in keys:
            await self.send(Key(leg, key))

    async def played(self, leg: str) -> None:
        """Everything said to `leg` finished playing."""
        await self.send(LegIdle(leg))

    async def speech(self, leg: str) -> None:
        await self.send(SpeechStarted(leg))

    async def hang_up(self, leg: str) -> None:
        await self.send(LegEnded(leg))

    async def advance(self, seconds: float) -> None:
        """Move the clock; fire the deadline if it passed (as the leg's local timer would)."""
        self.clock.now += seconds
        if self.next_deadline is not None and self.next_deadline <= self.clock.now:
            await self.send(DeadlinePassed())

    async def fire_timer(self) -> None:
        """A leg's timer fires now, due or not (early, late, or the other leg's for the same deadline)."""
        await self.send(DeadlinePassed())

    async def session(self) -> Session | None:
        return await self.store.load(SESSION_ID)

    def _collect(self) -> None:
        for leg, mailbox in self.mailboxes.items():
            while not mailbox.queue.empty():
                self.heard[leg].append(mailbox.queue.get_nowait())

    def said(self, leg: str) -> list[str]:
        return [action.say.text for action in self.heard[leg] if action.HasField("say")]

    def last_said(self, leg: str) -> str:
        said = self.said(leg)
        return said[-1] if said else ""

    def count(self, leg: str, fragment: str) -> int:
        return sum(fold(fragment) in fold(text) for text in self.said(leg))

    def hung_up(self, leg: str) -> bool:
        return any(action.HasField("hang_up") for action in self.heard[leg])


# The lines that bring a delivery to "Para qual apartamento e qual o nome do morador?"
# (`reach_whom_question`); a test's script adds its own lines to these.
TO_WHOM_QUESTION = {
    "Entrega.": Extraction(intent=Intent.DELIVERY),
    "Meu nome é João.": Extraction(visitor_name="João"),
}


async def reach_whom_question(harness: CallHarness) -> None:
    """A visitor leg that said it is a delivery and gave its name: now asked whom to call."""
    await harness.start_visitor()
    await harness.say(VISITOR, "Entrega.")
    await harness.say(VISITOR, "Meu nome é João.")
    assert "apartamento e qual o nome do morador" in harness.last_said(VISITOR)


@asynccontextmanager
async def harness_on_directory(data_file: Path, script: dict[str, Extraction], **settings: object):
    """The core harness with the real directory service (`data_file`, over gRPC) behind it: its
    Resolve answers and its vocabulary."""
    async with directory_server(data_file) as running:
        client = DirectoryClient(f"127.0.0.1:{running.bound.port}", 5.0)
        harness = CallHarness(script, **settings)
        harness.directory.resolve = client.resolve  # type: ignore[method-assign]
        listing = Vocabulary(client)
        await listing.refresh()
        vocabulary = harness.vocabulary
        vocabulary.apartments, vocabulary.apartment_numbers = listing.apartments, listing.apartment_numbers
        vocabulary.residents, vocabulary.residents_of = listing.residents, listing.residents_of
        vocabulary.resident_choices = listing.resident_choices
        yield harness
