"""Settings of the drone service (KUZET_DRONE_*)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kuzet.common.config import ServiceSettings


class DroneSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_DRONE_", extra="ignore")
    service_name: ClassVar[str] = "drone"
    default_port: ClassVar[int] = 50056

    telemetry_hz: float = Field(
        default=10.0, gt=0, le=50, description="position telemetry rate asked of each drone"
    )
    leadership: str = Field(
        default="local",
        pattern="^(local|kubernetes)$",
        description="one controller per drone: 'local' (one machine) or 'kubernetes' Leases",
    )
    lease_s: float = Field(default=10.0, ge=1, description="lease duration for drone controllers")
    controller_id: str = Field(default="", description="this instance's identity; the pod name when empty")
    publish_events: bool = Field(default=True, description="send failsafe alerts to the alerting service")
