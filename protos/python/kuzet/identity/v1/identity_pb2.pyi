import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kuzet.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GalleryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GALLERY_KIND_UNSPECIFIED: _ClassVar[GalleryKind]
    GALLERY_KIND_INMATES: _ClassVar[GalleryKind]
    GALLERY_KIND_STAFF: _ClassVar[GalleryKind]
    GALLERY_KIND_VISITORS: _ClassVar[GalleryKind]
    GALLERY_KIND_WATCHLIST: _ClassVar[GalleryKind]

class RefusalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUSAL_REASON_UNSPECIFIED: _ClassVar[RefusalReason]
    REFUSAL_REASON_UNREADABLE: _ClassVar[RefusalReason]
    REFUSAL_REASON_NO_FACE: _ClassVar[RefusalReason]
    REFUSAL_REASON_MULTIPLE_FACES: _ClassVar[RefusalReason]
    REFUSAL_REASON_TOO_SMALL: _ClassVar[RefusalReason]
    REFUSAL_REASON_BLURRED: _ClassVar[RefusalReason]
    REFUSAL_REASON_TURNED_AWAY: _ClassVar[RefusalReason]
    REFUSAL_REASON_LOW_CONFIDENCE: _ClassVar[RefusalReason]

class MatchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATCH_MODE_UNSPECIFIED: _ClassVar[MatchMode]
    MATCH_MODE_ALERT: _ClassVar[MatchMode]
    MATCH_MODE_INVESTIGATION: _ClassVar[MatchMode]

class TrackOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACK_OUTCOME_UNSPECIFIED: _ClassVar[TrackOutcome]
    TRACK_OUTCOME_CANDIDATE: _ClassVar[TrackOutcome]
    TRACK_OUTCOME_NO_MATCH: _ClassVar[TrackOutcome]
    TRACK_OUTCOME_ALREADY_MATCHED: _ClassVar[TrackOutcome]
    TRACK_OUTCOME_REFUSED: _ClassVar[TrackOutcome]
    TRACK_OUTCOME_STAFF: _ClassVar[TrackOutcome]

class MatchState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATCH_STATE_UNSPECIFIED: _ClassVar[MatchState]
    MATCH_STATE_PENDING: _ClassVar[MatchState]
    MATCH_STATE_CONFIRMED: _ClassVar[MatchState]
    MATCH_STATE_REJECTED: _ClassVar[MatchState]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_CONFIRM: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]

class WatchlistChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WATCHLIST_CHANGE_KIND_UNSPECIFIED: _ClassVar[WatchlistChangeKind]
    WATCHLIST_CHANGE_KIND_ENROL: _ClassVar[WatchlistChangeKind]
    WATCHLIST_CHANGE_KIND_REMOVE: _ClassVar[WatchlistChangeKind]
GALLERY_KIND_UNSPECIFIED: GalleryKind
GALLERY_KIND_INMATES: GalleryKind
GALLERY_KIND_STAFF: GalleryKind
GALLERY_KIND_VISITORS: GalleryKind
GALLERY_KIND_WATCHLIST: GalleryKind
REFUSAL_REASON_UNSPECIFIED: RefusalReason
REFUSAL_REASON_UNREADABLE: RefusalReason
REFUSAL_REASON_NO_FACE: RefusalReason
REFUSAL_REASON_MULTIPLE_FACES: RefusalReason
REFUSAL_REASON_TOO_SMALL: RefusalReason
REFUSAL_REASON_BLURRED: RefusalReason
REFUSAL_REASON_TURNED_AWAY: RefusalReason
REFUSAL_REASON_LOW_CONFIDENCE: RefusalReason
MATCH_MODE_UNSPECIFIED: MatchMode
MATCH_MODE_ALERT: MatchMode
MATCH_MODE_INVESTIGATION: MatchMode
TRACK_OUTCOME_UNSPECIFIED: TrackOutcome
TRACK_OUTCOME_CANDIDATE: TrackOutcome
TRACK_OUTCOME_NO_MATCH: TrackOutcome
TRACK_OUTCOME_ALREADY_MATCHED: TrackOutcome
TRACK_OUTCOME_REFUSED: TrackOutcome
TRACK_OUTCOME_STAFF: TrackOutcome
MATCH_STATE_UNSPECIFIED: MatchState
MATCH_STATE_PENDING: MatchState
MATCH_STATE_CONFIRMED: MatchState
MATCH_STATE_REJECTED: MatchState
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_CONFIRM: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision
WATCHLIST_CHANGE_KIND_UNSPECIFIED: WatchlistChangeKind
WATCHLIST_CHANGE_KIND_ENROL: WatchlistChangeKind
WATCHLIST_CHANGE_KIND_REMOVE: WatchlistChangeKind

class Gallery(_message.Message):
    __slots__ = ("gallery_id", "agency_id", "name", "kind", "purpose", "legal_basis", "owner", "threshold", "expires_at", "required_reviewers", "created_at", "shared_with", "person_count", "model")
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_REVIEWERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    PERSON_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    gallery_id: str
    agency_id: str
    name: str
    kind: GalleryKind
    purpose: str
    legal_basis: str
    owner: str
    threshold: float
    expires_at: _timestamp_pb2.Timestamp
    required_reviewers: int
    created_at: _timestamp_pb2.Timestamp
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    person_count: int
    model: str
    def __init__(self, gallery_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[GalleryKind, str, int]] = ..., purpose: _Optional[str] = ..., legal_basis: _Optional[str] = ..., owner: _Optional[str] = ..., threshold: _Optional[float] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., required_reviewers: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shared_with: _Optional[_Iterable[str]] = ..., person_count: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("person_id", "gallery_id", "external_id", "display_name", "image_count", "enrolled_at", "expires_at", "consent")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    gallery_id: str
    external_id: str
    display_name: str
    image_count: int
    enrolled_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    consent: str
    def __init__(self, person_id: _Optional[str] = ..., gallery_id: _Optional[str] = ..., external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., image_count: _Optional[int] = ..., enrolled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consent: _Optional[str] = ...) -> None: ...

class FaceImage(_message.Message):
    __slots__ = ("image", "crop")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CROP_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    crop: bytes
    def __init__(self, image: _Optional[bytes] = ..., crop: _Optional[bytes] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("values", "model")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    model: str
    def __init__(self, values: _Optional[_Iterable[float]] = ..., model: _Optional[str] = ...) -> None: ...

class Probe(_message.Message):
    __slots__ = ("image", "crop", "embedding")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CROP_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    crop: bytes
    embedding: Embedding
    def __init__(self, image: _Optional[bytes] = ..., crop: _Optional[bytes] = ..., embedding: _Optional[_Union[Embedding, _Mapping]] = ...) -> None: ...

class ImageResult(_message.Message):
    __slots__ = ("index", "accepted", "refusal", "detail", "image_id", "face")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    index: int
    accepted: bool
    refusal: RefusalReason
    detail: str
    image_id: str
    face: _common_pb2.Box
    def __init__(self, index: _Optional[int] = ..., accepted: _Optional[bool] = ..., refusal: _Optional[_Union[RefusalReason, str, int]] = ..., detail: _Optional[str] = ..., image_id: _Optional[str] = ..., face: _Optional[_Union[_common_pb2.Box, _Mapping]] = ...) -> None: ...

class CreateGalleryRequest(_message.Message):
    __slots__ = ("name", "kind", "purpose", "legal_basis", "owner", "threshold", "expires_at", "required_reviewers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_REVIEWERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: GalleryKind
    purpose: str
    legal_basis: str
    owner: str
    threshold: float
    expires_at: _timestamp_pb2.Timestamp
    required_reviewers: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[GalleryKind, str, int]] = ..., purpose: _Optional[str] = ..., legal_basis: _Optional[str] = ..., owner: _Optional[str] = ..., threshold: _Optional[float] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., required_reviewers: _Optional[int] = ...) -> None: ...

class CreateGalleryResponse(_message.Message):
    __slots__ = ("gallery",)
    GALLERY_FIELD_NUMBER: _ClassVar[int]
    gallery: Gallery
    def __init__(self, gallery: _Optional[_Union[Gallery, _Mapping]] = ...) -> None: ...

class UpdateGalleryRequest(_message.Message):
    __slots__ = ("gallery_id", "expires_at", "required_reviewers")
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_REVIEWERS_FIELD_NUMBER: _ClassVar[int]
    gallery_id: str
    expires_at: _timestamp_pb2.Timestamp
    required_reviewers: int
    def __init__(self, gallery_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., required_reviewers: _Optional[int] = ...) -> None: ...

class UpdateGalleryResponse(_message.Message):
    __slots__ = ("gallery",)
    GALLERY_FIELD_NUMBER: _ClassVar[int]
    gallery: Gallery
    def __init__(self, gallery: _Optional[_Union[Gallery, _Mapping]] = ...) -> None: ...

class ListGalleriesRequest(_message.Message):
    __slots__ = ("include_shared", "page")
    INCLUDE_SHARED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    include_shared: bool
    page: _common_pb2.PageRequest
    def __init__(self, include_shared: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListGalleriesResponse(_message.Message):
    __slots__ = ("galleries", "page")
    GALLERIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    galleries: _containers.RepeatedCompositeFieldContainer[Gallery]
    page: _common_pb2.PageResponse
    def __init__(self, galleries: _Optional[_Iterable[_Union[Gallery, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class ShareGalleryRequest(_message.Message):
    __slots__ = ("gallery_id", "agency_id", "reason", "revoke")
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVOKE_FIELD_NUMBER: _ClassVar[int]
    gallery_id: str
    agency_id: str
    reason: str
    revoke: bool
    def __init__(self, gallery_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., reason: _Optional[str] = ..., revoke: _Optional[bool] = ...) -> None: ...

class ShareGalleryResponse(_message.Message):
    __slots__ = ("gallery",)
    GALLERY_FIELD_NUMBER: _ClassVar[int]
    gallery: Gallery
    def __init__(self, gallery: _Optional[_Union[Gallery, _Mapping]] = ...) -> None: ...

class EnrolPersonRequest(_message.Message):
    __slots__ = ("gallery_id", "person_id", "external_id", "display_name", "images", "expires_at", "consent")
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    gallery_id: str
    person_id: str
    external_id: str
    display_name: str
    images: _containers.RepeatedCompositeFieldContainer[FaceImage]
    expires_at: _timestamp_pb2.Timestamp
    consent: str
    def __init__(self, gallery_id: _Optional[str] = ..., person_id: _Optional[str] = ..., external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., images: _Optional[_Iterable[_Union[FaceImage, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consent: _Optional[str] = ...) -> None: ...

class EnrolPersonResponse(_message.Message):
    __slots__ = ("person", "results")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    person: Person
    results: _containers.RepeatedCompositeFieldContainer[ImageResult]
    def __init__(self, person: _Optional[_Union[Person, _Mapping]] = ..., results: _Optional[_Iterable[_Union[ImageResult, _Mapping]]] = ...) -> None: ...

class ListPeopleRequest(_message.Message):
    __slots__ = ("gallery_id", "page")
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    gallery_id: str
    page: _common_pb2.PageRequest
    def __init__(self, gallery_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListPeopleResponse(_message.Message):
    __slots__ = ("people", "page")
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    people: _containers.RepeatedCompositeFieldContainer[Person]
    page: _common_pb2.PageResponse
    def __init__(self, people: _Optional[_Iterable[_Union[Person, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class RemovePersonRequest(_message.Message):
    __slots__ = ("person_id", "reason")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    reason: str
    def __init__(self, person_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RemovePersonResponse(_message.Message):
    __slots__ = ("images_removed", "embeddings_removed")
    IMAGES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    images_removed: int
    embeddings_removed: int
    def __init__(self, images_removed: _Optional[int] = ..., embeddings_removed: _Optional[int] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("person_id", "gallery_id", "external_id", "display_name", "score", "threshold", "above_threshold", "image_id", "match_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ABOVE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MATCH_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    gallery_id: str
    external_id: str
    display_name: str
    score: float
    threshold: float
    above_threshold: bool
    image_id: str
    match_id: str
    def __init__(self, person_id: _Optional[str] = ..., gallery_id: _Optional[str] = ..., external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., score: _Optional[float] = ..., threshold: _Optional[float] = ..., above_threshold: _Optional[bool] = ..., image_id: _Optional[str] = ..., match_id: _Optional[str] = ...) -> None: ...

class StaffSighting(_message.Message):
    __slots__ = ("person_id", "gallery_id", "external_id", "score", "threshold")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    gallery_id: str
    external_id: str
    score: float
    threshold: float
    def __init__(self, person_id: _Optional[str] = ..., gallery_id: _Optional[str] = ..., external_id: _Optional[str] = ..., score: _Optional[float] = ..., threshold: _Optional[float] = ...) -> None: ...

class IdentifyRequest(_message.Message):
    __slots__ = ("probe", "gallery_ids", "mode", "top_k", "purpose")
    PROBE_FIELD_NUMBER: _ClassVar[int]
    GALLERY_IDS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    probe: Probe
    gallery_ids: _containers.RepeatedScalarFieldContainer[str]
    mode: MatchMode
    top_k: int
    purpose: str
    def __init__(self, probe: _Optional[_Union[Probe, _Mapping]] = ..., gallery_ids: _Optional[_Iterable[str]] = ..., mode: _Optional[_Union[MatchMode, str, int]] = ..., top_k: _Optional[int] = ..., purpose: _Optional[str] = ...) -> None: ...

class IdentifyResponse(_message.Message):
    __slots__ = ("candidates", "model", "probe_face", "staff")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROBE_FACE_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    model: str
    probe_face: _common_pb2.Box
    staff: _containers.RepeatedCompositeFieldContainer[StaffSighting]
    def __init__(self, candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., model: _Optional[str] = ..., probe_face: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., staff: _Optional[_Iterable[_Union[StaffSighting, _Mapping]]] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("probe", "person_id", "purpose")
    PROBE_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    probe: Probe
    person_id: str
    purpose: str
    def __init__(self, probe: _Optional[_Union[Probe, _Mapping]] = ..., person_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("match", "score", "threshold", "model")
    MATCH_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    match: bool
    score: float
    threshold: float
    model: str
    def __init__(self, match: _Optional[bool] = ..., score: _Optional[float] = ..., threshold: _Optional[float] = ..., model: _Optional[str] = ...) -> None: ...

class MatchTrackRequest(_message.Message):
    __slots__ = ("crop", "source", "track_id", "zone_id", "frame_time", "snapshot", "box", "location", "gallery_ids", "agency_id")
    CROP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_TIME_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    GALLERY_IDS_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    crop: bytes
    source: _common_pb2.Source
    track_id: int
    zone_id: str
    frame_time: _timestamp_pb2.Timestamp
    snapshot: _common_pb2.ObjectRef
    box: _common_pb2.Box
    location: _common_pb2.GeoPoint
    gallery_ids: _containers.RepeatedScalarFieldContainer[str]
    agency_id: str
    def __init__(self, crop: _Optional[bytes] = ..., source: _Optional[_Union[_common_pb2.Source, _Mapping]] = ..., track_id: _Optional[int] = ..., zone_id: _Optional[str] = ..., frame_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshot: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., gallery_ids: _Optional[_Iterable[str]] = ..., agency_id: _Optional[str] = ...) -> None: ...

class MatchTrackResponse(_message.Message):
    __slots__ = ("outcome", "candidates", "event_id", "refusal", "detail", "staff")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    outcome: TrackOutcome
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    event_id: str
    refusal: RefusalReason
    detail: str
    staff: _containers.RepeatedCompositeFieldContainer[StaffSighting]
    def __init__(self, outcome: _Optional[_Union[TrackOutcome, str, int]] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., event_id: _Optional[str] = ..., refusal: _Optional[_Union[RefusalReason, str, int]] = ..., detail: _Optional[str] = ..., staff: _Optional[_Iterable[_Union[StaffSighting, _Mapping]]] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("reviewer", "decision", "reason", "reviewed_at")
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    reviewer: str
    decision: ReviewDecision
    reason: str
    reviewed_at: _timestamp_pb2.Timestamp
    def __init__(self, reviewer: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str, int]] = ..., reason: _Optional[str] = ..., reviewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("match_id", "agency_id", "state", "candidate", "probe_image", "enrolled_image", "required_reviewers", "reviews", "source", "track_id", "zone_id", "snapshot", "occurred_at", "created_at", "event_id")
    MATCH_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    PROBE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_IMAGE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_REVIEWERS_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    match_id: str
    agency_id: str
    state: MatchState
    candidate: Candidate
    probe_image: _common_pb2.ObjectRef
    enrolled_image: _common_pb2.ObjectRef
    required_reviewers: int
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    source: _common_pb2.Source
    track_id: int
    zone_id: str
    snapshot: _common_pb2.ObjectRef
    occurred_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    event_id: str
    def __init__(self, match_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., state: _Optional[_Union[MatchState, str, int]] = ..., candidate: _Optional[_Union[Candidate, _Mapping]] = ..., probe_image: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., enrolled_image: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., required_reviewers: _Optional[int] = ..., reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., source: _Optional[_Union[_common_pb2.Source, _Mapping]] = ..., track_id: _Optional[int] = ..., zone_id: _Optional[str] = ..., snapshot: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class ListReviewsRequest(_message.Message):
    __slots__ = ("state", "gallery_id", "page")
    STATE_FIELD_NUMBER: _ClassVar[int]
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    state: MatchState
    gallery_id: str
    page: _common_pb2.PageRequest
    def __init__(self, state: _Optional[_Union[MatchState, str, int]] = ..., gallery_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListReviewsResponse(_message.Message):
    __slots__ = ("matches", "page")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    page: _common_pb2.PageResponse
    def __init__(self, matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class SubmitReviewRequest(_message.Message):
    __slots__ = ("match_id", "decision", "reason")
    MATCH_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    match_id: str
    decision: ReviewDecision
    reason: str
    def __init__(self, match_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str, int]] = ..., reason: _Optional[str] = ...) -> None: ...

class SubmitReviewResponse(_message.Message):
    __slots__ = ("match",)
    MATCH_FIELD_NUMBER: _ClassVar[int]
    match: Match
    def __init__(self, match: _Optional[_Union[Match, _Mapping]] = ...) -> None: ...

class GetPersonImageRequest(_message.Message):
    __slots__ = ("image_id", "purpose")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    purpose: str
    def __init__(self, image_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class GetPersonImageResponse(_message.Message):
    __slots__ = ("data", "ref")
    DATA_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    ref: _common_pb2.ObjectRef
    def __init__(self, data: _Optional[bytes] = ..., ref: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ...) -> None: ...

class GetProbeImageRequest(_message.Message):
    __slots__ = ("match_id", "purpose")
    MATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    match_id: str
    purpose: str
    def __init__(self, match_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class GetProbeImageResponse(_message.Message):
    __slots__ = ("data", "ref")
    DATA_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    ref: _common_pb2.ObjectRef
    def __init__(self, data: _Optional[bytes] = ..., ref: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ...) -> None: ...

class ReembedGalleryRequest(_message.Message):
    __slots__ = ("gallery_id",)
    GALLERY_ID_FIELD_NUMBER: _ClassVar[int]
    gallery_id: str
    def __init__(self, gallery_id: _Optional[str] = ...) -> None: ...

class ReembedGalleryResponse(_message.Message):
    __slots__ = ("model", "images_reembedded", "images_failed")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGES_REEMBEDDED_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FAILED_FIELD_NUMBER: _ClassVar[int]
    model: str
    images_reembedded: int
    images_failed: int
    def __init__(self, model: _Optional[str] = ..., images_reembedded: _Optional[int] = ..., images_failed: _Optional[int] = ...) -> None: ...

class WatchWatchlistChangesRequest(_message.Message):
    __slots__ = ("after_seq",)
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    def __init__(self, after_seq: _Optional[int] = ...) -> None: ...

class WatchlistChange(_message.Message):
    __slots__ = ("seq", "kind", "watchlist", "person", "images", "reason", "changed_at")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WATCHLIST_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: WatchlistChangeKind
    watchlist: Gallery
    person: Person
    images: _containers.RepeatedCompositeFieldContainer[FaceImage]
    reason: str
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[_Union[WatchlistChangeKind, str, int]] = ..., watchlist: _Optional[_Union[Gallery, _Mapping]] = ..., person: _Optional[_Union[Person, _Mapping]] = ..., images: _Optional[_Iterable[_Union[FaceImage, _Mapping]]] = ..., reason: _Optional[str] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchWatchlistChangesResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: WatchlistChange
    def __init__(self, change: _Optional[_Union[WatchlistChange, _Mapping]] = ...) -> None: ...
