"""Server spans: client errors without exception events; OTLP exported over gRPC and over HTTP."""

from __future__ import annotations

import asyncio
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from porteiro_common.settings import ObservabilitySettings
from porteiro_common.tracing import (
    TracingConfigError,
    configure_tracing,
    otlp_exporter,
    server_tracing_interceptor,
)

SERVICE = "porteiro.test.v1.Probe"


async def abort_invalid(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "apartment is empty")
    return b""


async def abort_not_found(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.NOT_FOUND, "no such call")
    return b""


async def abort_unavailable(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.UNAVAILABLE, "backend down")
    return b""


async def crash(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError("a bug")


async def stream_invalid(request: bytes, context: grpc.aio.ServicerContext):
    yield b"first"
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad chunk")


HANDLERS = {
    "Invalid": grpc.unary_unary_rpc_method_handler(abort_invalid),
    "NotFound": grpc.unary_unary_rpc_method_handler(abort_not_found),
    "Unavailable": grpc.unary_unary_rpc_method_handler(abort_unavailable),
    "Crash": grpc.unary_unary_rpc_method_handler(crash),
    "StreamInvalid": grpc.unary_stream_rpc_method_handler(stream_invalid),
}


@pytest.fixture(params=["porteiro"])
async def traced_server(request):
    """A real aio server traced by server_tracing_interceptor (or, with param "stock",
    OpenTelemetry's own interceptor); yields (channel, exporter)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    make = server_tracing_interceptor if request.param == "porteiro" else aio_server_interceptor
    server = grpc.aio.server(interceptors=[make(tracer_provider=provider)])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, HANDLERS)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield channel, exporter
    await channel.close()
    await server.stop(None)


async def call(channel: grpc.aio.Channel, method: str) -> grpc.StatusCode:
    try:
        if method.startswith("Stream"):
            async for _ in channel.unary_stream(f"/{SERVICE}/{method}")(b""):
                pass
        else:
            await channel.unary_unary(f"/{SERVICE}/{method}")(b"")
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def server_span(exporter: InMemorySpanExporter, method: str):
    """The server span of `method`; it may end just after the client has its answer."""
    for _ in range(200):
        spans = [span for span in exporter.get_finished_spans() if span.name == f"/{SERVICE}/{method}"]
        if spans:
            assert len(spans) == 1
            return spans[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no server span for {method}: {[s.name for s in exporter.get_finished_spans()]}")


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("Invalid", grpc.StatusCode.INVALID_ARGUMENT),
        ("NotFound", grpc.StatusCode.NOT_FOUND),
        ("StreamInvalid", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_client_errors_keep_their_status_but_no_exception_event(traced_server, method, code):
    channel, exporter = traced_server
    assert await call(channel, method) == code
    span = await server_span(exporter, method)
    # OpenTelemetry's convention leaves a server span's status unset for client errors; the code says it.
    assert span.attributes["rpc.grpc.status_code"] == code.value[0]
    assert [event.name for event in span.events if event.name == "exception"] == []


@pytest.mark.parametrize("traced_server", ["stock"], indirect=True)
async def test_opentelemetry_own_interceptor_adds_the_event_this_module_removes(traced_server):
    channel, exporter = traced_server
    assert await call(channel, "Invalid") == grpc.StatusCode.INVALID_ARGUMENT
    assert "exception" in [event.name for event in (await server_span(exporter, "Invalid")).events]


async def test_server_side_failures_and_bugs_keep_their_exception_events(traced_server):
    channel, exporter = traced_server
    assert await call(channel, "Unavailable") == grpc.StatusCode.UNAVAILABLE
    assert await call(channel, "Crash") == grpc.StatusCode.UNKNOWN
    assert (await server_span(exporter, "Unavailable")).status.status_code.name == "ERROR"
    unavailable = [e for e in (await server_span(exporter, "Unavailable")).events if e.name == "exception"]
    crashed = [e for e in (await server_span(exporter, "Crash")).events if e.name == "exception"]
    assert len(unavailable) == 1
    assert len(crashed) == 1 and crashed[0].attributes["exception.type"] == "RuntimeError"
    assert "a bug" in crashed[0].attributes["exception.message"]


# ---- OTLP transports ---------------------------------------------------------------


def export_one_span(environ: dict[str, str], monkeypatch) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    exporter = otlp_exporter(environ)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("CALL"):
        pass
    provider.shutdown()


class TraceCollector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.span_names: list[str] = []

    def Export(self, request, context):  # noqa: N802 - gRPC naming
        self.span_names.extend(
            span.name
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        )
        return trace_service_pb2.ExportTraceServiceResponse()


def test_otlp_over_grpc_by_default(monkeypatch):
    collector = TraceCollector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        environ = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
        assert isinstance(otlp_exporter(environ), GrpcExporter)
        export_one_span(environ, monkeypatch)
    finally:
        server.stop(None)
    assert collector.span_names == ["CALL"]


def test_otlp_over_http_protobuf_when_asked(monkeypatch):
    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    http = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        environ = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{http.server_address[1]}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
        assert isinstance(otlp_exporter(environ), HttpExporter)
        export_one_span(environ, monkeypatch)
    finally:
        http.shutdown()
    assert [path for path, _ in received] == ["/v1/traces"]
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(received[0][1])
    assert [span.name for span in request.resource_spans[0].scope_spans[0].spans] == ["CALL"]


def test_the_traces_specific_protocol_wins_and_unknown_ones_are_refused():
    both = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}
    assert isinstance(otlp_exporter(both), GrpcExporter)
    with pytest.raises(TracingConfigError, match="'http/json' is not supported"):
        otlp_exporter({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_an_unsupported_protocol_stops_the_service_with_a_clear_message(capsys):
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
    }
    with pytest.raises(SystemExit) as stopped:
        configure_tracing("test", ObservabilitySettings(), environ=environ)
    assert stopped.value.code == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='http/json' is not supported" in capsys.readouterr().err
