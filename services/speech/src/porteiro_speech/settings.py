"""Settings of the speech service (environment prefix ``PORTEIRO_SPEECH_``)."""

from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings


class SpeechSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_SPEECH_", extra="ignore")

    grpc_port: int = 50051
    metrics_port: int = 9101
