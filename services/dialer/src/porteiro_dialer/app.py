"""Wires the dialer service into the shared runtime."""

from porteiro_common.server import ServiceApp

from porteiro_dialer.settings import DialerSettings


class DialerApp(ServiceApp[DialerSettings]):
    service_names = ("porteiro.dialer.v1.DialerService",)
