"""Counting lines across lanes: a tracked vehicle crossing one becomes one observation.

A counting line is a segment in source-frame pixels drawn across one lane. Its direction is the
lane's: traffic in the lane's direction crosses from the left of start->end to its right as drawn
on the picture (y grows downwards), which is the way ``normal`` points. A vehicle crossing the
other way is a wrong-way crossing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kuzet.common.errors import InvalidArgument
from kuzet.common.geometry import Pt, segments_intersect
from kuzet.common.roads.plates import PlateReading
from kuzet.common.timeutil import as_utc, to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.traffic.v1 import traffic_pb2

FORWARD = "forward"
WRONG_WAY = "wrong_way"
# A track is on one side of a line only once it is this far from it; in between it keeps the side
# it had. A tracked box's bottom centre jitters by a pixel or two, so a vehicle stopped on the line
# never counts and one that rolls back and forth across it counts once.
HYSTERESIS_PX = 4.0
# Shorter than this a drawn line is a click, not a line.
MIN_LINE_PX = 2.0
# What ingest's detector reports (VehicleObservation.vehicle_class).
VEHICLE_CLASSES = frozenset({"car", "truck", "bus", "motorcycle", "bicycle"})


@dataclass(frozen=True)
class CountingLine:
    id: str
    lane: str
    start: Pt
    end: Pt

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidArgument("a counting line needs an id")
        if not self.lane.strip():
            raise InvalidArgument(f"counting line {self.id!r} needs a lane")
        if not all(math.isfinite(v) for v in (*self.start, *self.end)):
            raise InvalidArgument(f"counting line {self.id!r} has a coordinate that is not a finite number")
        if self.length < MIN_LINE_PX:
            raise InvalidArgument(f"counting line {self.id!r} is shorter than {MIN_LINE_PX:g} px")

    @property
    def length(self) -> float:
        return math.dist(self.start, self.end)

    @property
    def normal(self) -> Pt:
        """Unit vector the lane's traffic moves along: start->end turned a quarter clockwise on the picture."""
        dx, dy = self.end[0] - self.start[0], self.end[1] - self.start[1]
        return (-dy / self.length, dx / self.length)

    def signed_distance(self, point: Pt) -> float:
        """Pixels from the line, positive on the side the lane's traffic goes to."""
        nx, ny = self.normal
        return (point[0] - self.start[0]) * nx + (point[1] - self.start[1]) * ny

    @classmethod
    def from_proto(cls, message: traffic_pb2.CountingLine) -> CountingLine:
        return cls(
            id=message.id,
            lane=message.lane,
            start=(message.start.x, message.start.y),
            end=(message.end.x, message.end.y),
        )


@dataclass(frozen=True)
class Crossing:
    line_id: str
    lane: str
    track_id: int
    # interpolated between the last frame on one side and the first on the other
    at: datetime
    point: Pt
    direction: str

    def to_observation(
        self,
        camera_id: str,
        vehicle_class: str,
        *,
        speed_kmh: float = 0.0,
        plate: PlateReading | None = None,
        snapshot: common_pb2.ObjectRef | None = None,
    ) -> traffic_pb2.VehicleObservation:
        """The observation ingest reports for a crossing, wrong way included (its direction says
        so, and the traffic service does not count it in the lane it drove against). Its id is
        the camera's, track's and line's: the same crossing sent twice is recorded once."""
        if vehicle_class not in VEHICLE_CLASSES:
            raise InvalidArgument(f"vehicle class {vehicle_class!r} is not one of {sorted(VEHICLE_CLASSES)}")
        if not (math.isfinite(speed_kmh) and speed_kmh >= 0):
            raise InvalidArgument(f"speed {speed_kmh} km/h is not a non-negative number")
        observation = traffic_pb2.VehicleObservation(
            camera_id=camera_id,
            line_id=self.line_id,
            track_id=self.track_id,
            observation_id=f"{camera_id}:{self.track_id}:{self.line_id}",
            lane=self.lane,
            direction=self.direction,
            vehicle_class=vehicle_class,
            observed_at=to_timestamp(self.at),
            speed_kmh=speed_kmh,
            plate=plate.text if plate else "",
            plate_confidence=plate.confidence if plate else 0.0,
        )
        if snapshot is not None:
            observation.snapshot.CopyFrom(snapshot)
        return observation


@dataclass
class _TrackSide:
    side: int  # -1 before the line, +1 past it (in the lane's direction)
    # the latest point clearly on that side, where a crossing is measured from
    point: Pt
    at: datetime
    crossed: bool = False


class LaneCounter:
    """Turns track positions into line crossings, at most one per track and line."""

    def __init__(self, lines: Sequence[CountingLine], hysteresis_px: float = HYSTERESIS_PX) -> None:
        if not (math.isfinite(hysteresis_px) and hysteresis_px >= 0):
            raise InvalidArgument(f"hysteresis must be a non-negative number of pixels, got {hysteresis_px}")
        self._lines: dict[str, CountingLine] = {}
        for line in lines:
            if line.id in self._lines:
                raise InvalidArgument(f"counting line {line.id!r} is defined twice")
            self._lines[line.id] = line
        self._hysteresis = hysteresis_px
        self._tracks: dict[int, dict[str, _TrackSide]] = {}

    def line(self, line_id: str) -> CountingLine:
        try:
            return self._lines[line_id]
        except KeyError:
            raise InvalidArgument(
                f"unknown counting line {line_id!r}; this camera has {sorted(self._lines) or 'none'}"
            ) from None

    def update(self, track_id: int, at: datetime, point: Pt) -> list[Crossing]:
        """The crossings the track made since its previous position (the track's positions in time order)."""
        at = as_utc(at)
        sides = self._tracks.setdefault(track_id, {})
        crossings = []
        for line in self._lines.values():
            distance = line.signed_distance(point)
            if abs(distance) <= self._hysteresis:
                continue
            side = 1 if distance > 0 else -1
            state = sides.get(line.id)
            if state is None:
                sides[line.id] = _TrackSide(side, point, at)
                continue
            if state.crossed:
                continue
            if side != state.side and segments_intersect(state.point, point, line.start, line.end):
                crossings.append(self._crossing(line, track_id, state, at, point, distance))
                state.crossed = True
                continue
            # the same side, or round the end of the segment (another lane's line): a new reference
            state.side, state.point, state.at = side, point, at
        return crossings

    def forget(self, track_id: int) -> None:
        """Drops a finished track's state."""
        self._tracks.pop(track_id, None)

    @staticmethod
    def _crossing(
        line: CountingLine, track_id: int, state: _TrackSide, at: datetime, point: Pt, distance: float
    ) -> Crossing:
        before = line.signed_distance(state.point)
        fraction = before / (before - distance)
        return Crossing(
            line_id=line.id,
            lane=line.lane,
            track_id=track_id,
            at=state.at + (at - state.at) * fraction,
            point=(
                state.point[0] + fraction * (point[0] - state.point[0]),
                state.point[1] + fraction * (point[1] - state.point[1]),
            ),
            direction=FORWARD if state.side < 0 else WRONG_WAY,
        )


@dataclass
class _Bucket:
    vehicles: int = 0
    speed_sum: float = 0.0
    speeds: int = 0
    by_class: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class CountAggregator:
    """Vehicles per lane and interval (aligned to UTC midnight), with their mean measured speed."""

    def __init__(self, lines: Sequence[CountingLine], interval_s: int) -> None:
        if interval_s <= 0 or 86400 % interval_s:
            raise InvalidArgument(
                f"count interval must divide a day into whole intervals (60, 900, 3600 ...), got {interval_s} s"
            )
        self._lanes = {line.id: line.lane for line in lines}
        self._interval = interval_s
        self._buckets: dict[tuple[int, str], _Bucket] = defaultdict(_Bucket)

    def add(self, line_id: str, observed_at: datetime, vehicle_class: str, speed_kmh: float = 0.0) -> None:
        """One vehicle; a speed of 0 is one not measured and stays out of the mean."""
        if line_id not in self._lanes:
            raise InvalidArgument(
                f"unknown counting line {line_id!r}; this camera has {sorted(self._lanes) or 'none'}"
            )
        if vehicle_class not in VEHICLE_CLASSES:
            raise InvalidArgument(f"vehicle class {vehicle_class!r} is not one of {sorted(VEHICLE_CLASSES)}")
        if not (math.isfinite(speed_kmh) and speed_kmh >= 0):
            raise InvalidArgument(f"speed {speed_kmh} km/h is not a non-negative number")
        epoch = as_utc(observed_at).timestamp()
        bucket = self._buckets[(int(epoch // self._interval) * self._interval, line_id)]
        bucket.vehicles += 1
        bucket.by_class[vehicle_class] += 1
        if speed_kmh > 0:
            bucket.speed_sum += speed_kmh
            bucket.speeds += 1

    def add_observation(self, observation: traffic_pb2.VehicleObservation) -> None:
        self.add(
            observation.line_id,
            observation.observed_at.ToDatetime(tzinfo=UTC),
            observation.vehicle_class,
            observation.speed_kmh,
        )

    def counts(self) -> list[traffic_pb2.LaneCount]:
        """One count per interval and line that saw a vehicle, in time order, then by line id."""
        return [
            traffic_pb2.LaneCount(
                line_id=line_id,
                lane=self._lanes[line_id],
                interval_start=to_timestamp(datetime.fromtimestamp(start, UTC)),
                vehicles=bucket.vehicles,
                mean_speed_kmh=bucket.speed_sum / bucket.speeds if bucket.speeds else 0.0,
                by_class=dict(bucket.by_class),
            )
            for (start, line_id), bucket in sorted(self._buckets.items())
        ]
