"""Wires the concierge service into the shared runtime."""

from porteiro_common.server import ServiceApp

from porteiro_concierge.settings import ConciergeSettings


class ConciergeApp(ServiceApp[ConciergeSettings]):
    service_names = ("porteiro.concierge.v1.ConciergeService",)
