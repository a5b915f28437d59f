"""The area to survey, validated and projected to metres.

Shapely does the polygon work in a transverse-Mercator projection centred on the area (pyproj):
its scale error is below 1e-6 within 10 km of the centre and 1e-4 within 60 km, so metres and
square metres here are ground metres for any area a drone fleet can fly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from kuzet.common.errors import InvalidArgument
from kuzet.common.v1 import common_pb2
from kuzet.drone import planning
from kuzet.drone.v1 import drone_pb2

XY = tuple[float, float]
LatLon = tuple[float, float]

# Distances beyond this from the area's centre are refused: the projection's scale error (1e-4 at
# 60 km) would start to matter against the clearances, and no fleet sweeps such an area in a day.
MAX_EXTENT_M = 60_000.0

# Shapely's reasons (GEOS `isValidReason`) in words a pilot understands.
_REASONS = {
    "Self-intersection": "crosses itself",
    "Ring Self-intersection": "crosses itself",
    "Hole lies outside shell": "has a hole outside its outline",
    "Nested holes": "has a hole inside another hole",
    "Interior is disconnected": "is cut in pieces by its holes",
    "Too few points": "has too few distinct corners",
    "Invalid Coordinate": "has an invalid coordinate",
}


class Projection:
    """WGS84 latitude/longitude <-> East/North metres of a transverse Mercator around a centre."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        tm = CRS.from_proj4(f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84")
        self._fwd = Transformer.from_crs("EPSG:4326", tm, always_xy=True)
        self._inv = Transformer.from_crs(tm, "EPSG:4326", always_xy=True)

    def to_xy(self, points: Sequence[LatLon]) -> list[XY]:
        if not points:
            return []
        lat, lon = np.asarray(points, dtype=float).T
        x, y = self._fwd.transform(lon, lat)
        return list(zip(np.atleast_1d(x).tolist(), np.atleast_1d(y).tolist(), strict=True))

    def to_latlon(self, points: Sequence[XY]) -> list[LatLon]:
        if not points:
            return []
        x, y = np.asarray(points, dtype=float).T
        lon, lat = self._inv.transform(x, y)
        return list(zip(np.atleast_1d(lat).tolist(), np.atleast_1d(lon).tolist(), strict=True))


@dataclass(frozen=True)
class SurveyArea:
    """An area as asked (outline minus holes) and as allowed (minus the no-fly zones), in metres."""

    projection: Projection
    asked: Polygon
    allowed: BaseGeometry
    zones: tuple[drone_pb2.Zone, ...]
    no_fly: BaseGeometry
    geofence: BaseGeometry | None


def _latlons(points: Sequence[common_pb2.GeoPoint], what: str) -> list[LatLon]:
    for i, p in enumerate(points):
        planning.check_point(p, f"{what} corner {i}")
    return [(p.latitude, p.longitude) for p in points]


def _polygon(shell: list[XY], holes: list[list[XY]], projection: Projection, what: str) -> Polygon:
    if len(shell) < 3:
        raise InvalidArgument(f"{what} needs at least 3 corners, got {len(shell)}")
    poly = Polygon(shell, holes)
    reason = shapely.is_valid_reason(poly)
    if reason != "Valid Geometry":
        raise InvalidArgument(_explain(reason, projection, what))
    if poly.area < 1.0:
        raise InvalidArgument(f"{what} has no area (corners on a line or repeated)")
    return poly


def _explain(reason: str, projection: Projection, what: str) -> str:
    m = re.match(r"^(.*?)\[\s*([-0-9.eE+]+)\s+([-0-9.eE+]+)", reason)
    if not m:
        return f"{what} is not a valid polygon ({reason})"
    words = _REASONS.get(m.group(1).strip(), m.group(1).strip().lower())
    [(lat, lon)] = projection.to_latlon([(float(m.group(2)), float(m.group(3)))])
    hint = "; give the corners in order around the outline" if "crosses" in words else ""
    return f"{what} {words} near ({lat:.6f}, {lon:.6f}){hint}"


def survey_area(
    outline: Sequence[common_pb2.GeoPoint],
    holes: Sequence[Sequence[common_pb2.GeoPoint]] = (),
    zones: Sequence[drone_pb2.Zone] = (),
) -> SurveyArea:
    """Validate the area and project it; raises InvalidArgument naming what is wrong and where."""
    shell_ll = _latlons(outline, "area outline")
    if len(shell_ll) < 3:
        raise InvalidArgument(f"area outline needs at least 3 corners, got {len(shell_ll)}")
    lat0 = sum(p[0] for p in shell_ll) / len(shell_ll)
    lon0 = sum(p[1] for p in shell_ll) / len(shell_ll)
    projection = Projection(lat0, lon0)
    shell = projection.to_xy(shell_ll)
    reach = max(math.hypot(x, y) for x, y in shell)
    if reach > MAX_EXTENT_M:
        raise InvalidArgument(
            f"area outline reaches {reach / 1000:.0f} km from its centre; split areas wider than "
            f"{2 * MAX_EXTENT_M / 1000:.0f} km into several plans"
        )
    hole_rings = []
    for k, hole in enumerate(holes):
        ring = projection.to_xy(_latlons(hole, f"hole {k}"))
        _polygon(ring, [], projection, f"hole {k}")  # its own problems first, named as its own
        hole_rings.append(ring)
    asked = _polygon(shell, hole_rings, projection, "area outline")
    no_fly: list[BaseGeometry] = []
    fences: list[BaseGeometry] = []
    for z in zones:
        if z.kind not in (drone_pb2.ZONE_KIND_NO_FLY, drone_pb2.ZONE_KIND_GEOFENCE):
            continue
        name = f"zone '{z.name or z.zone_id}'"
        ring = projection.to_xy(_latlons(z.polygon, name))
        poly = _polygon(ring, [], projection, name)
        (no_fly if z.kind == drone_pb2.ZONE_KIND_NO_FLY else fences).append(poly)
    blocked = shapely.union_all(no_fly)
    allowed = asked.difference(blocked)
    if allowed.area < 1.0:
        raise InvalidArgument("the whole area lies in no-fly zones; nothing can be surveyed")
    return SurveyArea(
        projection=projection,
        asked=asked,
        allowed=allowed,
        zones=tuple(zones),
        no_fly=blocked,
        geofence=shapely.union_all(fences) if fences else None,
    )
