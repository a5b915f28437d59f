"""A drone's sweep path cut into legs (sorties), each flown on one battery from home and back.

Each leg is home -> (transit) -> a stretch of the path -> (transit) -> home, as long as the
battery estimate of ``planning.estimate`` stays within the budget (100 % less the return reserve)
and the waypoints fit an autopilot (``planning.MAX_WAYPOINTS``). A leg may end in the middle of a
sweep line; the next one resumes there. Every leg starts on a full battery (a fresh pack at home).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kuzet.common.errors import InvalidArgument
from kuzet.drone import planning
from kuzet.drone.coverage.transit import Transit

XY = tuple[float, float]

# The legs are cut in the area's projection and checked again in the drone's own planning frame
# (geo.LocalFrame, on a sphere), whose distances differ from the ellipsoid's by up to about 0.5 %
# (0.3 % East-West at 50 deg latitude): 1 % of the budget is kept for that.
BUDGET_SLACK = 0.99
# A leg that cannot get this far along the path before turning back makes no progress.
MIN_PROGRESS_M = 1.0
_BISECT_STEPS = 30


@dataclass(frozen=True)
class Flight:
    home: XY
    altitude_m: float
    speed_mps: float
    endurance_s: float
    reserve_pct: float

    @property
    def budget_pct(self) -> float:
        return (100.0 - self.reserve_pct) * BUDGET_SLACK


def _length(points: list[XY]) -> float:
    return sum(math.dist(points[i], points[i + 1]) for i in range(len(points) - 1))


class _Leg:
    """A leg under construction: its way out and the stretch of path flown so far."""

    def __init__(self, flight: Flight, transit: Transit, start: XY, what: str) -> None:
        self.flight, self.transit, self.what = flight, transit, what
        self.out = transit.path(flight.home, start, what)
        self.body = [start]
        self.length = _length([flight.home, *self.out, start])

    def extend(self, p: XY) -> None:
        self.length += math.dist(self.body[-1], p)
        self.body.append(p)

    def route(self) -> list[XY]:
        return [*self.out, *self.body, *self.transit.path(self.body[-1], self.flight.home, self.what)]

    def fits(self, extra: XY) -> bool:
        f = self.flight
        back = self.transit.path(extra, f.home, self.what)
        n_waypoints = len(self.out) + len(self.body) + 1 + len(back)
        if n_waypoints > planning.MAX_WAYPOINTS:
            return False
        distance = self.length + math.dist(self.body[-1], extra) + _length([extra, *back, f.home])
        _, battery = planning.estimate(distance, n_waypoints, f.altitude_m, f.speed_mps, 0.0, f.endurance_s)
        return battery <= f.budget_pct


def cut_legs(path: list[XY], flight: Flight, transit: Transit, what: str) -> list[list[XY]]:
    """The waypoints of each leg (homes left out); InvalidArgument when a leg cannot return."""
    if not path:
        return []
    legs: list[list[XY]] = []
    start, nxt = path[0], 1
    while nxt < len(path) or not legs:
        leg = _Leg(flight, transit, start, f"{what} leg {len(legs) + 1}")
        while nxt < len(path) and leg.fits(path[nxt]):
            leg.extend(path[nxt])
            nxt += 1
        if nxt < len(path):
            a, b = leg.body[-1], path[nxt]
            lo, hi = 0.0, 1.0
            for _ in range(_BISECT_STEPS):
                mid = (lo + hi) / 2
                if leg.fits(_along(a, b, mid)):
                    lo = mid
                else:
                    hi = mid
            reach = lo * math.dist(a, b)
            if len(leg.body) == 1 and reach < MIN_PROGRESS_M:
                raise InvalidArgument(_cannot_return(flight, leg, what, len(legs) + 1))
            if reach >= MIN_PROGRESS_M:
                leg.extend(_along(a, b, lo))
        legs.append(leg.route())
        start = leg.body[-1]
    return legs


def _along(a: XY, b: XY, t: float) -> XY:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _cannot_return(flight: Flight, leg: _Leg, what: str, index: int) -> str:
    route = leg.route()
    distance = _length([flight.home, *route, flight.home])
    _, battery = planning.estimate(
        distance, len(route), flight.altitude_m, flight.speed_mps, 0.0, flight.endurance_s
    )
    return (
        f"{what} leg {index}: the flight to the sweep at {math.dist(flight.home, leg.body[0]):.0f} m "
        f"from home and back alone needs about {battery:.0f}% of a battery; with the "
        f"{flight.reserve_pct:.0f}% return reserve the drone cannot get there and return"
    )
