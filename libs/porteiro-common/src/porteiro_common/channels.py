"""Client channels to other Porteiro services: tracing and default deadlines."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

_CHANNEL_OPTIONS = [
    # Spread calls over every replica a (headless) Service name resolves to.
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]


class _DefaultDeadline:
    """Adds a deadline to every call made without one."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    def _with_deadline(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        if details.timeout is not None:
            return details
        return grpc.aio.ClientCallDetails(
            details.method, self._timeout, details.metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnaryDeadline(_DefaultDeadline, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(self._with_deadline(client_call_details), request)


class _UnaryStreamDeadline(_DefaultDeadline, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(self._with_deadline(client_call_details), request)


class _StreamUnaryDeadline(_DefaultDeadline, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return await continuation(self._with_deadline(client_call_details), request_iterator)


def create_channel(target: str, default_timeout_seconds: float = 5.0) -> grpc.aio.Channel:
    """An insecure aio channel with OTel client interceptors.

    Unary and one-way streaming calls get `default_timeout_seconds` unless the
    caller passes its own `timeout`. Bidirectional streams (one per call leg)
    live as long as the leg and carry no default deadline.
    """
    interceptors = [
        *aio_client_interceptors(),
        _UnaryUnaryDeadline(default_timeout_seconds),
        _UnaryStreamDeadline(default_timeout_seconds),
        _StreamUnaryDeadline(default_timeout_seconds),
    ]
    return grpc.aio.insecure_channel(target, interceptors=interceptors, options=_CHANNEL_OPTIONS)
