"""Protected areas: their validation, and their geometry ready for the rules.

An area is validated the way a survey area is (``coverage.area.survey_area``: shapely, a
transverse Mercator around the area, a polygon that crosses itself refused with where), and its
permitted tracks, time zone and night hours on top. A compiled area answers, for a ground point
and its uncertainty radius, "inside?", "off every permitted track?" and "night there?".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shapely.geometry import LineString, Point, Polygon

from kuzet.common.errors import InvalidArgument
from kuzet.drone import planning
from kuzet.drone.coverage.area import Projection, survey_area
from kuzet.drone.v1 import drone_pb2

PAK = drone_pb2.ProtectedAreaKind
KIND_NAMES = {
    PAK.PROTECTED_AREA_KIND_RESERVE: "reserve",
    PAK.PROTECTED_AREA_KIND_NO_FISHING: "no-fishing zone",
    PAK.PROTECTED_AREA_KIND_FOREST_BLOCK: "forest block",
}
DEFAULT_NIGHT = ("20:00", "06:00")
DEFAULT_TRACK_BUFFER_M = 10.0
DEFAULT_STOPPED_MINUTES = 10.0
DEFAULT_STOPPED_RADIUS_M = 15.0
MAX_CORNERS = 2000
MAX_TRACKS = 200
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _clock(text: str, what: str) -> time:
    m = _HHMM.match(text)
    if not m:
        raise InvalidArgument(f"{what} must be a local time HH:MM (00:00..23:59), got {text!r}")
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class CompiledArea:
    area: drone_pb2.ProtectedArea
    projection: Projection
    polygon: Polygon
    tracks: tuple[tuple[LineString, float], ...]  # (line in metres, buffer)
    zone: ZoneInfo | None
    night: tuple[time, time]

    def point(self, latitude: float, longitude: float) -> Point:
        [(x, y)] = self.projection.to_xy([(latitude, longitude)])
        return Point(x, y)

    def contains(self, p: Point) -> bool:
        return bool(self.polygon.covers(p))

    def off_tracks(self, p: Point, uncertainty_m: float) -> bool:
        """Farther from every permitted track than its buffer plus the placement's uncertainty:
        the benefit of the doubt goes to someone walking the track. False without tracks."""
        return bool(self.tracks) and all(line.distance(p) > buf + uncertainty_m for line, buf in self.tracks)

    def is_night(self, at: datetime) -> bool:
        if self.zone is None:
            return False
        local = at.astimezone(self.zone).time()
        start, end = self.night
        return (start <= local or local < end) if start > end else (start <= local < end)


def compile_area(area: drone_pb2.ProtectedArea) -> CompiledArea:
    """Validate ``area`` and build its geometry; InvalidArgument naming what is wrong and where."""
    what = f"area '{area.name or area.area_id}'"
    if area.kind not in KIND_NAMES:
        raise InvalidArgument("area.kind must be RESERVE, NO_FISHING or FOREST_BLOCK")
    corners = len(area.outline) + sum(len(h.points) for h in area.holes)
    if corners > MAX_CORNERS:
        raise InvalidArgument(f"{what} has {corners} corners; at most {MAX_CORNERS}")
    if len(area.tracks) > MAX_TRACKS:
        raise InvalidArgument(f"{what} has {len(area.tracks)} permitted tracks; at most {MAX_TRACKS}")
    survey = survey_area(area.outline, [h.points for h in area.holes])
    projection = survey.projection
    tracks = []
    for i, track in enumerate(area.tracks):
        if len(track.points) < 2:
            raise InvalidArgument(f"{what} permitted track {i} needs at least 2 points")
        for k, p in enumerate(track.points):
            planning.check_point(p, f"{what} permitted track {i} point {k}")
        if track.buffer_m < 0 or track.buffer_m > 1000:
            raise InvalidArgument(f"{what} permitted track {i} buffer_m must be 0..1000 m")
        line = LineString(projection.to_xy([(p.latitude, p.longitude) for p in track.points]))
        tracks.append((line, track.buffer_m or DEFAULT_TRACK_BUFFER_M))
    zone = None
    if area.kind == PAK.PROTECTED_AREA_KIND_RESERVE:
        if not area.time_zone:
            raise InvalidArgument(f"{what} is a reserve: time_zone (IANA, e.g. 'Asia/Almaty') is required")
        try:
            zone = ZoneInfo(area.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"{what} time_zone {area.time_zone!r} is not an IANA time zone") from None
    night = (
        _clock(area.night_start or DEFAULT_NIGHT[0], "night_start"),
        _clock(area.night_end or DEFAULT_NIGHT[1], "night_end"),
    )
    if night[0] == night[1]:
        raise InvalidArgument("night_start and night_end must differ")
    if area.stopped_minutes < 0 or area.stopped_minutes > 24 * 60:
        raise InvalidArgument("stopped_minutes must be 0..1440")
    if area.stopped_radius_m < 0 or area.stopped_radius_m > 500:
        raise InvalidArgument("stopped_radius_m must be 0..500")
    return CompiledArea(area, projection, survey.asked, tuple(tracks), zone, night)


def normalised(area: drone_pb2.ProtectedArea) -> drone_pb2.ProtectedArea:
    """The area as stored: defaults filled in and its area computed (validates it too)."""
    compiled = compile_area(area)
    out = drone_pb2.ProtectedArea()
    out.CopyFrom(area)
    if out.kind == PAK.PROTECTED_AREA_KIND_RESERVE:
        out.night_start = out.night_start or DEFAULT_NIGHT[0]
        out.night_end = out.night_end or DEFAULT_NIGHT[1]
        for t in out.tracks:
            t.buffer_m = t.buffer_m or DEFAULT_TRACK_BUFFER_M
    if out.kind == PAK.PROTECTED_AREA_KIND_FOREST_BLOCK:
        out.stopped_minutes = out.stopped_minutes or DEFAULT_STOPPED_MINUTES
        out.stopped_radius_m = out.stopped_radius_m or DEFAULT_STOPPED_RADIUS_M
    out.area_m2 = compiled.polygon.area
    return out


class AreaCache:
    """Compiled areas by (id, last change): rows are re-read on every report (another replica
    may have changed them), the geometry is rebuilt only when they changed."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, int, int], CompiledArea] = {}

    def compiled(self, areas: list[drone_pb2.ProtectedArea]) -> list[CompiledArea]:
        out = []
        live = set()
        for a in areas:
            key = (a.area_id, a.updated_at.seconds, a.updated_at.nanos)
            live.add(key)
            if key not in self._compiled:
                self._compiled[key] = compile_area(a)
            out.append(self._compiled[key])
        for key in [k for k in self._compiled if k[0] in {a.area_id for a in areas} and k not in live]:
            del self._compiled[key]
        return out
