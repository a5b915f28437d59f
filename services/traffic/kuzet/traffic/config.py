"""Settings of the traffic service (KUZET_TRAFFIC_*)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kuzet.common.retention import RetainingSettings, agency_days_setting


class TrafficSettings(RetainingSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_TRAFFIC_", extra="ignore")
    service_name: ClassVar[str] = "traffic"
    default_port: ClassVar[int] = 50057

    publish_events: bool = Field(default=True, description="send hotlist alerts to the alerting service")
    # Observations carry plates (personal data); a legal hold of kind traffic.observation keeps one.
    retention_observation_days: float = Field(
        default=90.0,
        gt=0,
        description="days a vehicle observation (plate, snapshot reference) and its hotlist hits are kept",
    )
    retention_observation_agency_days: dict[str, float] = Field(
        default_factory=dict, description='per-agency observation retention, JSON: {"police": 30}'
    )
    max_batch: int = Field(
        default=1000, ge=1, le=10_000, description="observations one RecordObservations call may carry"
    )

    _agency_days = field_validator("retention_observation_agency_days")(agency_days_setting)
