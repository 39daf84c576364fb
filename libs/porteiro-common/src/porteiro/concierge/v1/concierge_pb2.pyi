from porteiro.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DropReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DROP_REASON_UNSPECIFIED: _ClassVar[DropReason]
    DROP_REASON_TOO_SHORT: _ClassVar[DropReason]
    DROP_REASON_EMPTY_TRANSCRIPT: _ClassVar[DropReason]
    DROP_REASON_REJECTED: _ClassVar[DropReason]

class LegEndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEG_END_REASON_UNSPECIFIED: _ClassVar[LegEndReason]
    LEG_END_REASON_CALLER_HANGUP: _ClassVar[LegEndReason]
    LEG_END_REASON_CONNECTION_ERROR: _ClassVar[LegEndReason]
    LEG_END_REASON_PROTOCOL_ERROR: _ClassVar[LegEndReason]
    LEG_END_REASON_MAX_DURATION: _ClassVar[LegEndReason]
    LEG_END_REASON_SHUTDOWN: _ClassVar[LegEndReason]
    LEG_END_REASON_HANGUP_REQUESTED: _ClassVar[LegEndReason]
    LEG_END_REASON_DEPENDENCY_FAILURE: _ClassVar[LegEndReason]

class ExpectedAnswer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPECTED_ANSWER_UNSPECIFIED: _ClassVar[ExpectedAnswer]
    EXPECTED_ANSWER_YES_NO: _ClassVar[ExpectedAnswer]
    EXPECTED_ANSWER_SHORT: _ClassVar[ExpectedAnswer]
    EXPECTED_ANSWER_DIGITS: _ClassVar[ExpectedAnswer]
    EXPECTED_ANSWER_OPEN: _ClassVar[ExpectedAnswer]
DROP_REASON_UNSPECIFIED: DropReason
DROP_REASON_TOO_SHORT: DropReason
DROP_REASON_EMPTY_TRANSCRIPT: DropReason
DROP_REASON_REJECTED: DropReason
LEG_END_REASON_UNSPECIFIED: LegEndReason
LEG_END_REASON_CALLER_HANGUP: LegEndReason
LEG_END_REASON_CONNECTION_ERROR: LegEndReason
LEG_END_REASON_PROTOCOL_ERROR: LegEndReason
LEG_END_REASON_MAX_DURATION: LegEndReason
LEG_END_REASON_SHUTDOWN: LegEndReason
LEG_END_REASON_HANGUP_REQUESTED: LegEndReason
LEG_END_REASON_DEPENDENCY_FAILURE: LegEndReason
EXPECTED_ANSWER_UNSPECIFIED: ExpectedAnswer
EXPECTED_ANSWER_YES_NO: ExpectedAnswer
EXPECTED_ANSWER_SHORT: ExpectedAnswer
EXPECTED_ANSWER_DIGITS: ExpectedAnswer
EXPECTED_ANSWER_OPEN: ExpectedAnswer

class LegEvent(_message.Message):
    __slots__ = ("leg_started", "utterance", "dtmf", "playback_finished", "barge_in", "leg_ended", "speech_started", "utterance_dropped")
    LEG_STARTED_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    DTMF_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_FINISHED_FIELD_NUMBER: _ClassVar[int]
    BARGE_IN_FIELD_NUMBER: _ClassVar[int]
    LEG_ENDED_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STARTED_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_DROPPED_FIELD_NUMBER: _ClassVar[int]
    leg_started: LegStarted
    utterance: Utterance
    dtmf: Dtmf
    playback_finished: PlaybackFinished
    barge_in: BargeIn
    leg_ended: LegEnded
    speech_started: SpeechStarted
    utterance_dropped: UtteranceDropped
    def __init__(self, leg_started: _Optional[_Union[LegStarted, _Mapping]] = ..., utterance: _Optional[_Union[Utterance, _Mapping]] = ..., dtmf: _Optional[_Union[Dtmf, _Mapping]] = ..., playback_finished: _Optional[_Union[PlaybackFinished, _Mapping]] = ..., barge_in: _Optional[_Union[BargeIn, _Mapping]] = ..., leg_ended: _Optional[_Union[LegEnded, _Mapping]] = ..., speech_started: _Optional[_Union[SpeechStarted, _Mapping]] = ..., utterance_dropped: _Optional[_Union[UtteranceDropped, _Mapping]] = ...) -> None: ...

class LegStarted(_message.Message):
    __slots__ = ("session_id", "leg", "sample_rate_hz", "condominium")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LEG_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    leg: _common_pb2.Leg
    sample_rate_hz: int
    condominium: str
    def __init__(self, session_id: _Optional[str] = ..., leg: _Optional[_Union[_common_pb2.Leg, str]] = ..., sample_rate_hz: _Optional[int] = ..., condominium: _Optional[str] = ...) -> None: ...

class SpeechStarted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Utterance(_message.Message):
    __slots__ = ("text", "confidence", "audio_seconds", "recognition_seconds", "phrase_scores")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RECOGNITION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PHRASE_SCORES_FIELD_NUMBER: _ClassVar[int]
    text: str
    confidence: float
    audio_seconds: float
    recognition_seconds: float
    phrase_scores: _containers.RepeatedCompositeFieldContainer[_common_pb2.PhraseScore]
    def __init__(self, text: _Optional[str] = ..., confidence: _Optional[float] = ..., audio_seconds: _Optional[float] = ..., recognition_seconds: _Optional[float] = ..., phrase_scores: _Optional[_Iterable[_Union[_common_pb2.PhraseScore, _Mapping]]] = ...) -> None: ...

class UtteranceDropped(_message.Message):
    __slots__ = ("reason", "duration_seconds", "interrupted")
    REASON_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    reason: DropReason
    duration_seconds: float
    interrupted: bool
    def __init__(self, reason: _Optional[_Union[DropReason, str]] = ..., duration_seconds: _Optional[float] = ..., interrupted: _Optional[bool] = ...) -> None: ...

class Dtmf(_message.Message):
    __slots__ = ("digit",)
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    digit: str
    def __init__(self, digit: _Optional[str] = ...) -> None: ...

class PlaybackFinished(_message.Message):
    __slots__ = ("say_id", "interrupted", "played_seconds")
    SAY_ID_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    PLAYED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    say_id: str
    interrupted: bool
    played_seconds: float
    def __init__(self, say_id: _Optional[str] = ..., interrupted: _Optional[bool] = ..., played_seconds: _Optional[float] = ...) -> None: ...

class BargeIn(_message.Message):
    __slots__ = ("say_id", "played_seconds")
    SAY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    say_id: str
    played_seconds: float
    def __init__(self, say_id: _Optional[str] = ..., played_seconds: _Optional[float] = ...) -> None: ...

class LegEnded(_message.Message):
    __slots__ = ("reason", "detail")
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    reason: LegEndReason
    detail: str
    def __init__(self, reason: _Optional[_Union[LegEndReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class LegAction(_message.Message):
    __slots__ = ("accepted", "say", "stop_playback", "hang_up", "recognition")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    SAY_FIELD_NUMBER: _ClassVar[int]
    STOP_PLAYBACK_FIELD_NUMBER: _ClassVar[int]
    HANG_UP_FIELD_NUMBER: _ClassVar[int]
    RECOGNITION_FIELD_NUMBER: _ClassVar[int]
    accepted: LegAccepted
    say: Say
    stop_playback: StopPlayback
    hang_up: HangUp
    recognition: RecognitionContext
    def __init__(self, accepted: _Optional[_Union[LegAccepted, _Mapping]] = ..., say: _Optional[_Union[Say, _Mapping]] = ..., stop_playback: _Optional[_Union[StopPlayback, _Mapping]] = ..., hang_up: _Optional[_Union[HangUp, _Mapping]] = ..., recognition: _Optional[_Union[RecognitionContext, _Mapping]] = ...) -> None: ...

class LegAccepted(_message.Message):
    __slots__ = ("traceparent",)
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    traceparent: str
    def __init__(self, traceparent: _Optional[str] = ...) -> None: ...

class Say(_message.Message):
    __slots__ = ("say_id", "text", "allow_barge_in", "voice")
    SAY_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ALLOW_BARGE_IN_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    say_id: str
    text: str
    allow_barge_in: bool
    voice: str
    def __init__(self, say_id: _Optional[str] = ..., text: _Optional[str] = ..., allow_barge_in: _Optional[bool] = ..., voice: _Optional[str] = ...) -> None: ...

class StopPlayback(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HangUp(_message.Message):
    __slots__ = ("after_playback",)
    AFTER_PLAYBACK_FIELD_NUMBER: _ClassVar[int]
    after_playback: bool
    def __init__(self, after_playback: _Optional[bool] = ...) -> None: ...

class RecognitionContext(_message.Message):
    __slots__ = ("hints", "language", "expected_answer", "candidate_phrases")
    HINTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ANSWER_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_PHRASES_FIELD_NUMBER: _ClassVar[int]
    hints: _containers.RepeatedScalarFieldContainer[str]
    language: str
    expected_answer: ExpectedAnswer
    candidate_phrases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hints: _Optional[_Iterable[str]] = ..., language: _Optional[str] = ..., expected_answer: _Optional[_Union[ExpectedAnswer, str]] = ..., candidate_phrases: _Optional[_Iterable[str]] = ...) -> None: ...
