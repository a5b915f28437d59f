"""The ground seen by flown paths, and how much of an area that is.

A nadir camera moving along a straight segment at a constant heading sees the union of its
footprints along it: a rectangle as wide as the footprint across the track, reaching half a
footprint beyond both ends. A path's coverage is the union of those rectangles over its segments.
Footprints seen while the drone turns at a corner (the yaw sweeping between the two headings) are
left out, so the figure errs low.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from kuzet.drone.coverage.footprint import Footprint
from kuzet.drone.coverage.split import CoveragePlan

XY = tuple[float, float]


def seen_by_path(path: Sequence[XY], fp: Footprint) -> BaseGeometry:
    pts = np.asarray(path, dtype=float)
    if len(pts) < 2:
        return shapely.GeometryCollection()
    a, b = pts[:-1], pts[1:]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 1e-6
    a, b, d, length = a[keep], b[keep], d[keep], length[keep]
    u = d / length[:, None]  # along the track
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)  # across it
    half_al, half_ac = u * (fp.along_m / 2), v * (fp.across_m / 2)
    p0, p1 = a - half_al, b + half_al
    rings = np.stack([p0 - half_ac, p1 - half_ac, p1 + half_ac, p0 + half_ac, p0 - half_ac], axis=1)
    return shapely.union_all(shapely.polygons(rings))


def seen_by_plan(plan: CoveragePlan) -> BaseGeometry:
    footprints = {s.drone_id: s.footprint for s in plan.strips}
    return shapely.union_all([seen_by_path(leg.path_m, footprints[leg.drone_id]) for leg in plan.legs])


def coverage_ratio(seen: BaseGeometry, asked: BaseGeometry) -> float:
    """Area seen of the area asked, 0..1."""
    if asked.area <= 0:
        raise ValueError("the area asked has no area")
    return float(seen.intersection(asked).area / asked.area)
