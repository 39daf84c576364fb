"""Wires the gateway service into the shared runtime.

The gRPC server carries only health and reflection: the gateway's real
traffic is AudioSocket over TCP. It is SERVING once both listeners accept
connections; speech and concierge being down does not stop that (calls then
hear the fallback). On SIGTERM it drains (`drain`): health NOT_SERVING but still
served, calls in progress finish, new visitor legs are refused.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import replace

import grpc
from opentelemetry import trace

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2_grpc
from porteiro_common.channels import create_channel
from porteiro_common.health import HealthReporter
from porteiro_common.listening import report_listening
from porteiro_common.redaction import Redactor
from porteiro_common.server import ServiceApp
from porteiro_common.settings import ObservabilitySettings
from porteiro_gateway.concierge_link import ConciergeLink
from porteiro_gateway.deps import LegClock, LegDeps
from porteiro_gateway.fallback import HOLDING_KEY, FallbackAudio, fallback_text, holding_text
from porteiro_gateway.leg_table import LegRegistry, resident_reserve
from porteiro_gateway.listener import LegListener
from porteiro_gateway.media_engine import media_engine_for
from porteiro_gateway.playback import PlaybackClock
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.speech import GrpcSpeechClient, SpeechClient
from porteiro_gateway.synthesis_cache import CachingSpeechClient, SynthesisCache
from porteiro_gateway.tenancy import GatewayTenants

log = logging.getLogger(__name__)


class GatewayApp(ServiceApp[GatewaySettings]):
    service_names = ()  # media edge: serves only health and reflection over gRPC

    def __init__(
        self,
        settings: GatewaySettings,
        observability: ObservabilitySettings | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        super().__init__(settings)
        self._tracer = tracer or trace.get_tracer("porteiro.gateway")
        self._observability = observability or ObservabilitySettings()
        reserve = resident_reserve(settings.max_legs, settings.resident_reserve_share)
        self.registry = LegRegistry(settings.max_legs, reserve)
        self.visitor: LegListener | None = None
        self.resident: LegListener | None = None
        self.fallback: FallbackAudio | None = None
        self._channels: list[grpc.aio.Channel] = []
        self.holding: FallbackAudio | None = None
        self._fallback_tasks: list[asyncio.Task] = []
        self.media = media_engine_for(settings)
        self.clock: LegClock = self.media or PlaybackClock(settings.playback_resync_ms)
        self._clock_task: asyncio.Task | None = None
        self.tenants: GatewayTenants | None = None
        self.mapped: list[LegListener] = []  # visitor listeners of PORT_MAP

    def _says_speech(self, speech: GrpcSpeechClient) -> SpeechClient:
        """What the legs synthesize and recognise with: speech, its sentences kept (synthesis_cache.py)."""
        megabytes = self.settings.synthesis_cache_mb
        if megabytes <= 0:
            return speech
        cache = SynthesisCache(int(megabytes * 1024 * 1024), self.settings.synthesis_cache_ttl_seconds)
        return CachingSpeechClient(speech, cache)

    async def start(self, health_reporter: HealthReporter) -> None:
        settings = self.settings
        # Calls wait for a restarted or reconnecting service within their deadline (issue 15).
        speech_channel = create_channel(settings.speech_target, settings.rpc_timeout_seconds, True)
        concierge_channel = create_channel(settings.concierge_target, settings.rpc_timeout_seconds, True)
        self._channels = [speech_channel, concierge_channel]
        speech = GrpcSpeechClient(
            speech_channel,
            settings.rpc_timeout_seconds,
            settings.recognition_timeout_seconds,
            settings.speech_outage_seconds,
            settings.transcribe_chunk_ms,
        )
        self.fallback = FallbackAudio(
            fallback_text(settings.prompts_file), speech.synthesize_all, settings.fallback_retry_seconds
        )
        self.holding = FallbackAudio(
            holding_text(settings.prompts_file),
            speech.synthesize_all,
            settings.fallback_retry_seconds,
            name=HOLDING_KEY,
        )
        self._fallback_tasks = [
            asyncio.create_task(self.fallback.keep_trying()),
            asyncio.create_task(self.holding.keep_trying()),
        ]
        self._clock_task = asyncio.create_task(self.clock.run())
        self.tenants = GatewayTenants(settings, speech.synthesize_all)
        await self.tenants.start()
        deps = LegDeps(
            settings=settings,
            speech=self._says_speech(speech),
            # A leg's stream lives as long as the leg; its deadline only backs up MAX_CALL_SECONDS.
            concierge=functools.partial(
                ConciergeLink,
                concierge_pb2_grpc.ConciergeServiceStub(concierge_channel),
                settings.max_call_seconds + 30,
                settings.concierge_ready_seconds,
            ),
            fallback=self.fallback,
            holding=self.holding,
            redactor=Redactor(self._observability.trace_personal_data),
            tracer=self._tracer,
            clock=self.clock,
            media=self.media,
            tenancy=self.tenants.tenancy,
        )
        networks = settings.networks()
        self.visitor = LegListener(
            common_pb2.LEG_VISITOR,
            settings.visitor_host,
            settings.visitor_port,
            replace(deps, tenancy=self.tenants.for_port(settings.visitor_port)),
            self.registry,
            networks,
        )
        # PORT_MAP: one more visitor listener per condominium mapped to a port of its own.
        self.mapped = [
            LegListener(
                common_pb2.LEG_VISITOR,
                settings.visitor_host,
                port,
                replace(deps, tenancy=self.tenants.for_port(port)),
                self.registry,
                networks,
            )
            for port in self.tenants.port_map
            if port != settings.visitor_port
        ]
        for listener in self.mapped:
            await listener.start()
        self.resident = LegListener(
            common_pb2.LEG_RESIDENT,
            settings.resident_host,
            settings.resident_port,
            deps,
            self.registry,
            networks,
        )
        await self.visitor.start()
        await self.resident.start()
        report_listening(settings.ports_file, "visitor", self.visitor.port)
        report_listening(settings.ports_file, "resident", self.resident.port)
        await health_reporter.set_serving(True)

    async def drain(self, grace_seconds: float) -> None:
        """SIGTERM, health already NOT_SERVING and still served: let the calls in progress finish.

        New visitor legs are refused (hangup frame); resident legs of the calls in progress on this
        gateway are still taken. A call cannot outlast `max_call_seconds`, so that is the wait;
        `stop` then ends whatever is left.
        """
        self.registry.draining = True
        legs = len(self.registry.legs)
        log.info("draining", extra={"legs": legs, "max_wait_seconds": self.settings.max_call_seconds})
        if not await self.registry.wait_empty(self.settings.max_call_seconds):
            log.warning("calls still in progress after the drain", extra={"legs": len(self.registry.legs)})

    async def stop(self, grace_seconds: float) -> None:
        for listener in (self.visitor, self.resident, *self.mapped):
            if listener is not None:
                listener.stop_accepting()
        await self.registry.drain(grace_seconds)
        for task in (*self._fallback_tasks, self._clock_task):
            if task is not None:
                task.cancel()
        if self.tenants is not None:
            await self.tenants.stop()
        for channel in self._channels:
            await channel.close()
