"""Client channels add a default deadline: a hung server gives DEADLINE_EXCEEDED."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from porteiro_common.channels import create_channel


class HangingDirectory(directory_pb2_grpc.DirectoryServiceServicer):
    async def ListVocabulary(self, request, context):
        await asyncio.sleep(30)
        return directory_pb2.ListVocabularyResponse()


async def test_calls_without_timeout_get_the_default_deadline():
    server = grpc.aio.server()
    directory_pb2_grpc.add_DirectoryServiceServicer_to_server(HangingDirectory(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with create_channel(f"127.0.0.1:{port}", default_timeout_seconds=0.3) as channel:
            stub = directory_pb2_grpc.DirectoryServiceStub(channel)
            began = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.ListVocabulary(directory_pb2.ListVocabularyRequest())
            assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert time.monotonic() - began < 3
    finally:
        await server.stop(0)
