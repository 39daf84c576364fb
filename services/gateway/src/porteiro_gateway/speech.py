"""Client side of the speech service: streaming synthesis and streaming recognition.

A leg sees speech through the `SpeechClient` and `Transcription` protocols;
`GrpcSpeechClient` is the real one (tests/gateway/harness.py has an in-process fake).

Busy is not broken (issue 15): every call waits for speech to be ready (a restart, a
reconnection) within its deadline, and an attempt that fails with UNAVAILABLE,
RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED is retried after a short backoff; the channel
balances per call (round_robin over a headless Service), so a retry goes to the next
replica. A recognition is retried with the whole utterance (kept until its transcript
arrives) for up to `recognition_timeout` after its audio is closed; a synthesis for up to
`outage_seconds` after its first failure, skipping the audio it already delivered.
Only then does the error reach the leg, which plays the fallback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

import grpc

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_gateway import metrics

PLAYBACK_RATE = 8000

# An attempt that failed with one of these is tried again (the next replica, or the same one
# once it is back); anything else (INVALID_ARGUMENT, ...) is the answer.
RETRYABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED}
)
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 1.0


def retryable(error: grpc.aio.AioRpcError) -> bool:
    return error.code() in RETRYABLE


def backoff(attempt: int) -> float:
    """The pause before retry number `attempt` (1, 2, ...): 0.1, 0.2, 0.4 ... 1 s."""
    return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class Transcription(Protocol):
    """One utterance streamed to recognition while the caller is still speaking."""

    audio: bytearray  # the audio sent so far (read only)

    @property
    def audio_bytes(self) -> int:
        """How much audio was sent so far."""
        ...

    def start(self, max_utterance_seconds: float) -> None: ...

    def send(self, pcm: bytes) -> None: ...

    def finish(self) -> None:
        """No more audio: the utterance ended."""
        ...

    async def result(self) -> speech_pb2.TranscribeResponse:
        """The transcript; raises grpc.aio.AioRpcError when recognition fails."""
        ...

    def cancel(self) -> None: ...


class SpeechClient(Protocol):
    def synthesize(self, text: str, voice: str = "") -> AsyncIterator[bytes]:
        """Audio chunks (slin 8 kHz) as they are produced; raises grpc.aio.AioRpcError or ValueError."""
        ...

    def transcription(self, config: speech_pb2.TranscriptionConfig) -> Transcription:
        """A Transcribe stream for one utterance (`transcription_config` builds the config)."""
        ...


def transcription_config(
    sample_rate: int,
    session_id: str,
    hints: Iterable[str] = (),
    language: str = "",
    candidate_phrases: Iterable[str] = (),
) -> speech_pb2.TranscriptionConfig:
    """The config of a Transcribe stream: the caller's rate, the call, the concierge's context."""
    return speech_pb2.TranscriptionConfig(
        sample_rate_hz=sample_rate,
        language=language,
        hints=list(hints),
        session_id=session_id,
        candidate_phrases=list(candidate_phrases),
    )


# Audio goes to speech in messages of TRANSCRIBE_CHUNK_MS (settings): one gRPC write per 20 ms
# frame costs many times the CPU for no gain in recognition latency (the rest is flushed at the
# end of speech, or at a pause for speculative recognition).
CHUNK_MS = 1000


class GrpcSpeechClient:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        rpc_timeout: float,
        recognition_timeout: float,
        outage_seconds: float = 10.0,
        transcribe_chunk_ms: int = CHUNK_MS,
    ) -> None:
        self._stub = speech_pb2_grpc.SpeechServiceStub(channel)
        self.rpc_timeout = rpc_timeout
        self.recognition_timeout = recognition_timeout
        self.outage_seconds = outage_seconds
        self.transcribe_chunk_ms = transcribe_chunk_ms

    async def synthesize(self, text: str, voice: str = "") -> AsyncIterator[bytes]:
        """Audio chunks (slin 8 kHz) as the service produces them.

        A failed attempt is retried until `outage_seconds` after the first failure; the retry
        skips the bytes already delivered (synthesis of the same text and voice is
        deterministic: every replica runs the same engine).
        """
        request = speech_pb2.SynthesizeRequest(text=text, voice=voice, sample_rate_hz=PLAYBACK_RATE)
        delivered = 0  # bytes already yielded, by earlier attempts too
        first_failure: float | None = None
        attempt = 0
        while True:
            timeout = self.rpc_timeout
            if first_failure is not None:
                timeout = min(timeout, max(0.1, first_failure + self.outage_seconds - time.monotonic()))
            call = self._stub.Synthesize(request, timeout=timeout, wait_for_ready=True)
            position = 0  # bytes of this attempt's audio seen so far
            try:
                async for response in call:
                    if response.sample_rate_hz not in (0, PLAYBACK_RATE):
                        raise ValueError(
                            f"speech answered {response.sample_rate_hz} Hz, asked {PLAYBACK_RATE}"
                        )
                    audio = response.audio
                    position += len(audio)
                    if position > delivered:
                        fresh = audio[len(audio) - (position - delivered) :]
                        delivered = position
                        yield fresh
                return
            except grpc.aio.AioRpcError as error:
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                attempt += 1
                if not retryable(error) or now + backoff(attempt) - first_failure >= self.outage_seconds:
                    raise
                metrics.SPEECH_RETRIES.labels("synthesize", error.code().name).inc()
            finally:
                call.cancel()
            await asyncio.sleep(backoff(attempt))

    async def synthesize_all(self, text: str) -> bytes:
        return b"".join([chunk async for chunk in self.synthesize(text)])

    def transcription(self, config: speech_pb2.TranscriptionConfig) -> Transcription:
        return GrpcTranscription(self._stub, config, self.recognition_timeout, self.transcribe_chunk_ms)


class _Attempt:
    """One Transcribe call: the config, then the utterance's audio in `chunk_ms` messages as it comes."""

    def __init__(
        self,
        stub: speech_pb2_grpc.SpeechServiceStub,
        config: speech_pb2.TranscriptionConfig,
        timeout: float,
        wait_for_ready: bool,
        chunk_ms: int = CHUNK_MS,
    ) -> None:
        self._config = config
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent = 0  # bytes of the utterance's audio queued as messages
        self.chunk_bytes = (config.sample_rate_hz or 8000) * 2 * chunk_ms // 1000
        self.call = stub.Transcribe(self._requests(), timeout=timeout, wait_for_ready=wait_for_ready)
        # However the call ends (deadline, failure, answer), end the request stream: gRPC's task
        # reading it would otherwise wait on the queue until garbage-collected ("Task was
        # destroyed but it is pending", then "aclose(): asynchronous generator is already
        # running"), seen under load when a failed attempt was dropped mid-utterance.
        self.call.add_done_callback(self._end_requests)

    def send_from(self, audio: bytearray) -> None:
        """Queue the whole messages of the utterance's `audio` not sent yet."""
        while len(audio) - self.sent >= self.chunk_bytes:
            self._chunks.put_nowait(bytes(audio[self.sent : self.sent + self.chunk_bytes]))
            self.sent += self.chunk_bytes

    def finish_from(self, audio: bytearray) -> None:
        """The utterance is over: the rest of its `audio`, then the end of the request stream."""
        self.send_from(audio)
        if len(audio) > self.sent:
            self._chunks.put_nowait(bytes(audio[self.sent :]))
            self.sent = len(audio)
        self._chunks.put_nowait(None)

    def cancel(self) -> None:
        self.call.cancel()
        # End the request stream too: when the call had already ended, cancel() leaves
        # gRPC's task that reads our requests waiting on the queue forever.
        self._chunks.put_nowait(None)

    def _end_requests(self, _call: object) -> None:
        self._chunks.put_nowait(None)

    async def _requests(self) -> AsyncIterator[speech_pb2.TranscribeRequest]:
        yield speech_pb2.TranscribeRequest(config=self._config)
        while (chunk := await self._chunks.get()) is not None:
            yield speech_pb2.TranscribeRequest(audio=chunk)


class GrpcTranscription:
    """One utterance streamed to Transcribe while the caller is still speaking.

    The utterance's audio is kept until its transcript arrives (one buffer: each attempt
    sends its messages from it): a failed attempt is retried with a new stream carrying
    all of it, until `recognition_timeout` after its result was first awaited (the audio
    is closed then).

    The first attempt, opened at speech onset, fails fast when speech is unreachable;
    the retries wait for it to be ready, with a deadline at the end of that time. (A
    cancelled stream-unary call that is still waiting for a connection keeps its tasks
    until its deadline when the OpenTelemetry client interceptor wraps it, so no call
    waits for readiness past the time it is needed.)
    """

    def __init__(
        self,
        stub: speech_pb2_grpc.SpeechServiceStub,
        config: speech_pb2.TranscriptionConfig,
        recognition_timeout: float,
        chunk_ms: int = CHUNK_MS,
    ) -> None:
        self._stub = stub
        self._config = config
        self._recognition_timeout = recognition_timeout
        self._chunk_ms = chunk_ms
        self._attempt: _Attempt | None = None
        self.audio = bytearray()  # the whole utterance, for a retry
        self._finished = False
        self._cancelled = False

    @property
    def audio_bytes(self) -> int:
        return len(self.audio)

    def start(self, max_utterance_seconds: float) -> None:
        timeout = max_utterance_seconds + self._recognition_timeout
        self._attempt = _Attempt(self._stub, self._config, timeout, False, self._chunk_ms)

    def send(self, pcm: bytes) -> None:
        """More of the utterance (the hot path while the caller speaks: an append and a test)."""
        self.audio += pcm
        attempt = self._attempt
        if attempt is not None and len(self.audio) - attempt.sent >= attempt.chunk_bytes:
            attempt.send_from(self.audio)

    def finish(self) -> None:
        self._finished = True
        if self._attempt is not None:
            self._attempt.finish_from(self.audio)

    async def result(self) -> speech_pb2.TranscribeResponse:
        """The transcript, retrying failed attempts for up to `recognition_timeout`."""
        assert self._attempt is not None, "start() first"
        give_up_at = time.monotonic() + self._recognition_timeout
        last: grpc.aio.AioRpcError | None = None
        attempt = 0
        try:
            # A backstop: the retries' own deadlines end them at give_up_at.
            async with asyncio.timeout(self._recognition_timeout + 1.0):
                while True:
                    try:
                        return await self._attempt.call
                    except grpc.aio.AioRpcError as error:
                        if not retryable(error) or self._cancelled:
                            raise
                        last, attempt = error, attempt + 1
                    remaining = give_up_at - time.monotonic() - backoff(attempt)
                    if remaining <= 0:
                        raise self._gave_up(last, attempt)
                    metrics.SPEECH_RETRIES.labels("transcribe", last.code().name).inc()
                    await asyncio.sleep(backoff(attempt))
                    self._retry(remaining)
        except TimeoutError:
            self._attempt.cancel()
            raise self._gave_up(last, attempt + 1) from None

    def _gave_up(self, last: grpc.aio.AioRpcError | None, attempts: int) -> grpc.aio.AioRpcError:
        """The one error the leg logs for the whole recognition: how long, how many attempts, why."""
        why = f"; last failure: {last.code().name}: {last.details()}" if last is not None else ""
        return rpc_error(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"no transcript within {self._recognition_timeout:g} s of the end of speech "
            f"({attempts} attempt{'s' if attempts > 1 else ''}){why}",
        )

    def _retry(self, timeout: float) -> None:
        """A new stream with the whole utterance (closed if the utterance is), which waits for
        speech to be ready (a restart, a reconnection) up to `timeout`."""
        assert self._attempt is not None
        self._attempt.cancel()
        self._attempt = _Attempt(self._stub, self._config, timeout, True, self._chunk_ms)
        if self._finished:
            self._attempt.finish_from(self.audio)
        else:
            self._attempt.send_from(self.audio)

    def cancel(self) -> None:
        self._cancelled = True
        if self._attempt is not None:
            self._attempt.cancel()
