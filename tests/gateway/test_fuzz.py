"""Property-based fuzzing of the listener: arbitrary bytes never hurt the gateway.

The gateway and its fake dependencies run on an event loop in a background
thread; hypothesis drives blocking sockets from the test thread, while a
healthy call streams audio alongside the whole time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porteiro_common.audiosocket import encode
from tests.gateway.support import BlockingCaller, Stack, start_stack

pytestmark = pytest.mark.slow
UUID_FRAME = encode(0x01, uuid.uuid4().bytes)
KNOWN = [0x00, 0x01, 0x03, 0x10, 0x11, 0x12, 0x18, 0xFF]


class BackgroundStack:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack: Stack = self.run(start_stack(uuid_timeout_seconds=0.5, max_frame_bytes=4096))

    def run(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.run(self.stack.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def background():
    stack = BackgroundStack()
    call = BlockingCaller(stack.stack.visitor_port)  # a healthy call streaming alongside the fuzzing
    yield stack, call
    call.close()
    stack.close()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the gateway closes the connection within `seconds`."""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return False


def attack(port: int, payload: bytes, half_close: bool) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        try:
            sock.sendall(payload)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except ConnectionError:
            return True  # already closed by the gateway
        return closed_within(sock, 1.0)


frames = st.builds(
    encode,
    st.sampled_from(KNOWN) | st.integers(0, 255),
    st.binary(max_size=400),
)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(payload=st.binary(max_size=2000))
def test_arbitrary_bytes_then_eof_are_closed_within_a_second(background, payload):
    stack, _ = background
    assert attack(stack.stack.visitor_port, payload, half_close=True)


@FUZZ
@given(payload=st.binary(min_size=1, max_size=500).filter(lambda b: b[0] != 0x01))
def test_anything_but_uuid_first_is_closed_within_a_second(background, payload):
    stack, _ = background
    assert attack(stack.stack.resident_port, payload, half_close=False)


@FUZZ
@given(
    body=st.lists(frames, max_size=8),
    poison=st.sampled_from(
        [encode(0x42, b"x"), encode(0x10, b"\x00" * 3), b"\x10\xff\xff", encode(0x01, b"short")]
    ),
)
def test_uuid_then_frames_then_a_bad_frame_is_closed_within_a_second(background, body, poison):
    stack, _ = background
    # A hangup (0x00) or hangup error frame in the body legitimately ends the leg too.
    assert attack(stack.stack.visitor_port, UUID_FRAME + b"".join(body) + poison, half_close=False)


def test_the_healthy_call_was_never_disturbed(background):
    stack, call = background
    time.sleep(0.5)
    assert call.is_alive()
    arrivals = call.arrivals[-400:]
    assert len(arrivals) >= 25 * 4, "the healthy call stopped receiving frames"
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) < 0.5, f"the healthy call went {max(gaps):.2f} s without a frame"
    assert 0x00 not in call.kinds
    assert call.is_alive() and len(stack.stack.app.registry.legs) >= 1
    # Everything the fuzzing opened is gone; only the healthy call is left.
    deadline = time.monotonic() + 5
    while len(stack.stack.app.registry.legs) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(stack.stack.app.registry.legs) == 1
