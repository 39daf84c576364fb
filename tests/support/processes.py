"""Start Porteiro services as real processes on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
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


@dataclass
class ServiceProcess:
    module: str
    grpc_port: int
    metrics_port: int
    process: subprocess.Popen
    log_path: Path
    extra_ports: dict[str, int] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_serving(self, timeout: float = 60.0, service: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited {self.process.returncode}:\n{self.logs()}")
            if health_status(self.grpc_port, service, timeout=1.0) == health_pb2.HealthCheckResponse.SERVING:
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


def start_service(
    module: str,
    prefix: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
    extra_ports: tuple[str, ...] = (),
) -> ServiceProcess:
    """Run ``python -m module`` with its gRPC and metrics ports on free ports.

    `extra_ports` names more port settings (e.g. "VISITOR_PORT") to fill with
    free ports. Does not wait for readiness: call `wait_serving`.
    """
    grpc_port, metrics_port = free_port(), free_port()
    ports = {name: free_port() for name in extra_ports}
    process_env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PORTEIRO_", "OTEL_"))
    }
    process_env.update(
        {
            f"{prefix}GRPC_HOST": "127.0.0.1",
            f"{prefix}GRPC_PORT": str(grpc_port),
            f"{prefix}METRICS_HOST": "127.0.0.1",
            f"{prefix}METRICS_PORT": str(metrics_port),
            f"{prefix}SHUTDOWN_DELAY_SECONDS": "0.5",
            "PORTEIRO_LOG_FORMAT": "text",
            "CREWAI_DISABLE_TELEMETRY": "true",
        }
    )
    process_env.update({f"{prefix}{name}": str(port) for name, port in ports.items()})
    process_env.update(env or {})
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{module}-{grpc_port}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env=process_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    return ServiceProcess(module, grpc_port, metrics_port, process, log_path, ports)
