"""Plane geometry in source-frame pixels (y grows downwards)."""

from __future__ import annotations

from collections.abc import Sequence

Pt = tuple[float, float]


def anchor(box: Sequence[float]) -> Pt:
    """Where a person stands: the bottom centre of the box (feet touch the floor plane there)."""
    return ((box[0] + box[2]) / 2.0, float(box[3]))


def inside(point: Pt, polygon: Sequence[Pt]) -> bool:
    """Even-odd rule; points on an edge count as inside."""
    x, y = point
    hit = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if _on_segment(point, (x1, y1), (x2, y2)):
            return True
        if (y1 > y) != (y2 > y):
            xs = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xs:
                hit = not hit
    return hit


def cross(a: Pt, b: Pt, p: Pt) -> float:
    """z of (b - a) x (p - a): negative when p is left of a->b as seen walking a->b on the image."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def _on_segment(p: Pt, a: Pt, b: Pt, eps: float = 1e-9) -> bool:
    if abs(cross(a, b, p)) > eps:
        return False
    return (
        min(a[0], b[0]) - eps <= p[0] <= max(a[0], b[0]) + eps
        and min(a[1], b[1]) - eps <= p[1] <= max(a[1], b[1]) + eps
    )


def segments_intersect(p1: Pt, p2: Pt, q1: Pt, q2: Pt) -> bool:
    d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
    d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and d1 != 0 and d2 != 0 and ((d3 > 0) != (d4 > 0)) and d3 != 0 and d4 != 0:
        return True
    return any(
        (d == 0 and _on_segment(pt, a, b))
        for d, pt, a, b in ((d1, p1, q1, q2), (d2, p2, q1, q2), (d3, q1, p1, p2), (d4, q2, p1, p2))
    )


def crossing(prev: Pt, cur: Pt, a: Pt, b: Pt) -> str:
    """'left_to_right', 'right_to_left' or '' for a move prev->cur over the segment a-b."""
    before, after = cross(a, b, prev), cross(a, b, cur)
    if before == after or ((before < 0) == (after < 0) and before != 0 and after != 0):
        return ""
    if not segments_intersect(prev, cur, a, b):
        return ""
    if before < 0 <= after and after != 0:
        return "left_to_right"
    if before > 0 >= after and after != 0:
        return "right_to_left"
    return ""


def polygon_area(polygon: Sequence[Pt]) -> float:
    n = len(polygon)
    return (
        abs(
            sum(
                polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
                for i in range(n)
            )
        )
        / 2
    )
