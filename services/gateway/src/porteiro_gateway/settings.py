"""Settings of the gateway service (environment prefix ``PORTEIRO_GATEWAY_``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings
from porteiro_common.tenants import CondominiumLabels, parse_port_map

# Loopback and private ranges: where a PBX normally sits.
DEFAULT_ALLOWED_NETWORKS = (
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"
)


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_GATEWAY_", extra="ignore")

    grpc_port: int = 50050
    metrics_port: int = 9100

    # AudioSocket listeners (Asterisk connects here).
    visitor_host: str = "0.0.0.0"
    visitor_port: int = Field(8080, ge=0, le=65535)
    resident_host: str = "0.0.0.0"
    resident_port: int = Field(8081, ge=0, le=65535)
    # Long enough for calls in progress to finish on SIGTERM.
    grace_period_seconds: float = Field(30.0, gt=0, le=3600)

    # Other Porteiro services.
    speech_target: str = Field("127.0.0.1:50051", description="host:port of the speech service")
    concierge_target: str = Field("127.0.0.1:50052", description="host:port of the concierge service")
    rpc_timeout_seconds: float = Field(5.0, gt=0, description="Deadline of Synthesize calls")
    recognition_timeout_seconds: float = Field(
        10.0, gt=0, description="Deadline of a Transcribe call, counted from the end of speech"
    )

    # Limits.
    allowed_networks: str = Field(
        DEFAULT_ALLOWED_NETWORKS, description="Comma-separated CIDRs allowed to connect"
    )
    max_legs: int = Field(300, ge=1, description="Concurrent legs; beyond it connections are refused")
    max_call_seconds: float = Field(600.0, gt=0, description="A leg is ended after this long")
    max_frame_bytes: int = Field(
        8192, ge=16, le=65535, description="Largest accepted frame payload (192 kHz x 20 ms = 7680)"
    )
    uuid_timeout_seconds: float = Field(2.0, gt=0, description="Time the first (UUID) frame may take")
    # Asterisk sends a 20 ms audio frame every 20 ms from the start of the call (issue 15).
    first_audio_timeout_seconds: float = Field(
        3.0, gt=0, description="Time from the UUID frame to the first audio frame; then the leg ends"
    )
    audio_timeout_seconds: float = Field(
        5.0, gt=0, description="A leg whose audio stops this long mid-call is ended"
    )
    resident_reserve_share: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share of max_legs kept for the resident port: visitor connections are refused "
        "once only this is left (rounded down)",
    )
    send_buffer_bytes: int = Field(
        8192,
        ge=0,
        description="SO_SNDBUF of accepted sockets: small, so a peer that stops reading shows within "
        "seconds; 0 = the kernel's (autotuned up to megabytes)",
    )

    # Endpointing (webrtcvad).
    vad_aggressiveness: int = Field(2, ge=0, le=3)
    vad_frame_ms: Literal[10, 20, 30] = 20
    speech_onset_ms: int = Field(60, ge=10, description="Voiced audio that starts an utterance")
    end_of_speech_silence_ms: int = Field(
        600, ge=100, le=5000, description="Silence that ends an utterance when no kind of answer is expected"
    )
    # By the kind of answer the question expects (RecognitionContext.expected_answer).
    end_of_speech_yes_no_ms: int = Field(
        300, ge=100, le=5000, description="Silence that ends a yes/no answer (the resident's decision)"
    )
    end_of_speech_short_ms: int = Field(
        400,
        ge=100,
        le=5000,
        description="Silence that ends a word or a name (intent, visitor's or resident's name)",
    )
    end_of_speech_digits_ms: int = Field(
        900, ge=100, le=5000, description="Silence that ends an apartment number dictated digit by digit"
    )
    end_of_speech_open_ms: int = Field(
        600, ge=100, le=5000, description="Silence that ends a free sentence (apartment and resident)"
    )
    speculative_recognition_ms: int = Field(
        200,
        ge=0,
        le=5000,
        description="Silence inside an utterance after which recognition starts early, before its end "
        "is decided (used if the silence lasts to the end, discarded if the caller goes on); 0 = off",
    )
    speculative_recognition_floor_rms: float = Field(
        200.0,
        ge=0,
        description="For that silence, voiced frames quieter than this (int16 RMS) count as silent: "
        "webrtcvad calls ~100 ms after the last sound speech; 0 = the VAD alone",
    )
    pre_roll_ms: int = Field(300, ge=0, le=2000)
    min_speech_ms: int = Field(250, ge=0, description="Shorter utterances are dropped")
    max_utterance_seconds: float = Field(15.0, gt=0)

    transcribe_chunk_ms: int = Field(
        1000,
        ge=20,
        le=2000,
        description="Caller audio per Transcribe message while the caller speaks (the rest goes at "
        "the end of speech): larger costs less CPU; 200 lets a streaming recogniser (Azure) start sooner",
    )

    # Playback.
    idle_silence: bool = Field(True, description="Send silence frames when nothing plays")
    playback_resync_ms: int = Field(
        60, ge=20, description="Lateness after which the schedule is rebased instead of bursting"
    )
    media_engine: Literal["auto", "native", "python"] = Field(
        "auto",
        description="Who reads and writes the legs' sockets on the 20 ms schedule: the native media "
        "edge (a C thread, built by make setup), the event loop (python), or native when built (auto)",
    )
    media_batch_ms: int = Field(
        40,
        ge=20,
        le=200,
        description="Native media edge: how often the event loop takes the legs' audio from it and tops "
        "up their Says (all legs at once; a multiple of 20 ms): longer costs less CPU and adds up to as "
        "much to noticing speech",
    )
    edge_listening: bool = Field(
        True,
        description="Native media edge: endpoint the callers' audio in the edge's thread (webrtcvad and "
        "the endpointer in C; the loop gets only onsets, pauses, ends and the utterance's audio) while "
        "no Say the caller may interrupt plays; off: every read goes through the event loop",
    )
    synthesis_cache_mb: float = Field(
        32,
        ge=0,
        description="Sentences synthesized whole are kept in the gateway up to this size (least recently "
        "used out first): a repeated prompt plays without a Synthesize call; 0 turns the cache off",
    )
    synthesis_cache_ttl_seconds: float = Field(
        600,
        gt=0,
        description="How long a kept sentence is played from memory (a voice changed in the speech "
        "service is heard within this time)",
    )
    playback_lookahead_ms: int = Field(
        100,
        ge=40,
        le=1000,
        description="Native media edge: how much of a Say is queued ahead of the wire (a loop busier "
        "than this leaves a gap in the Say, never in the frames)",
    )

    # Barge-in.
    barge_in_enabled: bool = True
    barge_in_min_speech_ms: int = Field(
        60, ge=10, description="Loud voiced audio over a Say that pauses it (the onset of a barge-in)"
    )
    barge_in_confirm_ms: int = Field(
        250,
        ge=10,
        le=2000,
        description="Loud voiced audio since the pause that confirms the barge-in: playback stops "
        "(a non-empty transcript of the utterance confirms it too)",
    )
    barge_in_resume_ms: int = Field(
        400,
        ge=20,
        le=3000,
        description="No loud audio this long after a pause: the Say resumes where it paused",
    )
    barge_in_max_pause_ms: int = Field(
        1500, ge=100, le=3000, description="A pause not confirmed by then resumes whatever the caller does"
    )
    echo_guard_ms: int = Field(300, ge=0, description="Ignore caller speech this long after a Say starts")
    barge_in_min_rms: float = Field(300.0, ge=0, description="Energy floor (int16 RMS) for barge-in")

    # Failures of speech/concierge.
    prompts_file: Path | None = Field(None, description="YAML prompts (the `fallback` key is used)")
    on_dependency_failure: Literal["hangup", "retry"] = "hangup"
    max_dependency_failures: int = Field(2, ge=1, description="With retry: failures before hanging up")
    fallback_retry_seconds: float = Field(5.0, gt=0, description="Retry period of the fallback synthesis")
    # Busy is not broken (issue 15).
    holding_after_seconds: float = Field(
        2.0,
        ge=0,
        le=30,
        description="No transcript this long after the end of speech: the holding sentence (prompt "
        "`holding`) is said once for the turn and the wait goes on; 0 = never",
    )
    speech_outage_seconds: float = Field(
        10.0,
        gt=0,
        description="A synthesis failing (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED) is retried, "
        "on another replica where there are several, this long after its first failure before the fallback",
    )
    concierge_ready_seconds: float = Field(
        3.0,
        gt=0,
        description="Time a new Converse stream may take to be accepted (it waits for a concierge being "
        "restarted or reconnected); beyond it the caller hears the fallback",
    )

    # Many condominiums (porteiro_common.tenants; see porteiro_gateway.tenancy).
    tenants_dir: Path | None = Field(
        None,
        description="Folder of condominiums (the directory's TENANTS_DIR): a visitor leg is routed by the "
        "code in its UUID (or PORT_MAP); unset = every call is the single condominium's",
    )
    reload_interval_seconds: float = Field(
        2.0, ge=0, le=3600, description="How often TENANTS_DIR is checked for changes (0 = never reload)"
    )
    port_map: str = Field(
        "",
        description="Visitor ports of one condominium each, 'port=id,...' (e.g. '8082=jacaranda'): the gateway "
        "listens on each too, for installations whose dialplan cannot set the UUID; needs TENANTS_DIR",
    )
    unknown_condominium_sentence: str = Field(
        "Desculpe, este interfone não está cadastrado no nosso atendimento. Até logo.",
        min_length=1,
        description="What a call for no condominium served here hears before the hang-up",
    )
    metrics_condominiums: str = Field(
        "",
        description="The `condominium` label of the call counter: '' = off, 'a,b' = those ids (others "
        "'other'), '*' = each id up to METRICS_CONDOMINIUMS_LIMIT",
    )
    metrics_condominiums_limit: int = Field(50, ge=1, le=1000)

    @field_validator("port_map")
    @classmethod
    def _valid_port_map(cls, value: str) -> str:
        parse_port_map(value)
        return value

    @field_validator("metrics_condominiums")
    @classmethod
    def _valid_condominium_labels(cls, value: str) -> str:
        CondominiumLabels(value)
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return parse_networks(self.allowed_networks)


def parse_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
