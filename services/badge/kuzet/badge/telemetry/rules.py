"""Badge rules as a state machine: each occurrence produces one event, not one per report.

panic            SENSOR PANIC while no panic is open; PANIC_CANCELLED closes it.
tamper           TAMPER after tamper_clear_s of quiet; FORCED_SHUTDOWN once per shutdown time.
recording off    assigned to an active incident, past the grace time, latest state not ON;
                 recording ON (or the incident ending) resolves it.
signal lost      on shift and silent for signal_lost_after_s, judged by one replica (streams.py);
                 any message resolves it.
battery critical on shift, not charging, at or below the threshold; re-arms above threshold +
                 hysteresis or when charging.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kuzet.badge.config import BadgeSettings
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.v1 import badge_pb2
from kuzet.common.events import new_event
from kuzet.common.v1 import common_pb2

Emit = Callable[[common_pb2.Event], None]

PANIC = badge_pb2.SENSOR_EVENT_KIND_PANIC
PANIC_CANCELLED = badge_pb2.SENSOR_EVENT_KIND_PANIC_CANCELLED
TAMPER = badge_pb2.SENSOR_EVENT_KIND_TAMPER
FORCED_SHUTDOWN = badge_pb2.SENSOR_EVENT_KIND_FORCED_SHUTDOWN
RECORDING_ON = badge_pb2.RECORDING_STATE_ON


def _ts_seconds(ts: Any) -> float:
    return float(ts.seconds) + ts.nanos / 1e9


class RuleEngine:
    def __init__(self, settings: BadgeSettings, emit: Emit) -> None:
        self.settings = settings
        self.emit = emit

    # -- inputs ----------------------------------------------------------------------------

    def on_report(
        self, live: BadgeLive, report: badge_pb2.TelemetryReport, is_latest: bool, now: float
    ) -> None:
        """Sensor events count whenever they arrive (late ones too); state rules use the latest report."""
        self.on_message(live, now)
        for sensor in report.events:
            self._on_sensor(live, sensor, report)
        if is_latest:
            self._check_recording(live, now)
            self._check_battery(live, report)

    def on_message(self, live: BadgeLive, now: float) -> None:
        if live.signal_lost:
            live.signal_lost = False
            self._fire(live, "badge_signal_lost", now, "signal restored", resolves=True)

    def on_tick(self, live: BadgeLive, now: float) -> None:
        """Time-based rules (the supervisor calls this for every badge this replica judges).

        Silence is not among them: which replica may judge it is decided in the database
        (streams.py), which then calls signal_lost().
        """
        if live.tamper_until and now > live.tamper_until:
            live.tamper_until = 0.0
        self._check_recording(live, now)

    def silent(self, live: BadgeLive, now: float) -> bool:
        """On shift, no signal-lost open, and nothing heard for longer than the limit."""
        return (
            live.on_shift
            and not live.signal_lost
            and bool(live.last_seen)
            and now - live.last_seen > self.settings.signal_lost_after_s
        )

    def signal_lost(self, live: BadgeLive, now: float) -> None:
        live.signal_lost = True
        silent = round(now - live.last_seen)
        self._fire(live, "badge_signal_lost", now, f"no signal for {silent} s", {"silent_s": silent})

    def on_incident_change(self, live: BadgeLive, now: float) -> None:
        self._check_recording(live, now)

    # -- rules -----------------------------------------------------------------------------

    def _on_sensor(
        self, live: BadgeLive, sensor: badge_pb2.SensorEvent, report: badge_pb2.TelemetryReport
    ) -> None:
        at = (
            _ts_seconds(sensor.device_time)
            if sensor.HasField("device_time")
            else _ts_seconds(report.device_time)
        )
        if sensor.kind == PANIC and not live.panic_active:
            live.panic_active = True
            self._fire(
                live, "badge_panic", at, "panic button pressed", {"detail": sensor.detail}, report=report
            )
        elif sensor.kind == PANIC_CANCELLED and live.panic_active:
            live.panic_active = False
        elif sensor.kind == TAMPER:
            fresh = live.tamper_until == 0.0
            live.tamper_until = max(live.tamper_until, at + self.settings.tamper_clear_s)
            if fresh:
                self._fire(
                    live,
                    "badge_tamper",
                    at,
                    "badge tampered with",
                    {"kind": "tamper", "detail": sensor.detail},
                    report=report,
                )
        elif sensor.kind == FORCED_SHUTDOWN and at > live.last_shutdown_ts:
            live.last_shutdown_ts = at
            self._fire(
                live,
                "badge_tamper",
                at,
                "badge was forcibly shut down",
                {"kind": "forced_shutdown", "detail": sensor.detail},
                report=report,
            )

    def _check_recording(self, live: BadgeLive, now: float) -> None:
        recording = live.recording == RECORDING_ON
        due = (
            bool(live.incident_id)
            and not recording
            and now - live.incident_assigned_at >= self.settings.recording_grace_s
        )
        if due and not live.recording_alert_open:
            live.recording_alert_open = True
            state = badge_pb2.RecordingState.Name(live.recording) if live.last_report_bytes else "NO_REPORT"
            self._fire(
                live,
                "badge_recording_off",
                now,
                f"not recording during incident {live.incident_id}",
                {"incident_id": live.incident_id, "recording_state": state},
                subject=live.incident_id,
            )
        elif live.recording_alert_open and (recording or not live.incident_id):
            live.recording_alert_open = False
            self._fire(
                live,
                "badge_recording_off",
                now,
                "recording resumed" if recording else "incident ended",
                resolves=True,
                subject=live.incident_id,
            )

    def _check_battery(self, live: BadgeLive, report: badge_pb2.TelemetryReport) -> None:
        critical = self.settings.battery_critical_percent
        at = _ts_seconds(report.device_time)
        if not live.battery_alert_open:
            if live.on_shift and not report.charging and report.battery_percent <= critical:
                live.battery_alert_open = True
                self._fire(
                    live,
                    "badge_battery_critical",
                    at,
                    f"battery at {report.battery_percent:.0f}%",
                    {"battery_percent": round(float(report.battery_percent), 1)},
                    report=report,
                )
        elif report.charging or report.battery_percent > critical + self.settings.battery_hysteresis_percent:
            live.battery_alert_open = False
            self._fire(live, "badge_battery_critical", at, "battery recovered", resolves=True)

    # -- output ----------------------------------------------------------------------------

    def _fire(
        self,
        live: BadgeLive,
        event_type: str,
        at: float,
        summary: str,
        attributes: dict[str, Any] | None = None,
        *,
        resolves: bool = False,
        subject: str = "",
        report: badge_pb2.TelemetryReport | None = None,
    ) -> None:
        source_report = report if report is not None else live.last_report
        location = common_pb2.GeoPoint()
        if source_report is not None and source_report.HasField("position"):
            location.CopyFrom(source_report.position)
        event = new_event(
            live.agency_id,
            event_type,
            common_pb2.Source(
                kind=common_pb2.SOURCE_KIND_BADGE, id=live.badge_id, site_id=live.unit_id, name=live.badge_id
            ),
            occurred_at=datetime.fromtimestamp(at, UTC),
            attributes={"officer_id": live.officer_id, **(attributes or {})},
            rule_id=event_type,
            subject=subject,
            location=location,
            summary=f"badge {live.badge_id}: {summary}",
            resolves=resolves,
        )
        self.emit(event)
