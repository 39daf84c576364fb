"""Each condominium's PBX settings in the click-to-call it is sent (many condominiums, issue 20).

With `PORTEIRO_DIALER_TENANTS_DIR` (the folder every service reads,
porteiro_common.tenants) a PlaceCall names its `condominium`, and that
condominium's `pbx` settings fill the payload: `license` and `destiny`, and the
queue or routing key it is published to (a `queue` is declared like the
dialer's own when DECLARE_QUEUE is on; `routing_key` alone sends it through the
dialer's EXCHANGE). Each setting left out is the dialer's own. A condominium
this dialer does not serve is refused (INVALID_ARGUMENT): its resident is never
called with another condominium's license.

An empty `condominium` (and every request without a tenants folder) is the
dialer's own settings: the single-condominium deployment is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from porteiro_common.prompts import load_prompts
from porteiro_common.tenants import DEFAULT_CONDOMINIUM, Condominium, TenantRegistry, TenantWatcher
from porteiro_dialer.errors import InvalidCallRequest
from porteiro_dialer.payload import PayloadConfig
from porteiro_dialer.settings import DialerSettings


@dataclass(frozen=True)
class Route:
    """Where and with which fixed fields one condominium's commands go."""

    payload: PayloadConfig
    routing_key: str | None = None  # None: the dialer's ROUTING_KEY (or QUEUE)
    queue: str | None = None  # a queue of the condominium's own, declared before its first publish


def route_for(condominium: Condominium, default: PayloadConfig) -> Route:
    """A condominium's route: its `pbx` settings over the dialer's own."""
    pbx = condominium.pbx
    payload = replace(
        default,
        license=pbx.license or default.license,
        destiny=pbx.destiny or default.destiny,
    )
    return Route(payload, pbx.routing_key or pbx.queue, pbx.queue)


class DialerTenants:
    """The condominiums' routes, reloaded from the folder; the dialer's own route without one."""

    def __init__(self, settings: DialerSettings) -> None:
        self.default = Route(PayloadConfig(settings.license, settings.event_code, settings.destiny))
        self.registry: TenantRegistry[Route] | None = None
        self.watcher: TenantWatcher | None = None
        if settings.tenants_dir is not None:
            default_payload = self.default.payload
            self.registry = TenantRegistry(
                settings.tenants_dir,
                lambda condominium: route_for(condominium, default_payload),
                load_prompts(),
            )
            self.watcher = TenantWatcher(self.registry, settings.reload_interval_seconds)

    def route(self, condominium_id: str) -> Route:
        """The route of a PlaceCall's condominium; raises InvalidCallRequest for one not served here."""
        if self.registry is None or not condominium_id or condominium_id == DEFAULT_CONDOMINIUM:
            return self.default
        tenant = self.registry.current.get(condominium_id)
        if tenant is None:
            raise InvalidCallRequest(f"condominium {condominium_id!r} is not served by this dialer")
        return tenant.data

    async def start(self) -> None:
        if self.watcher is not None:
            await self.watcher.refresh()
            self.watcher.start()

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
