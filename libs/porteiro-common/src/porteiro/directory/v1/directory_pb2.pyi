from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResolveStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOLVE_STATUS_UNSPECIFIED: _ClassVar[ResolveStatus]
    RESOLVE_STATUS_MATCH: _ClassVar[ResolveStatus]
    RESOLVE_STATUS_AMBIGUOUS: _ClassVar[ResolveStatus]
    RESOLVE_STATUS_NO_APARTMENT: _ClassVar[ResolveStatus]
    RESOLVE_STATUS_NO_RESIDENT: _ClassVar[ResolveStatus]
RESOLVE_STATUS_UNSPECIFIED: ResolveStatus
RESOLVE_STATUS_MATCH: ResolveStatus
RESOLVE_STATUS_AMBIGUOUS: ResolveStatus
RESOLVE_STATUS_NO_APARTMENT: ResolveStatus
RESOLVE_STATUS_NO_RESIDENT: ResolveStatus

class Resident(_message.Message):
    __slots__ = ("name", "aliases")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    name: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class Apartment(_message.Message):
    __slots__ = ("number", "block", "residents", "destination")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    RESIDENTS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    number: str
    block: str
    residents: _containers.RepeatedCompositeFieldContainer[Resident]
    destination: str
    def __init__(self, number: _Optional[str] = ..., block: _Optional[str] = ..., residents: _Optional[_Iterable[_Union[Resident, _Mapping]]] = ..., destination: _Optional[str] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("apartment", "resident_name", "block", "condominium")
    APARTMENT_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_NAME_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    apartment: str
    resident_name: str
    block: str
    condominium: str
    def __init__(self, apartment: _Optional[str] = ..., resident_name: _Optional[str] = ..., block: _Optional[str] = ..., condominium: _Optional[str] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("apartment", "block", "resident_name", "destination", "score")
    APARTMENT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_NAME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    apartment: str
    block: str
    resident_name: str
    destination: str
    score: float
    def __init__(self, apartment: _Optional[str] = ..., block: _Optional[str] = ..., resident_name: _Optional[str] = ..., destination: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("status", "match", "candidates", "normalized_apartment")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_APARTMENT_FIELD_NUMBER: _ClassVar[int]
    status: ResolveStatus
    match: Candidate
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    normalized_apartment: str
    def __init__(self, status: _Optional[_Union[ResolveStatus, str]] = ..., match: _Optional[_Union[Candidate, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., normalized_apartment: _Optional[str] = ...) -> None: ...

class SearchByNameRequest(_message.Message):
    __slots__ = ("name", "limit", "condominium")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit: int
    condominium: str
    def __init__(self, name: _Optional[str] = ..., limit: _Optional[int] = ..., condominium: _Optional[str] = ...) -> None: ...

class SearchByNameResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ...) -> None: ...

class GetApartmentRequest(_message.Message):
    __slots__ = ("apartment", "block", "condominium")
    APARTMENT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    apartment: str
    block: str
    condominium: str
    def __init__(self, apartment: _Optional[str] = ..., block: _Optional[str] = ..., condominium: _Optional[str] = ...) -> None: ...

class ListApartmentsRequest(_message.Message):
    __slots__ = ("condominium",)
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    condominium: str
    def __init__(self, condominium: _Optional[str] = ...) -> None: ...

class ListApartmentsResponse(_message.Message):
    __slots__ = ("apartments",)
    APARTMENTS_FIELD_NUMBER: _ClassVar[int]
    apartments: _containers.RepeatedCompositeFieldContainer[Apartment]
    def __init__(self, apartments: _Optional[_Iterable[_Union[Apartment, _Mapping]]] = ...) -> None: ...

class ListVocabularyRequest(_message.Message):
    __slots__ = ("condominium",)
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    condominium: str
    def __init__(self, condominium: _Optional[str] = ...) -> None: ...

class ListVocabularyResponse(_message.Message):
    __slots__ = ("resident_names", "apartment_numbers")
    RESIDENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    APARTMENT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    resident_names: _containers.RepeatedScalarFieldContainer[str]
    apartment_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, resident_names: _Optional[_Iterable[str]] = ..., apartment_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class ParseApartmentRequest(_message.Message):
    __slots__ = ("text", "condominium")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONDOMINIUM_FIELD_NUMBER: _ClassVar[int]
    text: str
    condominium: str
    def __init__(self, text: _Optional[str] = ..., condominium: _Optional[str] = ...) -> None: ...

class ParseApartmentResponse(_message.Message):
    __slots__ = ("found", "apartment", "block", "exists")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    APARTMENT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    found: bool
    apartment: str
    block: str
    exists: bool
    def __init__(self, found: _Optional[bool] = ..., apartment: _Optional[str] = ..., block: _Optional[str] = ..., exists: _Optional[bool] = ...) -> None: ...
