"""Planar geometry for patrols (points in polygons and segment tests: ``kuzet.common.geometry``).

Positions are WGS84, but a patrol spans a few kilometres, so planning and checks work in a local
East-North plane around a reference point (an equirectangular projection on a sphere of the
IUGG mean radius). Within 10 km of the reference the error is below 0.1 % of the distance, far
under a GPS fix and a waypoint acceptance radius; longer flights should not be planned with this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kuzet.common.geometry import cross, point_in_polygon, segments_intersect

EARTH_RADIUS_M = 6_371_008.8

XY = tuple[float, float]


@dataclass(frozen=True)
class LocalFrame:
    """East/North metres around a reference latitude/longitude."""

    lat0: float
    lon0: float

    @property
    def _kx(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    def to_xy(self, lat: float, lon: float) -> XY:
        ky = math.radians(1.0) * EARTH_RADIUS_M
        return ((lon - self.lon0) * self._kx, (lat - self.lat0) * ky)

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        ky = math.radians(1.0) * EARTH_RADIUS_M
        return (self.lat0 + y / ky, self.lon0 + x / self._kx)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def dist(a: XY, b: XY) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def path_length(points: Sequence[XY]) -> float:
    return sum(dist(points[i], points[i + 1]) for i in range(len(points) - 1))


def segment_crosses_polygon(a: XY, b: XY, poly: Sequence[XY]) -> bool:
    """True when the segment touches the polygon's inside or its boundary."""
    if point_in_polygon(a, poly) or point_in_polygon(b, poly):
        return True
    n = len(poly)
    return any(segments_intersect(a, b, poly[i], poly[(i + 1) % n]) for i in range(n))


def segment_leaves_polygon(a: XY, b: XY, poly: Sequence[XY]) -> bool:
    """True when part of the segment lies outside the polygon (for inclusion fences)."""
    if not point_in_polygon(a, poly) or not point_in_polygon(b, poly):
        return True
    n = len(poly)
    # Both ends inside: a concave polygon can still be left in between, which means crossing
    # an edge properly.
    for i in range(n):
        c, d = poly[i], poly[(i + 1) % n]
        o1, o2 = cross(c, d, a), cross(c, d, b)
        o3, o4 = cross(a, b, c), cross(a, b, d)
        if o1 * o2 < 0 and o3 * o4 < 0:
            return True
    return False


def is_simple_polygon(poly: Sequence[XY]) -> bool:
    """No two non-adjacent edges cross (a self-intersecting 'bow tie' has no clear inside)."""
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or (i + 1) % n == j:
                continue
            c, d = poly[j], poly[(j + 1) % n]
            if segments_intersect(a, b, c, d):
                return False
    return True


def sweep_lines(poly: Sequence[XY], spacing: float) -> list[XY]:
    """Lawn-mower path over a polygon.

    Lines run along the polygon's longest edge (fewest turns), `spacing` apart, the first half a
    spacing in from the edge so the camera footprint covers the boundary; consecutive lines
    alternate direction. Each line is clipped to the polygon (for a concave polygon, its
    outermost crossings, which the inclusion check then flags if it leaves the area).
    """
    n = len(poly)
    longest = max(range(n), key=lambda i: dist(poly[i], poly[(i + 1) % n]))
    p, q = poly[longest], poly[(longest + 1) % n]
    theta = math.atan2(q[1] - p[1], q[0] - p[0])
    c, s = math.cos(-theta), math.sin(-theta)
    rot = [(x * c - y * s, x * s + y * c) for x, y in poly]
    ys = [y for _, y in rot]
    lo, hi = min(ys), max(ys)
    out: list[XY] = []
    y = lo + spacing / 2
    forward = True
    while y < hi:
        xs: list[float] = []
        for i in range(n):
            (x1, y1), (x2, y2) = rot[i], rot[(i + 1) % n]
            if (y1 > y) != (y2 > y):
                xs.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
        if len(xs) >= 2:
            a, b = min(xs), max(xs)
            seg = [(a, y), (b, y)] if forward else [(b, y), (a, y)]
            out.extend(seg)
            forward = not forward
        y += spacing
    ci, si = math.cos(theta), math.sin(theta)
    return [(x * ci - yy * si, x * si + yy * ci) for x, yy in out]
