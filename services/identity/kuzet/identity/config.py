"""Settings of the identity service (environment prefix KUZET_IDENTITY_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kuzet.common.retention import RetainingSettings, agency_days_setting


class IdentitySettings(RetainingSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_IDENTITY_", extra="ignore")
    service_name: ClassVar[str] = "identity"
    default_port: ClassVar[int] = 50052

    # SFace: same person 0.66-0.89, different people up to 0.45 on real photos (MODELS.md);
    # OpenCV's 0.363 lets look-alikes through. Calibrate per gallery with kuzet.identity.quality.
    default_threshold: float = Field(default=0.45, gt=0, lt=1, description="cosine match threshold")
    # The quality bar for enrolment images and probes (refused below it, with the reason).
    min_inter_eye_px: float = Field(default=20.0, ge=0, description="smallest inter-eye distance, pixels")
    min_sharpness: float = Field(default=60.0, ge=0, description="lowest variance of the Laplacian")
    max_yaw: float = Field(
        default=0.6, gt=0, le=1, description="largest yaw asymmetry (0 frontal, 1 profile)"
    )
    min_face_score: float = Field(default=0.75, gt=0, le=1, description="lowest face detection score")
    # A second face at least this fraction of the largest one's area makes an enrolment photo ambiguous.
    ambiguous_face_ratio: float = Field(default=0.5, gt=0, le=1)
    # Galleries above this many embeddings use the PQ shortlist + exact re-ranking index.
    exact_search_limit: int = Field(default=20_000, ge=100)
    max_images_per_request: int = Field(default=16, ge=1, le=256)
    max_top_k: int = Field(default=100, ge=1, le=1000)
    # face_match_candidate events go to alerting (KUZET_ENDPOINT_ALERTING); off for tests without it.
    publish_events: bool = True
    # Nobody stays on a watchlist by oversight: each watchlist ends, at most this far ahead.
    watchlist_max_days: int = Field(
        default=365, ge=1, le=3650, description="longest lifetime a watchlist may be given"
    )
    expiry_sweep_s: float = Field(
        default=60.0, gt=0, description="how often expired entries leave the indexes"
    )
    search_threads: int = Field(default=1, ge=1, le=64, description="FAISS OpenMP threads")
    # Replicas share the database; each applies the change feed to its own indexes.
    change_poll_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="how often the change feed is polled (the only wake-up on SQLite)",
    )
    change_listen: bool = Field(
        default=True, description="wake at once on PostgreSQL LISTEN/NOTIFY (polling stays on)"
    )
    behind_after_s: float = Field(
        default=5.0, gt=0, description="health reports the replica behind after this long without catching up"
    )
    # Retention (kuzet.identity.retention); a legal hold of kind identity.match keeps both.
    retention_probe_days: float = Field(
        default=30.0, gt=0, description="days a search's stored probe image is kept"
    )
    retention_probe_agency_days: dict[str, float] = Field(
        default_factory=dict, description='per-agency probe retention, JSON: {"police": 14}'
    )
    retention_match_days: float = Field(
        default=365.0, gt=0, description="days a face-match review case (match and reviews) is kept"
    )
    retention_match_agency_days: dict[str, float] = Field(
        default_factory=dict, description='per-agency match retention, JSON: {"prison-service": 730}'
    )

    _agency_days = field_validator("retention_probe_agency_days", "retention_match_agency_days")(
        agency_days_setting
    )
