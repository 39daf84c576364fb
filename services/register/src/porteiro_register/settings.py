"""Settings of the register service (environment prefix ``PORTEIRO_REGISTER_``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from porteiro_common.call_register import CALL_FINISHED_QUEUE, LOCAL_AMQP_URL
from porteiro_common.settings import ServiceSettings

# A trust-auth local PostgreSQL (and RabbitMQ's guest account): development defaults only.
LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/porteiro"


class RegisterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_REGISTER_", extra="ignore")

    grpc_port: int = 50055
    metrics_port: int = 9105

    database_url: SecretStr = Field(
        SecretStr(LOCAL_DATABASE_URL),
        description="PostgreSQL URL postgresql://user:password@host:port/database (from a Secret)",
    )
    database_timeout_seconds: float = Field(5.0, gt=0, le=120, description="Connect and statement timeout")
    migrate_at_start: bool = Field(True, description="Apply pending migrations when the service starts")
    create_database: bool = Field(
        False, description="Create the database at start if missing (development; needs CREATEDB rights)"
    )

    amqp_url: SecretStr = Field(SecretStr(LOCAL_AMQP_URL), description="AMQP URL (from a Secret)")
    queue: str = Field(CALL_FINISHED_QUEUE, min_length=1, description="Durable queue of CallFinished events")
    dead_letter_queue: str = Field(
        "", description="Queue for undecodable events (empty = the queue's name + '.dead')"
    )
    prefetch: int = Field(100, ge=1, le=10_000, description="Unacknowledged events held at most")
    heartbeat_seconds: int = Field(30, ge=0, le=600, description="AMQP heartbeat (0 = off)")
    reconnect_initial_seconds: float = Field(0.5, gt=0, le=60, description="First retry delay (broker, DB)")
    reconnect_max_seconds: float = Field(30.0, gt=0, le=600, description="Retry delay ceiling (broker, DB)")

    store_visitor_name: bool = Field(
        False, description="Keep the visitor's name (personal data); false stores NULL"
    )
    retention_days: int = Field(365, ge=0, description="Delete records older than this (0 = keep forever)")
    retention_days_by_condominium: dict[str, int] = Field(
        default_factory=dict,
        description='JSON map condominium → days overriding retention_days, e.g. {"a": 90}',
    )
    purge_interval_seconds: float = Field(3600.0, gt=0, description="How often expired records are deleted")

    @property
    def effective_dead_letter_queue(self) -> str:
        return self.dead_letter_queue or f"{self.queue}.dead"


def check_urls(settings: RegisterSettings) -> None:
    """Raise ValueError naming the variable of a malformed URL (never echoing it: credentials)."""
    amqp = urlsplit(settings.amqp_url.get_secret_value())
    if amqp.scheme not in ("amqp", "amqps") or not amqp.hostname:
        raise ValueError("PORTEIRO_REGISTER_AMQP_URL must be an amqp:// or amqps:// URL with a host")
    database = urlsplit(settings.database_url.get_secret_value())
    if not database.scheme.startswith("postgresql") or not database.path.strip("/"):
        raise ValueError("PORTEIRO_REGISTER_DATABASE_URL must be a postgresql:// URL with a database name")
    for condominium, days in settings.retention_days_by_condominium.items():
        if days < 0:
            raise ValueError(
                f"PORTEIRO_REGISTER_RETENTION_DAYS_BY_CONDOMINIUM: {condominium!r} has {days} < 0"
            )
