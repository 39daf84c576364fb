"""Azure Speech backends (used when key and region are configured).

The SDK (`azure.cognitiveservices.speech`, the extra `porteiro-speech[azure]`) is
imported lazily, only when Azure is configured; tests hand in a fake module with
the same names instead.

Recognition: a push stream in the caller's format (8 or 16 kHz, 16-bit mono),
continuous recognition started when the utterance opens, so Azure works while
the caller is still speaking; a phrase list built from the hints; closing the
stream at the end makes Azure finish and stop the session.
Synthesis: a neural voice in a raw 8/16 kHz 16-bit mono output format (no
resampling); chunks are streamed from the `synthesizing` event as they arrive.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

from porteiro_speech.backends import BackendError, Recognition, RecognitionConfig

DEFAULT_VOICE = "pt-BR-AntonioNeural"
RAW_OUTPUT_FORMATS = {8000: "Raw8Khz16BitMonoPcm", 16000: "Raw16Khz16BitMonoPcm"}


SDK_MODULE = "azure.cognitiveservices.speech"


def load_sdk() -> ModuleType:
    try:
        return importlib.import_module(SDK_MODULE)
    except ImportError as error:
        raise BackendError(
            f"the Azure Speech SDK is not installed ({error}): pip install 'porteiro-speech[azure]'"
        ) from error


def best_confidence(result_json: str | None) -> float | None:
    """Confidence of the best hypothesis in Azure's detailed JSON result."""
    if not result_json:
        return None
    try:
        best = json.loads(result_json)["NBest"][0]
        return max(0.0, min(1.0, float(best["Confidence"])))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class AzureSession:
    """One utterance: audio is pushed to Azure as it arrives."""

    def __init__(
        self, sdk: Any, speech_config: Any, config: RecognitionConfig, timeout_seconds: float
    ) -> None:
        self._sdk = sdk
        self._timeout = timeout_seconds
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._lock = threading.Lock()
        self._texts: list[str] = []
        self._confidences: list[float] = []
        self._error: str | None = None
        stream_format = sdk.audio.AudioStreamFormat(
            samples_per_second=config.sample_rate_hz, bits_per_sample=16, channels=1
        )
        self._stream = sdk.audio.PushAudioInputStream(stream_format=stream_format)
        audio_config = sdk.audio.AudioConfig(stream=self._stream)
        self._recognizer = sdk.SpeechRecognizer(speech_config=speech_config, audio_config=audio_config)
        # Candidate phrases join the phrase list: Azure biases toward them but scores none.
        if config.hints or config.candidate_phrases:
            phrases = sdk.PhraseListGrammar.from_recognizer(self._recognizer)
            for hint in dict.fromkeys((*config.hints, *config.candidate_phrases)):
                phrases.addPhrase(hint)
        self._recognizer.recognized.connect(self._on_recognized)
        self._recognizer.canceled.connect(self._on_canceled)
        self._recognizer.session_stopped.connect(self._on_stopped)

    # SDK callbacks run on SDK threads.
    def _on_recognized(self, event: Any) -> None:
        result = event.result
        if result.reason != self._sdk.ResultReason.RecognizedSpeech or not result.text:
            return
        with self._lock:
            self._texts.append(result.text.strip())
            confidence = best_confidence(getattr(result, "json", None))
            if confidence is not None:
                self._confidences.append(confidence)

    def _on_canceled(self, event: Any) -> None:
        details = event.cancellation_details
        if details.reason == self._sdk.CancellationReason.Error:
            with self._lock:
                self._error = f"{details.error_details or 'recognition canceled'} ({details.reason})"
        self._loop.call_soon_threadsafe(self._stopped.set)

    def _on_stopped(self, event: Any) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set)

    async def begin(self) -> None:
        future = self._recognizer.start_continuous_recognition_async()
        await asyncio.wait_for(asyncio.to_thread(future.get), self._timeout)

    async def feed(self, audio: bytes) -> None:
        if audio:
            self._stream.write(audio)

    async def finish(self) -> Recognition:
        self._stream.close()
        try:
            await asyncio.wait_for(self._stopped.wait(), self._timeout)
        except TimeoutError as error:
            await self.cancel()
            raise BackendError(f"Azure did not finish recognition within {self._timeout:g} s") from error
        await asyncio.to_thread(self._recognizer.stop_continuous_recognition_async().get)
        with self._lock:
            if self._error:
                raise BackendError(f"Azure recognition failed: {self._error}")
            text = " ".join(part for part in self._texts if part)
            confidence = min(self._confidences) if self._confidences else None
        return Recognition(text=text, confidence=confidence)

    async def cancel(self) -> None:
        try:
            self._stream.close()
            await asyncio.to_thread(self._recognizer.stop_continuous_recognition_async().get)
        except Exception:  # abandoning: nothing useful to report
            pass


class _AzureBackend:
    """Key, region and the SDK module, loaded by `start` unless handed in (tests)."""

    name = "azure"

    def __init__(self, key: str, region: str, timeout_seconds: float, sdk: Any) -> None:
        self._key = key
        self._region = region
        self._timeout = timeout_seconds
        self._sdk = sdk

    async def start(self) -> None:
        if self._sdk is None:
            self._sdk = load_sdk()

    def _sdk_config(self) -> Any:
        return self._sdk.SpeechConfig(subscription=self._key, region=self._region)


class AzureRecognizer(_AzureBackend):
    def __init__(self, key: str, region: str, timeout_seconds: float = 10.0, sdk: Any = None) -> None:
        super().__init__(key, region, timeout_seconds, sdk)

    def speech_config(self, language: str) -> Any:
        config = self._sdk_config()
        config.speech_recognition_language = language
        config.output_format = self._sdk.OutputFormat.Detailed
        return config

    async def open(self, config: RecognitionConfig) -> AzureSession:
        if self._sdk is None:
            raise BackendError("Azure recognizer not started")
        try:
            session = AzureSession(self._sdk, self.speech_config(config.language), config, self._timeout)
            await session.begin()
        except BackendError:
            raise
        except Exception as error:
            raise BackendError(f"Azure recognition could not start: {error}") from error
        return session

    async def close(self) -> None:
        return None


_DONE = object()


class AzureSynthesizer(_AzureBackend):
    def __init__(
        self,
        key: str,
        region: str,
        default_voice: str = DEFAULT_VOICE,
        timeout_seconds: float = 10.0,
        sdk: Any = None,
    ) -> None:
        super().__init__(key, region, timeout_seconds, sdk)
        self.default_voice = default_voice

    def speech_config(self, voice: str, sample_rate_hz: int) -> Any:
        config = self._sdk_config()
        config.speech_synthesis_voice_name = voice
        output_format = getattr(self._sdk.SpeechSynthesisOutputFormat, RAW_OUTPUT_FORMATS[sample_rate_hz])
        config.set_speech_synthesis_output_format(output_format)
        return config

    async def synthesize(self, text: str, voice: str, sample_rate_hz: int) -> AsyncIterator[bytes]:
        if self._sdk is None:
            raise BackendError("Azure synthesizer not started")
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[object] = asyncio.Queue()
        synthesizer = self._sdk.SpeechSynthesizer(
            speech_config=self.speech_config(voice or self.default_voice, sample_rate_hz), audio_config=None
        )
        synthesizer.synthesizing.connect(
            lambda event: loop.call_soon_threadsafe(chunks.put_nowait, bytes(event.result.audio_data))
        )
        done = asyncio.ensure_future(asyncio.to_thread(synthesizer.speak_text_async(text).get))
        done.add_done_callback(lambda _: chunks.put_nowait(_DONE))
        carry = b""
        try:
            while (item := await asyncio.wait_for(chunks.get(), self._timeout)) is not _DONE:
                data = carry + item  # type: ignore[operator]
                usable = len(data) - len(data) % 2
                carry = data[usable:]
                if usable:
                    yield data[:usable]
            self._check(await done)
        except TimeoutError as error:
            raise BackendError(f"Azure synthesis stalled for {self._timeout:g} s") from error
        finally:
            if not done.done():
                done.cancel()
                synthesizer.stop_speaking_async()

    def _check(self, result: Any) -> None:
        if result.reason == self._sdk.ResultReason.SynthesizingAudioCompleted:
            return
        details = result.cancellation_details
        reason = getattr(details, "reason", result.reason)
        message = getattr(details, "error_details", "") or "synthesis canceled"
        raise BackendError(f"Azure synthesis failed: {message} ({reason})")

    async def close(self) -> None:
        return None
