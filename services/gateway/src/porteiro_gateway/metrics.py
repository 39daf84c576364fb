"""Prometheus metrics of the gateway (names relied on by the dashboard)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, set_build_info

# Seconds; a frame is meant to leave on its 20 ms slot, so the interesting range is 0-20 ms.
PLAYBACK_LATENESS_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.004,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.1,
    0.25,
)

ACTIVE_LEGS = Gauge("porteiro_gateway_active_legs", "AudioSocket legs connected now", ["leg"])
FRAMES = Counter(
    "porteiro_gateway_frames_total", "AudioSocket frames received (in) and sent (out)", ["direction", "leg"]
)
PLAYBACK_LATENESS = Histogram(
    "porteiro_gateway_playback_lateness_seconds",
    "How late each outgoing 20 ms frame left, against its absolute schedule",
    buckets=PLAYBACK_LATENESS_BUCKETS,
)
ENDPOINTING = TracedHistogram(
    "porteiro_gateway_endpointing_seconds",
    "From the last voiced audio to the end-of-speech decision",
    buckets=VOICE_LATENCY_BUCKETS,
)
TURN_LATENCY = TracedHistogram(
    "porteiro_gateway_turn_latency_seconds",
    "From the end of the caller's speech to the first reply frame on the wire",
    buckets=VOICE_LATENCY_BUCKETS,
)
BARGE_INS = Counter("porteiro_gateway_barge_ins_total", "Playback interrupted by the caller speaking")
REFUSALS = Counter(
    "porteiro_gateway_refusals_total",
    "Connections refused (max_legs, not_allowed, shutting_down)",
    ["reason"],
)
FALLBACKS = Counter(
    "porteiro_gateway_fallbacks_total", "Fallback sentence played (speech, concierge)", ["reason"]
)
PROTOCOL_ERRORS = Counter(
    "porteiro_gateway_protocol_errors_total", "Malformed or unexpected AudioSocket input", ["error"]
)
EMPTY_TRANSCRIPTS = Counter(
    "porteiro_gateway_empty_transcripts_total", "Utterances recognised as empty text (not forwarded)"
)
DROPPED_UTTERANCES = Counter(
    "porteiro_gateway_dropped_utterances_total", "Speech shorter than the minimum, not recognised"
)
PLAYBACK_RESYNCS = Counter(
    "porteiro_gateway_playback_resyncs_total", "Playback schedule rebased after the loop stalled"
)
LEGS_ENDED = Counter("porteiro_gateway_legs_ended_total", "Legs ended, by reason", ["leg", "reason"])

# The label values the code uses, created at zero below so increase() sees each first event.
LEGS = ("visitor", "resident")
DIRECTIONS = ("in", "out")
REFUSAL_REASONS = ("max_legs", "not_allowed", "shutting_down")
FALLBACK_REASONS = ("speech", "concierge")  # the dependency that failed
# Codes of porteiro_common.audiosocket.ProtocolError, and the leg's own protocol checks.
PROTOCOL_ERROR_CODES = (
    "oversized",
    "unknown_kind",
    "bad_uuid",
    "bad_dtmf",
    "odd_audio",
    "uuid_timeout",
    "no_uuid_first",
    "error_frame",
    "duplicate_uuid",
)
# LegEndReason names without their prefix, as leg.py labels them ("caller_hangup", ...).
LEG_END_REASONS = tuple(
    name.removeprefix("LEG_END_REASON_").lower()
    for name in concierge_pb2.LegEndReason.keys()
    if name != "LEG_END_REASON_UNSPECIFIED"
)


def _create_label_values() -> None:
    for leg in LEGS:
        ACTIVE_LEGS.labels(leg)
        for direction in DIRECTIONS:
            FRAMES.labels(direction, leg)
        for reason in LEG_END_REASONS:
            LEGS_ENDED.labels(leg, reason)
    for reason in REFUSAL_REASONS:
        REFUSALS.labels(reason)
    for reason in FALLBACK_REASONS:
        FALLBACKS.labels(reason)
    for code in PROTOCOL_ERROR_CODES:
        PROTOCOL_ERRORS.labels(code)


_create_label_values()
set_build_info("gateway", "porteiro-gateway")
