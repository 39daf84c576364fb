"""Fixtures: fake directory + dialer on loopback, and concierges started in-process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import grpc
import pytest

from porteiro_common.server import build_server
from porteiro_concierge.app import ConciergeApp
from porteiro_concierge.settings import ConciergeSettings
from tests.concierge.driver import LegDriver
from tests.concierge.fakes import FakeDialer, FakeDirectory, serve_fakes
from tests.support.processes import start_service

# Short timeouts so timeout paths run in about a second.
FAST_TIMEOUTS = {
    "resident_connect_timeout_seconds": 1.0,
    "resident_reply_timeout_seconds": 1.0,
    "visitor_reply_timeout_seconds": 30.0,
    "playback_allowance_seconds": 30.0,
    "timer_poll_seconds": 0.05,
    "dependency_timeout_seconds": 2.0,
}


@dataclass
class Fakes:
    directory: FakeDirectory
    dialer: FakeDialer
    target: str


@pytest.fixture
async def fakes():
    directory, dialer = FakeDirectory(), FakeDialer()
    server, port = await serve_fakes(directory, dialer)
    yield Fakes(directory, dialer, f"127.0.0.1:{port}")
    await server.stop(0)


@dataclass
class Concierge:
    app: ConciergeApp
    channel: grpc.aio.Channel
    target: str

    def leg(self, session_id: str, leg: str, **options) -> LegDriver:
        return LegDriver(self.channel, session_id, leg, **options)


@pytest.fixture
async def concierge_factory(fakes):
    running: list[tuple] = []

    async def start(directory_target: str | None = None, **overrides) -> Concierge:
        values = {
            "grpc_host": "127.0.0.1",
            "grpc_port": 0,
            "directory_target": directory_target or fakes.target,
            "dialer_target": fakes.target,
            "redis_url": None,
            "llm_model": None,
            **FAST_TIMEOUTS,
            **overrides,
        }
        app = ConciergeApp(ConciergeSettings(**values))
        bound = build_server(app, "127.0.0.1", 0)
        await bound.server.start()
        await app.start(bound.health)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}")
        running.append((app, bound, channel))
        return Concierge(app, channel, f"127.0.0.1:{bound.port}")

    yield start
    for app, bound, channel in running:
        await channel.close()
        await bound.server.stop(0)
        await app.stop(0)


@pytest.fixture(scope="session")
def real_directory(tmp_path_factory):
    """The real directory service (sample condominium), one process for the whole run."""
    service = start_service("porteiro_directory", "PORTEIRO_DIRECTORY_", tmp_path_factory.mktemp("directory"))
    service.wait_serving(timeout=60)
    yield service.target
    service.terminate()


@pytest.fixture(params=["fake-directory", "real-directory"])
async def concierge(request, concierge_factory) -> Concierge:
    """A concierge in this process, against the fake directory and then the real one."""
    target = request.getfixturevalue("real_directory") if request.param == "real-directory" else None
    return await concierge_factory(directory_target=target)


@pytest.fixture
async def fake_concierge(concierge_factory) -> Concierge:
    """A concierge against the fake directory (for tests that switch the directory off)."""
    return await concierge_factory()


@pytest.fixture
def session_id() -> str:
    return str(uuid.uuid4())
