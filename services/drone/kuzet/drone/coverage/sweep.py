"""Boustrophedon lines over a drone's strip of the area, joined into one path.

Lines run along the strip's longest axis (the long side of its minimum rotated rectangle: fewest
turns), evenly spaced across the strip at most `spacing` apart, half a spacing in from each edge
so the footprint covers the edges. Each line is clipped to the region; a line cut by a hole or a
no-fly zone has several pieces, flown in the line's direction. Consecutive lines alternate
direction, and every join is a `Transit` path (a detour where the straight join would cross a
no-fly zone or leave the geofence).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from kuzet.drone.coverage.transit import Transit

XY = tuple[float, float]
Piece = tuple[XY, XY]

# Pieces shorter than this are left out: the footprint of the neighbouring lines covers them.
MIN_PIECE_M = 1.0


def sweep_angle(region: BaseGeometry) -> float:
    """Radians from East of the region's longest axis."""
    rect = shapely.oriented_envelope(region)
    xs, ys = rect.exterior.coords.xy
    sides = [(xs[i + 1] - xs[i], ys[i + 1] - ys[i]) for i in range(2)]
    dx, dy = max(sides, key=lambda s: math.hypot(*s))
    return math.atan2(dy, dx)


class SweepFrame:
    """The region rotated so sweep lines are horizontal (y = const), about the origin."""

    def __init__(self, region: BaseGeometry, angle: float) -> None:
        self.angle = angle
        self.region = affinity.rotate(region, -angle, origin=(0.0, 0.0), use_radians=True)
        c, s = math.cos(angle), math.sin(angle)
        self._back = np.array([[c, -s], [s, c]])

    def to_world(self, pts: list[XY]) -> list[XY]:
        arr = np.asarray(pts, dtype=float) @ self._back.T
        return [(float(x), float(y)) for x, y in arr]

    def lines(self, y0: float, y1: float, spacing: float) -> list[list[Piece]]:
        """Pieces of each line in [y0, y1] (rotated frame), sorted west to east."""
        n = max(1, math.ceil((y1 - y0) / spacing - 1e-9))
        step = (y1 - y0) / n
        minx, _, maxx, _ = self.region.bounds
        ys = [y0 + step * (k + 0.5) for k in range(n)]
        cuts = shapely.intersection(
            shapely.linestrings([[(minx - 1, y), (maxx + 1, y)] for y in ys]), self.region
        )
        out: list[list[Piece]] = []
        for cut in cuts:
            pieces: list[Piece] = []
            for part in getattr(cut, "geoms", [cut]):
                if isinstance(part, LineString) and part.length >= MIN_PIECE_M:
                    (ax, ay), (bx, by) = part.coords[0], part.coords[-1]
                    pieces.append(((ax, ay), (bx, by)) if ax <= bx else ((bx, by), (ax, ay)))
            if pieces:
                out.append(sorted(pieces))
        return out


def boustrophedon(
    frame: SweepFrame, lines: list[list[Piece]], start: XY, transit: Transit, what: str
) -> list[XY]:
    """One path over every piece (world coordinates), from the end nearer `start`, joins included.

    The first line is flown from its end nearer `start` and the lines in the order that begins
    nearer it (first or last), so a drone starts on the side of its strip facing its home.
    """
    if not lines:
        return []
    world: list[list[Piece]] = []
    for line in lines:
        ends = frame.to_world([p for piece in line for p in piece])
        world.append([(ends[2 * i], ends[2 * i + 1]) for i in range(len(line))])
    if math.dist(start, _mid(world[-1])) < math.dist(start, _mid(world[0])):
        world = world[::-1]
    first = world[0]
    eastward = math.dist(start, first[0][0]) <= math.dist(start, first[-1][1])
    path: list[XY] = []
    for line in world:
        pieces = line if eastward else [(b, a) for a, b in reversed(line)]
        for a, b in pieces:
            if path:
                path.extend(transit.path(path[-1], a, what))
            path.extend([a, b])
        eastward = not eastward
    return path


def _mid(line: list[Piece]) -> XY:
    (ax, ay), (bx, by) = line[0][0], line[-1][1]
    return ((ax + bx) / 2, (ay + by) / 2)
