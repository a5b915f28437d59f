from kuzet.identity.v1 import identity_pb2 as _identity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SiteStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SITE_STATUS_UNSPECIFIED: _ClassVar[SiteStatus]
    SITE_STATUS_OK: _ClassVar[SiteStatus]
    SITE_STATUS_UNREACHABLE: _ClassVar[SiteStatus]
    SITE_STATUS_FAILED: _ClassVar[SiteStatus]
SITE_STATUS_UNSPECIFIED: SiteStatus
SITE_STATUS_OK: SiteStatus
SITE_STATUS_UNREACHABLE: SiteStatus
SITE_STATUS_FAILED: SiteStatus

class SearchSitesRequest(_message.Message):
    __slots__ = ("image", "purpose", "sites", "top_k")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    purpose: str
    sites: _containers.RepeatedScalarFieldContainer[str]
    top_k: int
    def __init__(self, image: _Optional[bytes] = ..., purpose: _Optional[str] = ..., sites: _Optional[_Iterable[str]] = ..., top_k: _Optional[int] = ...) -> None: ...

class SiteResult(_message.Message):
    __slots__ = ("site", "status", "message", "candidates", "model", "audit_seq")
    SITE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SEQ_FIELD_NUMBER: _ClassVar[int]
    site: str
    status: SiteStatus
    message: str
    candidates: _containers.RepeatedCompositeFieldContainer[_identity_pb2.Candidate]
    model: str
    audit_seq: int
    def __init__(self, site: _Optional[str] = ..., status: _Optional[_Union[SiteStatus, str, int]] = ..., message: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[_identity_pb2.Candidate, _Mapping]]] = ..., model: _Optional[str] = ..., audit_seq: _Optional[int] = ...) -> None: ...

class SearchSitesResponse(_message.Message):
    __slots__ = ("results", "audit_seq")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SEQ_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SiteResult]
    audit_seq: int
    def __init__(self, results: _Optional[_Iterable[_Union[SiteResult, _Mapping]]] = ..., audit_seq: _Optional[int] = ...) -> None: ...

class SiteSearchRequest(_message.Message):
    __slots__ = ("image", "purpose", "top_k", "hub", "search_id")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    HUB_FIELD_NUMBER: _ClassVar[int]
    SEARCH_ID_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    purpose: str
    top_k: int
    hub: str
    search_id: str
    def __init__(self, image: _Optional[bytes] = ..., purpose: _Optional[str] = ..., top_k: _Optional[int] = ..., hub: _Optional[str] = ..., search_id: _Optional[str] = ...) -> None: ...
