"""espeak-ng synthesis: WAV on stdout, resampled to the requested rate with soxr.

espeak-ng writes 22.05 kHz WAV as it synthesizes, clause by clause, with a
"streaming" header (sizes unknown). `stream_espeak` runs it as an asyncio
subprocess, skips the header and yields resampled slin as soon as each piece
arrives. `synthesize_slin` is the blocking one-shot form other parts (the PBX
simulator, end-to-end tests) use to make test audio.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator

from porteiro_speech.audio import StreamResampler, split
from porteiro_speech.backends import BackendError
from porteiro_speech.telephone import TelephoneShaper

DEFAULT_VOICE = "pt-br"
DEFAULT_SPEED_WPM = 160
_READ_SIZE = 8192


def espeak_args(command: str, voice: str, speed_wpm: int, word_gap: int = 0) -> list[str]:
    # Text goes through stdin, never argv, so text starting with "-" is not an option.
    gap = ["-g", str(word_gap)] if word_gap else []  # extra pause between words, 10 ms units
    return [command, "-v", voice, "-s", str(speed_wpm), *gap, "--stdout"]


def clean_text(text: str) -> str:
    """One line of text: espeak-ng reads stdin line by line."""
    return " ".join(text.split())


class WavHeaderReader:
    """Finds the sample rate and the start of the PCM data in a streamed WAV."""

    def __init__(self) -> None:
        self._buffer = b""
        self.sample_rate_hz: int | None = None
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """Consume header bytes; return the PCM bytes found after the header."""
        self._buffer += data
        if len(self._buffer) < 12:
            return b""
        if self._buffer[:4] != b"RIFF" or self._buffer[8:12] != b"WAVE":
            raise BackendError("espeak-ng did not write a WAV stream")
        offset = 12
        while len(self._buffer) >= offset + 8:
            chunk_id = self._buffer[offset : offset + 4]
            (size,) = struct.unpack("<I", self._buffer[offset + 4 : offset + 8])
            if chunk_id == b"data":
                if self.sample_rate_hz is None:
                    raise BackendError("espeak-ng WAV stream has no fmt chunk")
                self.done = True
                return self._buffer[offset + 8 :]
            if len(self._buffer) < offset + 8 + size:
                return b""
            if chunk_id == b"fmt ":
                channels, rate, _, _, bits = struct.unpack("<HIIHH", self._buffer[offset + 10 : offset + 24])
                if channels != 1 or bits != 16:
                    raise BackendError(f"espeak-ng wrote {channels} channel(s) of {bits}-bit audio")
                self.sample_rate_hz = rate
            offset += 8 + size + (size % 2)
        return b""


async def stream_espeak(
    text: str,
    voice: str = DEFAULT_VOICE,
    sample_rate_hz: int = 8000,
    speed_wpm: int = DEFAULT_SPEED_WPM,
    chunk_bytes: int = 1600,
    command: str = "espeak-ng",
    word_gap: int = 0,
    telephone: bool = False,
) -> AsyncIterator[bytes]:
    """Yield slin at `sample_rate_hz` in chunks of at most `chunk_bytes`, as espeak-ng produces it.

    With `telephone`, espeak-ng's output is shaped for the phone line (telephone.py) before
    it is resampled.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *espeak_args(command, voice, speed_wpm, word_gap),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as error:
        raise BackendError(f"cannot run {command}: {error}") from error
    assert process.stdin and process.stdout and process.stderr
    try:
        process.stdin.write(clean_text(text).encode("utf-8") + b"\n")
        await process.stdin.drain()
        process.stdin.close()
        header = WavHeaderReader()
        resampler: StreamResampler | None = None
        shaper: TelephoneShaper | None = None
        produced = 0
        while data := await process.stdout.read(_READ_SIZE):
            if not header.done:
                data = header.feed(data)
                if not header.done:
                    continue
                assert header.sample_rate_hz is not None
                resampler = StreamResampler(header.sample_rate_hz, sample_rate_hz)
                shaper = TelephoneShaper(header.sample_rate_hz) if telephone else None
            assert resampler is not None
            if shaper is not None:
                data = shaper.push(data)
            for piece in split(resampler.push(data), chunk_bytes):
                produced += len(piece)
                yield piece
        errors = (await process.stderr.read()).decode("utf-8", "replace").strip()
        returncode = await process.wait()
        if returncode != 0:
            raise BackendError(f"espeak-ng exited {returncode}: {errors or 'no message'}")
        if resampler is not None:
            rest = shaper.push(b"", last=True) if shaper is not None else b""
            for piece in split(resampler.push(rest, last=True), chunk_bytes):
                produced += len(piece)
                yield piece
        if produced == 0:
            raise BackendError(f"espeak-ng produced no audio: {errors or 'no message'}")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def synthesize_slin(
    text: str,
    voice: str = DEFAULT_VOICE,
    rate_hz: int = 8000,
    speed: int = DEFAULT_SPEED_WPM,
    command: str = "espeak-ng",
    timeout: float = 30.0,
) -> bytes:
    """Blocking helper: the whole of `text` as slin at `rate_hz` (test audio for simulators)."""
    try:
        completed = subprocess.run(
            espeak_args(command, voice, speed),
            input=clean_text(text).encode("utf-8") + b"\n",
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BackendError(f"cannot run {command}: {error}") from error
    if completed.returncode != 0:
        raise BackendError(
            f"espeak-ng exited {completed.returncode}: {completed.stderr.decode(errors='replace')}"
        )
    header = WavHeaderReader()
    pcm = header.feed(completed.stdout)
    if not header.done or header.sample_rate_hz is None:
        raise BackendError("espeak-ng wrote no WAV data")
    resampler = StreamResampler(header.sample_rate_hz, rate_hz)
    return resampler.push(pcm, last=True)


class EspeakSynthesizer:
    """The offline `Synthesizer`: one espeak-ng process per sentence, at most a few at once."""

    name = "espeak"

    def __init__(
        self,
        command: str = "espeak-ng",
        default_voice: str = DEFAULT_VOICE,
        speed_wpm: int = DEFAULT_SPEED_WPM,
        chunk_ms: int = 100,
        max_processes: int = 4,
        word_gap: int = 0,
        telephone: bool = False,
    ) -> None:
        self.command = command
        self.default_voice = default_voice
        self.speed_wpm = speed_wpm
        self.chunk_ms = chunk_ms
        self.word_gap = word_gap
        self.telephone = telephone
        self._slots = asyncio.Semaphore(max_processes)

    async def start(self) -> None:
        if shutil.which(self.command) is None:
            raise BackendError(f"{self.command} not found (apt-get install espeak-ng)")

    async def synthesize(self, text: str, voice: str, sample_rate_hz: int) -> AsyncIterator[bytes]:
        chunk = max(2, sample_rate_hz * self.chunk_ms // 1000 * 2)
        async with self._slots:
            async for piece in stream_espeak(
                text,
                voice or self.default_voice,
                sample_rate_hz,
                self.speed_wpm,
                chunk,
                self.command,
                self.word_gap,
                self.telephone,
            ):
                yield piece

    async def close(self) -> None:
        return None
