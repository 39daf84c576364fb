"""What can happen to a call: the core's input.

Events from the legs (the gateway's streams), the passing of the session's
deadline, and the results of the I/O the core asked the shell for
(`ResolveRequest` -> `DirectoryAnswered`/`DirectoryFailed`, `PlaceCallRequest`
-> `CallPlaced`/`CallFailed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from porteiro.directory.v1 import directory_pb2
from porteiro_concierge.extraction.base import Extraction
from porteiro_concierge.session import FailureReason


@dataclass(frozen=True)
class VisitorStarted:
    """The visitor's stream attached (a new call, or the stream came back)."""

    session_id: str
    traceparent: str
    # The condominium the gateway routed the call to ("" = decided by the concierge).
    condominium: str = ""


@dataclass(frozen=True)
class ResidentStarted:
    """The resident's leg, connected by the PBX with the visitor session's id."""


@dataclass(frozen=True)
class Utterance:
    """A recognised sentence. `extraction` is what the shell's extractor read in a visitor's sentence
    while collecting (None otherwise)."""

    leg: str
    text: str
    extraction: Extraction | None = None
    # The speech service's scores of the question's candidate phrases, best first.
    phrase_scores: tuple[tuple[str, float], ...] = ()
    # The recogniser's confidence in `text` (0..1), when it gave one.
    confidence: float | None = None


@dataclass(frozen=True)
class Key:
    """One keypad key (DTMF): a digit, "*" or "#"."""

    leg: str
    key: str


@dataclass(frozen=True)
class LegIdle:
    """Everything said to `leg` has been played: its silence timer may start."""

    leg: str


@dataclass(frozen=True)
class SpeechStarted:
    """The caller on `leg` started speaking (voice activity, maybe only noise)."""

    leg: str


@dataclass(frozen=True)
class UtteranceDropped:
    """The gateway heard the caller on `leg` but has nothing to send (too short, no words, refused):
    `reason` is the proto's DropReason name; `interrupted`, that speech had cut what `leg` heard."""

    leg: str
    interrupted: bool
    reason: str = ""


@dataclass(frozen=True)
class DeadlinePassed:
    """A timer of some leg fired; the core checks the session's deadline against `now` itself."""


@dataclass(frozen=True)
class LegEnded:
    """`leg` left the line. `lost` None: its caller hung up; otherwise the leg was lost to a
    failure (a dependency, a malformed stream), and the call cannot be told as a hang-up."""

    leg: str
    lost: FailureReason | None = None


@dataclass(frozen=True)
class DirectoryAnswered:
    response: directory_pb2.ResolveResponse


@dataclass(frozen=True)
class DirectoryFailed:
    error: str


@dataclass(frozen=True)
class CallPlaced:
    """The dialer accepted the call attempt."""


@dataclass(frozen=True)
class CallFailed:
    error: str


Event = (
    VisitorStarted
    | ResidentStarted
    | Utterance
    | Key
    | LegIdle
    | SpeechStarted
    | UtteranceDropped
    | DeadlinePassed
    | LegEnded
    | DirectoryAnswered
    | DirectoryFailed
    | CallPlaced
    | CallFailed
)
