"""The per-frame paths made cheap for issue 21 give the same results as the general ones.

Real AudioSocket bytes (espeak-ng speech, UUID, DTMF, hangup) go through a real
`CallerSocket` whatever way TCP cuts them; the lock-free lateness histogram
exposes what prometheus_client's Histogram would; frames skipped by a rebase
are counted per player; the exact RMS and the direct VAD call decide as before.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import webrtcvad
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.audiosocket import HANGUP_FRAME, Kind, encode, encode_dtmf
from porteiro_gateway import metrics
from porteiro_gateway.caller_audio import rms
from porteiro_gateway.caller_socket import CHECK_EVERY_FRAMES, CallerSocket
from porteiro_gateway.endpointing import Endpointer, EndpointingConfig
from porteiro_gateway.metrics import PLAYBACK_LATENESS_BUCKETS, LoopHistogram
from tests.gateway.harness import FakeTransport, VirtualTime, audio_frames, uuid_frame
from tests.gateway.support import silence, spoken

Reason = concierge_pb2.LegEndReason
SESSION = "5f0c6a44-29a4-4bd4-9a6e-3f1f2b0c8d11"


class Owner:
    """The socket's owner (the leg's part): records what the socket reports, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def identified(self, session_id: str) -> None:
        self.calls.append(("identified", session_id))

    def key_pressed(self, digit: str) -> None:
        self.calls.append(("key", digit))

    def end(self, reason: int, detail: str = "") -> None:
        self.calls.append(("end", reason, detail))

    def failed(self, error: Exception) -> None:
        self.calls.append(("failed", repr(error)))


def caller_socket(max_frame_bytes: int = 8192) -> tuple[CallerSocket, Owner, FakeTransport, list]:
    owner, transport = Owner(), FakeTransport(VirtualTime())
    sock = CallerSocket(transport, owner, "visitor", max_frame_bytes)
    audio: list[tuple[bytes, int]] = []
    sock.on_audio = lambda pcm, rate: audio.append((pcm, rate))
    sock.start()
    return sock, owner, transport, audio


def a_call() -> bytes:
    """What Asterisk sends for a short call: UUID, speech in 20 ms frames, a key, a 16 kHz frame, hangup."""
    speech = spoken("apartamento cento e dois") + silence(0.3)
    frames = [uuid_frame(SESSION), *audio_frames(speech)]
    frames.insert(20, encode_dtmf("5"))
    frames.insert(40, encode(Kind.AUDIO_16K, bytes(640)))  # another rate, another size
    frames.insert(41, encode(Kind.AUDIO_8K, b""))  # an empty audio frame
    return b"".join([*frames, HANGUP_FRAME])


def reads(data: bytes, how: str) -> list[bytes]:
    """`data` cut as TCP might: frame by frame, several frames per read, or anywhere."""
    if how == "whole":
        return [data]
    if how == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    cuts, rng = [0], random.Random(how)
    while cuts[-1] < len(data):
        cuts.append(cuts[-1] + rng.randint(1, 1200))
    return [data[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]


def runs(audio: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    """The audio handed over, as runs of one rate (a read's consecutive frames come as one piece)."""
    merged: list[tuple[bytes, int]] = []
    for pcm, rate in audio:
        if merged and merged[-1][1] == rate:
            merged[-1] = (merged[-1][0] + pcm, rate)
        else:
            merged.append((pcm, rate))
    return [(pcm, rate) for pcm, rate in merged if pcm]


def reference(data: bytes) -> tuple[list, list]:
    """The general path alone: every read goes through the parser (one read per byte)."""
    sock, owner, _, audio = caller_socket()
    for piece in reads(data, "bytes"):
        sock.data_received(piece)
    return owner.calls, audio


@pytest.mark.parametrize("how", ["frames", "whole", "seed-1", "seed-2", "seed-3"])
def test_audio_reaches_the_leg_the_same_however_the_reads_are_cut(how):
    data = a_call()
    expected_calls, expected_audio = reference(data)
    assert expected_calls[0] == ("identified", SESSION) and expected_calls[-1][0] == "end"
    assert ("key", "5") in expected_calls and (bytes(640), 16000) in expected_audio

    sock, owner, _, audio = caller_socket()
    pieces = reads(data, how) if how != "frames" else []
    if how == "frames":  # one read per frame, as nearly always
        parser_free = [uuid_frame(SESSION), *audio_frames(spoken("apartamento cento e dois") + silence(0.3))]
        parser_free.insert(20, encode_dtmf("5"))
        parser_free.insert(40, encode(Kind.AUDIO_16K, bytes(640)))
        parser_free.insert(41, encode(Kind.AUDIO_8K, b""))
        pieces = [*parser_free, HANGUP_FRAME]
        assert b"".join(pieces) == data
    for piece in pieces:
        sock.data_received(piece)
    assert owner.calls == expected_calls
    assert runs(audio) == runs(expected_audio)


@pytest.mark.parametrize(
    "bad, error",
    [
        (encode(Kind.AUDIO_8K, bytes(321)), "odd_audio"),
        (bytes([Kind.AUDIO_8K, 0x30, 0x00]), "oversized"),  # declares 12,288 bytes, over 8192
        (encode(0x42, b"x"), "unknown_kind"),
    ],
)
def test_a_bad_frame_after_good_audio_in_the_same_read_is_still_a_protocol_error(bad, error):
    good = audio_frames(spoken("sim"))[:3]
    sock, owner, _, audio = caller_socket()
    sock.data_received(uuid_frame(SESSION))
    before = metrics.PROTOCOL_ERRORS.labels(error)._value.get()
    sock.data_received(b"".join([*good, bad, *good]))
    assert b"".join(pcm for pcm, _ in audio) == b"".join(frame[3:] for frame in good)  # those before it only
    assert len(audio) == 1  # the three good frames before the bad one, as one run
    assert owner.calls[-1][:2] == ("end", Reason.LEG_END_REASON_PROTOCOL_ERROR)
    assert metrics.PROTOCOL_ERRORS.labels(error)._value.get() == before + 1


def test_a_failing_audio_handler_ends_the_leg_once_and_stops_the_read():
    sock, owner, _, _ = caller_socket()
    sock.data_received(uuid_frame(SESSION))
    fed: list[bytes] = []

    def broken(pcm: bytes, rate: int) -> None:
        fed.append(pcm)
        raise RuntimeError("bug")

    sock.on_audio = broken
    sock.data_received(b"".join(audio_frames(silence(0.1))))
    assert len(fed) == 1 and owner.calls[-1] == ("failed", "RuntimeError('bug')")


def test_outgoing_frames_are_counted_exactly_and_a_closed_transport_ends_the_leg_within_a_check():
    sock, owner, transport, _ = caller_socket()
    child = metrics.FRAMES.labels("out", "visitor")
    before = child._value.get()
    frame = encode(Kind.AUDIO_8K, bytes(320))
    for _ in range(123):
        sock.send(frame)
    sock.flush_counts()
    assert len(transport.writes) == 123 and child._value.get() == before + 123
    transport.closed = True  # closed under the player's feet: no write reaches it after a check
    for _ in range(CHECK_EVERY_FRAMES):
        if owner.calls:
            break
        try:
            sock.send(frame)
        except AssertionError:  # FakeTransport refuses writes after close: asyncio's drops them
            pass
    assert owner.calls == [("end", Reason.LEG_END_REASON_CONNECTION_ERROR, "socket closed")]
    writes = len(transport.writes)
    for _ in range(3 * CHECK_EVERY_FRAMES):  # the clock may tick again before the leg winds down
        sock.send(frame)
    assert len(transport.writes) == writes, "nothing written once the transport is seen closed"


def test_a_peer_that_stops_reading_gets_no_more_frames_after_the_check():
    sock, owner, transport, _ = caller_socket()
    frame = encode(Kind.AUDIO_8K, bytes(320))
    sock.send(frame)
    transport.unsent_bytes = 70_000
    for _ in range(3 * CHECK_EVERY_FRAMES):
        sock.send(frame)
    assert len(transport.writes) <= CHECK_EVERY_FRAMES  # the frames before the next check, at most
    assert owner.calls[0] == ("end", Reason.LEG_END_REASON_CONNECTION_ERROR, "peer stopped reading")


def exposition(collector_registry: CollectorRegistry) -> dict[str, float]:
    """The histogram's samples as scraped: {'lateness_seconds_bucket{le="0.005"}': count, ...}."""
    text = generate_latest(collector_registry).decode()
    return {
        f"{sample.name}{sample.labels}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_the_loop_histogram_exposes_what_a_prometheus_histogram_would():
    values = [0.0, 0.0004, 0.0005, 0.0012, 0.005, 0.0051, 0.019, 0.02, 0.3, 2.0]
    reference_registry, loop_registry = CollectorRegistry(), CollectorRegistry()
    name, doc = "lateness_seconds", "how late"
    expected = Histogram(name, doc, buckets=PLAYBACK_LATENESS_BUCKETS, registry=reference_registry)
    for value in [*values, 0.07, 0.07, 0.07]:
        expected.observe(value)
    ours = LoopHistogram(name, doc, PLAYBACK_LATENESS_BUCKETS)
    loop_registry.register(ours)
    deadline = 0.0  # times relative to the slot, so that float rounding does not move a bucket edge
    ours.observe_since(deadline, [*values[1:], -0.001])  # early (-1 ms) counts as 0
    ours.observe_many(0.07, 3)
    ours_scraped, expected_scraped = exposition(loop_registry), exposition(reference_registry)
    total = "lateness_seconds_sum{}"
    assert ours_scraped.pop(total) == pytest.approx(expected_scraped.pop(total), rel=1e-12)
    assert ours_scraped == expected_scraped and len(ours_scraped) == len(PLAYBACK_LATENESS_BUCKETS) + 2


async def test_frames_skipped_by_a_rebase_count_for_every_player():
    from tests.gateway.test_playback import START, SteppedClock

    async with SteppedClock(resync_ms=60) as stepped:
        stepped.player()
        stepped.player()
        skipped_before = metrics.SKIPPED_FRAMES._value.get()
        await stepped.tick(1)
        stepped.time.stall(0.1)  # the +40 ms slot is served at +120 ms: 80 ms, 4 frames per player
        await stepped.time.advance(0)
        await stepped.time.advance_to(START + 0.14)
    assert stepped.clock.resyncs == 1 and stepped.clock.skipped_frames == 8
    assert metrics.SKIPPED_FRAMES._value.get() == skipped_before + 8
    assert sorted(stepped.lateness).count(pytest.approx(0.08)) == 8
    assert len(stepped.lateness) == 2 * 3 + 8  # 3 sent per player (+20, +120, +140) and 8 skipped


def test_the_native_rms_gives_the_same_float_as_numpys():
    media = pytest.importorskip("porteiro_gateway._media", reason="native media edge not built")
    from porteiro_gateway.endpointing import rms_numpy

    frames = np.random.default_rng(7).integers(-32768, 32768, size=(2000, 160), dtype=np.int16)
    extremes = [np.full(160, -32768, np.int16), np.full(160, 32767, np.int16), np.zeros(160, np.int16)]
    for samples in [*frames, *extremes]:
        frame = samples.astype("<i2").tobytes()
        assert media.rms(frame) == rms_numpy(frame)
    assert media.rms(b"") == rms_numpy(b"") == 0.0


def test_rms_is_exact_and_decides_as_the_float_version_on_speech():
    pcm = spoken("eu vim entregar uma encomenda") + silence(0.2)
    for start in range(0, len(pcm) - 320, 320):
        frame = pcm[start : start + 320]
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        exact = float(np.sqrt(np.mean(samples * samples)))
        assert rms(frame) == pytest.approx(exact, rel=1e-12)
        old = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        assert (rms(frame) >= 300) == (float(np.sqrt(np.mean(old * old))) >= 300)
    assert rms(b"") == 0.0
    loud = np.full(160, -32768, dtype="<i2").tobytes()  # int16 squares overflow int32, not int64
    assert rms(loud) == 32768.0


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_the_direct_vad_call_classifies_as_webrtcvad_does(frame_ms):
    pcm = (
        silence(0.5) + spoken("eu vim entregar uma encomenda para o apartamento cento e dois") + silence(0.8)
    )
    config = EndpointingConfig(frame_ms=frame_ms)
    endpointer, vad = Endpointer(8000, config), webrtcvad.Vad(config.aggressiveness)
    size = 8000 * frame_ms // 1000 * 2
    ours, theirs = [], []
    for start in range(0, len(pcm) - size + 1, size):
        frame = pcm[start : start + size]
        endpointer.feed(frame)
        ours.append(endpointer.voiced_run_ms > 0)
        theirs.append(vad.is_speech(frame, 8000))
    assert ours == theirs and any(theirs) and not all(theirs)
