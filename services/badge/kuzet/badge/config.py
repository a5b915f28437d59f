"""Settings of the badge service (KUZET_BADGE_*)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kuzet.badge.telemetry.h2limits import Limits
from kuzet.common.config import ServiceSettings


class BadgeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_BADGE_", extra="ignore")
    service_name: ClassVar[str] = "badge"
    default_port: ClassVar[int] = 50055

    # The device port: badges' Connect streams over the lean HTTP/2 endpoint (see telemetry/wire.py).
    device_port: int = Field(default=50065, ge=0, le=65535, description="port badges connect to")
    device_http2: Literal["builtin", "h2"] = Field(
        default="builtin",
        description="HTTP/2 framing and HPACK of the device port: builtin (telemetry/h2grpc.py) or h2 "
        "(the h2 package, telemetry/h2lib.py); the same calls and limits. builtin stays the default: h2 "
        "costs 1.9-2.3x its CPU per report and ack on a bare port (103-130 against 54-60 us), 1.2-1.6x the "
        "whole service's, and 5x its memory per idle connection (18 against 4 KiB); see docs/performance.md",
    )
    device_max_streams: int = Field(
        default=1000, ge=1, description="concurrent Connect streams one connection may carry"
    )
    # What one peer may cost the device port before it is authenticated (h2limits.Limits).
    device_max_connections: int = Field(
        default=20_000, ge=1, description="open connections; more are refused with GOAWAY at once"
    )
    device_max_header_list_bytes: int = Field(
        default=16_384,
        ge=1024,
        le=16_384,
        description="a call's header block, HEADERS and CONTINUATIONs together (a larger one ends "
        "the connection)",
    )
    device_control_frames_per_s: float = Field(
        default=100.0,
        gt=0,
        description="sustained rate of frames that make the server work but carry no call data (PING, "
        "SETTINGS, RST_STREAM, PRIORITY, CONTINUATION, empty DATA, refused HEADERS) one connection "
        "may send",
    )
    device_control_frame_burst: int = Field(
        default=1000, ge=10, description="such frames one connection may send at once; beyond: GOAWAY"
    )
    device_window_updates_per_s: float = Field(
        default=1000.0,
        gt=0,
        description="WINDOW_UPDATE frames one connection may send a second on top of two per DATA "
        "frame the server sent it (a sanity cap: readers send many)",
    )
    device_window_update_burst: int = Field(
        default=10_000, ge=100, description="WINDOW_UPDATE frames one connection may send at once"
    )
    device_write_high_water_bytes: int = Field(
        default=256 * 1024,
        ge=16 * 1024,
        description="unsent bytes for a peer above which its connection is no longer read",
    )
    device_preface_timeout_s: float = Field(
        default=10.0, gt=0, description="a connection must start HTTP/2 within this long"
    )
    device_idle_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="a connection without a call, or whose peer reads nothing, is closed after this long",
    )

    # Telemetry ingest.
    history_flush_ms: int = Field(
        default=20, ge=1, le=5000, description="how often buffered reports are written (and acknowledged)"
    )
    history_batch_max: int = Field(default=5000, ge=1, description="most reports written in one transaction")
    state_flush_s: float = Field(
        default=5.0, gt=0, description="how often the latest-state table (restarts, other readers) is written"
    )
    report_interval_s: int = Field(default=1, ge=1, le=3600, description="pushed to badges in Welcome")

    # Rules.
    signal_lost_after_s: float = Field(default=60.0, gt=0, description="silence before badge_signal_lost")
    battery_critical_percent: float = Field(default=10.0, ge=0, le=100)
    battery_hysteresis_percent: float = Field(
        default=5.0, ge=0, le=50, description="rise above critical needed before it can fire again"
    )
    recording_grace_s: float = Field(
        default=30.0, ge=0, description="time to start recording after an incident assignment"
    )
    tamper_clear_s: float = Field(
        default=300.0, gt=0, description="quiet time before a tamper can fire again"
    )
    supervisor_interval_s: float = Field(
        default=1.0, gt=0, description="period of the time-based rule checks"
    )

    # Replicas (several share one database): who holds which badge's stream, and commands.
    replica_id: str = Field(
        default="", description="this replica's id; empty = KUZET_POD_NAME (the pod name) or the host name"
    )
    stream_lease_s: float = Field(
        default=15.0,
        ge=1.0,
        description="a replica's claim on a badge's stream (and the rule leader's lease) lasts this "
        "long unless renewed (every third of it); a dead replica's badges are judged after it",
    )
    replica_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="how often a replica looks for undelivered commands (the only way on SQLite) "
        "and for registry changes made on other replicas",
    )
    command_ttl_s: float = Field(
        default=24 * 3600.0, gt=0, description="a command not acknowledged by then is no longer sent"
    )

    # Evidence.
    staging_dir: Path = Field(
        default=Path(""),
        description="chunk staging files; empty means the local object store's own staging directory "
        "(a finished upload is moved into the store, not copied), else data_dir/staging",
    )
    max_chunk_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_evidence_bytes: int = Field(default=4 * 1024 * 1024 * 1024, ge=1024)
    download_url_ttl_s: int = Field(default=300, ge=10, le=7 * 24 * 3600)
    retention_interval_s: float = Field(default=3600.0, gt=0)
    retention_lease_s: float = Field(
        default=30.0, ge=3, description="lease that lets one replica at a time run retention and verification"
    )
    hold_release_ttl_s: float = Field(
        default=86400.0,
        gt=0,
        description="how long a first legal-hold release request waits for a second person",
    )
    verification_interval_s: float = Field(default=24 * 3600.0, gt=0)
    # Used for an agency/category without a policy: non-evidential recordings go after 31 days,
    # everything else waits for its case.
    default_non_evidential_days: int = Field(default=31, ge=1)
    default_days_after_case_closed: int = Field(default=365, ge=0)

    # Records.
    offence_codes_file: Path = Field(
        default=Path(""), description="JSON list of {code, description, fine_minor_units}; empty = built-in"
    )
    integrity_link_window_s: float = Field(
        default=600.0, ge=0, description="recordings this close to an integrity report are linked"
    )

    def device_limits(self) -> Limits:
        return Limits(
            max_streams=self.device_max_streams,
            max_header_list=self.device_max_header_list_bytes,
            control_frames_per_s=self.device_control_frames_per_s,
            control_frame_burst=self.device_control_frame_burst,
            window_updates_per_s=self.device_window_updates_per_s,
            window_update_burst=self.device_window_update_burst,
            write_high_water=self.device_write_high_water_bytes,
            preface_timeout_s=self.device_preface_timeout_s,
            idle_timeout_s=self.device_idle_timeout_s,
            max_connections=self.device_max_connections,
        )

    def effective_staging_dir(self, store_staging: Path | None) -> Path:
        """``store_staging``: the object store's own staging directory, where it has one."""
        if str(self.staging_dir) not in ("", "."):
            return self.staging_dir
        return store_staging or self.data_dir / "staging"
