"""Which condominium a call is for, and the polite refusal of a call for none served here.

With `PORTEIRO_GATEWAY_TENANTS_DIR` (the folder every service reads,
porteiro_common.tenants) a visitor leg's condominium is the one whose code is
the first 8 hex digits of its UUID, or, for a visitor port in
`PORTEIRO_GATEWAY_PORT_MAP` ("8082=jacaranda"), that port's condominium. The
concierge learns it in LegStarted.condominium. A visitor leg for no condominium
served here hears a short apology (synthesized once, the busy tone until then:
never silence), is hung up, and is counted
(`porteiro_gateway_condominium_calls_total{condominium="unknown"}`).

Without a tenants folder every call is the single condominium's, as before;
resident legs are never refused (the concierge knows their call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.prompts import load_prompts
from porteiro_common.tenants import (
    LABEL_UNKNOWN,
    CondominiumLabels,
    Tenant,
    TenantRegistry,
    TenantWatcher,
    condominium_for_session,
    parse_port_map,
)
from porteiro_gateway import metrics
from porteiro_gateway.fallback import FallbackAudio
from porteiro_gateway.playback import SayItem
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.speech import PLAYBACK_RATE

if TYPE_CHECKING:
    from porteiro_gateway.leg import Leg

log = logging.getLogger(__name__)

SPAN_ATTRIBUTE = "porteiro.condominium"


class Tenancy:
    """Routes legs to their condominium; without a registry every call is the single condominium's."""

    def __init__(
        self,
        registry: TenantRegistry[None] | None = None,
        apology: FallbackAudio | None = None,
        labels: CondominiumLabels | None = None,
        port_condominium: str = "",
    ) -> None:
        self.registry = registry
        self.apology = apology
        self.labels = labels or CondominiumLabels()
        # Set on the Tenancy of a mapped visitor port: every call there is this condominium's.
        self.port_condominium = port_condominium

    def for_port(self, condominium_id: str) -> Tenancy:
        """The same routing for a visitor port mapped to one condominium."""
        return Tenancy(self.registry, self.apology, self.labels, condominium_id)

    def route(self, leg: Leg) -> bool:
        """Set `leg.condominium`; False when the leg was refused (it hears the apology, then hangs up)."""
        if self.registry is None:
            return True
        tenant = self._tenant(leg.session_id)
        if leg.leg != common_pb2.LEG_VISITOR:  # its call is known to the concierge: never refused
            leg.condominium = tenant.id if tenant is not None else ""
            return True
        if tenant is not None:
            leg.condominium = tenant.id
            leg.trace.span.set_attribute(SPAN_ATTRIBUTE, tenant.id)
            metrics.CONDOMINIUM_CALLS.labels(self.labels(tenant.id)).inc()
            return True
        self._refuse(leg)
        return False

    def _tenant(self, session_id: str) -> Tenant[None] | None:
        assert self.registry is not None
        if self.port_condominium:
            return self.registry.current.get(self.port_condominium)
        return condominium_for_session(session_id, self.registry)

    def _refuse(self, leg: Leg) -> None:
        metrics.CONDOMINIUM_CALLS.labels(LABEL_UNKNOWN).inc()  # refusals are told apart even with labels off
        where = f"port {self.port_condominium!r}" if self.port_condominium else "its UUID code"
        log.warning(
            "call for no condominium served here (by %s): apology, then hang up",
            where,
            extra={"session_id": leg.session_id},
        )
        leg.trace.span.set_attribute(SPAN_ATTRIBUTE, "unknown")
        sound = self.apology.sound() if self.apology is not None else b""
        leg.player.enqueue(
            SayItem("unknown-condominium", False, PLAYBACK_RATE, bytearray(sound), True, is_fallback=True)
        )
        leg.spawn(self._hang_up_after_apology(leg))

    @staticmethod
    async def _hang_up_after_apology(leg: Leg) -> None:
        await leg.player.wait_idle()
        leg.end(concierge_pb2.LEG_END_REASON_HANGUP_REQUESTED, "no condominium served here for this call")


class GatewayTenants:
    """The gateway's tenants folder, its watcher and the apology: what `GatewayApp` starts and stops."""

    def __init__(self, settings: GatewaySettings, synthesize: Callable[[str], Awaitable[bytes]]) -> None:
        self.settings = settings
        self.port_map = parse_port_map(settings.port_map)
        self.registry: TenantRegistry[None] | None = None
        self.watcher: TenantWatcher | None = None
        self.apology: FallbackAudio | None = None
        self._apology_task: asyncio.Task | None = None
        if settings.tenants_dir is not None:
            self.registry = TenantRegistry(settings.tenants_dir, lambda _condominium: None, load_prompts())
            self.watcher = TenantWatcher(self.registry, settings.reload_interval_seconds)
            self.apology = FallbackAudio(
                settings.unknown_condominium_sentence, synthesize, settings.fallback_retry_seconds
            )
        elif self.port_map:
            raise ValueError("PORTEIRO_GATEWAY_PORT_MAP needs PORTEIRO_GATEWAY_TENANTS_DIR")
        labels = CondominiumLabels(settings.metrics_condominiums, settings.metrics_condominiums_limit)
        self.tenancy = Tenancy(self.registry, self.apology, labels)

    def for_port(self, port: int) -> Tenancy:
        """The routing of a visitor port: its condominium's when mapped, else by the UUID code."""
        condominium_id = self.port_map.get(port)
        return self.tenancy.for_port(condominium_id) if condominium_id else self.tenancy

    async def start(self) -> None:
        if self.watcher is None or self.apology is None:
            return
        report = await self.watcher.refresh()
        log.info(
            "condominiums served: %d (%d rejected)",
            len(self.registry.current) if self.registry else 0,
            len(report.failed),
        )
        self.watcher.start()
        self._apology_task = asyncio.create_task(self.apology.keep_trying())

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self._apology_task is not None:
            self._apology_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._apology_task
