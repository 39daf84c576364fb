"""Settings of the gateway service (environment prefix ``PORTEIRO_GATEWAY_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_GATEWAY_", extra="ignore")

    grpc_port: int = 50050
    metrics_port: int = 9100

    # AudioSocket listeners (Asterisk connects here).
    visitor_host: str = "0.0.0.0"
    visitor_port: int = 8080
    resident_host: str = "0.0.0.0"
    resident_port: int = 8081
    # Long enough for calls in progress to finish on SIGTERM.
    grace_period_seconds: float = Field(30.0, gt=0, le=3600)
