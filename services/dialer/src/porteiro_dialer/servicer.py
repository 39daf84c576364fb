"""The gRPC face of the dialer: maps PlaceCall and CancelCall onto `CallPlacer` and errors onto status codes.

INVALID_ARGUMENT (the placer's validation: malformed session id, empty or too long
destination, attempt out of range, note/apartment too long, unknown intent) publishes
nothing; UNAVAILABLE is the broker's fault.
"""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from porteiro.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from porteiro_dialer.errors import BrokerUnavailable, InvalidCallRequest
from porteiro_dialer.placer import CallPlacer, CallRequest, CancelRequest

# Answer this much before the caller's deadline, so it sees UNAVAILABLE, not DEADLINE_EXCEEDED.
DEADLINE_MARGIN_SECONDS = 0.05


def wait_budget(time_remaining: float | None) -> float | None:
    if time_remaining is None:
        return None
    return max(time_remaining - DEADLINE_MARGIN_SECONDS, 0.0)


def timestamp(unix_seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(unix_seconds * 1e9))
    return stamp


class DialerServicer(dialer_pb2_grpc.DialerServiceServicer):
    def __init__(self, placer: CallPlacer) -> None:
        self._placer = placer

    async def PlaceCall(
        self, request: dialer_pb2.PlaceCallRequest, context: grpc.aio.ServicerContext
    ) -> dialer_pb2.PlaceCallResponse:
        call = CallRequest(
            session_id=request.session_id,
            destination=request.destination,
            attempt=request.attempt,
            note=request.context.note,
            apartment=request.context.apartment,
            intent=request.context.intent,
            condominium=request.condominium,
        )
        try:
            placed = await self._placer.place_call(call, wait_budget(context.time_remaining()))
        except InvalidCallRequest as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except BrokerUnavailable as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        return dialer_pb2.PlaceCallResponse(
            command_id=placed.command_id,
            duplicate=placed.duplicate,
            published_at=timestamp(placed.published_at),
        )

    async def CancelCall(  # noqa: N802 - gRPC method name
        self, request: dialer_pb2.CancelCallRequest, context: grpc.aio.ServicerContext
    ) -> dialer_pb2.CancelCallResponse:
        cancel = CancelRequest(session_id=request.session_id, attempt=request.attempt)
        try:
            cancelled = await self._placer.cancel_call(cancel, wait_budget(context.time_remaining()))
        except InvalidCallRequest as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except BrokerUnavailable as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        return dialer_pb2.CancelCallResponse(
            command_id=cancelled.command_id, published_at=timestamp(cancelled.published_at)
        )
