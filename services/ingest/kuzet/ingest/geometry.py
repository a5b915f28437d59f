"""Geometry of people in the picture, in source-frame pixels (y grows downwards).

Points in zones and segment tests are ``kuzet.common.geometry``.
"""

from __future__ import annotations

from collections.abc import Sequence

from kuzet.common.geometry import Pt, cross, segments_intersect


def anchor(box: Sequence[float]) -> Pt:
    """Where a person stands: the bottom centre of the box (feet touch the floor plane there)."""
    return ((box[0] + box[2]) / 2.0, float(box[3]))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def crossing(prev: Pt, cur: Pt, a: Pt, b: Pt) -> str:
    """'left_to_right', 'right_to_left' or '' for a move prev->cur over the segment a-b.

    Left and right as seen walking a->b on the image: with y growing downwards, ``cross`` is
    negative for a point on the left.
    """
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
