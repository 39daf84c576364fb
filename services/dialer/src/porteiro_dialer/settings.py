"""Settings of the dialer service (environment prefix ``PORTEIRO_DIALER_``)."""

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings

# RabbitMQ's built-in guest/guest account only accepts connections from localhost,
# so this default works for offline development and nowhere else.
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
# Where a development machine's Redis usually is (an example for PORTEIRO_DIALER_REDIS_URL, not a default).
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"

# Request limits by default. The concierge makes at most 5 attempts; a SIP URI is well under 256
# characters; the note is a short line for the PBX operator.
DEFAULT_MAX_ATTEMPT = 10
DEFAULT_MAX_DESTINATION_CHARS = 256
DEFAULT_MAX_NOTE_CHARS = 500
DEFAULT_MAX_APARTMENT_CHARS = 32


class DialerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_DIALER_", extra="ignore")

    grpc_port: int = 50054
    metrics_port: int = 9104

    # Many condominiums (porteiro_dialer.tenancy): each one's `pbx` settings in its commands.
    tenants_dir: Path | None = Field(
        None,
        description="Folder of condominiums (the directory's TENANTS_DIR): a PlaceCall's condominium gives "
        "the license, destiny and queue/routing key of its commands; unset = these settings for every call",
    )
    reload_interval_seconds: float = Field(
        2.0, ge=0, le=3600, description="How often TENANTS_DIR is checked for changes (0 = never reload)"
    )

    # Broker and routing.
    amqp_url: SecretStr = Field(
        SecretStr(LOCAL_AMQP_URL),
        description="AMQP URL with credentials and vhost (mount it from a Secret in production)",
    )
    queue: str = Field("voip1-in", min_length=1, description="Queue the PBX consumes click-to-call from")
    declare_queue: bool = Field(True, description="Declare the queue (durable) on every (re)connect")
    exchange: str = Field("", description='Exchange to publish to ("" = the default exchange)')
    routing_key: str | None = Field(None, description="Routing key (unset = the queue name)")

    # Payload fields the PBX integration expects.
    license: str = Field(
        "123456789012", description="data.license: the PBX license (the prototype's sample value by default)"
    )
    event_code: str = Field("8001", min_length=1, description="operation.eventcode")
    destiny: str = Field(
        "IA", min_length=1, description="data.destiny: where the PBX sends the answered call"
    )

    # Request limits: a PlaceCall beyond them is INVALID_ARGUMENT and publishes nothing.
    max_attempt: int = Field(
        DEFAULT_MAX_ATTEMPT, ge=1, le=1000, description="Highest attempt number PlaceCall accepts"
    )
    max_destination_chars: int = Field(
        DEFAULT_MAX_DESTINATION_CHARS,
        ge=1,
        le=10_000,
        description="Longest destination (extension or SIP URI)",
    )
    max_note_chars: int = Field(
        DEFAULT_MAX_NOTE_CHARS, ge=0, le=100_000, description="Longest context.note (operation.msg)"
    )
    max_apartment_chars: int = Field(
        DEFAULT_MAX_APARTMENT_CHARS, ge=1, le=10_000, description="Longest context.apartment"
    )

    # Timing.
    publish_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="Longest wait for the broker's confirm (the RPC deadline may cut it)"
    )
    connect_timeout_seconds: float = Field(5.0, gt=0, le=120, description="TCP + AMQP handshake timeout")
    heartbeat_seconds: int = Field(30, ge=0, le=600, description="AMQP heartbeat (0 = off)")
    reconnect_initial_seconds: float = Field(0.5, gt=0, le=60, description="First reconnect backoff")
    reconnect_max_seconds: float = Field(30.0, gt=0, le=600, description="Reconnect backoff ceiling")
    idempotency_ttl_seconds: float = Field(
        3600.0, gt=0, description="How long a (session, attempt) is remembered as already published"
    )
    redis_url: SecretStr | None = Field(
        None, description="Redis URL to share idempotency across replicas (unset = this process only)"
    )
    redis_key_prefix: str = Field("porteiro:dialer:placed:", description="Prefix of the Redis keys")
    redis_timeout_seconds: float = Field(0.5, gt=0, le=10, description="Redis connect/command timeout")

    @property
    def effective_routing_key(self) -> str:
        return self.queue if self.routing_key is None else self.routing_key

    @property
    def redis_url_value(self) -> str | None:
        """The Redis URL, or None when unset or empty."""
        if self.redis_url is None:
            return None
        return self.redis_url.get_secret_value() or None


def check_urls(settings: DialerSettings) -> None:
    """Raise ValueError naming the variable of a malformed URL.

    Not a pydantic validator on purpose: its error message would echo the URL,
    credentials included.
    """
    amqp = urlsplit(settings.amqp_url.get_secret_value())
    if amqp.scheme not in ("amqp", "amqps") or not amqp.hostname:
        raise ValueError("PORTEIRO_DIALER_AMQP_URL must be an amqp:// or amqps:// URL with a host")
    redis = settings.redis_url_value
    if redis is not None and urlsplit(redis).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("PORTEIRO_DIALER_REDIS_URL must be a redis://, rediss:// or unix:// URL")
