"""The native media edge (porteiro_gateway._media) on real TCP connections, in real time.

The engine's thread writes one frame per leg every 20 ms and reads what arrived; these tests
play Asterisk's side with plain sockets and check the bytes on the wire.
"""

from __future__ import annotations

import errno
import os
import socket
import time

import pytest

from porteiro_common.audiosocket import HANGUP_FRAME, encode_audio
from porteiro_gateway.metrics import PLAYBACK_LATENESS_BUCKETS

media = pytest.importorskip("porteiro_gateway._media", reason="native media edge not built")

FRAME = 320
SILENCE = encode_audio(bytes(FRAME))
FRAME_SIZE = len(SILENCE)


def audio_frame(value: int) -> bytes:
    return encode_audio(bytes([value]) * FRAME)


@pytest.fixture
def engine():
    engine = media.Engine(
        phases=10, frame_ms=20, resync_ms=60, notify_every=10, bounds=PLAYBACK_LATENESS_BUCKETS
    )
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def connection():
    """(the gateway's side: a socket whose fd the engine takes, Asterisk's side)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        asterisk = socket.create_connection(server.getsockname())
        gateway, _ = server.accept()
    gateway.setblocking(False)
    yield gateway, asterisk
    asterisk.close()


def adopt(engine, gateway: socket.socket, idle_silence: bool = True) -> int:
    return engine.add(gateway.detach(), SILENCE, idle_silence)


def receive(sock: socket.socket, size: int, timeout: float = 2.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def take_until(engine, predicate, timeout: float = 2.0) -> list:
    taken: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        taken += engine.take()
        if predicate(taken):
            return taken
        time.sleep(0.01)
    return taken


def test_an_idle_leg_gets_a_silence_frame_every_20_ms(engine, connection):
    gateway, asterisk = connection
    adopt(engine, gateway)
    started = time.monotonic()
    data = receive(asterisk, 25 * FRAME_SIZE)
    elapsed = time.monotonic() - started
    assert data == SILENCE * 25
    assert 0.4 <= elapsed < 1.5  # 25 frames paced at 20 ms, not a burst


def test_queued_frames_go_out_in_order_bit_exact_then_silence(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway)
    frames = [audio_frame(value) for value in range(1, 8)]
    engine.push(leg, b"".join(frames[:3]))
    engine.push(leg, b"".join(frames[3:]))
    data = receive(asterisk, 40 * FRAME_SIZE)
    received = [data[i : i + FRAME_SIZE] for i in range(0, len(data), FRAME_SIZE)]
    first = received.index(frames[0])
    assert received[first : first + 7] == frames
    assert set(received[:first]) <= {SILENCE} and set(received[first + 7 :]) == {SILENCE}
    assert engine.leg_state(leg)[1] == 7  # queued frames written


def test_a_push_that_is_not_whole_frames_is_refused(engine, connection):
    gateway, _ = connection
    leg = adopt(engine, gateway)
    with pytest.raises(ValueError):
        engine.push(leg, b"\x10\x01")
    with pytest.raises(KeyError):
        engine.push(leg + 1000, SILENCE)


def test_bytes_from_asterisk_are_taken_in_order(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway)
    sent = b"".join(audio_frame(value) for value in range(20))
    for start in range(0, len(sent), 100):  # cut anywhere, as TCP may
        asterisk.sendall(sent[start : start + 100])
    taken = take_until(engine, lambda items: sum(len(data) for _, data, _, _, _ in items) >= len(sent))
    assert b"".join(data for _, data, _, _, _ in taken) == sent
    assert {item[0] for item in taken} == {leg}
    assert {item[2] for item in taken} == {media.OPEN}


def test_the_end_of_the_connection_is_reported_once(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway)
    asterisk.sendall(HANGUP_FRAME)
    asterisk.shutdown(socket.SHUT_WR)
    taken = take_until(engine, lambda items: any(state == media.END_EOF for _, _, state, _, _ in items))
    assert b"".join(data for _, data, _, _, _ in taken) == HANGUP_FRAME
    assert [(leg, media.END_EOF)] == [(item[0], item[2]) for item in taken if item[2] != media.OPEN]
    time.sleep(0.1)
    assert engine.take() == []


def test_a_reset_is_reported_as_an_error(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway)
    asterisk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    asterisk.close()  # RST
    taken = take_until(engine, lambda items: any(state != media.OPEN for _, _, state, _, _ in items))
    ends = [item for item in taken if item[2] != media.OPEN]
    assert len(ends) == 1 and ends[0][0] == leg
    assert ends[0][2] == media.END_ERROR and ends[0][3] in (errno.ECONNRESET, errno.EPIPE)


def test_close_sends_the_queue_then_the_final_bytes_then_ends_the_connection(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway)
    frames = b"".join(audio_frame(value) for value in range(1, 6))
    engine.push(leg, frames)
    engine.close(leg, HANGUP_FRAME)
    engine.remove(leg)  # Python lets go at once: the last frames still go out
    data = receive(asterisk, 100 * FRAME_SIZE)  # until the engine closes
    assert data.endswith(frames + HANGUP_FRAME)
    assert set(data[i : i + FRAME_SIZE] for i in range(0, len(data) - len(frames) - 3, FRAME_SIZE)) <= {
        SILENCE
    }


def test_drop_empties_the_queue_and_says_how_many(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway)
    engine.push(leg, b"".join(audio_frame(1) for _ in range(50)))
    time.sleep(0.1)
    queued = engine.queued(leg)
    dropped = engine.drop(leg)
    assert 40 <= queued <= 49 and dropped >= queued - 2
    assert engine.queued(leg) == 0
    sent_before = engine.leg_state(leg)[1]
    time.sleep(0.1)
    assert engine.leg_state(leg)[1] == sent_before  # nothing of the dropped frames goes out


def test_removing_a_leg_closes_its_connection(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway)
    engine.remove(leg)
    asterisk.settimeout(2.0)
    data = b""
    while chunk := asterisk.recv(4096):
        data += chunk
    assert len(data) % FRAME_SIZE == 0  # whole silence frames, then the end
    with pytest.raises(KeyError):
        engine.queued(leg)


def test_lateness_counts_every_frame_written(engine, connection):
    gateway, asterisk = connection
    adopt(engine, gateway)
    engine.lateness()  # from now
    receive(asterisk, 10 * FRAME_SIZE)
    time.sleep(0.2)
    counts, total, rebases, skipped, sent = engine.lateness()
    assert len(counts) == len(PLAYBACK_LATENESS_BUCKETS) + 1
    assert sum(counts) >= 10 and total >= 0.0 and skipped == 0 and rebases == 0


def test_without_idle_silence_nothing_is_sent_until_frames_are_queued(engine, connection):
    gateway, asterisk = connection
    leg = adopt(engine, gateway, idle_silence=False)
    asterisk.settimeout(0.2)
    with pytest.raises(TimeoutError):
        asterisk.recv(1)
    engine.push(leg, audio_frame(9))
    assert receive(asterisk, FRAME_SIZE) == audio_frame(9)


def test_the_engine_notifies_python_through_its_eventfd(engine, connection):
    gateway, asterisk = connection
    adopt(engine, gateway)
    asterisk.sendall(audio_frame(3))
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            os.read(engine.notify_fd, 8)
            break
        except BlockingIOError:
            time.sleep(0.005)
    else:
        pytest.fail("no notification")
    assert take_until(engine, lambda items: bool(items))


def test_many_legs_are_asked_and_given_frames_in_one_call(engine):
    pairs = []
    for _ in range(3):
        with socket.create_server(("127.0.0.1", 0)) as server:
            asterisk = socket.create_connection(server.getsockname())
            gateway, _ = server.accept()
        pairs.append((adopt(engine, gateway), asterisk))
    (first, a1), (second, a2), (third, a3) = pairs
    engine.remove(third)  # ended meanwhile: skipped, not an error
    engine.push_many([(first, audio_frame(1) * 30), (second, audio_frame(2) * 20), (third, audio_frame(3))])
    queued = engine.queued_many([first, second, third])
    assert 25 <= queued[0] <= 30 and 15 <= queued[1] <= 20 and queued[2] == -1
    with pytest.raises(ValueError):
        engine.push_many([(first, b"\x10")])
    data = receive(a2, 60 * FRAME_SIZE)
    assert audio_frame(2) * 20 in data and audio_frame(1) not in data
    for _, asterisk in pairs:
        asterisk.close()


def test_an_id_given_again_never_mixes_two_connections(engine):
    """A leg removed while it still sends its last frames frees its id at once: the new leg that
    gets the id has its own frames and input, the old connection gets its own end."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        old_asterisk = socket.create_connection(server.getsockname())
        old_gateway, _ = server.accept()
        new_asterisk = socket.create_connection(server.getsockname())
        new_gateway, _ = server.accept()
    old = adopt(engine, old_gateway)
    goodbye = b"".join(audio_frame(5) for _ in range(10))
    engine.push(old, goodbye)
    engine.close(old, HANGUP_FRAME)
    engine.remove(old)
    new = adopt(engine, new_gateway)
    assert new == old  # the id is free again at once
    hello = b"".join(audio_frame(7) for _ in range(3))
    engine.push(new, hello)
    new_asterisk.sendall(audio_frame(8))
    old_asterisk.sendall(audio_frame(9))  # read by no one: the old leg is closing
    old_data = receive(old_asterisk, 100 * FRAME_SIZE)
    assert old_data.endswith(goodbye + HANGUP_FRAME) and audio_frame(7) not in old_data
    new_data = receive(new_asterisk, 20 * FRAME_SIZE)
    assert hello in new_data and audio_frame(5) not in new_data
    taken = take_until(engine, lambda items: any(audio_frame(8) in data for _, data, _, _, _ in items))
    assert b"".join(data for _, data, _, _, _ in taken) == audio_frame(8)
    assert {leg for leg, _, _, _, _ in taken} == {new}
    old_asterisk.close()
    new_asterisk.close()


def test_fifty_legs_each_get_their_own_frames_at_50_a_second(engine):
    pairs = []
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        for _ in range(50):
            asterisk = socket.create_connection(server.getsockname())
            gateway, _ = server.accept()
            pairs.append((adopt(engine, gateway), asterisk))
    engine.push_many([(leg, audio_frame(index % 256) * 25) for index, (leg, _) in enumerate(pairs)])
    for index, (_, asterisk) in enumerate(pairs):
        data = receive(asterisk, 30 * FRAME_SIZE)
        assert audio_frame(index % 256) * 25 in data
        assert data.replace(audio_frame(index % 256), b"").replace(SILENCE, b"") == b""
    counts, *_ = engine.lateness()
    assert sum(counts) >= 50 * 25
    for _, asterisk in pairs:
        asterisk.close()
