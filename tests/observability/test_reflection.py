"""Server reflection documents the API: grpcurl, with reflection alone, prints the proto comments."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from porteiro_common.reflection import documented_files
from porteiro_directory.settings import SAMPLE_DATA_FILE
from tests.directory.conftest import directory_server

REPO = Path(__file__).resolve().parents[2]
GRPCURL = REPO / ".venv" / "bin" / "grpcurl"
DIRECTORY_PROTO = REPO / "protos" / "porteiro" / "directory" / "v1" / "directory.proto"

pytestmark = pytest.mark.skipif(not GRPCURL.exists(), reason="grpcurl not installed (requirements-dev)")


async def grpcurl(port: int, *args: str) -> tuple[int, str]:
    """Run grpcurl against 127.0.0.1:port without blocking the server's event loop."""
    process = await asyncio.create_subprocess_exec(
        str(GRPCURL),
        "-plaintext",
        f"127.0.0.1:{port}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, output.decode()


def comment_above(text: str, line_pattern: str) -> list[str]:
    """The // comment lines right above the first line matching `line_pattern` in a proto."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if re.search(line_pattern, line))
    comment = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("//"):
            break
        comment.insert(0, line.strip().removeprefix("//").strip())
    assert comment, f"no comment above {line_pattern}"
    return comment


async def test_describe_a_method_prints_its_comment():
    expected = comment_above(DIRECTORY_PROTO.read_text(), r"rpc Resolve\(")
    async with directory_server(SAMPLE_DATA_FILE) as running:
        code, output = await grpcurl(
            running.bound.port, "describe", "porteiro.directory.v1.DirectoryService.Resolve"
        )
    assert code == 0, output
    assert "is a method:" in output
    for line in expected:
        assert line in output, output
    assert "rpc Resolve ( .porteiro.directory.v1.ResolveRequest )" in output


async def test_describe_a_service_and_a_message_print_their_comments():
    proto = DIRECTORY_PROTO.read_text()
    async with directory_server(SAMPLE_DATA_FILE) as running:
        port = running.bound.port
        service = await grpcurl(port, "describe", "porteiro.directory.v1.DirectoryService")
        message = await grpcurl(port, "describe", "porteiro.directory.v1.ResolveRequest")
    assert service[0] == 0 and comment_above(proto, r"rpc Resolve\(")[0] in service[1]
    assert message[0] == 0
    for line in comment_above(proto, r"string resident_name = 2;"):
        assert line in message[1], message[1]


async def test_services_without_comments_and_unknown_symbols():
    async with directory_server(SAMPLE_DATA_FILE) as running:
        port = running.bound.port
        listed = await grpcurl(port, "list")
        health = await grpcurl(port, "describe", "grpc.health.v1.Health.Check")
        unknown = await grpcurl(port, "describe", "porteiro.directory.v1.DirectoryService.Nope")
    assert listed[0] == 0
    assert set(listed[1].split()) >= {
        "porteiro.directory.v1.DirectoryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert health[0] == 0 and "rpc Check ( .grpc.health.v1.HealthCheckRequest )" in health[1]
    assert unknown[0] != 0 and "not found" in unknown[1].lower(), unknown[1]


def test_every_porteiro_proto_is_shipped_with_its_comments():
    protos = {str(path.relative_to(REPO / "protos")) for path in (REPO / "protos").rglob("*.proto")}
    assert protos and protos <= set(documented_files())
