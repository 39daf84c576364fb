"""The SpeechService gRPC servicer: validation, overload, errors, metrics and spans.

Backends do the speech work; everything a client can get wrong, and every
mapping to a gRPC status, is decided here:

- INVALID_ARGUMENT: no config first, config twice, unsupported rate, language
  or voice not in the accepted lists, malformed session id, a message with
  neither config nor audio, odd or oversized audio chunk, no audio, utterance
  too long, empty or too long text. Messages name the field and the accepted
  values or limit; an offending value is quoted at most 40 characters long;
- RESOURCE_EXHAUSTED: no worker freed up within the queue time, or the queue already
  holds its maximum depth (see limiter.py); DEADLINE_EXCEEDED when the request's own
  (shorter) deadline ended its wait;
- UNAVAILABLE: the backend failed (the reason is in the message).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import grpc
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from porteiro.common.v1 import common_pb2
from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.ids import canonical_session_id
from porteiro_common.redaction import Redactor
from porteiro_common.stages import stage_span
from porteiro_speech import metrics
from porteiro_speech.audio import SUPPORTED_RATES, chunk_bytes, duration_seconds, split
from porteiro_speech.backends import BackendError, Backends, RecognitionConfig, RecognitionSession
from porteiro_speech.cache import SynthesisCache, SynthesisKey
from porteiro_speech.limiter import DeadlinePassed, Overloaded, WorkQueue
from porteiro_speech.settings import SpeechSettings
from porteiro_speech.spans import streaming_stage_span

log = logging.getLogger(__name__)

MAX_HINTS = 500
MAX_HINT_CHARS = 100
MAX_QUOTED_CHARS = 40


class InvalidRequest(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sample_rate(requested: int) -> int:
    rate = requested or 8000
    if rate not in SUPPORTED_RATES:
        raise InvalidRequest("rate", f"unsupported sample rate {requested} Hz (accepted: 8000, 16000)")
    return rate


def quoted(value: str) -> str:
    """`value` for an error message, cut short: a megabyte of garbage is not echoed back."""
    return repr(value if len(value) <= MAX_QUOTED_CHARS else value[:MAX_QUOTED_CHARS] + "...")


def one_of(field: str, requested: str, accepted: tuple[str, ...], where: str) -> str:
    """The accepted spelling of `requested` (case-insensitive), or InvalidRequest listing the choices."""
    for candidate in accepted:
        if candidate.casefold() == requested.casefold():
            return candidate
    choices = ", ".join(dict.fromkeys(accepted))
    raise InvalidRequest(
        f"unknown_{field.rsplit('.', 1)[-1]}",
        f"{field} {quoted(requested)} is not supported (supported: {choices}; {where})",
    )


def session_id_or_empty(value: str) -> str:
    if not value:
        return ""
    try:
        return canonical_session_id(value)
    except ValueError as error:
        raise InvalidRequest("session_id", f"config.session_id: {error}") from None


def overload_status(error: Overloaded) -> grpc.StatusCode:
    """DEADLINE_EXCEEDED when the client's own deadline ended the wait, else RESOURCE_EXHAUSTED."""
    return (
        grpc.StatusCode.DEADLINE_EXCEEDED
        if isinstance(error, DeadlinePassed)
        else grpc.StatusCode.RESOURCE_EXHAUSTED
    )


def clean_hints(hints: list[str]) -> tuple[str, ...]:
    cleaned = (" ".join(hint.split())[:MAX_HINT_CHARS] for hint in hints[:MAX_HINTS])
    return tuple(hint for hint in cleaned if hint)


class SpeechServicer(speech_pb2_grpc.SpeechServiceServicer):
    def __init__(
        self,
        backends: Backends,
        settings: SpeechSettings,
        redact: Redactor,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.backends = backends
        self.tracer = tracer or trace.get_tracer("porteiro.speech")
        self.settings = settings
        self.redact = redact
        self.cache = SynthesisCache(settings.cache_entries)
        self.recognition_queue = WorkQueue(
            "recognition",
            settings.stt_workers,
            settings.stt_queue_seconds,
            settings.stt_queue_depth,
            "PORTEIRO_SPEECH_STT",
        )
        self.synthesis_queue = WorkQueue(
            "synthesis",
            settings.tts_workers,
            settings.tts_queue_seconds,
            settings.tts_queue_depth,
            "PORTEIRO_SPEECH_TTS",
        )

    # ---- Transcribe -------------------------------------------------------------------

    async def Transcribe(
        self, request_iterator, context: grpc.aio.ServicerContext
    ) -> speech_pb2.TranscribeResponse:
        requests = aiter(request_iterator)
        backend = self.backends.recognizer.name
        try:
            first = await anext(requests, None)
            if first is None or not first.HasField("config"):
                raise InvalidRequest("no_config", "the first Transcribe message must carry config")
            config = self._recognition_config(first.config)
            attributes: dict[str, AttributeValue] = {
                "porteiro.session_id": session_id_or_empty(first.config.session_id),
                "backend": backend,
                "language": config.language,
                "sample_rate_hz": config.sample_rate_hz,
                "hints": len(config.hints),
                "candidate_phrases": len(config.candidate_phrases),
            }
            with stage_span(self.tracer, "TRANSCRIPTION", attributes) as span:
                response = await self._transcribe(requests, config, span, context)
                span.set_attribute("transcript", self.redact(response.text))
                if response.phrase_scores:
                    span.set_attribute("best_phrases", self.redact(best_phrases(response.phrase_scores)))
                return response
        except InvalidRequest as error:
            metrics.REJECTIONS.labels("transcribe", error.reason).inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except Overloaded as error:
            metrics.REJECTIONS.labels("transcribe", "overloaded").inc()
            await context.abort(overload_status(error), str(error))
        except BackendError as error:
            metrics.ERRORS.labels(backend, "transcribe").inc()
            log.warning("transcription failed", extra={"backend": backend, "reason": str(error)})
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{backend} recognition failed: {error}")
        raise AssertionError("unreachable: context.abort raises")  # tells the type checker so

    def _recognition_config(self, config: speech_pb2.TranscriptionConfig) -> RecognitionConfig:
        return RecognitionConfig(
            sample_rate_hz=sample_rate(config.sample_rate_hz),
            language=one_of(
                "config.language",
                config.language.strip() or self.settings.language,
                self.settings.accepted_languages,
                "PORTEIRO_SPEECH_LANGUAGES",
            ),
            hints=clean_hints(list(config.hints)),
            candidate_phrases=tuple(dict.fromkeys(clean_hints(list(config.candidate_phrases))))[
                : self.settings.max_candidate_phrases
            ],
        )

    async def _transcribe(
        self,
        requests: AsyncIterator[speech_pb2.TranscribeRequest],
        config: RecognitionConfig,
        span,
        context: grpc.aio.ServicerContext,
    ) -> speech_pb2.TranscribeResponse:
        recognizer = self.backends.recognizer
        session = await recognizer.open(config)
        finished = False
        try:
            received = await self._feed(session, requests, config.sample_rate_hz)
            began = time.perf_counter()
            # Queued FIFO behind the running recognitions, for at most the queue time or what is left
            # of the client's deadline (None when it set none).
            recognition = await self.recognition_queue.run(session.finish, context.time_remaining())
            finished = True
        finally:
            if not finished:
                await session.cancel()
        processing = time.perf_counter() - began
        audio_seconds = duration_seconds(received, config.sample_rate_hz)
        metrics.STT_PROCESSING_SECONDS.labels(recognizer.name).observe(processing)
        metrics.STT_REAL_TIME_FACTOR.labels(recognizer.name).observe(processing / audio_seconds)
        span.set_attribute("audio_bytes", received)
        span.set_attribute("audio_seconds", round(audio_seconds, 3))
        # The span also lasts while the audio streams in; this is the recognition alone.
        span.set_attribute("recognition_ms", round(processing * 1000.0, 3))
        if recognition.confidence is not None:
            span.set_attribute("confidence", round(recognition.confidence, 3))
        return speech_pb2.TranscribeResponse(
            text=recognition.text,
            confidence=recognition.confidence,
            audio_duration_seconds=audio_seconds,
            processing_seconds=processing,
            backend=recognizer.name,
            language=config.language,
            phrase_scores=[
                common_pb2.PhraseScore(phrase=phrase, score=score)
                for phrase, score in recognition.phrase_scores
            ],
        )

    async def _feed(
        self, session: RecognitionSession, requests: AsyncIterator[speech_pb2.TranscribeRequest], rate: int
    ) -> int:
        """Pass audio on as it arrives; return the byte count."""
        limit = int(self.settings.stt_max_audio_seconds * rate) * 2
        max_chunk = chunk_bytes(rate, self.settings.stt_max_chunk_ms)
        received = 0
        async for request in requests:
            carried = request.WhichOneof("request")
            if carried == "config":
                raise InvalidRequest("config_twice", "config is only allowed in the first Transcribe message")
            if carried is None:
                raise InvalidRequest("empty_message", "a Transcribe message after the first must carry audio")
            audio = request.audio
            if len(audio) % 2:
                raise InvalidRequest(
                    "odd_bytes", f"audio chunk of {len(audio)} bytes: slin needs an even count"
                )
            if len(audio) > max_chunk:
                raise InvalidRequest(
                    "chunk_too_long",
                    f"audio chunk of {len(audio)} bytes; the limit is {max_chunk} bytes "
                    f"({self.settings.stt_max_chunk_ms} ms at {rate} Hz, PORTEIRO_SPEECH_STT_MAX_CHUNK_MS)",
                )
            received += len(audio)
            if received > limit:
                raise InvalidRequest(
                    "too_long", f"utterance longer than {self.settings.stt_max_audio_seconds:g} s"
                )
            await session.feed(audio)
        if received == 0:
            raise InvalidRequest("no_audio", "no audio received")
        return received

    # ---- Synthesize ---------------------------------------------------------------------

    async def Synthesize(
        self, request: speech_pb2.SynthesizeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[speech_pb2.SynthesizeResponse]:
        # An async generator (not context.write): the OTel aio interceptor iterates streaming handlers.
        backend = self.backends.synthesizer.name
        try:
            key = self._synthesis_key(request)
            attributes: dict[str, AttributeValue] = {
                "backend": backend,
                "voice": key.voice,
                "sample_rate_hz": key.sample_rate_hz,
                "text": self.redact(key.text),
            }
            with streaming_stage_span(self.tracer, "SYNTHESIS", attributes) as span:
                sent, cached = 0, False
                async for response in self._synthesis_responses(key, context.time_remaining()):
                    sent += len(response.audio)
                    cached = response.cached
                    yield response
                span.set_attribute("audio_bytes", sent)
                span.set_attribute("cached", cached)
        except InvalidRequest as error:
            metrics.REJECTIONS.labels("synthesize", error.reason).inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except Overloaded as error:
            metrics.REJECTIONS.labels("synthesize", "overloaded").inc()
            await context.abort(overload_status(error), str(error))
        except BackendError as error:
            metrics.ERRORS.labels(backend, "synthesize").inc()
            log.warning("synthesis failed", extra={"backend": backend, "reason": str(error)})
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{backend} synthesis failed: {error}")

    def _synthesis_key(self, request: speech_pb2.SynthesizeRequest) -> SynthesisKey:
        text = " ".join(request.text.split())
        if not text:
            raise InvalidRequest("empty_text", "text is empty")
        if len(text) > self.settings.max_text_chars:
            raise InvalidRequest(
                "text_too_long", f"text has {len(text)} characters (limit {self.settings.max_text_chars})"
            )
        rate = sample_rate(request.sample_rate_hz)
        return SynthesisKey(text, self.voice(request.voice), rate)

    def voice(self, requested: str) -> str:
        """The voice to synthesize with: the default for "", else one of the accepted voices
        (InvalidRequest naming them). Also checks each condominium's voice (porteiro_speech.tenancy)."""
        requested = requested.strip()
        synthesizer = self.backends.synthesizer
        if not requested:
            return synthesizer.default_voice
        accepted = self.settings.accepted_voices(synthesizer.name, synthesizer.default_voice)
        where = f"{synthesizer.name}; PORTEIRO_SPEECH_{synthesizer.name.upper()}_VOICES"
        return one_of("voice", requested, accepted, where)

    async def _synthesis_responses(
        self, key: SynthesisKey, deadline_seconds: float | None
    ) -> AsyncIterator[speech_pb2.SynthesizeResponse]:
        """The cached sentence at once, or the backend's chunks as they come (then cached), once a
        synthesis worker is free (FIFO, for at most the queue time or `deadline_seconds`)."""
        began = time.perf_counter()
        backend = self.backends.synthesizer.name
        rate = key.sample_rate_hz
        cached_audio = self.cache.get(key)
        if cached_audio is not None:
            metrics.TTS_FIRST_CHUNK_SECONDS.labels(backend, "true").observe(time.perf_counter() - began)
            for piece in split(cached_audio, chunk_bytes(rate, self.settings.synthesis_cached_chunk_ms)):
                yield speech_pb2.SynthesizeResponse(audio=piece, sample_rate_hz=rate, cached=True)
            return
        pieces: list[bytes] = []
        async with self.synthesis_queue.slot(deadline_seconds):  # a client that leaves frees it
            async for piece in self.backends.synthesizer.synthesize(key.text, key.voice, rate):
                if not pieces:
                    metrics.TTS_FIRST_CHUNK_SECONDS.labels(backend, "false").observe(
                        time.perf_counter() - began
                    )
                pieces.append(piece)
                yield speech_pb2.SynthesizeResponse(audio=piece, sample_rate_hz=rate)
        audio = b"".join(pieces)
        if not audio:
            raise BackendError("the synthesizer produced no audio")
        self.cache.put(key, audio)

    async def synthesize_into_cache(self, text: str, voice: str = "") -> None:
        """Warm-up: synthesize `text` with `voice` (empty: the default voice) at 8 kHz into the cache."""
        key = SynthesisKey(" ".join(text.split()), self.voice(voice), 8000)
        if key in self.cache:
            return
        pieces = [piece async for piece in self.backends.synthesizer.synthesize(key.text, key.voice, 8000)]
        self.cache.put(key, b"".join(pieces))


# Phrases named on a TRANSCRIPTION span (residents' names: redacted unless personal data is on).
SPAN_PHRASES = 3


def best_phrases(scores) -> str:
    """ "Roberto 2.5; Lúcia 0.2": the best-scored candidate phrases, for a span."""
    return "; ".join(f"{item.phrase} {item.score:.1f}" for item in list(scores)[:SPAN_PHRASES])
