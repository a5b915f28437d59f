"""Settings of the drone service (KUZET_DRONE_*)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
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
        default="auto",
        pattern="^(auto|kubernetes|database|local)$",
        description="one controller per drone: Leases on 'kubernetes', in the drone 'database' (replicas "
        "on one machine), 'auto' (Kubernetes inside a cluster, else the database) or 'local' (one process)",
    )
    lease_s: float = Field(
        default=10.0,
        gt=1.0,
        description="lease duration for drone controllers; control ends half a second before it runs "
        "out without a renewal, and another replica takes over about this long after a crash",
    )
    controller_id: str = Field(default="", description="this instance's identity; the pod name when empty")
    advertise_address: str = Field(
        default="",
        validation_alias=AliasChoices(
            "advertise_address", "KUZET_DRONE_ADVERTISE_ADDRESS", "KUZET_ADVERTISE_ADDRESS"
        ),
        description="host:port other replicas and the gateway reach this replica at (followers name the "
        "leader by it); empty = the address the server is bound to",
    )
    publish_events: bool = Field(default=True, description="send failsafe alerts to the alerting service")
