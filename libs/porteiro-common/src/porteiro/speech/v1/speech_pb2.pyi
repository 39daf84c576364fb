from porteiro.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TranscriptionConfig(_message.Message):
    __slots__ = ("sample_rate_hz", "language", "hints", "session_id", "candidate_phrases")
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_PHRASES_FIELD_NUMBER: _ClassVar[int]
    sample_rate_hz: int
    language: str
    hints: _containers.RepeatedScalarFieldContainer[str]
    session_id: str
    candidate_phrases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sample_rate_hz: _Optional[int] = ..., language: _Optional[str] = ..., hints: _Optional[_Iterable[str]] = ..., session_id: _Optional[str] = ..., candidate_phrases: _Optional[_Iterable[str]] = ...) -> None: ...

class TranscribeRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: TranscriptionConfig
    audio: bytes
    def __init__(self, config: _Optional[_Union[TranscriptionConfig, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class TranscribeResponse(_message.Message):
    __slots__ = ("text", "confidence", "audio_duration_seconds", "processing_seconds", "backend", "language", "phrase_scores")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PHRASE_SCORES_FIELD_NUMBER: _ClassVar[int]
    text: str
    confidence: float
    audio_duration_seconds: float
    processing_seconds: float
    backend: str
    language: str
    phrase_scores: _containers.RepeatedCompositeFieldContainer[_common_pb2.PhraseScore]
    def __init__(self, text: _Optional[str] = ..., confidence: _Optional[float] = ..., audio_duration_seconds: _Optional[float] = ..., processing_seconds: _Optional[float] = ..., backend: _Optional[str] = ..., language: _Optional[str] = ..., phrase_scores: _Optional[_Iterable[_Union[_common_pb2.PhraseScore, _Mapping]]] = ...) -> None: ...

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "voice", "sample_rate_hz")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    sample_rate_hz: int
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ("audio", "sample_rate_hz", "cached")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    sample_rate_hz: int
    cached: bool
    def __init__(self, audio: _Optional[bytes] = ..., sample_rate_hz: _Optional[int] = ..., cached: _Optional[bool] = ...) -> None: ...
