"""What RecordObservations makes of ingest's observations before anything is stored.

Each observation is checked against its camera's profile (a known camera and counting line, a
vehicle class, a time), its plate is normalised again here (ingest's reading is not trusted to be
current with the plate formats; ``plate_raw`` is what was read) and the service decides whether it
is speeding, from the speed evidence against the camera's limit. A plate that fits no format is
kept as read (``plate_raw``) but not as a plate: it cannot match a hotlist or a search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from kuzet.common.errors import InvalidArgument
from kuzet.common.roads.lanes import FORWARD, VEHICLE_CLASSES, WRONG_WAY
from kuzet.common.roads.plates import PlateReading, normalise
from kuzet.common.roads.speed import SpeedEvidence, SpeedLimit
from kuzet.traffic.v1 import traffic_pb2

ID_MAX = 128
# An unset tolerance means the default margin (TrafficCamera.speed_tolerance_kmh).
DEFAULT_TOLERANCE_KMH = 3.0


def micros(ts: Timestamp) -> int:
    """Microseconds since the epoch: how observations and hits are stored and searched."""
    return ts.seconds * 1_000_000 + ts.nanos // 1000


@dataclass(frozen=True)
class Prepared:
    observation: traffic_pb2.VehicleObservation  # as stored: agency, lane, plate and speeding set
    camera: traffic_pb2.TrafficCamera
    plate: PlateReading | None

    @property
    def observed_at(self) -> datetime:
        return self.observation.observed_at.ToDatetime(tzinfo=UTC)

    @property
    def observed_at_us(self) -> int:
        return micros(self.observation.observed_at)

    @property
    def counted(self) -> bool:
        """Whether it adds a vehicle to its lane's count (a wrong-way driver does not)."""
        return self.observation.direction == FORWARD


def speed_limit(camera: traffic_pb2.TrafficCamera) -> SpeedLimit:
    return SpeedLimit(camera.speed_limit_kmh, camera.speed_tolerance_kmh or DEFAULT_TOLERANCE_KMH)


def evidence_from_proto(message: traffic_pb2.SpeedEvidence) -> SpeedEvidence:
    def at(ts: Timestamp) -> datetime:
        return ts.ToDatetime(tzinfo=UTC)

    return SpeedEvidence(
        method=message.method,
        calibration_id=message.calibration_id,
        calibration_rms_error_m=message.calibration_rms_error_m,
        start_at=at(message.start_at),
        end_at=at(message.end_at),
        start_frame_at=at(message.start_frame_at),
        end_frame_at=at(message.end_frame_at),
        start_position_m=(message.start_position_m.x, message.start_position_m.y),
        end_position_m=(message.end_position_m.x, message.end_position_m.y),
        distance_m=message.distance_m,
        duration_s=message.duration_s,
        speed_kmh=message.speed_kmh,
        uncertainty_kmh=message.uncertainty_kmh,
    )


def prepare(
    observations: Sequence[traffic_pb2.VehicleObservation],
    cameras: Mapping[str, traffic_pb2.TrafficCamera],
) -> list[Prepared]:
    """The batch as it will be stored, or InvalidArgument naming the first bad observation."""
    return [_prepare(i, o, cameras) for i, o in enumerate(observations)]


def _prepare(
    index: int, given: traffic_pb2.VehicleObservation, cameras: Mapping[str, traffic_pb2.TrafficCamera]
) -> Prepared:
    where = f"observations[{index}]"
    camera = cameras.get(given.camera_id)
    if camera is None:
        raise InvalidArgument(
            f"{where}: unknown traffic camera {given.camera_id!r} (ConfigureCamera sets up its profile first)"
        )
    if not given.observation_id or len(given.observation_id) > ID_MAX:
        raise InvalidArgument(f"{where}: observation_id is required (at most {ID_MAX} characters)")
    lanes = {line.id: line.lane for line in camera.lines}
    if given.line_id not in lanes:
        raise InvalidArgument(
            f"{where}: unknown counting line {given.line_id!r} of camera {camera.camera_id}; "
            f"it has {sorted(lanes) or 'none'}"
        )
    if given.vehicle_class not in VEHICLE_CLASSES:
        raise InvalidArgument(
            f"{where}: vehicle class {given.vehicle_class!r} is not one of {sorted(VEHICLE_CLASSES)}"
        )
    if not given.HasField("observed_at"):
        raise InvalidArgument(f"{where}: observed_at is required")
    if given.direction not in ("", FORWARD, WRONG_WAY):
        raise InvalidArgument(
            f"{where}: direction must be {FORWARD!r} or {WRONG_WAY!r}, got {given.direction!r}"
        )
    if not (math.isfinite(given.speed_kmh) and given.speed_kmh >= 0):
        raise InvalidArgument(f"{where}: speed_kmh {given.speed_kmh} is not a non-negative number")
    if not 0.0 <= given.plate_confidence <= 1.0:
        raise InvalidArgument(f"{where}: plate_confidence {given.plate_confidence} is not between 0 and 1")
    stored = traffic_pb2.VehicleObservation()
    stored.CopyFrom(given)
    stored.agency_id = camera.agency_id
    stored.lane = lanes[given.line_id]
    stored.direction = given.direction or FORWARD
    plate = _plate(stored)
    stored.speeding = False
    if given.HasField("speed_evidence"):
        evidence = given.speed_evidence
        if not (math.isfinite(evidence.speed_kmh) and math.isfinite(evidence.uncertainty_kmh)) or (
            evidence.speed_kmh < 0 or evidence.uncertainty_kmh < 0
        ):
            raise InvalidArgument(f"{where}: speed_evidence needs a non-negative speed and uncertainty")
        stored.speeding = speed_limit(camera).flags(evidence_from_proto(evidence))
    return Prepared(stored, camera, plate)


def _plate(stored: traffic_pb2.VehicleObservation) -> PlateReading | None:
    raw = stored.plate_raw or stored.plate
    stored.plate_raw = raw
    if not raw:
        stored.plate, stored.plate_format = "", ""
        return None
    try:
        reading = normalise(raw, stored.plate_confidence)
    except InvalidArgument:
        stored.plate, stored.plate_format = "", ""
        return None
    stored.plate, stored.plate_format = reading.text, reading.format
    return reading
