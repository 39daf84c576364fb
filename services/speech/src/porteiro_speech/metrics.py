"""Prometheus metrics of the speech service (labels: backend names, operations; never session ids)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, set_build_info

REAL_TIME_FACTOR_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# Queue waits: "none" (first bucket) up to the longest wait a conversation tolerates.
QUEUE_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
QUEUE_KINDS = ("recognition", "synthesis")

STT_PROCESSING_SECONDS = TracedHistogram(
    "porteiro_speech_stt_processing_seconds",
    "Time from the end of the caller's audio to the transcript (queue wait included)",
    ["backend"],
    buckets=VOICE_LATENCY_BUCKETS,
)
STT_REAL_TIME_FACTOR = Histogram(
    "porteiro_speech_stt_real_time_factor",
    "Processing seconds per second of audio",
    ["backend"],
    buckets=REAL_TIME_FACTOR_BUCKETS,
)
TTS_FIRST_CHUNK_SECONDS = TracedHistogram(
    "porteiro_speech_tts_first_chunk_seconds",
    "Time from a Synthesize request to its first audio chunk",
    ["backend", "cached"],
    buckets=VOICE_LATENCY_BUCKETS,
)
QUEUE_WAIT_SECONDS = Histogram(
    "porteiro_speech_queue_wait_seconds",
    "Time an admitted request waited for a free worker (0 when one was free)",
    ["kind"],
    buckets=QUEUE_WAIT_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "porteiro_speech_queue_depth",
    "Requests waiting for a free worker now (the running ones not counted); the autoscaling signal",
    ["kind"],
)
WORKERS_BUSY = Gauge(
    "porteiro_speech_workers_busy",
    "Workers running a request now (at most STT_WORKERS / TTS_WORKERS)",
    ["kind"],
)
WORKERS_STUCK = Gauge(
    "porteiro_speech_workers_stuck",
    "Workers running one request for longer than STT_STUCK_SECONDS (the service is then NOT_SERVING)",
    ["kind"],
)
WHISPER_WINDOW_RETRIES = Counter(
    "porteiro_speech_whisper_window_retries_total",
    "Fitted-window recognitions that echoed themselves and were run again over the full 30 s window",
)
PHRASE_SCORING_SECONDS = Histogram(
    "porteiro_speech_phrase_scoring_seconds",
    "Time spent scoring a transcription's candidate phrases against its audio (offline backend)",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0),
)
ERRORS = Counter(
    "porteiro_speech_errors_total",
    "Backend failures (answered UNAVAILABLE, or a failed warm-up sentence)",
    ["backend", "operation"],
)
REJECTIONS = Counter(
    "porteiro_speech_rejections_total",
    "Requests refused before reaching a backend: invalid input or recognizer pool full",
    ["operation", "reason"],
)

# The label values the code uses, created at zero so increase() sees each first event.
# InvalidRequest reasons of the servicer, plus "overloaded" (queue full, or no worker within the wait).
TRANSCRIBE_REJECTION_REASONS = (
    "rate",
    "no_config",
    "config_twice",
    "session_id",
    "unknown_language",
    "empty_message",
    "odd_bytes",
    "chunk_too_long",
    "too_long",
    "no_audio",
    "overloaded",
)
SYNTHESIZE_REJECTION_REASONS = ("rate", "empty_text", "text_too_long", "unknown_voice", "overloaded")
for _reason in TRANSCRIBE_REJECTION_REASONS:
    REJECTIONS.labels("transcribe", _reason)
for _reason in SYNTHESIZE_REJECTION_REASONS:
    REJECTIONS.labels("synthesize", _reason)
for _kind in QUEUE_KINDS:
    QUEUE_WAIT_SECONDS.labels(_kind)
    QUEUE_DEPTH.labels(_kind)
    WORKERS_BUSY.labels(_kind)
    WORKERS_STUCK.labels(_kind)
set_build_info("speech", "porteiro-speech")


def create_backend_label_values(recognizer: str, synthesizer: str) -> None:
    """Create the per-backend series at zero; the backends' names are known once they are built."""
    STT_PROCESSING_SECONDS.labels(recognizer)
    STT_REAL_TIME_FACTOR.labels(recognizer)
    for cached in ("true", "false"):
        TTS_FIRST_CHUNK_SECONDS.labels(synthesizer, cached)
    ERRORS.labels(recognizer, "transcribe")
    ERRORS.labels(synthesizer, "synthesize")
    ERRORS.labels(synthesizer, "warmup")
