"""The gRPC face of the register: RegisterService over `RegisterStore`.

Queries run in a worker thread (the store is synchronous). Bad input is
INVALID_ARGUMENT with the field's name first; an unreachable database is UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import grpc
import sqlalchemy.exc
from opentelemetry import trace

from porteiro.register.v1 import register_pb2, register_pb2_grpc
from porteiro_register.records import OUTCOME_WORDS, InvalidRecord, record_from_row, to_datetime
from porteiro_register.store import RegisterStore, call_filter

T = TypeVar("T")


class RegisterServicer(register_pb2_grpc.RegisterServiceServicer):
    def __init__(self, store: RegisterStore, tracer: trace.Tracer | None = None) -> None:
        self._store = store
        self._tracer = tracer or trace.get_tracer("porteiro.register")

    async def _run(self, context: grpc.aio.ServicerContext, name: str, work: Callable[[], T]) -> T:
        with self._tracer.start_as_current_span(name, record_exception=False) as span:
            try:
                return await asyncio.to_thread(work)
            except InvalidRecord as error:
                span.set_attribute("error_field", str(error).split(":", 1)[0])
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            except sqlalchemy.exc.SQLAlchemyError as error:
                span.set_attribute("error_type", type(error).__name__)
                await context.abort(
                    grpc.StatusCode.UNAVAILABLE, f"register database unavailable ({type(error).__name__})"
                )
        raise AssertionError("unreachable: abort raises")

    async def ListCalls(
        self, request: register_pb2.ListCallsRequest, context: grpc.aio.ServicerContext
    ) -> register_pb2.ListCallsResponse:
        def work() -> register_pb2.ListCallsResponse:
            outcomes = []
            for value in request.outcomes:
                if value not in OUTCOME_WORDS:
                    raise InvalidRecord(f"outcomes: unknown or unspecified outcome {value}")
                outcomes.append(OUTCOME_WORDS[value])
            where = call_filter(
                request.condominium,
                to_datetime(request.started_from) if request.HasField("started_from") else None,
                to_datetime(request.started_before) if request.HasField("started_before") else None,
                request.apartment,
                outcomes,
            )
            rows, token = self._store.list_calls(where, request.page_size, request.page_token)
            return register_pb2.ListCallsResponse(
                calls=[record_from_row(row) for row in rows], next_page_token=token
            )

        return await self._run(context, "REGISTER_LIST_CALLS", work)

    async def GetCall(
        self, request: register_pb2.GetCallRequest, context: grpc.aio.ServicerContext
    ) -> register_pb2.CallRecord:
        row = await self._run(context, "REGISTER_GET_CALL", lambda: self._store.get_call(request.call_id))
        if row is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"call_id: no record for {request.call_id}")
        return record_from_row(row)

    async def EraseVisitor(
        self, request: register_pb2.EraseVisitorRequest, context: grpc.aio.ServicerContext
    ) -> register_pb2.EraseVisitorResponse:
        def work() -> int:
            return self._store.erase(
                visitor_name=request.visitor_name, call_id=request.call_id, condominium=request.condominium
            )

        deleted = await self._run(context, "REGISTER_ERASE", work)
        return register_pb2.EraseVisitorResponse(deleted=deleted)
