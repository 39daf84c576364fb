"""Typed settings read from the environment, one prefix per service.

Each service subclasses `ServiceSettings` with its own `env_prefix`
(e.g. ``PORTEIRO_DIRECTORY_``); cross-cutting observability settings share the
``PORTEIRO_`` prefix (`ObservabilitySettings`). `load_settings` turns a
validation error into one line naming the offending variable and exits.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

T = TypeVar("T", bound=BaseSettings)


class ServiceSettings(BaseSettings):
    """Settings every gRPC service has. Subclasses set `model_config` with their prefix."""

    model_config = SettingsConfigDict(env_prefix="PORTEIRO_", extra="ignore")

    grpc_host: str = Field("0.0.0.0", description="Address the gRPC server binds to")
    grpc_port: int = Field(50050, ge=0, le=65535, description="gRPC port (0 = any free port)")
    metrics_host: str = Field("0.0.0.0", description="Address of the Prometheus /metrics server")
    metrics_port: int = Field(9100, ge=0, le=65535, description="Prometheus /metrics port")
    grace_period_seconds: float = Field(
        10.0, gt=0, le=3600, description="Time in-flight RPCs get to finish on SIGTERM"
    )
    shutdown_delay_seconds: float = Field(
        1.0, ge=0, le=60, description="Time health reports NOT_SERVING before the server stops"
    )
    ports_file: Path | None = Field(
        None, description="Append one JSON line per listening socket here (lets a supervisor use port 0)"
    )


class ObservabilitySettings(BaseSettings):
    """Logging and tracing settings shared by all services (prefix ``PORTEIRO_``).

    Exporting traces is configured by the standard ``OTEL_*`` variables.
    """

    model_config = SettingsConfigDict(env_prefix="PORTEIRO_", extra="ignore")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    # Local JSON-lines span file (for `porteiro-report` without a collector).
    span_file: Path | None = None
    # LGPD: names, transcripts and destinations are redacted unless this is true.
    trace_personal_data: bool = False


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    prefix = settings_cls.model_config.get("env_prefix", "") or ""
    return f"{prefix}{field}".upper()


_SECRET_HINTS = ("url", "key", "password", "secret", "token", "credential")


def _may_echo(field: str) -> bool:
    """Values of fields that may hold credentials (URLs with passwords, keys) are never printed."""
    return not any(hint in field.lower() for hint in _SECRET_HINTS)


def describe_validation_error(settings_cls: type[BaseSettings], error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        shown = f" (got {item.get('input')!r})" if _may_echo(field) else ""
        problems.append(f"{env_name(settings_cls, field)}: {item['msg']}{shown}")
    return "invalid configuration: " + "; ".join(problems)


def load_settings(settings_cls: type[T], **overrides: Any) -> T:
    """Read settings from the environment or exit(2) naming the bad variable."""
    try:
        return settings_cls(**overrides)
    except ValidationError as error:
        print(describe_validation_error(settings_cls, error), file=sys.stderr, flush=True)
        raise SystemExit(2) from None
