"""Prometheus metrics of the gateway (names relied on by the dashboard)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.metrics import VOICE_LATENCY_BUCKETS, TracedHistogram, cumulative_buckets, set_build_info
from porteiro_common.tenants import LABEL_UNKNOWN

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


class LoopHistogram(Collector):
    """A histogram written only from the event loop: a list of counts, no lock, no per-value call chain.

    prometheus_client's Histogram takes a lock per bucket and per sum on every
    observation; the playback clock observes ~15,000 frames a second at 300
    calls. Here an observation is a bisect and two additions (the clock inlines
    them over a whole slot with `observe_since`); the scrape thread reads plain ints.
    """

    def __init__(self, name: str, documentation: str, buckets: Iterable[float]) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = [float(bound) for bound in buckets]  # upper bounds, +Inf implied
        self.counts = [0] * (len(self.bounds) + 1)  # per bucket, not cumulative; last: above every bound
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_many(self, value: float, count: int) -> None:
        """`count` observations of the same value (frames skipped by a schedule rebase)."""
        self.counts[bisect_left(self.bounds, value)] += count
        self.sum += value * count

    def observe_since(self, deadline: float, times: Iterable[float]) -> None:
        """One observation per time in `times`: how long after `deadline` it was (0 if before)."""
        counts, bounds, total = self.counts, self.bounds, 0.0
        for at in times:
            late = at - deadline
            if late < 0.0:
                late = 0.0
            counts[bisect_left(bounds, late)] += 1
            total += late
        self.sum += total

    def add_counts(self, counts: list[int], total: float) -> None:
        """Observations counted elsewhere (the native media edge): per bucket, and their sum."""
        for index, count in enumerate(counts):
            self.counts[index] += count
        self.sum += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], cumulative_buckets(self.bounds, self.counts), self.sum)
        yield family


PLAYBACK_LATENESS = LoopHistogram(
    "porteiro_gateway_playback_lateness_seconds",
    "How late each outgoing 20 ms frame left against its absolute schedule; "
    "frames skipped by a schedule rebase count at the stall's lateness",
    PLAYBACK_LATENESS_BUCKETS,
)
REGISTRY.register(PLAYBACK_LATENESS)
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
# A turn's critical path, in parts that add up to REPLY_LATENCY (turns.py, TURN_STAGES below).
REPLY_LATENCY = TracedHistogram(
    "porteiro_gateway_reply_latency_seconds",
    "From the caller's last voiced frame to the first frame of the reply on the wire (gateway's clock)",
    buckets=VOICE_LATENCY_BUCKETS,
)
TURN_STAGE = TracedHistogram(
    "porteiro_gateway_turn_stage_seconds",
    "Parts of the reply latency: end_of_speech (waiting on silence), recognition, concierge "
    "(utterance sent to reply received), synthesis (to its first audio), playback_start",
    ["stage"],
    buckets=VOICE_LATENCY_BUCKETS,
)
SPECULATIVE_RECOGNITIONS = Counter(
    "porteiro_gateway_speculative_recognitions_total",
    "Recognitions started at a pause in the caller's speech: used (the pause was the end of the "
    "utterance) or discarded (the caller went on, or the utterance was dropped or cut off)",
    ["result"],
)
SYNTHESIS_CACHE = Counter(
    "porteiro_gateway_synthesis_cache",
    "Says whose audio came from the gateway's cache of sentences (hit) or from a Synthesize call (miss)",
    ["result"],
)
BARGE_INS = Counter("porteiro_gateway_barge_ins_total", "Playback interrupted by the caller speaking")
BARGE_IN_PAUSES = Counter(
    "porteiro_gateway_barge_in_pauses_total",
    "Says paused at the caller's onset, by how the pause ended (confirmed: stopped; resumed: went on)",
    ["result"],
)
REFUSALS = Counter(
    "porteiro_gateway_refusals_total",
    "Connections refused (max_legs, not_allowed, shutting_down, resident_reserve, uuid_in_use)",
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
SKIPPED_FRAMES = Counter(
    "porteiro_gateway_playback_skipped_frames_total",
    "Outgoing frames never sent because the schedule was rebased after a stall (all legs)",
)
PLAYBACK_UNDERRUNS = Counter(
    "porteiro_gateway_playback_underruns_total",
    "Native media edge: ticks where a Say's audio was ready but not queued in time, so the edge "
    "sent silence inside it (the event loop late past PLAYBACK_LOOKAHEAD_MS)",
)
SPEECH_RETRIES = Counter(
    "porteiro_gateway_speech_retries_total",
    "Speech attempts that failed and were tried again (rpc: transcribe, synthesize; code: the failure)",
    ["rpc", "code"],
)
HOLDING_SENTENCES = Counter(
    "porteiro_gateway_holding_sentences_total",
    "Turns whose transcript was late: the holding sentence said, or not_ready (not yet synthesized)",
    ["result"],
)
# `condominium` is bounded by PORTEIRO_GATEWAY_METRICS_CONDOMINIUMS; "unknown" = refused (apology, hang-up).
CONDOMINIUM_CALLS = Counter(
    "porteiro_gateway_condominium_calls_total",
    "Visitor legs by the condominium they were routed to (only with a tenants folder)",
    ["condominium"],
)
LEGS_ENDED = Counter("porteiro_gateway_legs_ended_total", "Legs ended, by reason", ["leg", "reason"])

# The label values the code uses, created at zero below so increase() sees each first event.
LEGS = ("visitor", "resident")
DIRECTIONS = ("in", "out")
# resident_reserve: a visitor connection when only the legs kept for residents are left;
# uuid_in_use: a second connection for a UUID with a live leg on that side (leg_table.py).
REFUSAL_REASONS = ("max_legs", "not_allowed", "shutting_down", "resident_reserve", "uuid_in_use")
FALLBACK_REASONS = ("speech", "concierge")  # the dependency that failed
TURN_STAGES = ("end_of_speech", "recognition", "concierge", "synthesis", "playback_start")
SPECULATION_RESULTS = ("used", "discarded")
PAUSE_RESULTS = ("confirmed", "resumed")
HOLDING_RESULTS = ("said", "not_ready")
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
    "no_audio",  # no audio frame within FIRST_AUDIO_TIMEOUT_SECONDS of the UUID (leg_timers.py)
    "audio_stopped",  # no audio frame for AUDIO_TIMEOUT_SECONDS mid-call
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
    for stage in TURN_STAGES:
        TURN_STAGE.labels(stage)
    for result in SPECULATION_RESULTS:
        SPECULATIVE_RECOGNITIONS.labels(result)
    for result in PAUSE_RESULTS:
        BARGE_IN_PAUSES.labels(result)
    for result in HOLDING_RESULTS:
        HOLDING_SENTENCES.labels(result)
    CONDOMINIUM_CALLS.labels(LABEL_UNKNOWN)  # refusals, the series an alert or panel watches


_create_label_values()
set_build_info("gateway", "porteiro-gateway")
