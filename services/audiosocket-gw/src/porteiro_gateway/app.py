"""Wires the gateway service into the shared runtime."""

from porteiro_common.server import ServiceApp

from porteiro_gateway.settings import GatewaySettings


class GatewayApp(ServiceApp[GatewaySettings]):
    service_names = ()  # media edge: serves only health and reflection over gRPC
