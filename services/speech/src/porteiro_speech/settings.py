"""Settings of the speech service (environment prefix ``PORTEIRO_SPEECH_``).

With no environment set the service runs offline: faster-whisper with the
bundled base model for recognition and espeak-ng for synthesis. Setting both
``PORTEIRO_SPEECH_AZURE_KEY`` and ``PORTEIRO_SPEECH_AZURE_REGION`` switches
both directions to Azure Speech.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from porteiro_common.prompts import DEFAULT_PROMPTS_FILE
from porteiro_common.settings import ServiceSettings

# Azure's Brazilian Portuguese neural voices (2025), accepted by default with the Azure backend.
AZURE_PT_BR_VOICES = (
    "pt-BR-AntonioNeural",
    "pt-BR-FranciscaNeural",
    "pt-BR-BrendaNeural",
    "pt-BR-DonatoNeural",
    "pt-BR-ElzaNeural",
    "pt-BR-FabioNeural",
    "pt-BR-GiovannaNeural",
    "pt-BR-HumbertoNeural",
    "pt-BR-JulioNeural",
    "pt-BR-LeilaNeural",
    "pt-BR-LeticiaNeural",
    "pt-BR-ManuelaNeural",
    "pt-BR-NicolauNeural",
    "pt-BR-ThalitaNeural",
    "pt-BR-ValerioNeural",
    "pt-BR-YaraNeural",
)


def comma_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


class SpeechSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_SPEECH_", extra="ignore")

    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 = any free port)")
    metrics_port: int = Field(9101, ge=0, le=65535, description="Prometheus /metrics port")

    language: str = Field("pt-BR", description="Recognition language when the request names none")
    languages: str = Field(
        "pt-BR,pt,en-US,en,es-ES,es",
        description="Comma-separated BCP-47 tags a Transcribe request may name (the default language always "
        "may); any other is INVALID_ARGUMENT. Keep it to what the recognizer knows.",
    )

    # Azure Speech: used for both directions when key and region are set.
    azure_key: SecretStr | None = Field(None, description="Azure Speech key (secret)")
    azure_region: str | None = Field(None, description="Azure Speech region, e.g. brazilsouth")
    azure_voice: str = Field(
        "pt-BR-AntonioNeural", description="Azure neural voice when the request names none"
    )
    azure_voices: str = Field(
        ",".join(AZURE_PT_BR_VOICES),
        description="Comma-separated Azure voices a Synthesize request may name (the default voice always may)",
    )
    azure_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Longest wait for Azure to finish one recognition or synthesis"
    )

    # Offline recognizer: faster-whisper.
    whisper_model: str | None = Field(
        None, description="faster-whisper model path or name; empty = the bundled multilingual base model"
    )
    whisper_compute_type: str = Field("int8", description="CTranslate2 compute type")
    whisper_beam_size: int = Field(1, ge=1, le=10, description="Beam size (1 = greedy, fastest)")
    whisper_no_speech_threshold: float = Field(
        0.6, ge=0, le=1, description="Segments whisper rates likelier than this to be non-speech are dropped"
    )
    whisper_cpu_threads: int = Field(
        0, ge=0, le=64, description="CPU threads per inference (0 = library default)"
    )
    whisper_window_margin_seconds: float = Field(
        0.0,
        ge=0,
        le=30,
        description="Encoder window = the utterance plus this much silence (whisper.cpp's reduced audio_ctx); "
        "0 = the full 30 s window",
    )

    max_candidate_phrases: int = Field(
        48,
        ge=0,
        le=500,
        description="Candidate phrases of a Transcribe request scored against the audio (offline backend; "
        "about 10 ms each on 2 cores); the rest are ignored; 0 = no scoring",
    )

    # Recognition pool, queue and limits.
    stt_workers: int = Field(2, ge=1, le=32, description="Transcriptions run at the same time")
    stt_queue_seconds: float = Field(
        8.0,
        ge=0,
        le=60,
        description="Longest a transcription waits (FIFO) for a free worker before RESOURCE_EXHAUSTED; "
        "the request's own gRPC deadline wins when shorter",
    )
    stt_queue_depth: int = Field(
        64,
        ge=0,
        le=10_000,
        description="Transcriptions that may wait at once; one more is RESOURCE_EXHAUSTED",
    )
    stt_stuck_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="A transcription running longer than this has a stuck worker (a native call that never "
        "returned): the service reports NOT_SERVING for readiness and liveness, so the orchestrator "
        "restarts it; 0 = never checked",
    )
    stt_max_audio_seconds: float = Field(
        60.0, gt=0, le=600, description="Longest utterance accepted (longer = INVALID_ARGUMENT)"
    )
    stt_max_chunk_ms: int = Field(
        2000,
        ge=20,
        le=60_000,
        description="Most audio in one Transcribe message (clients send 20-200 ms; more = INVALID_ARGUMENT)",
    )

    # Offline synthesizer: espeak-ng.
    espeak_command: str = Field("espeak-ng", description="espeak-ng executable (name on PATH or path)")
    # Porteiro's own voice: pt-br with the klatt2 variant at 140 wpm was recognised best of the
    # espeak-ng voices, rates and processing measured at 8 kHz (`porteiro-eval --prompt-voice`,
    # services/speech/README.md "Porteiro's voice on the line"): words found 41% vs 22% for pt-br at 160.
    espeak_voice: str = Field("pt-br+klatt2", description="espeak-ng voice when the request names none")
    espeak_voices: str = Field(
        "pt-br,pt,pt-pt",
        description="Comma-separated espeak-ng voices a Synthesize request may name (the default voice always may)",
    )
    espeak_speed_wpm: int = Field(140, ge=80, le=450, description="espeak-ng speaking rate, words per minute")
    espeak_word_gap: int = Field(
        0, ge=0, le=50, description="Extra pause between words, in 10 ms units (espeak-ng -g); 0 = none"
    )
    tts_telephone_shaping: bool = Field(
        False,
        description="Shape espeak-ng's speech for the phone line before the 8 kHz resampling: band-pass "
        "300-3400 Hz, compression, limiting (telephone.py)",
    )

    # Synthesis pool and queue (cache hits skip the queue).
    tts_workers: int = Field(4, ge=1, le=64, description="Uncached syntheses run at the same time")
    tts_queue_seconds: float = Field(
        4.0,
        ge=0,
        le=60,
        description="Longest an uncached synthesis waits (FIFO) for a free worker before RESOURCE_EXHAUSTED; "
        "the request's own gRPC deadline wins when shorter",
    )
    tts_queue_depth: int = Field(
        64, ge=0, le=10_000, description="Syntheses that may wait at once; one more is RESOURCE_EXHAUSTED"
    )

    # Synthesis limits, cache and warm-up.
    max_text_chars: int = Field(1000, ge=1, le=20000, description="Longest text Synthesize accepts")
    synthesis_chunk_ms: int = Field(100, ge=10, le=2000, description="Audio per streamed Synthesize chunk")
    synthesis_cached_chunk_ms: int = Field(
        1000,
        ge=10,
        le=10000,
        description="Audio per Synthesize chunk of a cached sentence (all of it is ready: fewer, larger "
        "messages cost the gateway less CPU and arrive as soon)",
    )
    cache_entries: int = Field(
        256, ge=0, le=100000, description="Synthesized sentences kept (LRU); 0 = no cache"
    )
    prompts_file: Path = Field(
        DEFAULT_PROMPTS_FILE, description="Prompts YAML whose fixed sentences are synthesized at start"
    )
    warmup: bool = Field(True, description="Synthesize the fixed prompts into the cache at start")
    tenants_dir: Path | None = Field(
        None,
        description="Folder of condominiums (the directory's TENANTS_DIR): each one's voice is checked "
        "(a voice not accepted is logged, the condominium rejected here) and its fixed sentences warmed "
        "into the cache with it; unset = one condominium, PROMPTS_FILE",
    )
    reload_interval_seconds: float = Field(
        2.0, ge=0, le=3600, description="How often TENANTS_DIR is checked for changes (0 = never reload)"
    )
    warmup_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Longest the warm-up may delay SERVING"
    )

    @property
    def accepted_languages(self) -> tuple[str, ...]:
        return (self.language, *comma_list(self.languages))

    def accepted_voices(self, synthesizer: str, default_voice: str) -> tuple[str, ...]:
        """The voices a request may name for this synthesizer (by name); only the default for others."""
        listed = {"espeak": self.espeak_voices, "azure": self.azure_voices}.get(synthesizer, "")
        return (default_voice, *comma_list(listed))

    @property
    def azure_configured(self) -> bool:
        return bool(self.azure_key and self.azure_key.get_secret_value() and self.azure_region)
