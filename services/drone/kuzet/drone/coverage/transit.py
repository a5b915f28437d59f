"""Flights between two points that stay in the flyable region (inside the geofence, clear of no-fly zones).

The straight line when it stays inside; otherwise the shortest path of a visibility graph whose
nodes are the corners of the obstacles pushed out a little further than the clearance (so the
graph's edges run just outside the clearance band, never on its rounded edge). Edges are tested
lazily and cached: a sweep needs a detour for few of its joins.
"""

from __future__ import annotations

import heapq
import math

import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from kuzet.common.errors import InvalidArgument

XY = tuple[float, float]

# Nodes lie this many times the clearance from the obstacle: an edge between two neighbouring
# nodes of a mitred offset stays that far out, comfortably beyond the clearance band.
NODE_OFFSET = 1.5


def _corners(geom: BaseGeometry) -> list[XY]:
    out: list[XY] = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty:
            continue
        for ring in (poly.exterior, *poly.interiors):
            out.extend((float(x), float(y)) for x, y in list(ring.coords)[:-1])
    return out


class Transit:
    """Paths inside `flyable`; `no_fly` and `fence` are the raw obstacles it was built from."""

    def __init__(
        self, flyable: BaseGeometry, no_fly: BaseGeometry, fence: BaseGeometry | None, clearance_m: float
    ) -> None:
        self.flyable = flyable
        shapely.prepare(flyable)
        offset = NODE_OFFSET * clearance_m
        # Simplifying by a quarter of the clearance keeps the nodes outside the band and bounds the
        # graph for zones drawn with thousands of corners.
        corners = _corners(
            no_fly.buffer(offset, join_style="mitre", mitre_limit=2.0).simplify(clearance_m / 4)
        )
        if fence is not None:
            corners += _corners(
                fence.buffer(-offset, join_style="mitre", mitre_limit=2.0).simplify(clearance_m / 4)
            )
        self.nodes = [c for c in corners if flyable.covers(Point(c))]
        self._seen: dict[tuple[int, int], bool] = {}

    def clear(self, a: XY, b: XY) -> bool:
        if a == b:
            return bool(self.flyable.covers(Point(a)))
        return bool(self.flyable.covers(LineString([a, b])))

    def _node_clear(self, i: int, j: int) -> bool:
        key = (i, j) if i < j else (j, i)
        if key not in self._seen:
            self._seen[key] = self.clear(self.nodes[i], self.nodes[j])
        return self._seen[key]

    def path(self, a: XY, b: XY, what: str) -> list[XY]:
        """The corners to fly through from a to b (empty for a straight flight); InvalidArgument if none."""
        if self.clear(a, b):
            return []
        n = len(self.nodes)
        start, goal = n, n + 1
        pts = [*self.nodes, a, b]

        def h(i: int) -> float:
            return math.dist(pts[i], b)

        def visible(i: int, j: int) -> bool:
            if i < n and j < n:
                return self._node_clear(i, j)
            return self.clear(pts[i], pts[j])

        best = {start: 0.0}
        came: dict[int, int] = {}
        queue = [(h(start), start)]
        done: set[int] = set()
        while queue:
            _, i = heapq.heappop(queue)
            if i == goal:
                route: list[XY] = []
                while came[i] != start:
                    i = came[i]
                    route.append(pts[i])
                return route[::-1]
            if i in done:
                continue
            done.add(i)
            for j in [*range(n), goal]:
                if j in done or j == i:
                    continue
                g = best[i] + math.dist(pts[i], pts[j])
                if g < best.get(j, math.inf) and visible(i, j):
                    best[j] = g
                    came[j] = i
                    heapq.heappush(queue, (g + h(j), j))
        raise InvalidArgument(
            f"{what}: no flight path stays inside the geofence and clear of the no-fly zones; "
            "widen the geofence or split the area"
        )
