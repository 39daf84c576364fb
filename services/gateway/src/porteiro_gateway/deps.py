"""What every leg shares, created once by the app (and by tests/gateway/harness.py in process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from opentelemetry import trace

from porteiro.common.v1 import common_pb2
from porteiro_common.redaction import Redactor
from porteiro_gateway.concierge_link import ConciergeStream
from porteiro_gateway.fallback import FallbackAudio
from porteiro_gateway.playback import PlaybackClock
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.speech import SpeechClient
from porteiro_gateway.tenancy import Tenancy

LEG_NAMES = {common_pb2.LEG_VISITOR: "visitor", common_pb2.LEG_RESIDENT: "resident"}


@dataclass
class LegDeps:
    settings: GatewaySettings
    speech: SpeechClient
    concierge: Callable[[], ConciergeStream]  # a new, unopened stream per leg
    fallback: FallbackAudio
    redactor: Redactor
    clock: PlaybackClock  # ticks the players; its time source is the legs' time
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer("porteiro.gateway"))
    # Which condominium a leg is for (the default routes every call to the single condominium).
    tenancy: Tenancy = field(default_factory=Tenancy)
    holding: FallbackAudio | None = None  # the holding sentence, rendered ahead (holding.py)
