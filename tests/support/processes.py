"""Start Porteiro services as real processes, each on ports it picks itself.

Every listening port is set to 0 and the service reports the ports it bound in a
ports file (porteiro_common.listening), so parallel tests and runs never race for a
probed "free" port. `free_port` remains for tests that need a port nothing listens on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from porteiro_common.listening import read_ports

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port free right now: only for addresses where nothing must listen."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def health_status(port: int, service: str = "", timeout: float = 2.0) -> int | None:
    """The health status of `service` on 127.0.0.1:port, or None if unreachable."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout).status
        except grpc.RpcError:
            return None


def listener_name(port_setting: str) -> str:
    """The listener a port setting names: "VISITOR_PORT" -> "visitor"."""
    return port_setting.removesuffix("_PORT").lower()


@dataclass
class ServiceProcess:
    module: str
    process: subprocess.Popen
    log_path: Path
    ports_file: Path
    port_settings: tuple[str, ...] = ()  # more port settings than gRPC and metrics, e.g. "VISITOR_PORT"

    def port(self, listener: str, timeout: float = 60.0) -> int:
        """The port `listener` ("grpc", "metrics", "visitor", ...) bound, waiting until it is reported."""
        deadline = time.monotonic() + timeout
        while True:
            ports = read_ports(self.ports_file)
            if listener in ports:
                return ports[listener]
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.module} exited {self.process.returncode} before listening ({listener}):\n"
                    f"{self.logs()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.module} reported no {listener} port in {timeout}s:\n{self.logs()}")
            time.sleep(0.05)

    @property
    def grpc_port(self) -> int:
        return self.port("grpc")

    @property
    def metrics_port(self) -> int:
        return self.port("metrics")

    @property
    def extra_ports(self) -> dict[str, int]:
        """The ports of `port_settings`, by setting name ("VISITOR_PORT": 40123)."""
        return {name: self.port(listener_name(name)) for name in self.port_settings}

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_serving(self, timeout: float = 60.0, service: str = "") -> None:
        deadline = time.monotonic() + timeout
        grpc_port = self.port("grpc", timeout)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited {self.process.returncode}:\n{self.logs()}")
            if health_status(grpc_port, service, timeout=1.0) == health_pb2.HealthCheckResponse.SERVING:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.module} not SERVING after {timeout}s:\n{self.logs()}")

    def terminate(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


PASSED_THROUGH = frozenset({"PORTEIRO_GATEWAY_MEDIA_ENGINE"})


def service_environment(prefix: str, ports_file: Path, port_settings: tuple[str, ...]) -> dict[str, str]:
    """This process's environment without Porteiro/OTel settings (but the choice of the gateway's
    media path: `make test-all` runs the gateway's tests on both), plus every port at 0 on loopback."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PORTEIRO_", "OTEL_")) or key in PASSED_THROUGH
    }
    env.update(
        {
            f"{prefix}GRPC_HOST": "127.0.0.1",
            f"{prefix}GRPC_PORT": "0",
            f"{prefix}METRICS_HOST": "127.0.0.1",
            f"{prefix}METRICS_PORT": "0",
            f"{prefix}PORTS_FILE": str(ports_file),
            f"{prefix}SHUTDOWN_DELAY_SECONDS": "0.5",
            "PORTEIRO_LOG_FORMAT": "text",
            "CREWAI_DISABLE_TELEMETRY": "true",
        }
    )
    env.update({f"{prefix}{name}": "0" for name in port_settings})
    return env


def start_service(
    module: str,
    prefix: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
    extra_ports: tuple[str, ...] = (),
) -> ServiceProcess:
    """Run ``python -m module`` with its gRPC and metrics ports (and `extra_ports`) at 0.

    `extra_ports` names more port settings (e.g. "VISITOR_PORT"); their ports are in
    `extra_ports` once reported. Does not wait for readiness: call `wait_serving`.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    handle, log_name = tempfile.mkstemp(prefix=f"{module}-", suffix=".log", dir=log_dir)
    os.close(handle)
    log_path = Path(log_name)
    ports_file = log_path.with_suffix(".ports")
    process_env = service_environment(prefix, ports_file, extra_ports)
    process_env.update(env or {})
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=process_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    return ServiceProcess(module, process, log_path, ports_file, extra_ports)
