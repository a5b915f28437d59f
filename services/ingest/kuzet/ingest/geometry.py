"""Geometry of people in the picture, in source-frame pixels (y grows downwards).

Points in zones and segment tests are ``kuzet.common.geometry``.
"""

from __future__ import annotations

from collections.abc import Sequence

from kuzet.common.geometry import Pt, cross, segments_intersect


def anchor(box: Sequence[float]) -> Pt:
    """Where a person stands: the bottom centre of the box (feet touch the floor plane there)."""
    return ((box[0] + box[2]) / 2.0, float(box[3]))


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
