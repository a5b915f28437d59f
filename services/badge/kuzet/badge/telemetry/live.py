"""What the service keeps in memory per badge: identity, latest report, acknowledgement and rule state.

Everything a report touches lives here so that ingesting one is a few attribute writes; the
database sees reports in batches (see hub.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp

from kuzet.badge.v1 import badge_pb2

if TYPE_CHECKING:
    from kuzet.badge.telemetry.link import BadgeLink


@dataclass(slots=True)
class BadgeLive:
    badge_id: str
    agency_id: str
    unit_id: str = ""
    officer_id: str = ""
    status: int = badge_pb2.BADGE_STATUS_ACTIVE
    # Hash of the device token (kuzet.badge.credentials); empty: the device port refuses the badge.
    credential_hash: str = ""

    # Acknowledgement: every seq <= received_hwm has arrived; seqs above it that arrived are in
    # received_above (out of order). acked_seq trails received_hwm until the batch is durable.
    received_hwm: int = 0
    received_above: set[int] = field(default_factory=set)
    acked_seq: int = 0

    # The latest report, serialized: a message object kept for the second until the next report
    # would outlive two collections and reach the collector's oldest generation, 10,000 a second
    # at 10,000 badges, and make every full collection come every few seconds (bytes are not
    # tracked by the collector). Its recording state is kept apart for the per-tick rule.
    last_report_bytes: bytes = b""
    recording: int = badge_pb2.RECORDING_STATE_UNSPECIFIED
    # device_time of the latest report in epoch seconds, to order late reports cheaply.
    last_device_ts: float = 0.0
    # Server wall time (epoch seconds) of the last message from the badge, 0 = never.
    last_seen: float = 0.0
    link: BadgeLink | None = None
    # Another replica holds the badge's stream (its claim, as last read; see streams.py).
    held_elsewhere: bool = False

    # Incident assignment (for the recording rule).
    incident_id: str = ""
    incident_assigned_at: float = 0.0

    # Rule state: each flag is "an alert for this occurrence was sent".
    panic_active: bool = False
    tamper_until: float = 0.0
    last_shutdown_ts: float = 0.0
    recording_alert_open: bool = False
    signal_lost: bool = False
    battery_alert_open: bool = False

    @property
    def last_report(self) -> badge_pb2.TelemetryReport | None:
        return (
            badge_pb2.TelemetryReport.FromString(self.last_report_bytes) if self.last_report_bytes else None
        )

    def set_last_report(self, data: bytes, recording: int, device_ts: float) -> None:
        self.last_report_bytes, self.recording, self.last_device_ts = data, recording, device_ts

    @property
    def connected(self) -> bool:
        return self.link is not None or self.held_elsewhere

    @property
    def on_shift(self) -> bool:
        return bool(self.officer_id)

    def accept_seq(self, seq: int) -> bool:
        """Record that ``seq`` arrived; False when it already had (a duplicate to drop)."""
        if seq <= self.received_hwm or seq in self.received_above:
            return False
        if seq == self.received_hwm + 1:
            self.received_hwm = seq
            above = self.received_above
            while above and (self.received_hwm + 1) in above:
                self.received_hwm += 1
                above.discard(self.received_hwm)
        else:
            self.received_above.add(seq)
        return True

    def to_proto(self) -> badge_pb2.BadgeState:
        state = badge_pb2.BadgeState(
            badge_id=self.badge_id,
            agency_id=self.agency_id,
            unit_id=self.unit_id,
            officer_id=self.officer_id,
            connected=self.connected,
            panic_active=self.panic_active,
            tamper=self.tamper_until > 0,
            incident_id=self.incident_id,
            signal_lost=self.signal_lost,
            acked_seq=self.acked_seq,
        )
        if self.last_seen:
            state.last_seen.CopyFrom(epoch_timestamp(self.last_seen))
        if self.last_report_bytes:
            state.last_report.MergeFromString(self.last_report_bytes)
        return state


def epoch_timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts
