"""The protected-area rules over one placed detection.

- reserve: a person or vehicle (bicycles included) inside at night in the area's time zone, or by
  day off every permitted track (beyond its buffer plus the placement's uncertainty) ->
  ``reserve_intrusion`` (``reason`` night / off_track);
- no-fishing zone: a boat inside -> ``boat_in_no_fishing_zone``;
- forest block: a motor vehicle whose track has stayed within ``stopped_radius_m`` for
  ``stopped_minutes`` inside -> ``vehicle_stopped_in_forest`` (the stop itself is the caller's
  to remember: ``AreaStore.stopped_since``).
"Inside" is the placed point inside the area (holes excluded), not the whole uncertainty disc:
an alert names its radius, and a point just outside a boundary is left to the next frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kuzet.drone.protectedareas import PAK, CompiledArea
from kuzet.drone.v1 import drone_pb2

OC = drone_pb2.ObjectClass
MOTOR_VEHICLES = frozenset(
    {OC.OBJECT_CLASS_CAR, OC.OBJECT_CLASS_TRUCK, OC.OBJECT_CLASS_BUS, OC.OBJECT_CLASS_MOTORCYCLE}
)
PEOPLE_AND_VEHICLES = MOTOR_VEHICLES | {OC.OBJECT_CLASS_PERSON, OC.OBJECT_CLASS_BICYCLE}
RESERVE_INTRUSION = "reserve_intrusion"
BOAT_IN_NO_FISHING = "boat_in_no_fishing_zone"
VEHICLE_STOPPED = "vehicle_stopped_in_forest"


@dataclass(frozen=True)
class Hit:
    rule: str  # the event type
    area: CompiledArea
    reason: str


def immediate_hits(
    areas: list[CompiledArea],
    object_class: int,
    latitude: float,
    longitude: float,
    uncertainty_m: float,
    at: datetime,
) -> tuple[list[str], list[Hit], list[CompiledArea]]:
    """Areas the point is in, the rules that fire now, and the forest blocks whose stopped-vehicle
    rule needs the track's stop."""
    inside, hits, forests = [], [], []
    for area in areas:
        p = area.point(latitude, longitude)
        if not area.contains(p):
            continue
        inside.append(area.area.area_id)
        kind = area.area.kind
        if kind == PAK.PROTECTED_AREA_KIND_RESERVE and object_class in PEOPLE_AND_VEHICLES:
            if area.is_night(at):
                hits.append(Hit(RESERVE_INTRUSION, area, "night"))
            elif area.off_tracks(p, uncertainty_m):
                hits.append(Hit(RESERVE_INTRUSION, area, "off_track"))
        elif kind == PAK.PROTECTED_AREA_KIND_NO_FISHING and object_class == OC.OBJECT_CLASS_BOAT:
            hits.append(Hit(BOAT_IN_NO_FISHING, area, "boat"))
        elif kind == PAK.PROTECTED_AREA_KIND_FOREST_BLOCK and object_class in MOTOR_VEHICLES:
            forests.append(area)
    return inside, hits, forests
