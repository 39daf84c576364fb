"""What every leg shares, created once by the app (and by tests/gateway/harness.py in process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import trace

from porteiro.common.v1 import common_pb2
from porteiro_common.redaction import Redactor
from porteiro_gateway.concierge_link import ConciergeStream
from porteiro_gateway.fallback import FallbackAudio
from porteiro_gateway.media_engine import MediaEngine
from porteiro_gateway.playback import Player
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.speech import SpeechClient
from porteiro_gateway.tenancy import Tenancy
from porteiro_gateway.time_source import TimeSource

LEG_NAMES = {common_pb2.LEG_VISITOR: "visitor", common_pb2.LEG_RESIDENT: "resident"}


class LegClock(Protocol):
    """What sends the players' frames on the 20 ms schedule: playback.PlaybackClock (the event
    loop's) or media_engine.MediaEngine (the native media edge's)."""

    time_source: TimeSource  # the legs read the time here too

    def add(self, player: Player, transport: Any = None) -> None: ...

    def discard(self, player: Player) -> None: ...

    async def run(self) -> None:
        """Send frames until cancelled."""
        ...


@dataclass
class LegDeps:
    settings: GatewaySettings
    speech: SpeechClient
    concierge: Callable[[], ConciergeStream]  # a new, unopened stream per leg
    fallback: FallbackAudio
    redactor: Redactor
    clock: LegClock  # ticks the players; its time source is the legs' time
    # The native media edge, when it runs: it takes each accepted connection (listener.py).
    media: MediaEngine | None = None
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer("porteiro.gateway"))
    # Which condominium a leg is for (the default routes every call to the single condominium).
    tenancy: Tenancy = field(default_factory=Tenancy)
    holding: FallbackAudio | None = None  # the holding sentence, rendered ahead (holding.py)
