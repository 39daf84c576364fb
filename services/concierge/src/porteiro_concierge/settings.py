"""Settings of the concierge service (environment prefix ``PORTEIRO_CONCIERGE_``)."""

from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings


class ConciergeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_CONCIERGE_", extra="ignore")

    grpc_port: int = 50052
    metrics_port: int = 9102
