"""Fixtures: the real directory in this process (behind a TCP proxy, so a test can take it away),
a fake dialer on loopback, and concierges started in-process."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field

import grpc
import pytest

from porteiro_common.server import build_server
from porteiro_common.settings import ObservabilitySettings
from porteiro_concierge.app import ConciergeApp
from porteiro_concierge.settings import ConciergeSettings
from porteiro_directory.app import DirectoryApp
from porteiro_directory.settings import DirectorySettings
from tests.concierge.driver import LegDriver
from tests.concierge.fakes import FakeDialer, FakeDirectory, serve_fakes
from tests.support.tcp_proxy import TcpProxy

# Short timeouts so timeout paths run in about a second.
# Most tests here walk through "Para qual apartamento e qual o nome do morador?" (a setting); the
# default, the resident's name first, has its own (test_whom_question.py and the intent's tests).
WHOM_TOGETHER = {"whom_question": "apartment_and_resident"}
# Most tests here also walk a delivery through "Qual é o seu nome?" (a setting); the default, the
# name asked of visitors only, has its own (test_visitor_name_policy.py).
NAME_ALWAYS = {"ask_visitor_name": "always"}
FAST_TIMEOUTS = {
    "resident_connect_timeout_seconds": 1.0,
    "resident_reply_timeout_seconds": 1.0,
    "visitor_reply_timeout_seconds": 30.0,
    "playback_allowance_seconds": 30.0,
    "deadline_reread_seconds": 0.05,
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


class DirectoryThread:
    """The real directory service (sample condominium) served from a thread of this process.

    One for the whole run: its own event loop in a thread, so it outlives each test's loop.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="directory", daemon=True)

    def start(self) -> int:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)

    async def _start(self) -> int:
        settings = DirectorySettings(grpc_host="127.0.0.1", grpc_port=0)
        self.app = DirectoryApp(settings, ObservabilitySettings(trace_personal_data=False))
        self.bound = build_server(self.app, "127.0.0.1", 0)
        await self.bound.server.start()
        await self.app.start(self.bound.health)
        return self.bound.port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _stop(self) -> None:
        await self.bound.server.stop(0)
        await self.app.stop(0)


@dataclass
class Directory:
    """The real directory, reached through a proxy so a test can take it away."""

    proxy: TcpProxy
    is_down: bool = False

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.proxy.port}"

    def down(self) -> None:
        """The directory goes away: connections cut, new ones refused (UNAVAILABLE)."""
        self.proxy.close()
        self.is_down = True

    def reopen(self) -> None:
        self.proxy.reopen()
        self.is_down = False

    async def up(self, concierge: Concierge, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - test helper
        """The directory comes back; returns once the concierge's channel to it is connected again
        (a gRPC channel that lost its peer waits a reconnect backoff before trying again)."""
        self.reopen()
        channel = concierge.app.directory._channel.get()  # the client's lazily opened channel
        async with asyncio.timeout(timeout):
            while (state := channel.get_state(try_to_connect=True)) != grpc.ChannelConnectivity.READY:
                await channel.wait_for_state_change(state)


@pytest.fixture(scope="session")
def directory_service():
    service = DirectoryThread()
    proxy = TcpProxy(("127.0.0.1", service.start())).start()
    yield Directory(proxy)
    proxy.close()
    service.stop()


@pytest.fixture
def directory(directory_service):
    """The real directory (in this process, shared by the run); up again after a test that took it down."""
    yield directory_service
    if directory_service.is_down:
        directory_service.reopen()


@dataclass
class Concierge:
    app: ConciergeApp
    channel: grpc.aio.Channel
    target: str
    drivers: list[LegDriver] = field(default_factory=list)

    def leg(self, session_id: str, leg: str, **options) -> LegDriver:
        driver = LegDriver(self.channel, session_id, leg, **options)
        self.drivers.append(driver)
        return driver


@pytest.fixture
async def concierge_factory(fakes, directory):
    running: list[tuple] = []

    async def start(**overrides) -> Concierge:
        values = {
            "grpc_host": "127.0.0.1",
            "grpc_port": 0,
            "directory_target": directory.target,
            "dialer_target": fakes.target,
            "redis_url": None,
            "llm_model": None,
            **FAST_TIMEOUTS,
            **WHOM_TOGETHER,
            **NAME_ALWAYS,
            **overrides,
        }
        app = ConciergeApp(ConciergeSettings(**values))
        bound = build_server(app, "127.0.0.1", 0)
        await bound.server.start()
        await app.start(bound.health)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}")
        concierge = Concierge(app, channel, f"127.0.0.1:{bound.port}")
        running.append((concierge, bound))
        return concierge

    yield start
    for concierge, bound in running:
        for driver in concierge.drivers:
            await driver.close()
        await concierge.channel.close()
        await bound.server.stop(0)
        await concierge.app.stop(0)


@pytest.fixture
async def concierge(concierge_factory) -> Concierge:
    """A concierge in this process, against the real directory (in this process too) and the fake dialer."""
    return await concierge_factory()


@pytest.fixture
def session_id() -> str:
    return str(uuid.uuid4())
