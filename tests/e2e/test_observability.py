"""Observability of a whole call: one trace across the five services, redaction, the report, /metrics.

One delivery call on a stack whose services write the local span file (PORTEIRO_SPAN_FILE).
The speech boundary is the scripted fake (tests/e2e/fake_speech.py) for deterministic answers,
but it relays every request to the real speech service too, so the trace holds the real
TRANSCRIPTION and SYNTHESIS spans and the speech service's /metrics count real work. A second,
lighter call (fake speech only) checks that personal data is shown when
PORTEIRO_TRACE_PERSONAL_DATA=true.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from porteiro.speech.v1 import speech_pb2_grpc
from porteiro_common.server import build_server
from porteiro_sim.call import CallResult, candidate_matcher, delete_queue_async
from porteiro_sim.scenarios import SCENARIOS, VALUES
from porteiro_sim.speech import EspeakVoice
from porteiro_sim.stack import ServiceProcess, Stack, StackConfig
from tests.e2e.conftest import E2E, FAST_ENV, FAST_SPEECH_WPM
from tests.e2e.fake_speech import FakeSpeechServer, ScriptedSpeech, _App

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

TRACE_HEADERS = ("traceparent", "tracestate")
STAGES = (
    "TRANSCRIPTION",
    "SYNTHESIS",
    "AI_PROCESSING",
    "INTENT_EXTRACTION",
    "FUZZY_VALIDATION",
    "CALL_MORADOR",
)
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


class RelayingSpeech(ScriptedSpeech):
    """The scripted answers, after the same request went through the real speech service.

    The real service's reply is discarded (the script decides what was said); the W3C trace
    headers are passed on, so its spans join the call's trace as if the gateway had called it.
    """

    def __init__(self, voice: EspeakVoice, real_target: str) -> None:
        super().__init__(voice)
        self._real_target = real_target
        self._channel: grpc.aio.Channel | None = None

    def _real(self) -> speech_pb2_grpc.SpeechServiceStub:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self._real_target)
        return speech_pb2_grpc.SpeechServiceStub(self._channel)

    @staticmethod
    def _trace_metadata(context) -> tuple[tuple[str, str], ...]:
        return tuple((key, value) for key, value in context.invocation_metadata() if key in TRACE_HEADERS)

    async def Transcribe(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        requests = [request async for request in request_iterator]
        await self._real().Transcribe(iter(requests), metadata=self._trace_metadata(context), timeout=60.0)
        return await super().Transcribe(_replay(requests), context)

    async def Synthesize(self, request, context):  # noqa: N802
        async for _ in self._real().Synthesize(request, metadata=self._trace_metadata(context), timeout=30.0):
            pass
        async for response in super().Synthesize(request, context):
            yield response

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


async def _replay(requests: list) -> AsyncIterator:
    for request in requests:
        yield request


class RelayingSpeechServer(FakeSpeechServer):
    def __init__(self, voice: EspeakVoice, real_target: str) -> None:
        self.servicer = RelayingSpeech(voice, real_target)
        self._bound = build_server(_App(self.servicer), "127.0.0.1", 0)
        self.port = self._bound.port

    async def stop(self) -> None:
        await super().stop()
        await self.servicer.close()


@dataclass
class ObservedCall:
    result: CallResult
    spans: list[dict]
    span_file: Path
    metrics: dict[str, str]  # service name -> /metrics text, scraped after the call

    @property
    def session_id(self) -> str:
        return self.result.session_id


def read_spans(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def scrape_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5.0) as response:  # noqa: S310 (local URL)
        return response.read().decode()


async def observe_one_call(work_dir: Path, *, personal_data: bool, real_speech: bool) -> ObservedCall:
    """Start a stack writing a span file, place one delivery call, scrape /metrics, stop everything."""
    span_file = work_dir / "spans.jsonl"
    voice = EspeakVoice(words_per_minute=FAST_SPEECH_WPM)
    speech: ServiceProcess | None = None
    if real_speech:
        speech = ServiceProcess(
            "speech",
            "porteiro_speech",
            "PORTEIRO_SPEECH_",
            {
                "PORTEIRO_LOG_FORMAT": "text",
                "PORTEIRO_SPAN_FILE": str(span_file),
                "PORTEIRO_TRACE_PERSONAL_DATA": str(personal_data).lower(),
                "PORTEIRO_SPEECH_SHUTDOWN_DELAY_SECONDS": "0.2",
            },
            work_dir / "logs" / "speech.log",
        )
        speech.start(Path.cwd())
        await speech.wait_listening(("grpc", "metrics"), 180.0)
        fake: FakeSpeechServer = RelayingSpeechServer(voice, speech.target)
    else:
        fake = FakeSpeechServer(voice)
    await fake.start()
    queue = f"porteiro-obs-{uuid.uuid4().hex[:8]}"
    stack = Stack(
        StackConfig(
            work_dir,
            queue=queue,
            speech_target=fake.target,
            span_file=span_file,
            trace_personal_data=personal_data,
            env=FAST_ENV,
        )
    )
    try:
        if speech is not None:
            await speech.wait_serving(180.0)
        await stack.start(wait_seconds=180.0)
        matcher = await candidate_matcher(voice)
        fake.servicer.listeners.append(matcher)
        e2e = E2E(stack, voice, matcher, queue, fake)
        result = await e2e.call("delivery")
        assert result.succeeded, e2e.explain(result)
        services = [*stack.services, *([speech] if speech else [])]
        metrics = {service.name: scrape_text(service.metrics_url) for service in services}
    finally:
        await stack.stop()
        if speech is not None:
            speech.terminate()
            await speech.wait_exit(20.0)
        await fake.stop()
        await delete_queue_async(queue)
    return ObservedCall(result, read_spans(span_file), span_file, metrics)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def redacted_call(tmp_path_factory) -> ObservedCall:
    return await observe_one_call(
        tmp_path_factory.mktemp("obs-redacted"), personal_data=False, real_speech=True
    )


# ---- the trace -------------------------------------------------------------------------------


def call_trace(observed: ObservedCall) -> tuple[str, list[dict]]:
    """The trace id of the call's CALL span and every span of that trace."""
    [root] = [
        s
        for s in observed.spans
        if s["name"] == "CALL" and s["attributes"].get("porteiro.session_id") == observed.session_id
    ]
    trace_id = root["trace_id"]
    return trace_id, [s for s in observed.spans if s["trace_id"] == trace_id]


def event_names(span: dict) -> list[str]:
    return [event["name"] for event in span["events"]]


def events_named(spans: list[dict], name: str) -> list[dict]:
    return [event for span in spans for event in span["events"] if event["name"] == name]


def explain_spans(spans: list[dict]) -> str:
    return "\n".join(
        f"{s['service']}/{s['name']} {s['span_id']}<-{s['parent_span_id']} {event_names(s)}" for s in spans
    )


async def test_one_trace_holds_both_legs_turns_and_every_stage(redacted_call):
    trace_id, spans = call_trace(redacted_call)
    session_id = redacted_call.session_id
    listing = explain_spans(spans)
    # Every span naming this session belongs to the call's one trace.
    assert {
        s["trace_id"] for s in redacted_call.spans if s["attributes"].get("porteiro.session_id") == session_id
    } == {trace_id}, listing
    by_name: dict[str, list[dict]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)

    [root] = [s for s in spans if s["parent_span_id"] is None]
    assert root["name"] == "CALL" and root["service"] == "gateway", listing
    assert "CALL_SETUP" in event_names(root) and "CALL_ENDED" in event_names(root)
    [resident_leg] = by_name.get("RESIDENT_LEG", [None])
    assert resident_leg is not None, listing
    assert resident_leg["attributes"]["porteiro.session_id"] == session_id
    # Parent/child links hold together: every non-root span's parent is in the trace.
    span_ids = {s["span_id"] for s in spans}
    orphans = [s for s in spans if s["parent_span_id"] is not None and s["parent_span_id"] not in span_ids]
    assert orphans == [], f"orphans: {explain_spans(orphans)}\n{listing}"

    turns = by_name.get("TURN", [])
    assert len(turns) >= 2, listing
    for turn in turns:
        assert {"SPEECH_DETECTED", "SPEECH_ENDED"} <= set(event_names(turn)), listing
    assert all(e["attributes"]["duration_ms"] > 0 for e in events_named(turns, "SPEECH_ENDED"))
    # A turn lasts until the reply starts: the visitor's answered turns carry the turn latency.
    assert any(t["attributes"].get("turn_latency_ms", -1) > 0 for t in turns), listing
    assert {t["attributes"].get("porteiro.leg") for t in turns} >= {"visitor", "resident"}, listing

    for stage in STAGES:
        assert by_name.get(stage), f"no {stage} span\n{listing}"
        for span in by_name[stage]:
            assert f"{stage}_START" in event_names(span) and f"{stage}_COMPLETE" in event_names(span), listing
            assert span["attributes"]["duration_ms"] >= 0
    services_of = {stage: {s["service"] for s in by_name[stage]} for stage in STAGES}
    assert services_of["TRANSCRIPTION"] == {"speech"} and services_of["SYNTHESIS"] == {"speech"}
    assert services_of["AI_PROCESSING"] == services_of["INTENT_EXTRACTION"] == {"concierge"}
    assert "directory" in services_of["FUZZY_VALIDATION"], listing
    assert "dialer" in services_of["CALL_MORADOR"], listing
    [placed] = [s for s in by_name["CALL_MORADOR"] if s["service"] == "dialer"]
    assert placed["attributes"]["attempt"] == 1 and placed["attributes"]["outcome"] == "confirmed"
    # A transcription is a child of a turn's work, not a stray root: its ancestors reach a TURN.
    parents = {s["span_id"]: s for s in spans}

    def ancestors(span: dict) -> list[str]:
        names = []
        while span["parent_span_id"] in parents:
            span = parents[span["parent_span_id"]]
            names.append(span["name"])
        return names

    for transcription in by_name["TRANSCRIPTION"]:
        assert "TURN" in ancestors(transcription), listing
    assert "CALL" in ancestors(resident_leg), listing
    # The concierge's side of the resident leg is in the call's trace too, with its events.
    [concierge_resident] = by_name.get("concierge.resident_leg", [None])
    assert concierge_resident is not None, listing
    assert "MORADOR_CONNECTED" in event_names(concierge_resident)

    assert events_named(spans, "STATE_CHANGE"), listing
    assert events_named(spans, "MORADOR_CONNECTED"), listing
    outcomes = [e["attributes"].get("outcome") for e in events_named(spans, "CALL_ENDED")]
    assert "authorized" in outcomes, listing


async def test_personal_data_is_redacted_by_default(redacted_call):
    text = redacted_call.span_file.read_text(encoding="utf-8")
    destination = redacted_call.result.commands[0].origin
    for personal in (
        VALUES["resident_name"],
        *VALUES["resident_name"].split(),
        VALUES["visitor_name"],
        destination,
    ):
        assert personal.lower() not in text.lower(), f"{personal!r} found in the span file"
    assert "[redacted]" in text


async def test_the_report_finds_the_call_by_its_session_id(redacted_call):
    trace_id, _ = call_trace(redacted_call)
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "porteiro_common.report",
            "--span-file",
            str(redacted_call.span_file),
            "--call-id",
            redacted_call.session_id,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["call_id"] == redacted_call.session_id and report["trace_id"] == trace_id
    assert report["outcome"] == "authorized"
    assert report["errors"] == []
    assert {"gateway", "speech", "concierge", "directory", "dialer"} <= set(report["services"])
    stage_names = " ".join(report["stages"])
    for stage in (*STAGES, "TURN", "RESIDENT_LEG", "SPEECH_ENDED", "TURN_LATENCY"):
        assert stage in stage_names, report["stages"].keys()
    for name, stats in report["stages"].items():
        assert stats["count"] >= 1 and 0 <= stats["min"] <= stats["p99"] <= stats["max"], name


# ---- /metrics ------------------------------------------------------------------------------


def samples(text: str) -> list:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def total(text: str, name: str, **labels: str) -> float:
    return sum(s.value for s in samples(text) if s.name == name and labels.items() <= s.labels.items())


EXPECTED_HISTOGRAMS = {
    "gateway": ("porteiro_gateway_turn_latency_seconds", "porteiro_gateway_endpointing_seconds"),
    "speech": ("porteiro_speech_stt_processing_seconds", "porteiro_speech_tts_first_chunk_seconds"),
    "concierge": ("porteiro_concierge_extraction_seconds",),
    "directory": ("porteiro_directory_resolve_seconds",),
    "dialer": ("porteiro_dialer_publish_seconds",),
}


async def test_every_service_counts_the_call_in_its_metrics(redacted_call):
    metrics = redacted_call.metrics
    assert set(metrics) == set(EXPECTED_HISTOGRAMS)
    for service, histograms in EXPECTED_HISTOGRAMS.items():
        for histogram in histograms:
            assert total(metrics[service], f"{histogram}_count") >= 1, f"{service}: {histogram}"
            assert total(metrics[service], f"{histogram}_bucket", le="+Inf") >= 1, f"{service}: {histogram}"
    assert total(metrics["concierge"], "porteiro_concierge_call_outcomes_total", outcome="authorized") >= 1
    assert total(metrics["concierge"], "porteiro_concierge_turns_total", leg="visitor") >= 1
    assert total(metrics["concierge"], "porteiro_concierge_turns_total", leg="resident") >= 1
    assert total(metrics["directory"], "porteiro_directory_resolve_outcomes_total") >= 1
    assert total(metrics["dialer"], "porteiro_dialer_publishes_total", outcome="confirmed") >= 1
    assert total(metrics["gateway"], "porteiro_gateway_frames_total") >= 1


async def test_every_service_reports_its_garbage_collection_pauses(redacted_call):
    collections = 0.0
    for service, text in redacted_call.metrics.items():
        for generation in ("0", "1", "2"):
            series = f'porteiro_gc_pause_seconds_count{{generation="{generation}"}}'
            assert series in text, f"{service}: no {series}"
            collections += total(text, "porteiro_gc_pause_seconds_count", generation=generation)
    # The gateway may have none in one call (its young generation is 20,000 objects); the others do.
    assert collections >= 1


async def test_no_metric_label_identifies_a_call(redacted_call):
    for service, text in redacted_call.metrics.items():
        for sample in samples(text):
            for label, label_value in sample.labels.items():
                assert not re.search(r"session|guid|call_id|trace", label, re.IGNORECASE), (service, sample)
                assert not UUID_PATTERN.search(label_value), (service, sample)


# ---- personal data shown when enabled -------------------------------------------------------


async def test_personal_data_is_shown_when_enabled(tmp_path):
    observed = await observe_one_call(tmp_path, personal_data=True, real_speech=False)
    text = observed.span_file.read_text(encoding="utf-8")
    destination = observed.result.commands[0].origin
    for personal in (VALUES["resident_name"], VALUES["visitor_name"], destination):
        assert personal in text, f"{personal!r} not in the span file"
    _, spans = call_trace(observed)
    attributes = [value for span in spans for value in span["attributes"].values()]
    assert "[redacted]" not in attributes
    assert SCENARIOS["delivery"].resident_line in text  # the resident's transcript
