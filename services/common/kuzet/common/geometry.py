"""Plane geometry shared by services: points in polygons, segments that meet, polygon areas.

Units are the caller's (ingest: source-frame pixels; drone: metres in a local East-North frame).
Service-specific geometry stays with its service: drone's patrol frame and sweep paths in
``kuzet.drone.geo``, ingest's box anchors and line-crossing directions in ``kuzet.ingest.geometry``.
"""

from __future__ import annotations

from collections.abc import Sequence

Pt = tuple[float, float]

# Collinearity tolerance: far below a pixel and a millimetre, so only rounding is forgiven.
EPS = 1e-9


def cross(a: Pt, b: Pt, p: Pt) -> float:
    """z of (b - a) x (p - a): the sign says on which side of the line a->b the point p lies."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def on_segment(p: Pt, a: Pt, b: Pt, eps: float = EPS) -> bool:
    if abs(cross(a, b, p)) > eps:
        return False
    return (
        min(a[0], b[0]) - eps <= p[0] <= max(a[0], b[0]) + eps
        and min(a[1], b[1]) - eps <= p[1] <= max(a[1], b[1]) + eps
    )


def point_in_polygon(point: Pt, polygon: Sequence[Pt]) -> bool:
    """Even-odd rule; a point on an edge counts as inside (a zone's border belongs to the zone)."""
    x, y = point
    hit = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if on_segment(point, (x1, y1), (x2, y2)):
            return True
        if (y1 > y) != (y2 > y):
            xs = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xs:
                hit = not hit
    return hit


def segments_intersect(p1: Pt, p2: Pt, q1: Pt, q2: Pt) -> bool:
    """True when the segments p1-p2 and q1-q2 share a point (touching counts)."""
    d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
    d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and d1 != 0 and d2 != 0 and ((d3 > 0) != (d4 > 0)) and d3 != 0 and d4 != 0:
        return True
    return any(
        (d == 0 and on_segment(pt, a, b))
        for d, pt, a, b in ((d1, p1, q1, q2), (d2, p2, q1, q2), (d3, q1, p1, p2), (d4, q2, p1, p2))
    )


def signed_area(polygon: Sequence[Pt]) -> float:
    """Shoelace area: positive when the vertices run counter-clockwise in a y-up plane."""
    n = len(polygon)
    return (
        sum(
            polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
            for i in range(n)
        )
        / 2
    )


def polygon_area(polygon: Sequence[Pt]) -> float:
    return abs(signed_area(polygon))
