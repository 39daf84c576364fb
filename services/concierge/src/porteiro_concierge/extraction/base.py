"""The extractor interface.

An extractor reads one visitor sentence, with the slots already known and the
conversation so far, and returns only what that sentence says. It never
decides authorization: nothing here can mark a visit authorized (only the
resident leg's decision does, in the flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Intent(StrEnum):
    DELIVERY = "delivery"
    VISIT = "visit"


@dataclass
class Slots:
    """What the concierge knows about the visitor's request."""

    intent: Intent | None = None
    visitor_name: str | None = None
    apartment: str | None = None
    resident_name: str | None = None

    def missing(self) -> list[str]:
        return [
            name
            for name in ("intent", "visitor_name", "apartment", "resident_name")
            if getattr(self, name) is None
        ]


@dataclass
class Turn:
    """One line of the conversation so far."""

    speaker: str  # "visitor" or "porteiro"
    text: str


@dataclass
class Extraction:
    """What one sentence said. None means "not mentioned in this sentence"."""

    intent: Intent | None = None
    visitor_name: str | None = None
    apartment: str | None = None
    resident_name: str | None = None
    # True when the sentence corrects a slot already known ("não, é o 502").
    correction: bool = False
    # Which extractor produced it ("deterministic", "crewai", "crewai->deterministic").
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def mentioned(self) -> dict[str, object]:
        return {
            name: value
            for name in ("intent", "visitor_name", "apartment", "resident_name")
            if (value := getattr(self, name)) is not None
        }


class Extractor(Protocol):
    name: str

    async def extract(self, sentence: str, known: Slots, history: list[Turn]) -> Extraction:
        """Read one visitor sentence. Must not raise for any text; may raise only on cancellation."""
        ...
