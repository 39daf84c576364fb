import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from porteiro.common.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CallContext(_message.Message):
    __slots__ = ("intent", "apartment", "note")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    APARTMENT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    intent: _common_pb2.Intent
    apartment: str
    note: str
    def __init__(self, intent: _Optional[_Union[_common_pb2.Intent, str]] = ..., apartment: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class PlaceCallRequest(_message.Message):
    __slots__ = ("session_id", "destination", "attempt", "context", "condominium")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    destination: str
    attempt: int
    context: CallContext
    condominium: str
    def __init__(self, session_id: _Optional[str] = ..., destination: _Optional[str] = ..., attempt: _Optional[int] = ..., context: _Optional[_Union[CallContext, _Mapping]] = ..., condominium: _Optional[str] = ...) -> None: ...

class PlaceCallResponse(_message.Message):
    __slots__ = ("command_id", "duplicate", "published_at")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    duplicate: bool
    published_at: _timestamp_pb2.Timestamp
    def __init__(self, command_id: _Optional[str] = ..., duplicate: _Optional[bool] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CancelCallRequest(_message.Message):
    __slots__ = ("session_id", "attempt")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    attempt: int
    def __init__(self, session_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class CancelCallResponse(_message.Message):
    __slots__ = ("command_id", "published_at")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    published_at: _timestamp_pb2.Timestamp
    def __init__(self, command_id: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
