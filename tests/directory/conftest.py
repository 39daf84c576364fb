"""A real directory gRPC server on a free loopback port, in this process."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from porteiro.directory.v1 import directory_pb2_grpc
from porteiro_common.server import BoundServer, build_server
from porteiro_common.settings import ObservabilitySettings
from porteiro_directory.app import DirectoryApp
from porteiro_directory.settings import SAMPLE_DATA_FILE, DirectorySettings

DATA = Path(__file__).parent / "data"
BLOCKS_FILE = DATA / "condominio_blocos.yaml"
PROTOTYPE_FILE = DATA / "prototipo_apartamentos.json"


@dataclass
class RunningDirectory:
    app: DirectoryApp
    bound: BoundServer
    channel: grpc.aio.Channel
    stub: directory_pb2_grpc.DirectoryServiceStub
    spans: InMemorySpanExporter


@asynccontextmanager
async def directory_server(
    data_file: Path, trace_personal_data: bool = False, **settings: object
) -> AsyncIterator[RunningDirectory]:
    """Start DirectoryApp behind `build_server` on port 0; stop it afterwards."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = DirectoryApp(
        DirectorySettings(data_file=data_file, grpc_host="127.0.0.1", grpc_port=0, **settings),
        ObservabilitySettings(trace_personal_data=trace_personal_data),
        provider.get_tracer("test"),
    )
    bound = build_server(app, "127.0.0.1", 0)
    await bound.server.start()
    await app.start(bound.health)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}")
    try:
        yield RunningDirectory(
            app, bound, channel, directory_pb2_grpc.DirectoryServiceStub(channel), exporter
        )
    finally:
        await channel.close()
        await app.stop(1.0)
        await bound.server.stop(None)


@pytest.fixture
async def sample():
    """The shipped sample condominium (the prototype's, with aliases)."""
    async with directory_server(SAMPLE_DATA_FILE) as running:
        yield running


@pytest.fixture
async def blocks():
    """The test condominium with blocks, towers and similar names."""
    async with directory_server(BLOCKS_FILE) as running:
        yield running


@pytest.fixture
def data_copy(tmp_path):
    """Copy a data file into tmp_path (so a test may rewrite it)."""

    def copy(source: Path, name: str | None = None) -> Path:
        target = tmp_path / (name or source.name)
        shutil.copyfile(source, target)
        return target

    return copy
