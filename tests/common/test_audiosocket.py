"""The AudioSocket codec: kinds, rates, the encoder and the incremental parser."""

from __future__ import annotations

import asyncio
import struct
import uuid

import pytest

from porteiro_common.audiosocket import (
    AUDIO_RATES,
    HANGUP_FRAME,
    Frame,
    FrameParser,
    Kind,
    ProtocolError,
    check_frame,
    encode,
    encode_audio,
    encode_dtmf,
    encode_uuid,
    read_frame,
)


def raw(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


SESSION = uuid.UUID("0af76519-16cd-43dd-8448-eb211c80319c")
EVERY_KIND = [
    (Kind.HANGUP, b""),
    (Kind.UUID, SESSION.bytes),
    (Kind.DTMF, b"5"),
    (Kind.ERROR, b"\x02"),
    *[
        (kind, bytes(range(256))[: 2 * (rate // 50) % 256] or b"\x00\x00")
        for kind, rate in AUDIO_RATES.items()
    ],
]


@pytest.mark.parametrize(
    ("kind", "payload"), EVERY_KIND, ids=lambda v: f"{v:#04x}" if isinstance(v, int) else ""
)
def test_every_kind_round_trips(kind, payload):
    frames = FrameParser().feed(encode(kind, payload))
    assert frames == [Frame(kind, payload)]
    check_frame(frames[0])


def test_audio_kinds_imply_their_rate():
    assert Frame(0x10, b"").sample_rate == 8000
    assert Frame(0x12, b"").sample_rate == 16000
    assert Frame(0x18, b"").sample_rate == 192000
    assert encode_audio(b"\x01\x00", 16000)[0] == 0x12


def test_frames_of_any_size_are_accepted():
    parser = FrameParser()
    sizes = [320, 480, 160, 2, 640]
    data = b"".join(raw(0x10, bytes(size)) for size in sizes)
    assert [len(f.payload) for f in parser.feed(data)] == sizes


def test_split_reads_byte_by_byte_give_the_same_frames():
    stream = raw(0x01, SESSION.bytes) + raw(0x10, bytes(range(200)) * 2) + raw(0x03, b"#") + HANGUP_FRAME
    parser = FrameParser()
    frames = []
    for byte in stream:
        frames += parser.feed(bytes([byte]))
    assert [f.kind for f in frames] == [0x01, 0x10, 0x03, 0x00]
    assert frames[1].payload == bytes(range(200)) * 2
    assert parser.pending_bytes == 0


def test_merged_reads_with_a_partial_tail_keep_the_tail():
    stream = raw(0x10, b"\x01\x02" * 160) * 3 + raw(0x10, b"\x03\x04" * 160)
    parser = FrameParser()
    first = parser.feed(stream[:-100])
    assert len(first) == 3
    assert parser.pending_bytes == 3 + 320 - 100
    rest = parser.feed(stream[-100:])
    assert rest == [Frame(0x10, b"\x03\x04" * 160)]


def test_header_split_across_reads():
    parser = FrameParser()
    assert parser.feed(b"\x10") == []
    assert parser.feed(b"\x00") == []
    assert parser.feed(b"\x02\xaa") == []
    assert parser.feed(b"\xbb") == [Frame(0x10, b"\xaa\xbb")]


def test_oversized_length_is_refused_before_buffering():
    parser = FrameParser(max_payload=1000)
    with pytest.raises(ProtocolError) as caught:
        parser.feed(b"\x10\xff\xff")
    assert caught.value.code == "oversized"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (Frame(0x42, b""), "unknown_kind"),
        (Frame(0x01, b"short"), "bad_uuid"),
        (Frame(0x03, b"x"), "bad_dtmf"),
        (Frame(0x03, b"12"), "bad_dtmf"),
        (Frame(0x10, b"\x00\x00\x00"), "odd_audio"),
    ],
)
def test_invalid_frames_are_named(frame, code):
    with pytest.raises(ProtocolError) as caught:
        check_frame(frame)
    assert caught.value.code == code


def test_hangup_frame_is_three_bytes():
    assert HANGUP_FRAME == b"\x00\x00\x00"


def test_uuid_and_dtmf_encoders_write_what_the_parser_checks():
    frames = FrameParser().feed(encode_uuid(str(SESSION)) + encode_dtmf("#"))
    assert frames == [Frame(Kind.UUID, SESSION.bytes), Frame(Kind.DTMF, b"#")]
    for frame in frames:
        check_frame(frame)


@pytest.mark.parametrize("key", ["", "12", "x", "E"])
def test_a_non_dtmf_key_is_refused(key):
    with pytest.raises(ValueError):
        encode_dtmf(key)


async def read_all(data: bytes, **limits) -> list[Frame | None]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames: list[Frame | None] = []
    while (frame := await read_frame(reader, **limits)) is not None:
        frames.append(frame)
    return frames


async def test_read_frame_reads_a_stream_until_eof():
    stream = encode_uuid(str(SESSION)) + encode_audio(b"\x01\x02" * 160) + HANGUP_FRAME
    assert await read_all(stream) == [
        Frame(0x01, SESSION.bytes),
        Frame(0x10, b"\x01\x02" * 160),
        Frame(0x00, b""),
    ]


async def test_read_frame_treats_a_cut_mid_frame_as_eof():
    stream = encode_audio(bytes(320)) + encode_audio(bytes(320))[:100]
    assert await read_all(stream) == [Frame(0x10, bytes(320))]


async def test_read_frame_accepts_any_length_unless_capped():
    big = encode_audio(bytes(20000))
    assert await read_all(big) == [Frame(0x10, bytes(20000))]
    with pytest.raises(ProtocolError) as caught:
        await read_all(big, max_payload=8192)
    assert caught.value.code == "oversized"
