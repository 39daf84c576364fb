"""Settings of the dialer service (environment prefix ``PORTEIRO_DIALER_``)."""

from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings


class DialerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_DIALER_", extra="ignore")

    grpc_port: int = 50054
    metrics_port: int = 9104
