"""The five Porteiro services as local processes, wired to each other.

Used by `make demo`, the end-to-end tests and the end-to-end benchmark. Every
service runs as ``python -m <package>`` with its settings from the environment,
exactly as in production. Every port is 0: each service binds a free port and
reports it in its ports file (porteiro_common.listening), so parallel stacks never
race for a port; a service that needs another's address starts once it is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from porteiro_common.listening import read_ports

SERVING = health_pb2.HealthCheckResponse.SERVING


@dataclass
class ServiceProcess:
    name: str
    module: str
    prefix: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    ports: dict[str, int] = field(default_factory=dict)  # by listener: "grpc", "metrics", "visitor", ...

    @property
    def ports_file(self) -> Path:
        return self.log_path.with_suffix(".ports")

    @property
    def grpc_port(self) -> int:
        return self.known_port("grpc")

    @property
    def metrics_port(self) -> int:
        return self.known_port("metrics")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def known_port(self, listener: str) -> int:
        if listener not in self.ports:
            raise RuntimeError(f"{self.name} has not reported its {listener} port (not started?)")
        return self.ports[listener]

    def start(self, cwd: Path, wiring: dict[str, str] | None = None) -> None:
        """Start the process with every port at 0; `wiring` holds the addresses of the services it uses."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PORTEIRO_", "OTEL_")) and k != "REDIS_URL"
        }
        env.update(
            {
                f"{self.prefix}GRPC_HOST": "127.0.0.1",
                f"{self.prefix}GRPC_PORT": "0",
                f"{self.prefix}METRICS_HOST": "127.0.0.1",
                f"{self.prefix}METRICS_PORT": "0",
                f"{self.prefix}PORTS_FILE": str(self.ports_file),
                "CREWAI_DISABLE_TELEMETRY": "true",
            }
        )
        env.update(wiring or {})
        env.update(self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.ports_file.unlink(missing_ok=True)
        self.ports = {}
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=env,
                cwd=cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self, tail: int = 4000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:]

    async def wait_listening(self, listeners: tuple[str, ...], wait_seconds: float) -> None:
        """Wait until the process has reported the ports of `listeners`; fail if it exits first."""
        deadline = time.monotonic() + wait_seconds
        while True:
            self.ports = read_ports(self.ports_file)
            if all(listener in self.ports for listener in listeners):
                return
            if not self.running:
                code = self.process.returncode if self.process else None
                raise RuntimeError(f"{self.name} exited ({code}) before listening:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not report {listeners} in {wait_seconds:.0f} s")
            await asyncio.sleep(0.05)

    async def wait_serving(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        async with grpc.aio.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if not self.running:
                    code = self.process.returncode if self.process else None
                    raise RuntimeError(f"{self.name} exited ({code}):\n{self.logs()}")
                with contextlib.suppress(grpc.RpcError):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == SERVING:
                        return
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not SERVING after {wait_seconds:.0f} s:\n{self.logs()}")

    def terminate(self) -> None:
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process is not None and self.running:
            self.process.kill()

    async def wait_exit(self, wait_seconds: float) -> int | None:
        if self.process is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.process.wait), wait_seconds)
        except TimeoutError:
            self.process.kill()
            return await asyncio.to_thread(self.process.wait)


def new_run_folder(parent: Path, prefix: str) -> Path:
    """A folder of its own for one run's logs and spans: `<parent>/<prefix>-<time>`, with "-2", "-3"...
    when another run started in the same second (two evaluations side by side shared one before)."""
    stamp = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        folder = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"{parent}: no free folder name for {stamp}")


@dataclass
class StackConfig:
    """What differs between the demo, the tests and the bench."""

    work_dir: Path  # logs and the span file go here
    queue: str = "voip1-in"
    amqp_url: str | None = None  # None = the dialer's default (local broker)
    redis_url: str | None = None  # None = sessions in the concierge's memory
    speech_target: str | None = None  # None = start the real speech service
    span_file: Path | None = None
    trace_personal_data: bool = False
    concierges: int = 1
    # Per-service extra environment, by service name ("gateway", "concierge", ...).
    env: dict[str, dict[str, str]] = field(default_factory=dict)


class Stack:
    """Starts, wires, watches and stops the services."""

    def __init__(self, config: StackConfig, cwd: Path | None = None) -> None:
        self.config = config
        self.cwd = cwd or Path.cwd()
        logs = config.work_dir / "logs"
        common = self._common_env()
        self.directory = self._service("directory", "porteiro_directory", "PORTEIRO_DIRECTORY_", logs, common)
        self.dialer = self._service(
            "dialer",
            "porteiro_dialer",
            "PORTEIRO_DIALER_",
            logs,
            common,
            {
                "PORTEIRO_DIALER_QUEUE": config.queue,
                **({"PORTEIRO_DIALER_AMQP_URL": config.amqp_url} if config.amqp_url else {}),
            },
        )
        self.speech = (
            None
            if config.speech_target
            else self._service("speech", "porteiro_speech", "PORTEIRO_SPEECH_", logs, common)
        )
        self.concierges = [
            self._service(
                f"concierge-{index + 1}" if config.concierges > 1 else "concierge",
                "porteiro_concierge",
                "PORTEIRO_CONCIERGE_",
                logs,
                common,
                {"PORTEIRO_CONCIERGE_REDIS_URL": config.redis_url} if config.redis_url else {},
                key="concierge",
            )
            for index in range(config.concierges)
        ]
        self.gateway = self._service(
            "gateway",
            "porteiro_gateway",
            "PORTEIRO_GATEWAY_",
            logs,
            common,
            {
                "PORTEIRO_GATEWAY_VISITOR_HOST": "127.0.0.1",
                "PORTEIRO_GATEWAY_VISITOR_PORT": "0",
                "PORTEIRO_GATEWAY_RESIDENT_HOST": "127.0.0.1",
                "PORTEIRO_GATEWAY_RESIDENT_PORT": "0",
            },
        )

    @property
    def visitor_port(self) -> int:
        """The gateway's AudioSocket port for visitors' calls (once started)."""
        return self.gateway.known_port("visitor")

    @property
    def resident_port(self) -> int:
        """The gateway's AudioSocket port for residents' calls (once started)."""
        return self.gateway.known_port("resident")

    @property
    def speech_target(self) -> str:
        return self.config.speech_target or self.speech.target  # type: ignore[union-attr]

    @property
    def concierge_target(self) -> str:
        """One concierge, or all of them as one gRPC target (pick_first fails over to the next)."""
        if len(self.concierges) == 1:
            return self.concierges[0].target
        return "ipv4:" + ",".join(concierge.target for concierge in self.concierges)

    @property
    def concierge(self) -> ServiceProcess:
        return self.concierges[0]

    @property
    def services(self) -> list[ServiceProcess]:
        optional = [self.speech] if self.speech else []
        return [self.directory, self.dialer, *optional, *self.concierges, self.gateway]

    def _common_env(self) -> dict[str, str]:
        env = {
            "PORTEIRO_LOG_FORMAT": "text",
            "PORTEIRO_TRACE_PERSONAL_DATA": "true" if self.config.trace_personal_data else "false",
        }
        if self.config.span_file:
            env["PORTEIRO_SPAN_FILE"] = str(self.config.span_file)
        return env

    def _service(
        self,
        name: str,
        module: str,
        prefix: str,
        logs: Path,
        common: dict[str, str],
        settings: dict[str, str] | None = None,
        key: str | None = None,
    ) -> ServiceProcess:
        env = {
            **common,
            f"{prefix}SHUTDOWN_DELAY_SECONDS": "0.2",
            **(settings or {}),
            **self.config.env.get(key or name, {}),
        }
        return ServiceProcess(name, module, prefix, env, logs / f"{name}.log")

    async def start(self, wait_seconds: float = 120.0) -> None:
        """Start everything, each service once the addresses it needs are known; wait until all SERVE."""
        try:
            await self._start_in_order(wait_seconds)
            await asyncio.gather(*(service.wait_serving(wait_seconds) for service in self.services))
        except BaseException:
            await self.stop()
            raise

    async def _start_in_order(self, wait_seconds: float) -> None:
        """Directory, dialer and speech first; the concierges once directory and dialer listen;
        the gateway once speech and the concierges listen."""
        grpc_and_metrics = ("grpc", "metrics")
        backends = [self.directory, self.dialer, *([self.speech] if self.speech else [])]
        for service in backends:
            service.start(self.cwd)
        await self._wait_listening([self.directory, self.dialer], grpc_and_metrics, wait_seconds)
        wiring = {
            "PORTEIRO_CONCIERGE_DIRECTORY_TARGET": self.directory.target,
            "PORTEIRO_CONCIERGE_DIALER_TARGET": self.dialer.target,
        }
        for concierge in self.concierges:
            concierge.start(self.cwd, wiring)
        await self._wait_listening([*backends, *self.concierges], grpc_and_metrics, wait_seconds)
        self.gateway.start(
            self.cwd,
            {
                "PORTEIRO_GATEWAY_SPEECH_TARGET": self.speech_target,
                "PORTEIRO_GATEWAY_CONCIERGE_TARGET": self.concierge_target,
            },
        )
        await self.gateway.wait_listening((*grpc_and_metrics, "visitor", "resident"), wait_seconds)

    @staticmethod
    async def _wait_listening(
        services: list[ServiceProcess], listeners: tuple[str, ...], wait_seconds: float
    ) -> None:
        await asyncio.gather(*(service.wait_listening(listeners, wait_seconds) for service in services))

    async def stop(self, wait_seconds: float = 20.0) -> dict[str, int | None]:
        """SIGTERM the gateway first (calls end before their backends go), then the rest together."""
        self.gateway.terminate()
        codes: dict[str, int | None] = {"gateway": await self.gateway.wait_exit(wait_seconds)}
        rest = [service for service in self.services if service is not self.gateway]
        for service in rest:
            service.terminate()
        results = await asyncio.gather(*(service.wait_exit(wait_seconds) for service in rest))
        codes.update({service.name: code for service, code in zip(rest, results, strict=True)})
        return codes

    async def __aenter__(self) -> Stack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
