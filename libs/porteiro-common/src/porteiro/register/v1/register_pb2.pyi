import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from porteiro.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecidedBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECIDED_BY_UNSPECIFIED: _ClassVar[DecidedBy]
    DECIDED_BY_VOICE: _ClassVar[DecidedBy]
    DECIDED_BY_KEYPAD: _ClassVar[DecidedBy]
    DECIDED_BY_NONE: _ClassVar[DecidedBy]
DECIDED_BY_UNSPECIFIED: DecidedBy
DECIDED_BY_VOICE: DecidedBy
DECIDED_BY_KEYPAD: DecidedBy
DECIDED_BY_NONE: DecidedBy

class CallRecord(_message.Message):
    __slots__ = ("condominium", "call_id", "started_at", "ended_at", "intent", "apartment", "block", "resident_name", "visitor_name", "outcome", "decided_by", "attempts", "call_seconds", "resident_wait_seconds", "failure_reason")
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    APARTMENT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_NAME_FIELD_NUMBER: _ClassVar[int]
    VISITOR_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    condominium: str
    call_id: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    intent: _common_pb2.Intent
    apartment: str
    block: str
    resident_name: str
    visitor_name: str
    outcome: _common_pb2.CallOutcome
    decided_by: DecidedBy
    attempts: int
    call_seconds: float
    resident_wait_seconds: float
    failure_reason: str
    def __init__(self, condominium: _Optional[str] = ..., call_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., intent: _Optional[_Union[_common_pb2.Intent, str]] = ..., apartment: _Optional[str] = ..., block: _Optional[str] = ..., resident_name: _Optional[str] = ..., visitor_name: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.CallOutcome, str]] = ..., decided_by: _Optional[_Union[DecidedBy, str]] = ..., attempts: _Optional[int] = ..., call_seconds: _Optional[float] = ..., resident_wait_seconds: _Optional[float] = ..., failure_reason: _Optional[str] = ...) -> None: ...

class CallFinished(_message.Message):
    __slots__ = ("record", "finished_at")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    record: CallRecord
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, record: _Optional[_Union[CallRecord, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCallsRequest(_message.Message):
    __slots__ = ("condominium", "started_from", "started_before", "apartment", "outcomes", "page_size", "page_token")
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    STARTED_FROM_FIELD_NUMBER: _ClassVar[int]
    STARTED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    APARTMENT_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    condominium: str
    started_from: _timestamp_pb2.Timestamp
    started_before: _timestamp_pb2.Timestamp
    apartment: str
    outcomes: _containers.RepeatedScalarFieldContainer[_common_pb2.CallOutcome]
    page_size: int
    page_token: str
    def __init__(self, condominium: _Optional[str] = ..., started_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., apartment: _Optional[str] = ..., outcomes: _Optional[_Iterable[_Union[_common_pb2.CallOutcome, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCallsResponse(_message.Message):
    __slots__ = ("calls", "next_page_token")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[CallRecord]
    next_page_token: str
    def __init__(self, calls: _Optional[_Iterable[_Union[CallRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetCallRequest(_message.Message):
    __slots__ = ("call_id",)
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    def __init__(self, call_id: _Optional[str] = ...) -> None: ...

class EraseVisitorRequest(_message.Message):
    __slots__ = ("visitor_name", "call_id", "condominium")
    VISITOR_NAME_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    visitor_name: str
    call_id: str
    condominium: str
    def __init__(self, visitor_name: _Optional[str] = ..., call_id: _Optional[str] = ..., condominium: _Optional[str] = ...) -> None: ...

class EraseVisitorResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...
