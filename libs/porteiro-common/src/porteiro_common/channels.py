"""Client channels to other Porteiro services: tracing, default deadlines, waiting for readiness.

A restarted service is reached again within a second: the reconnect backoff is capped at
`MAX_RECONNECT_BACKOFF_MS` (gRPC's default grows to 120 s, so the first calls after a
restart failed for seconds although the service was SERVING). A channel made with
`wait_for_ready=True` also lets its calls wait for a connection, within their deadline,
instead of failing at once while it reconnects (issue 15).
"""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

MAX_RECONNECT_BACKOFF_MS = 1_000

_CHANNEL_OPTIONS = [
    # Spread calls over every replica a (headless) Service name resolves to.
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # Reconnect to a restarted replica within a second, not after a backoff grown to minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
]


class _DefaultDeadline:
    """Adds a deadline to every call made without one (and wait-for-ready, when the channel asks)."""

    def __init__(self, timeout_seconds: float, wait_for_ready: bool = False) -> None:
        self._timeout = timeout_seconds
        self._wait_for_ready = wait_for_ready

    def _with_deadline(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        wait_for_ready = details.wait_for_ready
        if wait_for_ready is None and self._wait_for_ready:
            wait_for_ready = True
        if details.timeout is not None and wait_for_ready is details.wait_for_ready:
            return details
        timeout = self._timeout if details.timeout is None else details.timeout
        return grpc.aio.ClientCallDetails(
            details.method, timeout, details.metadata, details.credentials, wait_for_ready
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


def create_channel(
    target: str, default_timeout_seconds: float = 5.0, wait_for_ready: bool = False
) -> grpc.aio.Channel:
    """An insecure aio channel with OTel client interceptors.

    Unary and one-way streaming calls get `default_timeout_seconds` unless the
    caller passes its own `timeout`. Bidirectional streams (one per call leg)
    live as long as the leg and carry no default deadline (nor wait-for-ready:
    pass it on the call). With `wait_for_ready`, those calls wait for the service
    (a restart, a reconnection) within their deadline instead of failing fast
    with UNAVAILABLE; a call that sets `wait_for_ready` itself keeps its choice.
    """
    interceptors = [
        *aio_client_interceptors(),
        _UnaryUnaryDeadline(default_timeout_seconds, wait_for_ready),
        _UnaryStreamDeadline(default_timeout_seconds, wait_for_ready),
        _StreamUnaryDeadline(default_timeout_seconds, wait_for_ready),
    ]
    return grpc.aio.insecure_channel(target, interceptors=interceptors, options=_CHANNEL_OPTIONS)
