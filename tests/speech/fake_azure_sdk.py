"""A stand-in for `azure.cognitiveservices.speech` at the SDK boundary (no key exists here).

It has the names the Azure backends use, records what they build, and plays a
scripted "cloud": recognition answers when the push stream closes, synthesis
emits `synthesizing` events from an SDK-like worker thread.
"""

from __future__ import annotations

import enum
import json
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace


class ResultReason(enum.Enum):
    RecognizedSpeech = 3
    NoMatch = 0
    Canceled = 1
    SynthesizingAudioCompleted = 10


class CancellationReason(enum.Enum):
    Error = 1
    EndOfStream = 2


class OutputFormat(enum.Enum):
    Simple = 0
    Detailed = 1


class SpeechSynthesisOutputFormat(enum.Enum):
    Raw8Khz16BitMonoPcm = 23
    Raw16Khz16BitMonoPcm = 7
    Riff24Khz16BitMonoPcm = 11


class EventSignal:
    def __init__(self) -> None:
        self.callbacks = []

    def connect(self, callback) -> None:
        self.callbacks.append(callback)

    def fire(self, event) -> None:
        for callback in self.callbacks:
            callback(event)


class ResultFuture:
    def __init__(self, work) -> None:
        self._result = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work) -> None:
        self._result = work()

    def get(self):
        self._thread.join(10)
        return self._result


class SpeechConfig:
    def __init__(self, subscription: str, region: str) -> None:
        self.subscription = subscription
        self.region = region
        self.speech_recognition_language = "en-US"
        self.output_format = OutputFormat.Simple
        self.speech_synthesis_voice_name = ""
        self.synthesis_output_format = None

    def set_speech_synthesis_output_format(self, output_format) -> None:
        self.synthesis_output_format = output_format


class AudioStreamFormat:
    def __init__(self, samples_per_second: int, bits_per_sample: int, channels: int) -> None:
        self.samples_per_second = samples_per_second
        self.bits_per_sample = bits_per_sample
        self.channels = channels


class PushAudioInputStream:
    def __init__(self, stream_format: AudioStreamFormat) -> None:
        self.stream_format = stream_format
        self.written = bytearray()
        self.writes_before_close = 0
        self.closed = threading.Event()

    def write(self, data: bytes) -> None:
        assert not self.closed.is_set(), "write after close"
        self.written += data
        self.writes_before_close += 1

    def close(self) -> None:
        self.closed.set()


class AudioConfig:
    def __init__(self, stream: PushAudioInputStream) -> None:
        self.stream = stream


@dataclass
class Cloud:
    """What the fake service answers."""

    phrases: list[tuple[str, float]] = field(default_factory=lambda: [("Sim, pode subir.", 0.93)])
    recognition_error: str | None = None
    synthesis_chunks: list[bytes] = field(default_factory=lambda: [b"\x01\x00" * 800, b"\x02\x00" * 800])
    synthesis_error: str | None = None


class SpeechRecognizer:
    def __init__(self, speech_config: SpeechConfig, audio_config: AudioConfig, sdk: FakeSpeechSdk) -> None:
        self.speech_config = speech_config
        self.audio_config = audio_config
        self.sdk = sdk
        self.phrases: list[str] = []
        self.recognized = EventSignal()
        self.canceled = EventSignal()
        self.session_stopped = EventSignal()
        self.started = False
        self.stopped = False

    def start_continuous_recognition_async(self) -> ResultFuture:
        self.started = True
        threading.Thread(target=self._serve, daemon=True).start()
        return ResultFuture(lambda: None)

    def stop_continuous_recognition_async(self) -> ResultFuture:
        self.stopped = True
        return ResultFuture(lambda: None)

    def _serve(self) -> None:
        self.audio_config.stream.closed.wait(30)
        cloud = self.sdk.cloud
        if cloud.recognition_error:
            details = SimpleNamespace(reason=CancellationReason.Error, error_details=cloud.recognition_error)
            self.canceled.fire(SimpleNamespace(cancellation_details=details))
        else:
            for text, confidence in cloud.phrases:
                detailed = {"DisplayText": text, "NBest": [{"Confidence": confidence, "Display": text}]}
                result = SimpleNamespace(
                    reason=ResultReason.RecognizedSpeech, text=text, json=json.dumps(detailed)
                )
                self.recognized.fire(SimpleNamespace(result=result))
            details = SimpleNamespace(reason=CancellationReason.EndOfStream, error_details="")
            self.canceled.fire(SimpleNamespace(cancellation_details=details))
        self.session_stopped.fire(SimpleNamespace(session_id="fake"))


class PhraseListGrammar:
    def __init__(self, recognizer: SpeechRecognizer) -> None:
        self._recognizer = recognizer

    @classmethod
    def from_recognizer(cls, recognizer: SpeechRecognizer) -> PhraseListGrammar:
        return cls(recognizer)

    def addPhrase(self, phrase: str) -> None:  # noqa: N802 - the SDK's name
        self._recognizer.phrases.append(phrase)


class SpeechSynthesizer:
    def __init__(self, speech_config: SpeechConfig, audio_config, sdk: FakeSpeechSdk) -> None:
        self.speech_config = speech_config
        self.audio_config = audio_config
        self.sdk = sdk
        self.synthesizing = EventSignal()
        self.texts: list[str] = []

    def speak_text_async(self, text: str) -> ResultFuture:
        self.texts.append(text)
        return ResultFuture(self._speak)

    def stop_speaking_async(self) -> ResultFuture:
        return ResultFuture(lambda: None)

    def _speak(self):
        cloud = self.sdk.cloud
        if cloud.synthesis_error:
            details = SimpleNamespace(reason=CancellationReason.Error, error_details=cloud.synthesis_error)
            return SimpleNamespace(reason=ResultReason.Canceled, cancellation_details=details)
        for chunk in cloud.synthesis_chunks:
            self.synthesizing.fire(SimpleNamespace(result=SimpleNamespace(audio_data=chunk)))
        return SimpleNamespace(reason=ResultReason.SynthesizingAudioCompleted, cancellation_details=None)


class FakeSpeechSdk:
    """Module-like object: `sdk.SpeechConfig(...)`, `sdk.audio.PushAudioInputStream(...)`..."""

    ResultReason = ResultReason
    CancellationReason = CancellationReason
    OutputFormat = OutputFormat
    SpeechSynthesisOutputFormat = SpeechSynthesisOutputFormat
    PhraseListGrammar = PhraseListGrammar

    def __init__(self, cloud: Cloud | None = None) -> None:
        self.cloud = cloud or Cloud()
        self.configs: list[SpeechConfig] = []
        self.recognizers: list[SpeechRecognizer] = []
        self.synthesizers: list[SpeechSynthesizer] = []
        self.audio = SimpleNamespace(
            AudioStreamFormat=AudioStreamFormat,
            PushAudioInputStream=PushAudioInputStream,
            AudioConfig=AudioConfig,
        )

    def SpeechConfig(self, subscription: str, region: str) -> SpeechConfig:  # noqa: N802 - the SDK's name
        config = SpeechConfig(subscription, region)
        self.configs.append(config)
        return config

    def SpeechRecognizer(self, speech_config, audio_config) -> SpeechRecognizer:  # noqa: N802
        recognizer = SpeechRecognizer(speech_config, audio_config, self)
        self.recognizers.append(recognizer)
        return recognizer

    def SpeechSynthesizer(self, speech_config, audio_config) -> SpeechSynthesizer:  # noqa: N802
        synthesizer = SpeechSynthesizer(speech_config, audio_config, self)
        self.synthesizers.append(synthesizer)
        return synthesizer
