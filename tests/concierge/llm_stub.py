"""A scripted OpenAI-compatible chat-completions server for tests (no real LLM is reachable here).

It listens on 127.0.0.1 on a free port in a background thread and answers
``POST /v1/chat/completions`` with the next scripted reply, recording every request.
crewai 1.15 (native OpenAI provider, ``chat.completions.parse``) sends one
non-streaming request per crew call with ``response_format`` of type
``json_schema``; the answer content is the JSON document. Streaming requests are
refused with 400 so a change in crewai's behaviour shows up as a test failure.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class StubReply:
    """One scripted answer: assistant `content`, or an HTTP error `status` with `error` message."""

    content: str = ""
    status: int = 200
    error: str = ""
    delay_seconds: float = 0.0

    @classmethod
    def json(cls, document: dict[str, Any], delay_seconds: float = 0.0) -> StubReply:
        return cls(content=json.dumps(document, ensure_ascii=False), delay_seconds=delay_seconds)


@dataclass
class CapturedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def message_text(self) -> str:
        """All message contents of the request, joined: what the model was asked."""
        return "\n".join(str(message.get("content", "")) for message in self.body.get("messages", []))


class LlmStub:
    """Use as a context manager; `base_url` ends in /v1 like an OpenAI endpoint."""

    def __init__(self) -> None:
        self.requests: list[CapturedRequest] = []
        self._replies: deque[StubReply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="llm-stub", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: StubReply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def __enter__(self) -> LlmStub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()  # wakes handlers sleeping on a slow reply
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, request: CapturedRequest) -> StubReply:
        with self._lock:
            self.requests.append(request)
            if request.path != "/v1/chat/completions":
                return StubReply(status=404, error=f"no route {request.path}")
            if request.body.get("stream"):
                return StubReply(status=400, error="the stub does not stream")
            if not self._replies:
                return StubReply(status=500, error="no scripted reply left")
            return self._replies.popleft()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {"invalid_json": True}
                reply = stub._next_reply(CapturedRequest(self.path, dict(self.headers), body))
                if reply.delay_seconds and stub._closing.wait(reply.delay_seconds):
                    return
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": reply.error, "type": "stub_error"}})
                else:
                    self._send(200, _completion(body.get("model", "stub"), reply.content))

            def _send(self, status: int, document: dict[str, Any]) -> None:
                data = json.dumps(document, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
                pass

        return Handler


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
