"""Server reflection that documents the API: descriptors served with their proto comments.

grpcio-reflection serves descriptors rebuilt from the generated modules, which carry no
source info, so `grpcurl describe` shows no comment; and it cannot find a method by its
name (`describe porteiro.directory.v1.DirectoryService.Resolve` gives "Symbol not found").
This servicer answers from the same descriptor pool, but sends the descriptors of
Porteiro's protos as protoc wrote them with `--include_source_info`
(porteiro/descriptor_set.binpb, written by scripts/gen-protos.sh), and resolves a method's
name to its service's file.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

DESCRIPTOR_SET = "descriptor_set.binpb"


def documented_files() -> dict[str, bytes]:
    """{proto file name: serialized FileDescriptorProto with source info} of Porteiro's protos."""
    data = resources.files("porteiro").joinpath(DESCRIPTOR_SET).read_bytes()
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(data)
    return {
        file.name: file.SerializeToString()
        for file in descriptor_set.file
        if file.HasField("source_code_info")
    }


class DocumentedReflectionServicer(ReflectionServicer):
    """grpcio-reflection's aio servicer, answering file requests with documented descriptors."""

    def __init__(self, service_names: Sequence[str], documented: dict[str, bytes]) -> None:
        super().__init__(service_names)
        self._documented = documented
        self._pool = descriptor_pool.Default()

    def _file_by_filename(self, request: Any, filename: str) -> reflection_pb2.ServerReflectionResponse:
        try:
            descriptor = self._pool.FindFileByName(filename)
        except KeyError:
            return _not_found(request, f"file {filename} not found")
        return self._files_response(descriptor, request)

    def _file_containing_symbol(self, request: Any, name: str) -> reflection_pb2.ServerReflectionResponse:
        descriptor = self._file_of_symbol(name)
        if descriptor is None:
            return _not_found(request, f"symbol {name} not found")
        return self._files_response(descriptor, request)

    def _file_of_symbol(self, name: str) -> FileDescriptor | None:
        try:
            return self._pool.FindFileContainingSymbol(name)
        except KeyError:
            pass
        # A method: "<package>.<Service>.<Method>" lives in its service's file.
        service_name, _, method = name.rpartition(".")
        try:
            service = self._pool.FindServiceByName(service_name)
        except KeyError:
            return None
        return service.file if method in service.methods_by_name else None

    def _files_response(
        self, descriptor: FileDescriptor, request: Any
    ) -> reflection_pb2.ServerReflectionResponse:
        """The file and everything it imports, the documented bytes where there are some."""
        files: dict[str, FileDescriptor] = {}
        pending = [descriptor]
        while pending:
            current = pending.pop()
            if current.name not in files:
                files[current.name] = current
                pending.extend(current.dependencies)
        return reflection_pb2.ServerReflectionResponse(
            file_descriptor_response=reflection_pb2.FileDescriptorResponse(
                file_descriptor_proto=[self._serialized(file) for file in files.values()]
            ),
            original_request=request,
        )

    def _serialized(self, descriptor: FileDescriptor) -> bytes:
        documented = self._documented.get(descriptor.name)
        if documented is not None:
            return documented
        proto = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(proto)
        return proto.SerializeToString()


def _not_found(request: Any, message: str) -> reflection_pb2.ServerReflectionResponse:
    return reflection_pb2.ServerReflectionResponse(
        error_response=reflection_pb2.ErrorResponse(
            error_code=grpc.StatusCode.NOT_FOUND.value[0], error_message=message
        ),
        original_request=request,
    )


def enable_documented_reflection(service_names: Sequence[str], server: grpc.aio.Server) -> None:
    """Reflection listing `service_names` on an aio server (include reflection's own name)."""
    servicer = DocumentedReflectionServicer(service_names, documented_files())
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
