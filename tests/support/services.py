"""The five services: module, environment prefix, gRPC service, test settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    prefix: str
    grpc_service: str | None
    extra_ports: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


SERVICES = (
    ServiceSpec(
        "gateway",
        "porteiro_gateway",
        "PORTEIRO_GATEWAY_",
        None,
        extra_ports=("VISITOR_PORT", "RESIDENT_PORT"),
        env={"PORTEIRO_GATEWAY_VISITOR_HOST": "127.0.0.1", "PORTEIRO_GATEWAY_RESIDENT_HOST": "127.0.0.1"},
    ),
    ServiceSpec("speech", "porteiro_speech", "PORTEIRO_SPEECH_", "porteiro.speech.v1.SpeechService"),
    ServiceSpec(
        "concierge", "porteiro_concierge", "PORTEIRO_CONCIERGE_", "porteiro.concierge.v1.ConciergeService"
    ),
    ServiceSpec(
        "directory", "porteiro_directory", "PORTEIRO_DIRECTORY_", "porteiro.directory.v1.DirectoryService"
    ),
    ServiceSpec("dialer", "porteiro_dialer", "PORTEIRO_DIALER_", "porteiro.dialer.v1.DialerService"),
)
