"""Settings of the ingest service (environment prefix KUZET_INGEST_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kuzet.common.dblease import Backend
from kuzet.common.retention import RetainingSettings, agency_days_setting


class IngestSettings(RetainingSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_INGEST_", extra="ignore")
    service_name: ClassVar[str] = "ingest"
    default_port: ClassVar[int] = 50054

    replica_id: str = Field(default="ingest-0", description="this replica's id (the pod name on Kubernetes)")
    replicas: list[str] = Field(
        default_factory=list,
        description="a fixed replica set for sharding (tests); empty = the live set from membership "
        "leases (Kubernetes Leases in a cluster, the service's database on one machine)",
    )
    lease_duration_s: float = Field(
        default=15.0,
        ge=5,
        le=300,
        description="takeover goal: a replica that stops renewing (killed, lost its database or API "
        "server) has its cameras analysed by the others within this long; its membership lease is "
        "three fifths of it in whole seconds (9 s), renewed every third of that (3 s), and the rest "
        "is for noticing the expiry and starting the cameras (kuzet.ingest.ownership)",
    )
    membership: Backend = Field(
        default="auto",
        description="where membership leases live: auto = Kubernetes Leases in a cluster, the "
        "service's database elsewhere; kubernetes outside a cluster uses KUBECONFIG",
    )
    membership_poll_s: float = Field(
        default=0.5, gt=0, description="how often the live replica set is listed (shorter than a renewal)"
    )
    allow_file_urls: bool = Field(default=True, description="accept file:// cameras (replay, demos)")
    loop_files: bool = Field(default=False, description="replay file:// cameras forever (demo, benchmarks)")
    decode_threads: int = Field(default=1, ge=1, le=16, description="FFmpeg threads per camera")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    motion_gate: bool = True
    inference_concurrency: int = Field(
        default=1,
        ge=1,
        le=256,
        description="person detection calls in flight from this replica, one frame each; cameras "
        "take turns and send their newest frame when their turn comes. 1 suits a CPU inference "
        "service (a second call would wait a whole execution there); raise it to the number of "
        "frames the inference side computes at once (workers, GPU batches behind Triton)",
    )
    min_analysed_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="every camera is analysed at least this often (seconds between analysed frames; "
        "cameras due go first at the detector); a camera analysed less often is reported degraded "
        "(health, metric kuzet.ingest.degraded, a camera_degraded alert)",
    )
    inference_max_side: int = Field(default=960, ge=128, le=4096)
    min_person_score: float = Field(default=0.35, ge=0, le=1)
    outbox_capacity: int = Field(default=10_000, ge=1)
    # Traffic cameras (enabled_models with "vehicle"; kuzet.ingest.vehicles).
    min_vehicle_score: float = Field(default=0.3, ge=0, le=1)
    traffic_profile_refresh_s: float = Field(
        default=60.0, gt=0, description="how often a traffic camera's lines and calibration are fetched again"
    )
    observation_batch_size: int = Field(
        default=16, ge=1, le=500, description="vehicle observations per RecordObservations call at most"
    )
    max_plate_reads: int = Field(
        default=3, ge=1, le=20, description="plate reads per vehicle track at most (near a counting line)"
    )
    reconcile_s: float = Field(default=5.0, gt=0, description="how often the registry is re-read")
    shard_poll_s: float = Field(default=5.0, gt=0, description="how often a polled replica source is read")
    fault_hold_s: float = Field(default=3.0, ge=0)
    frozen_after_s: float = Field(default=60.0, gt=0)
    # Retention of snapshots and clips (kuzet.ingest.retention); a hold of kind ingest.object keeps them.
    retention_object_days: float = Field(
        default=30.0, gt=0, description="days a camera snapshot or clip is kept in the object store"
    )
    retention_object_agency_days: dict[str, float] = Field(
        default_factory=dict, description='per-agency snapshot/clip retention, JSON: {"prison": 90}'
    )

    _agency_days = field_validator("retention_object_agency_days")(agency_days_setting)
