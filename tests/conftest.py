"""Fixtures shared by every suite."""

from __future__ import annotations

import pytest

from tests.support.processes import ServiceProcess, start_service


@pytest.fixture
def run_service(tmp_path):
    """Factory: start a service process; every process is stopped at teardown."""
    started: list[ServiceProcess] = []

    def start(module: str, prefix: str, env: dict[str, str] | None = None, extra_ports=()) -> ServiceProcess:
        service = start_service(module, prefix, tmp_path / "logs", env, tuple(extra_ports))
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()
