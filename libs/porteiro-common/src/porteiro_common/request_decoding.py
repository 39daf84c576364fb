"""Undecodable request messages get INVALID_ARGUMENT, not UNKNOWN.

grpc.aio parses request bytes with the method's ``request_deserializer`` outside
the servicer. When the bytes are not a valid message, protobuf raises
``DecodeError`` there, and grpc answers ``UNKNOWN: Unexpected DecodeError``:
the client cannot tell its own mistake from a server bug, and the server logs a
traceback. An interceptor is the only hook that sees every method before the
first message is read, so `RequestDecodingInterceptor` swaps in a deserializer
that never raises: it returns an `UndecodableRequest` marker instead, and the
wrapped behaviour aborts with ``INVALID_ARGUMENT: request is not a valid
<MessageType>`` when it meets one, before the servicer sees it.

- Unary requests: checked before the servicer runs.
- Streamed requests: the request iterator is wrapped; the abort is raised from
  the servicer's ``async for`` at the bad message. (A servicer that reads with
  ``context.read()`` instead would get the marker itself.)
- Only async behaviours are wrapped (every Porteiro servicer, health and
  reflection are async); a sync handler keeps grpc's default answer.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

Deserializer = Callable[[bytes], Any]


class UndecodableRequest:
    """Stands in for a request whose bytes did not parse as `message_type`."""

    __slots__ = ("message_type",)

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type


def message_type_name(deserializer: Deserializer, method: str) -> str:
    """'porteiro.dialer.v1.PlaceCallRequest' for ``PlaceCallRequest.FromString``, else the method."""
    message_class = getattr(deserializer, "__self__", None)
    descriptor = getattr(message_class, "DESCRIPTOR", None)
    return getattr(descriptor, "full_name", None) or f"request of {method}"


def tolerant(deserializer: Deserializer, message_type: str) -> Deserializer:
    def parse(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except DecodeError:
            return UndecodableRequest(message_type)

    return parse


async def refuse(context: grpc.aio.ServicerContext, request: UndecodableRequest) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request is not a valid {request.message_type}")


async def checked_requests(
    requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, UndecodableRequest):
            await refuse(context, request)
        yield request


def unary_response_behavior(behavior: Callable[..., Awaitable[Any]], request_streaming: bool) -> Callable:
    async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if request_streaming:
            request = checked_requests(request, context)
        elif isinstance(request, UndecodableRequest):
            await refuse(context, request)
        return await behavior(request, context)

    return checked


def streaming_response_behavior(
    behavior: Callable[..., AsyncGenerator[Any, None]], request_streaming: bool
) -> Callable:
    async def checked(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if request_streaming:
            request = checked_requests(request, context)
        elif isinstance(request, UndecodableRequest):
            await refuse(context, request)
        responses = behavior(request, context)
        try:
            async for response in responses:
                yield response
        finally:
            await responses.aclose()

    return checked


# (request_streaming, response_streaming) -> the handler field holding the behaviour.
BEHAVIOR_FIELDS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}


def with_decode_check(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """`handler` with a tolerant deserializer and a behaviour that refuses undecodable requests."""
    field = BEHAVIOR_FIELDS[(handler.request_streaming, handler.response_streaming)]
    behavior = getattr(handler, field)
    if handler.request_deserializer is None or behavior is None:
        return handler  # raw bytes in: nothing to decode
    if handler.response_streaming and inspect.isasyncgenfunction(behavior):
        checked = streaming_response_behavior(behavior, handler.request_streaming)
    elif not handler.response_streaming and inspect.iscoroutinefunction(behavior):
        checked = unary_response_behavior(behavior, handler.request_streaming)
    else:
        return handler  # a sync or context.write-style behaviour: left as grpc made it
    message_type = message_type_name(handler.request_deserializer, method)
    replace = getattr(handler, "_replace", None)
    if replace is None:  # not grpc's namedtuple: leave it alone rather than guess its shape
        return handler
    return replace(
        request_deserializer=tolerant(handler.request_deserializer, message_type), **{field: checked}
    )


class RequestDecodingInterceptor(grpc.aio.ServerInterceptor):
    """Answers INVALID_ARGUMENT to request bytes that do not parse, for every method."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return with_decode_check(handler, handler_call_details.method)
