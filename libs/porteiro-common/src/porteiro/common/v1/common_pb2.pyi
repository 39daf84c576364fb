from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Leg(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEG_UNSPECIFIED: _ClassVar[Leg]
    LEG_VISITOR: _ClassVar[Leg]
    LEG_RESIDENT: _ClassVar[Leg]

class Intent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTENT_UNSPECIFIED: _ClassVar[Intent]
    INTENT_DELIVERY: _ClassVar[Intent]
    INTENT_VISIT: _ClassVar[Intent]

class CallOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_OUTCOME_UNSPECIFIED: _ClassVar[CallOutcome]
    CALL_OUTCOME_AUTHORIZED: _ClassVar[CallOutcome]
    CALL_OUTCOME_DENIED: _ClassVar[CallOutcome]
    CALL_OUTCOME_LEFT_AT_FRONT_DESK: _ClassVar[CallOutcome]
    CALL_OUTCOME_NO_ANSWER: _ClassVar[CallOutcome]
    CALL_OUTCOME_VISITOR_HUNG_UP: _ClassVar[CallOutcome]
    CALL_OUTCOME_RESIDENT_HUNG_UP: _ClassVar[CallOutcome]
    CALL_OUTCOME_FAILED: _ClassVar[CallOutcome]
LEG_UNSPECIFIED: Leg
LEG_VISITOR: Leg
LEG_RESIDENT: Leg
INTENT_UNSPECIFIED: Intent
INTENT_DELIVERY: Intent
INTENT_VISIT: Intent
CALL_OUTCOME_UNSPECIFIED: CallOutcome
CALL_OUTCOME_AUTHORIZED: CallOutcome
CALL_OUTCOME_DENIED: CallOutcome
CALL_OUTCOME_LEFT_AT_FRONT_DESK: CallOutcome
CALL_OUTCOME_NO_ANSWER: CallOutcome
CALL_OUTCOME_VISITOR_HUNG_UP: CallOutcome
CALL_OUTCOME_RESIDENT_HUNG_UP: CallOutcome
CALL_OUTCOME_FAILED: CallOutcome

class PhraseScore(_message.Message):
    __slots__ = ("phrase", "score")
    PHRASE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    phrase: str
    score: float
    def __init__(self, phrase: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...
