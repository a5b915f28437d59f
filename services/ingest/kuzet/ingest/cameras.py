"""Camera configuration: validation of the registry's Camera message into the pipeline's view."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kuzet.common.errors import InvalidArgument
from kuzet.common.geometry import Pt, polygon_area
from kuzet.ingest.rulebase import RULES, RuleCfg
from kuzet.ingest.v1 import ingest_pb2

CAMERA_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
# The drone service takes any id of 1..64 characters; one that could not be printed in a log line
# or a URL path is refused here rather than sent on.
DRONE_ID = re.compile(r"^[^\s\x00-\x1f\x7f/]{1,64}$")
SCHEMES = ("rtsp", "rtsps", "http", "https", "file")
# "vehicle" gives a camera the traffic profile (kuzet.ingest.vehicles); "plate" also reads plates.
KNOWN_MODELS = ("person", "pose", "face", "vehicle", "plate")
MAX_ZONES, MAX_POINTS, MAX_RULES = 64, 64, 128

RuleType = ingest_pb2.RuleType


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    weekdays: frozenset[int]

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.start <= self.end:
            ok = self.start <= minute < self.end
            day = local.isoweekday()
        else:  # spans midnight: the part after midnight belongs to the window opened the day before
            ok = minute >= self.start or minute < self.end
            day = local.isoweekday() if minute >= self.start else (local.isoweekday() - 2) % 7 + 1
        return ok and (not self.weekdays or day in self.weekdays)


def active(windows: tuple[Window, ...], local: datetime) -> bool:
    return not windows or any(w.contains(local) for w in windows)


@dataclass(frozen=True)
class ZoneCfg:
    id: str
    polygon: tuple[Pt, ...]
    gates_motion: bool


@dataclass(frozen=True)
class LineCfg:
    id: str
    a: Pt
    b: Pt


@dataclass(frozen=True)
class CameraCfg:
    """Everything the pipeline needs about one camera (credentials folded into the URL apart)."""

    id: str
    agency: str
    site: str
    name: str
    url: str
    username: str
    password: str = field(repr=False)  # never in logs or reprs
    analytic_fps: float = 2.0
    keyframe_only: bool = False
    time_zone: str = "UTC"
    windows: tuple[Window, ...] = ()
    zones: dict[str, ZoneCfg] = field(default_factory=dict)
    lines: dict[str, LineCfg] = field(default_factory=dict)
    rules: tuple[RuleCfg, ...] = ()
    models: frozenset[str] = frozenset({"person"})
    clip_recording: bool = False
    location: tuple[float, float] | None = None
    width: int = 0
    height: int = 0
    # The pose rules' calibration lines by Calibration field name ("floor_line", ...).
    calibration: dict[str, LineCfg] = field(default_factory=dict)
    # The drone whose video this is (kuzet.ingest.dronecamera); empty for a fixed camera.
    drone_id: str = ""

    @property
    def traffic(self) -> bool:
        return "vehicle" in self.models

    @property
    def reads_plates(self) -> bool:
        return "plate" in self.models

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def frame_size_errors(self, width: int, height: int) -> list[str]:
        """Zones and lines that leave a width x height frame (checked again on the first frame)."""
        problems = []
        for z in self.zones.values():
            if any(not (0 <= x <= width and 0 <= y <= height) for x, y in z.polygon):
                problems.append(f"zone {z.id!r} lies outside the {width}x{height} frame")
        for ln in [*self.lines.values(), *self.calibration.values()]:
            if any(not (0 <= x <= width and 0 <= y <= height) for x, y in (ln.a, ln.b)):
                problems.append(f"line {ln.id!r} lies outside the {width}x{height} frame")
        return problems


def redacted_url(url: str) -> str:
    """The URL without user info or query (which may carry tokens), safe for logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _windows(items: list[ingest_pb2.TimeWindow], where: str) -> tuple[Window, ...]:
    out = []
    for i, w in enumerate(items):
        if not 0 <= w.start_minute <= 1439 or not 0 <= w.end_minute <= 1440 or w.start_minute == w.end_minute:
            raise InvalidArgument(f"{where}[{i}]: minutes must be 0..1439 / 0..1440 and differ")
        if any(not 1 <= d <= 7 for d in w.weekdays):
            raise InvalidArgument(f"{where}[{i}]: weekdays are 1 (Monday) to 7")
        out.append(Window(w.start_minute, w.end_minute, frozenset(w.weekdays)))
    return tuple(out)


def validate_url(url: str, allow_file: bool) -> None:
    if not url:
        raise InvalidArgument("camera.url is required")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise InvalidArgument(f"camera.url: scheme {parts.scheme!r} not supported (use {', '.join(SCHEMES)})")
    if parts.username or parts.password:
        raise InvalidArgument("camera.url must not carry credentials: set camera.credentials instead")
    if parts.scheme == "file":
        if not allow_file:
            raise InvalidArgument("camera.url: file:// replay is disabled on this deployment")
        if not parts.path:
            raise InvalidArgument("camera.url: file:// needs a path")
    elif not parts.hostname:
        raise InvalidArgument(f"camera.url: no host in {redacted_url(url)!r}")


def to_config(cam: ingest_pb2.Camera, username: str, password: str, *, allow_file: bool = True) -> CameraCfg:
    """Validate a Camera message; InvalidArgument names the first bad field."""
    if not CAMERA_ID.fullmatch(cam.id):
        raise InvalidArgument(f"camera.id {cam.id!r} must match {CAMERA_ID.pattern}")
    if not cam.site_id or len(cam.site_id) > 128:
        raise InvalidArgument("camera.site_id is required (at most 128 characters)")
    if len(username) > 256 or len(password) > 256:
        raise InvalidArgument("camera.credentials: username and password are at most 256 characters")
    if len(cam.url) > 2048 or len(cam.name) > 256:
        raise InvalidArgument("camera.url (2048) or camera.name (256 characters) too long")
    validate_url(cam.url, allow_file)
    fps = cam.analytic_fps or 2.0
    if not 0 < fps <= 30:
        raise InvalidArgument(f"camera.analytic_fps must be in (0, 30], got {cam.analytic_fps}")
    tz = cam.schedule.time_zone or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"camera.schedule.time_zone: unknown time zone {tz!r}") from None
    if cam.width < 0 or cam.height < 0 or bool(cam.width) != bool(cam.height):
        raise InvalidArgument("camera.width and camera.height are both set (pixels) or both 0")
    models = frozenset(cam.enabled_models) or frozenset({"person"})
    if unknown := models - set(KNOWN_MODELS):
        raise InvalidArgument(
            f"camera.enabled_models: unknown {sorted(unknown)} (known: {', '.join(KNOWN_MODELS)})"
        )
    if "plate" in models and "vehicle" not in models:
        raise InvalidArgument(
            "camera.enabled_models: plate reading needs vehicle (plates are read off vehicles)"
        )
    if len(cam.zones) > MAX_ZONES or len(cam.lines) > MAX_ZONES or len(cam.rules) > MAX_RULES:
        raise InvalidArgument(
            f"at most {MAX_ZONES} zones, {MAX_ZONES} lines and {MAX_RULES} rules per camera"
        )

    zones: dict[str, ZoneCfg] = {}
    for i, z in enumerate(cam.zones):
        where = f"camera.zones[{i}]"
        if not ITEM_ID.fullmatch(z.id):
            raise InvalidArgument(f"{where}.id {z.id!r} must match {ITEM_ID.pattern}")
        if z.id in zones:
            raise InvalidArgument(f"{where}: duplicate zone id {z.id!r}")
        if not 3 <= len(z.points) <= MAX_POINTS:
            raise InvalidArgument(f"{where} ({z.id}): a zone needs 3 to {MAX_POINTS} points")
        poly = tuple((float(p.x), float(p.y)) for p in z.points)
        if any(x < 0 or y < 0 for x, y in poly):
            raise InvalidArgument(f"{where} ({z.id}): negative coordinates are outside the frame")
        if polygon_area(poly) < 1.0:
            raise InvalidArgument(f"{where} ({z.id}): the polygon has no area")
        zones[z.id] = ZoneCfg(z.id, poly, not z.motion_gate_ignore)
    lines: dict[str, LineCfg] = {}
    for i, ln in enumerate(cam.lines):
        where = f"camera.lines[{i}]"
        if not ITEM_ID.fullmatch(ln.id):
            raise InvalidArgument(f"{where}.id {ln.id!r} must match {ITEM_ID.pattern}")
        if ln.id in lines:
            raise InvalidArgument(f"{where}: duplicate line id {ln.id!r}")
        a, b = (float(ln.a.x), float(ln.a.y)), (float(ln.b.x), float(ln.b.y))
        if a == b:
            raise InvalidArgument(f"{where} ({ln.id}): a and b must differ")
        if min(*a, *b) < 0:
            raise InvalidArgument(f"{where} ({ln.id}): negative coordinates are outside the frame")
        lines[ln.id] = LineCfg(ln.id, a, b)

    calibration: dict[str, LineCfg] = {}
    for name in ("floor_line", "ligature_line", "fence_line"):
        if cam.calibration.HasField(name):
            ln = getattr(cam.calibration, name)
            calibration[name] = LineCfg(name, (float(ln.a.x), float(ln.a.y)), (float(ln.b.x), float(ln.b.y)))

    rules: list[RuleCfg] = []
    seen: set[str] = set()
    for i, r in enumerate(cam.rules):
        where = f"camera.rules[{i}]"
        if not ITEM_ID.fullmatch(r.id):
            raise InvalidArgument(f"{where}.id {r.id!r} must match {ITEM_ID.pattern}")
        if r.id in seen:
            raise InvalidArgument(f"{where}: duplicate rule id {r.id!r}")
        seen.add(r.id)
        if r.type == RuleType.RULE_TYPE_UNSPECIFIED:
            raise InvalidArgument(f"{where} ({r.id}): type is required")
        kind = RULES.get(r.type)
        if kind is None:
            raise InvalidArgument(
                f"{where} ({r.id}): type {r.type} is not an installed rule type "
                f"(installed: {', '.join(map(str, sorted(RULES.keys())))})"
            )
        if kind.target == "line":
            if r.line_id not in lines:
                raise InvalidArgument(f"{where} ({r.id}): line_id {r.line_id!r} is not a line of this camera")
        elif not (kind.target == "zone_or_frame" and not r.zone_id) and r.zone_id not in zones:
            raise InvalidArgument(f"{where} ({r.id}): zone_id {r.zone_id!r} is not a zone of this camera")
        try:
            settings = kind.parse(r)
        except ValueError as exc:
            raise InvalidArgument(f"{where} ({r.id}): {exc}") from None
        if r.dwell_seconds < 0 or r.cooldown_seconds < 0:
            raise InvalidArgument(f"{where} ({r.id}): dwell_seconds and cooldown_seconds must be >= 0")
        if r.disabled:
            continue
        rules.append(
            RuleCfg(
                id=r.id,
                type=r.type,
                zone_id=r.zone_id,
                line_id=r.line_id,
                windows=_windows(list(r.active_windows), f"{where}.active_windows"),
                cooldown_s=r.cooldown_seconds or 60.0,
                severity=r.severity,
                settings=settings,
            )
        )
    if cam.drone_id and not DRONE_ID.fullmatch(cam.drone_id):
        raise InvalidArgument(
            f"camera.drone_id {cam.drone_id!r}: 1 to 64 characters, no spaces, control characters or '/'"
        )
    if cam.HasField("location"):
        lat, lon = cam.location.latitude, cam.location.longitude
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidArgument("camera.location: latitude/longitude out of range")
    cfg = CameraCfg(
        id=cam.id,
        agency=cam.agency_id,
        site=cam.site_id,
        name=cam.name or cam.id,
        url=cam.url,
        username=username,
        password=password,
        analytic_fps=fps,
        keyframe_only=cam.keyframe_only,
        time_zone=tz,
        windows=_windows(list(cam.schedule.windows), "camera.schedule.windows"),
        zones=zones,
        lines=lines,
        rules=tuple(rules),
        models=models,
        clip_recording=cam.clip_recording,
        location=(cam.location.latitude, cam.location.longitude) if cam.HasField("location") else None,
        width=cam.width,
        height=cam.height,
        calibration=calibration,
        drone_id=cam.drone_id,
    )
    if cam.width and (problems := cfg.frame_size_errors(cam.width, cam.height)):
        raise InvalidArgument("; ".join(problems))
    for rule in cfg.rules:
        try:
            RULES[rule.type].check(rule, cfg)
        except InvalidArgument as exc:
            raise InvalidArgument(f"camera.rules ({rule.id}): {exc.message}") from None
    return cfg
