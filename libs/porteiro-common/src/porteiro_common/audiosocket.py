"""The AudioSocket protocol: frame kinds, their sample rates, the encoder and an incremental parser.

A frame is kind (1 byte) + payload length (2 bytes, big-endian) + payload.
TCP delivers bytes, not frames: one read may hold half a frame or several,
so `FrameParser.feed` buffers and returns every complete frame.

The gateway (server side), the simulators and the tests (Asterisk's side)
all speak it through this module; the network handling stays with each of them.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct(">BH")


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO_8K = 0x10
    AUDIO_12K = 0x11
    AUDIO_16K = 0x12
    AUDIO_24K = 0x13
    AUDIO_32K = 0x14
    AUDIO_44K = 0x15
    AUDIO_48K = 0x16
    AUDIO_96K = 0x17
    AUDIO_192K = 0x18
    ERROR = 0xFF


AUDIO_RATES: dict[int, int] = {
    Kind.AUDIO_8K: 8000,
    Kind.AUDIO_12K: 12000,
    Kind.AUDIO_16K: 16000,
    Kind.AUDIO_24K: 24000,
    Kind.AUDIO_32K: 32000,
    Kind.AUDIO_44K: 44100,
    Kind.AUDIO_48K: 48000,
    Kind.AUDIO_96K: 96000,
    Kind.AUDIO_192K: 192000,
}
KIND_FOR_RATE = {rate: kind for kind, rate in AUDIO_RATES.items()}
KNOWN_KINDS = frozenset(int(kind) for kind in Kind)
DTMF_KEYS = frozenset("0123456789*#ABCD")
DEFAULT_MAX_PAYLOAD = 8192
MAX_LENGTH = 0xFFFF  # the most a 2-byte length can declare

# What Asterisk's AudioSocket() sends: 20 ms frames of 8 kHz slin (signed 16-bit LE mono).
SLIN_RATE = 8000
FRAME_SECONDS = 0.020


def frame_bytes(sample_rate: int, milliseconds: int) -> int:
    """Bytes of slin audio for a duration (2 bytes per sample)."""
    return sample_rate * milliseconds // 1000 * 2


FRAME_BYTES = frame_bytes(SLIN_RATE, 20)  # 320
SILENCE_FRAME = bytes(FRAME_BYTES)


class ProtocolError(Exception):
    """The peer broke the protocol; `code` is a short label for metrics."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    payload: bytes

    @property
    def is_audio(self) -> bool:
        return self.kind in AUDIO_RATES

    @property
    def sample_rate(self) -> int:
        return AUDIO_RATES[self.kind]


class FrameParser:
    """Turns a byte stream into frames; raises ProtocolError on an oversized length."""

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buffer = bytearray()

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        start = 0
        size = len(buffer)
        while size - start >= 3:
            kind, length = HEADER.unpack_from(buffer, start)
            if length > self.max_payload:
                raise ProtocolError("oversized", f"frame kind 0x{kind:02x} declares {length} bytes")
            end = start + 3 + length
            if end > size:
                break
            frames.append(Frame(kind, bytes(buffer[start + 3 : end])))
            start = end
        if start:
            del buffer[:start]
        return frames


def check_frame(frame: Frame) -> None:
    """Raise ProtocolError when a frame's kind or payload is invalid."""
    kind, payload = frame.kind, frame.payload
    if kind not in KNOWN_KINDS:
        raise ProtocolError("unknown_kind", f"unknown frame kind 0x{kind:02x}")
    if kind == Kind.UUID and len(payload) != 16:
        raise ProtocolError("bad_uuid", f"UUID frame with {len(payload)} bytes")
    if kind == Kind.DTMF and (len(payload) != 1 or chr(payload[0]) not in DTMF_KEYS):
        raise ProtocolError("bad_dtmf", f"DTMF frame {payload[:4]!r}")
    if kind in AUDIO_RATES and len(payload) % 2:
        raise ProtocolError("odd_audio", f"audio frame with odd length {len(payload)}")


def encode(kind: int, payload: bytes = b"") -> bytes:
    """One whole frame, ready for a single write."""
    return HEADER.pack(kind, len(payload)) + payload


def encode_audio(pcm: bytes, sample_rate: int = SLIN_RATE) -> bytes:
    return encode(KIND_FOR_RATE[sample_rate], pcm)


def encode_uuid(session_id: str) -> bytes:
    """The first frame of a call: the session's UUID as 16 raw bytes."""
    return encode(Kind.UUID, uuid.UUID(session_id).bytes)


def encode_dtmf(key: str) -> bytes:
    if len(key) != 1 or key not in DTMF_KEYS:
        raise ValueError(f"not a DTMF key: {key!r}")
    return encode(Kind.DTMF, key.encode("ascii"))


HANGUP_FRAME = encode(Kind.HANGUP)


async def read_frame(reader: asyncio.StreamReader, max_payload: int = MAX_LENGTH) -> Frame | None:
    """The next frame from a stream, or None at EOF (a clean close or a cut mid-frame).

    Raises ProtocolError when the declared length is over `max_payload` (no cap by default).
    """
    try:
        kind, length = HEADER.unpack(await reader.readexactly(3))
        if length > max_payload:
            raise ProtocolError("oversized", f"frame kind 0x{kind:02x} declares {length} bytes")
        payload = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return Frame(kind, payload)
