"""Settings of the alerting service (environment prefix KUZET_ALERTING_)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kuzet.alerting.oversight import validate_oversight_agencies
from kuzet.common.retention import RetainingSettings, agency_days_setting


class AlertingSettings(RetainingSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_ALERTING_", extra="ignore")
    service_name: ClassVar[str] = "alerting"
    default_port: ClassVar[int] = 50053

    cooldown_s: float = Field(
        default=300.0, gt=0, description="default dedup cool-down per source/rule/subject"
    )
    max_batch: int = Field(default=500, ge=1, le=5000, description="events per group commit")
    max_queue: int = Field(
        default=20_000, ge=1, description="publishes waiting for a commit before RESOURCE_EXHAUSTED"
    )
    escalation_interval_s: float = Field(
        default=5.0, gt=0, description="how often unacknowledged alerts are checked"
    )
    heartbeat_s: float = Field(default=15.0, gt=0, description="Subscribe heartbeat while idle")
    subscriber_queue: int = Field(default=5_000, ge=10, description="live updates buffered per subscriber")
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)
    webhook_poll_s: float = Field(default=2.0, gt=0)
    replica_poll_s: float = Field(
        default=1.0,
        ge=0,
        description="how often live streams pick up other replicas' commits; 0 = single replica",
    )
    config_reload_s: float = Field(
        default=10.0,
        gt=0,
        description="how often sites/routes/webhooks changed through another replica are reloaded",
    )
    retention_days: float = Field(
        default=90.0,
        gt=0,
        description="update log, event ids and webhook deliveries older than this are pruned",
    )
    # Alerts themselves (kuzet.alerting.retention); a legal hold of kind alerting.alert keeps one.
    retention_alert_days: float = Field(
        default=365.0, gt=0, description="days an alert untouched since is kept, with its history"
    )
    retention_alert_agency_days: dict[str, float] = Field(
        default_factory=dict, description='per-agency alert retention, JSON: {"police": 730}'
    )
    pg_synchronous_commit: Literal["on", "off", "local", "remote_write", "remote_apply"] = Field(
        default="on",
        description=(
            "PostgreSQL synchronous_commit for alerting's sessions. 'on' (default): an acknowledged publish "
            "survives a database crash. 'off' cuts commit latency several-fold (no WAL fsync wait) but a "
            "PostgreSQL crash may lose the last fraction of a second of acknowledged events"
        ),
    )
    oversight_agencies: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            'who oversees whom, JSON: {"prison": ["ombudsman"]}. Alerts of the oversight types of an agency '
            "are read only by its oversight agencies' users with the oversight role; a deployment "
            "setting, so that the overseen agency's admins cannot change it"
        ),
    )
    mqtt_url: str = Field(default="", description="mqtt://host:port; empty disables MQTT publishing")
    mqtt_topic_prefix: str = "kuzet"

    _agency_days = field_validator("retention_alert_agency_days")(agency_days_setting)
    _oversight = field_validator("oversight_agencies")(validate_oversight_agencies)
