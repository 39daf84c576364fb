"""AudioSocket framing as Asterisk speaks it: kind (1 byte), length (2 bytes BE), payload."""

from __future__ import annotations

import asyncio
import struct
import uuid
from dataclasses import dataclass

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
KIND_ERROR = 0xFF
# 0x11-0x18: slin at higher rates.
SLIN_RATES = {0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000,
              0x15: 44100, 0x16: 48000, 0x17: 96000, 0x18: 192000}

SAMPLE_RATE = 8000
FRAME_SECONDS = 0.020
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
SILENCE_FRAME = bytes(FRAME_BYTES)


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes


def encode(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def uuid_frame(session_id: str) -> bytes:
    return encode(KIND_UUID, uuid.UUID(session_id).bytes)


def dtmf_frame(digit: str) -> bytes:
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ValueError(f"not a DTMF key: {digit!r}")
    return encode(KIND_DTMF, digit.encode("ascii"))


def audio_frame(pcm: bytes) -> bytes:
    return encode(KIND_SLIN, pcm)


def hangup_frame() -> bytes:
    return encode(KIND_HANGUP)


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at EOF (a clean close or a cut mid-frame)."""
    try:
        header = await reader.readexactly(3)
        kind, length = struct.unpack(">BH", header)
        payload = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return Frame(kind, payload)
