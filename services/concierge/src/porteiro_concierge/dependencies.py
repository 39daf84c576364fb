"""Clients of the directory and dialer services, with deadlines and one error type."""

from __future__ import annotations

import grpc

from porteiro.common.v1 import common_pb2
from porteiro.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from porteiro_common.channels import create_channel
from porteiro_common.metrics import DEPENDENCY_UP


class DependencyError(Exception):
    """A call to directory or dialer failed; `code` is the gRPC status code."""

    def __init__(self, dependency: str, code: grpc.StatusCode | None, detail: str) -> None:
        super().__init__(f"{dependency}: {code.name if code else 'error'}: {detail}")
        self.dependency = dependency
        self.code = code


async def _call(dependency: str, method, request, deadline_seconds: float):
    try:
        response = await method(request, timeout=deadline_seconds)
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            DEPENDENCY_UP.labels(dependency).set(0)
        raise DependencyError(dependency, error.code(), error.details() or "") from error
    DEPENDENCY_UP.labels(dependency).set(1)
    return response


class _LazyChannel:
    """An aio channel opened on first use, inside the event loop that serves calls."""

    def __init__(self, target: str, timeout_seconds: float) -> None:
        self._target = target
        self._timeout = timeout_seconds
        self._channel: grpc.aio.Channel | None = None

    def get(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = create_channel(self._target, self._timeout)
        return self._channel

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None


class DirectoryClient:
    def __init__(self, target: str, timeout_seconds: float) -> None:
        self._channel = _LazyChannel(target, timeout_seconds)
        self._timeout = timeout_seconds

    @property
    def _stub(self) -> directory_pb2_grpc.DirectoryServiceStub:
        return directory_pb2_grpc.DirectoryServiceStub(self._channel.get())

    # `condominium` in each request: the tenant id ("" = the directory's default tenant).
    async def resolve(
        self, apartment: str, resident_name: str, condominium: str = ""
    ) -> directory_pb2.ResolveResponse:
        request = directory_pb2.ResolveRequest(
            apartment=apartment, resident_name=resident_name, condominium=condominium
        )
        return await _call("directory", self._stub.Resolve, request, self._timeout)

    async def parse_apartment(self, text: str, condominium: str = "") -> directory_pb2.ParseApartmentResponse:
        request = directory_pb2.ParseApartmentRequest(text=text, condominium=condominium)
        return await _call("directory", self._stub.ParseApartment, request, self._timeout)

    async def search_by_name(
        self, name: str, limit: int = 5, condominium: str = ""
    ) -> directory_pb2.SearchByNameResponse:
        request = directory_pb2.SearchByNameRequest(name=name, limit=limit, condominium=condominium)
        return await _call("directory", self._stub.SearchByName, request, self._timeout)

    async def vocabulary(self, condominium: str = "") -> directory_pb2.ListVocabularyResponse:
        request = directory_pb2.ListVocabularyRequest(condominium=condominium)
        return await _call("directory", self._stub.ListVocabulary, request, self._timeout)

    async def apartments(self, condominium: str = "") -> directory_pb2.ListApartmentsResponse:
        request = directory_pb2.ListApartmentsRequest(condominium=condominium)
        return await _call("directory", self._stub.ListApartments, request, self._timeout)

    async def close(self) -> None:
        await self._channel.close()


INTENTS = {"delivery": common_pb2.INTENT_DELIVERY, "visit": common_pb2.INTENT_VISIT}


class DialerClient:
    def __init__(self, target: str, timeout_seconds: float) -> None:
        self._channel = _LazyChannel(target, timeout_seconds)
        self._timeout = timeout_seconds

    @property
    def _stub(self) -> dialer_pb2_grpc.DialerServiceStub:
        return dialer_pb2_grpc.DialerServiceStub(self._channel.get())

    async def place_call(
        self,
        session_id: str,
        destination: str,
        attempt: int,
        intent: str,
        apartment: str,
        condominium: str = "",
    ) -> dialer_pb2.PlaceCallResponse:
        request = dialer_pb2.PlaceCallRequest(
            session_id=session_id,
            destination=destination,
            attempt=attempt,
            condominium=condominium,
            context=dialer_pb2.CallContext(
                intent=INTENTS.get(intent, common_pb2.INTENT_UNSPECIFIED), apartment=apartment
            ),
        )
        return await _call("dialer", self._stub.PlaceCall, request, self._timeout)

    async def cancel_call(self, session_id: str, attempt: int) -> dialer_pb2.CancelCallResponse:
        request = dialer_pb2.CancelCallRequest(session_id=session_id, attempt=attempt)
        return await _call("dialer", self._stub.CancelCall, request, self._timeout)

    async def close(self) -> None:
        await self._channel.close()
