"""Request bytes that are not a valid message get INVALID_ARGUMENT from every service.

Each service's real app is served by the shared `build_server` on a loopback
port; the garbage goes through a generic channel call (no serializer), exactly
as a broken or hostile client would send it. The apps are not started (no
broker, model or Redis needed): the bytes are refused before any servicer runs,
and health, which the same server answers, still works afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from porteiro.speech.v1 import speech_pb2
from porteiro_common.server import ServiceApp, build_server
from porteiro_common.settings import ObservabilitySettings
from porteiro_concierge.app import ConciergeApp
from porteiro_concierge.settings import ConciergeSettings
from porteiro_dialer.app import DialerApp
from porteiro_dialer.settings import DialerSettings
from porteiro_directory.app import DirectoryApp
from porteiro_directory.settings import SAMPLE_DATA_FILE, DirectorySettings
from porteiro_gateway.app import GatewayApp
from porteiro_gateway.settings import GatewaySettings
from porteiro_register.app import RegisterApp
from porteiro_register.settings import RegisterSettings
from porteiro_speech.app import SpeechApp
from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from porteiro_speech.settings import SpeechSettings
from tests.speech.fakes import ScriptedRecognizer
from tests.support.tracing import recording_spans

CORRUPT = b"\xff\xff\xff"  # a varint that never ends
BAD_UTF8 = b"\x0a\x02\xff\xfe"  # field 1 (a string in these messages) with invalid UTF-8
LOOPBACK = {"grpc_host": "127.0.0.1", "grpc_port": 0}
NOWHERE = "127.0.0.1:9"  # dependencies the refused requests never reach


def directory_app() -> ServiceApp:
    return DirectoryApp(DirectorySettings(data_file=SAMPLE_DATA_FILE, **LOOPBACK), ObservabilitySettings())


def dialer_app() -> ServiceApp:
    return DialerApp(DialerSettings(**LOOPBACK), ObservabilitySettings())


def speech_app() -> ServiceApp:
    backends = Backends(ScriptedRecognizer(), EspeakSynthesizer())
    return SpeechApp(SpeechSettings(warmup=False, **LOOPBACK), backends, ObservabilitySettings())


def concierge_app() -> ServiceApp:
    settings = ConciergeSettings(
        directory_target=NOWHERE, dialer_target=NOWHERE, redis_url=None, llm_model=None, **LOOPBACK
    )
    return ConciergeApp(settings)


def register_app() -> ServiceApp:
    return RegisterApp(RegisterSettings(**LOOPBACK))


def gateway_app() -> ServiceApp:
    return GatewayApp(GatewaySettings(**LOOPBACK), ObservabilitySettings())


@asynccontextmanager
async def served(make_app: Callable[[], ServiceApp]) -> AsyncIterator[grpc.aio.Channel]:
    bound = build_server(make_app(), "127.0.0.1", 0)
    await bound.server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound.port}")
    try:
        yield channel
    finally:
        await channel.close()
        await bound.server.stop(0)


async def call_raw(channel: grpc.aio.Channel, path: str, kind: str, messages: list[bytes]) -> None:
    """Send raw bytes to `path` as a `kind` call and read the whole answer."""
    if kind == "unary_unary":
        await channel.unary_unary(path)(messages[0], timeout=5)
    elif kind == "unary_stream":
        [_ async for _ in channel.unary_stream(path)(messages[0], timeout=5)]
    elif kind == "stream_unary":
        await channel.stream_unary(path)(iter(messages), timeout=5)
    else:
        [_ async for _ in channel.stream_stream(path)(iter(messages), timeout=5)]


async def assert_refused(channel: grpc.aio.Channel, path: str, kind: str, messages: list[bytes], type_: str):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call_raw(channel, path, kind, messages)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value
    assert raised.value.details() == f"request is not a valid {type_}"


async def assert_still_serving(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)


DIRECTORY_METHODS = [
    (f"/porteiro.directory.v1.DirectoryService/{rpc}", f"porteiro.directory.v1.{rpc}Request")
    for rpc in (
        "Resolve",
        "SearchByName",
        "GetApartment",
        "ListApartments",
        "ListVocabulary",
        "ParseApartment",
    )
]


WITH_TEXT_FIRST = {"Resolve", "SearchByName", "GetApartment", "ParseApartment"}  # field 1 is a string


@pytest.mark.parametrize(("path", "message_type"), DIRECTORY_METHODS, ids=lambda v: v.rsplit("/", 1)[-1])
async def test_directory_refuses_undecodable_requests(path, message_type):
    rpc = path.rsplit("/", 1)[-1]
    async with served(directory_app) as channel:
        await assert_refused(channel, path, "unary_unary", [CORRUPT], message_type)
        if rpc in WITH_TEXT_FIRST:
            await assert_refused(channel, path, "unary_unary", [BAD_UTF8], message_type)
        await assert_still_serving(channel)


async def test_dialer_refuses_an_undecodable_place_call():
    async with served(dialer_app) as channel:
        for garbage in (CORRUPT, BAD_UTF8):
            await assert_refused(
                channel,
                "/porteiro.dialer.v1.DialerService/PlaceCall",
                "unary_unary",
                [garbage],
                "porteiro.dialer.v1.PlaceCallRequest",
            )
        await assert_still_serving(channel)


async def test_speech_refuses_undecodable_synthesize_and_transcribe_messages():
    config = speech_pb2.TranscribeRequest(config=speech_pb2.TranscriptionConfig()).SerializeToString()
    audio = speech_pb2.TranscribeRequest(audio=b"\x00\x00" * 160).SerializeToString()
    transcribe = "/porteiro.speech.v1.SpeechService/Transcribe"
    async with served(speech_app) as channel:
        await assert_refused(
            channel,
            "/porteiro.speech.v1.SpeechService/Synthesize",
            "unary_stream",
            [BAD_UTF8],
            "porteiro.speech.v1.SynthesizeRequest",
        )
        request_type = "porteiro.speech.v1.TranscribeRequest"
        await assert_refused(channel, transcribe, "stream_unary", [CORRUPT], request_type)
        # A bad message after good ones: refused at that message, mid-stream.
        await assert_refused(
            channel, transcribe, "stream_unary", [config, audio, CORRUPT, audio], request_type
        )
        await assert_still_serving(channel)


async def test_concierge_refuses_an_undecodable_leg_event():
    converse = "/porteiro.concierge.v1.ConciergeService/Converse"
    started = concierge_pb2.LegEvent(
        leg_started=concierge_pb2.LegStarted(
            session_id=str(uuid.uuid4()), leg=common_pb2.LEG_VISITOR, sample_rate_hz=8000
        )
    ).SerializeToString()
    async with served(concierge_app) as channel:
        await assert_refused(channel, converse, "stream_stream", [CORRUPT], "porteiro.concierge.v1.LegEvent")
        # Mid-call: the concierge reads later events in a task of its own; the refusal still ends the stream.
        await assert_refused(
            channel, converse, "stream_stream", [started, CORRUPT], "porteiro.concierge.v1.LegEvent"
        )
        await assert_still_serving(channel)


@pytest.mark.parametrize(
    "make_app",
    [directory_app, dialer_app, speech_app, concierge_app, register_app, gateway_app],
    ids=["directory", "dialer", "speech", "concierge", "register", "gateway"],
)
async def test_health_refuses_an_undecodable_check(make_app):
    async with served(make_app) as channel:
        await assert_refused(
            channel,
            "/grpc.health.v1.Health/Check",
            "unary_unary",
            [CORRUPT],
            "grpc.health.v1.HealthCheckRequest",
        )
        await assert_still_serving(channel)


@pytest.mark.parametrize("rpc", ["ListCalls", "GetCall", "EraseVisitor"])
async def test_register_refuses_undecodable_requests(rpc):
    async with served(register_app) as channel:
        await assert_refused(
            channel,
            f"/porteiro.register.v1.RegisterService/{rpc}",
            "unary_unary",
            [CORRUPT],
            f"porteiro.register.v1.{rpc}Request",
        )
        await assert_still_serving(channel)


async def test_a_refused_request_is_traced_as_invalid_argument():
    spans = recording_spans()
    async with served(dialer_app) as channel:
        await assert_refused(
            channel,
            "/porteiro.dialer.v1.DialerService/PlaceCall",
            "unary_unary",
            [CORRUPT],
            "porteiro.dialer.v1.PlaceCallRequest",
        )
    (span,) = [
        s for s in spans.get_finished_spans() if s.name == "/porteiro.dialer.v1.DialerService/PlaceCall"
    ]
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_valid_requests_still_reach_the_servicer():
    async with served(directory_app) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            # Valid bytes (an empty ResolveRequest): the servicer's own validation answers.
            await channel.unary_unary("/porteiro.directory.v1.DirectoryService/Resolve")(b"", timeout=5)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "apartment and resident_name are both empty" in raised.value.details()
