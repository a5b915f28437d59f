"""Where and when a behaviour rule looks: the frame, its zone, its schedule, and the per-camera
calibration lines (floor, ligature point, fence) that some rules measure against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kuzet.common.errors import InvalidArgument
from kuzet.common.geometry import Pt, point_in_polygon, polygon_area
from kuzet.ingest.cameras import Window, active


@dataclass(frozen=True)
class CalibrationLine:
    """A line drawn on the camera's picture (source-frame pixels), a to b. "Above" it means
    higher in the picture at the same x, so the line must run closer to horizontal than to
    vertical."""

    a: Pt
    b: Pt

    def __post_init__(self) -> None:
        dx, dy = self.b[0] - self.a[0], self.b[1] - self.a[1]
        if dx == 0 and dy == 0:
            raise InvalidArgument("a calibration line's two ends must differ")
        if abs(dy) > abs(dx):
            raise InvalidArgument(
                "a calibration line must run within 45 degrees of horizontal (above and below it "
                f"are otherwise undefined), got {self.a} -> {self.b}"
            )

    def height_above(self, p: Pt) -> float | None:
        """How far p lies above the line, pixels (negative: below); None when p is not over
        the line's extent (the line says nothing there)."""
        (x0, y0), (x1, y1) = sorted((self.a, self.b))
        if not x0 <= p[0] <= x1:
            return None
        line_y = y0 + (y1 - y0) * (p[0] - x0) / (x1 - x0)
        return line_y - p[1]


@dataclass(frozen=True)
class Scope:
    """A rule's frame (``width`` x ``height`` pixels), zone (a polygon in it; empty: the whole
    frame), schedule (``windows`` in the site's ``time_zone``; empty: always)."""

    width: int
    height: int
    zone: tuple[Pt, ...] = ()
    windows: tuple[Window, ...] = ()
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise InvalidArgument(f"the frame size must be positive, got {self.width}x{self.height}")
        if self.zone:
            if len(self.zone) < 3:
                raise InvalidArgument("a zone needs at least 3 points")
            if not all(self.in_frame(p) for p in self.zone):
                raise InvalidArgument(f"the zone lies outside the {self.width}x{self.height} frame")
            if polygon_area(self.zone) < 1.0:
                raise InvalidArgument("the zone has no area")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"unknown time zone {self.time_zone!r}") from None

    def in_frame(self, p: Pt) -> bool:
        return 0 <= p[0] <= self.width and 0 <= p[1] <= self.height

    def contains(self, p: Pt) -> bool:
        return self.in_frame(p) and (not self.zone or point_in_polygon(p, self.zone))

    def active(self, t: float) -> bool:
        """Whether the schedule is on at t (UTC epoch seconds)."""
        return active(self.windows, datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(self.time_zone)))

    def check_line(self, name: str, line: CalibrationLine | None) -> CalibrationLine:
        """The rule's required calibration line, inside the frame."""
        if line is None:
            raise InvalidArgument(f"{name} is required: calibrate the camera's {name.replace('_', ' ')}")
        if not (self.in_frame(line.a) and self.in_frame(line.b)):
            raise InvalidArgument(f"{name} lies outside the {self.width}x{self.height} frame")
        return line
