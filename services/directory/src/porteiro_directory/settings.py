"""Settings of the directory service (environment prefix ``PORTEIRO_DIRECTORY_``)."""

from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings


class DirectorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_DIRECTORY_", extra="ignore")

    grpc_port: int = 50053
    metrics_port: int = 9103
