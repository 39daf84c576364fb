"""A scripted speech service for deterministic end-to-end tests (the one fake boundary).

It is a real `SpeechService` gRPC servicer:
- `Synthesize` speaks with the local espeak-ng (deterministic), so the simulators
  can identify every sentence the system said from the audio alone;
- `Transcribe` returns the scripted text of the caller line whose audio it
  received: each line the simulators may say is registered with its exact
  espeak-ng audio, and an utterance is recognised by finding that audio in it.
  Anything else (noise, half a sentence) is "" — as a real recogniser would return
  for nothing understood.
"""

from __future__ import annotations

import asyncio
import time

import grpc

from porteiro.speech.v1 import speech_pb2, speech_pb2_grpc
from porteiro_common.server import ServiceApp, build_server
from porteiro_common.settings import ServiceSettings
from porteiro_sim.sentences import PromptKeys, Sentence, SentenceMatcher
from porteiro_sim.speech import EspeakVoice

SERVICE = "porteiro.speech.v1.SpeechService"
CHUNK_BYTES = 1600  # 100 ms at 8 kHz


class ScriptedSpeech(speech_pb2_grpc.SpeechServiceServicer):
    def __init__(self, voice: EspeakVoice) -> None:
        self.voice = voice
        self.lines = SentenceMatcher()
        self.synthesized: list[str] = []
        self.transcripts: list[str] = []
        self.hints_seen: list[list[str]] = []
        # The simulators' matcher, taught every sentence synthesized, so they identify them all.
        self.listeners: list[SentenceMatcher] = []
        self._keys = PromptKeys()

    async def register_lines(self, texts: list[str]) -> None:
        for text in texts:
            if text and not text.startswith("#"):
                self.lines.add(Sentence("line", text), await self.voice.speak(text))

    async def Transcribe(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        config = None
        audio = bytearray()
        async for request in request_iterator:
            if request.HasField("config"):
                config = request.config
            else:
                audio.extend(request.audio)
        if config is None or not audio:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "config first, then audio")
        started = time.monotonic()
        self.hints_seen.append(list(config.hints))
        # A whole line first; else the start of one (the recogniser got a clipped utterance).
        found = self.lines.identify(bytes(audio)) or self.lines.identify(bytes(audio), beginnings_only=True)
        text = max((sentence.text for sentence in found), key=len, default="")
        self.transcripts.append(text)
        return speech_pb2.TranscribeResponse(
            text=text,
            audio_duration_seconds=len(audio) / 2 / 8000,
            processing_seconds=time.monotonic() - started,
            backend="scripted",
            language="pt-BR",
        )

    async def Synthesize(self, request, context):  # noqa: N802
        if not request.text.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty text")
        self.synthesized.append(request.text)
        pcm = await self.voice.speak(request.text)
        for matcher in self.listeners:
            matcher.add(Sentence(self._keys.key_of(request.text), request.text), pcm)
        for start in range(0, len(pcm), CHUNK_BYTES):
            yield speech_pb2.SynthesizeResponse(audio=pcm[start : start + CHUNK_BYTES], sample_rate_hz=8000)


class _App(ServiceApp):
    service_names = (SERVICE,)

    def __init__(self, servicer: ScriptedSpeech) -> None:
        super().__init__(ServiceSettings())
        self.servicer = servicer

    def register(self, server: grpc.aio.Server) -> None:
        speech_pb2_grpc.add_SpeechServiceServicer_to_server(self.servicer, server)


class FakeSpeechServer:
    """Runs ScriptedSpeech on a loopback port in the test's event loop."""

    def __init__(self, voice: EspeakVoice) -> None:
        self.servicer = ScriptedSpeech(voice)
        self._bound = build_server(_App(self.servicer), "127.0.0.1", 0)
        self.port = self._bound.port

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self._bound.server.start()
        await self._bound.health.set_serving(True)

    async def stop(self) -> None:
        """Stop at once: in-flight calls fail, new ones find the port closed."""
        await self._bound.server.stop(0)
        await asyncio.sleep(0)
