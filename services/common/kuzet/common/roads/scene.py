"""A rendered road for tests and benchmarks: real vehicle photos driving in lanes at known speeds,
each with a rendered plate of known text, seen by a SyntheticCamera (so every vehicle's ground
position, speed and line crossing is known exactly).

The vehicles are cut out of real photos (a car seen from behind, fast-alpr's test image, and the
bus of ultralytics' bus.jpg; kuzet.common.testdata fetches both) so that the shipped CenterNet
detector really detects them; drawn boxes are not vehicles to it. Each is scaled by perspective
(its width in metres at its ground position), its bottom centre on the road where the vehicle is,
which is the point ingest tracks. Its plate, a white plate with black text of the vehicle's known
plate, is rendered where the photo's plate is, at twice the photo's resolution so that it stays
sharp when the vehicle comes close.

    scene = road_scenario()
    frames = scene.frames()          # BGR frames at scene.fps
    scene.truth                      # per vehicle: class, lane, speed, plate, direction, crossings
    scene.lines, scene.calibration   # the counting lines and ground calibration of the view

ingest's ``kuzet.ingest.testing.videotest.encode_frames`` writes the frames to an H.264 MP4 that
its test RTSP server streams.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from kuzet.common.roads.synthetic import SyntheticCamera

Pt = tuple[float, float]

# Where the vehicles are in the photos (x1, y1, x2, y2, measured once with the shipped detector
# and by eye), and where their plates are (the car's own plate; the bus's, low on its side).
_CAR_BOX = (40, 42, 452, 272)
_CAR_PLATE = (304, 189, 389, 211)
_BUS_BOX = (11, 224, 785, 751)
_BUS_PLATE = (480, 630, 580, 652)
# A plate is 520 x 112 mm.
PLATE_WIDTH_M = 0.52


@dataclass(frozen=True)
class VehicleSprite:
    """A vehicle cut out of a photo: BGR pixels, an alpha mask (0..1), the plate's box in them,
    and the width in metres the cut-out spans on the road."""

    vehicle_class: str
    bgr: np.ndarray
    alpha: np.ndarray
    plate_box: tuple[int, int, int, int]
    width_m: float

    def with_plate(self, text: str) -> np.ndarray:
        """The pixels with ``text`` rendered on the plate."""
        x1, y1, x2, y2 = self.plate_box
        out = self.bgr.copy()
        out[y1:y2, x1:x2] = render_plate(text, x2 - x1, y2 - y1)
        return out


def render_plate(text: str, width: int, height: int) -> np.ndarray:
    """A white plate with a black border and ``text`` in black, as large as fits."""
    plate = np.full((height, width, 3), 255, np.uint8)
    border = max(1, height // 14)
    cv2.rectangle(plate, (0, 0), (width - 1, height - 1), (0, 0, 0), border)
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(height / 12))
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = min((width - 6 * border) / tw, 0.68 * height / th)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(plate, text, origin, font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return plate


def plate_display(plate: str) -> str:
    """How a plate's normal form is printed: the groups of digits, letters and region apart."""
    groups: list[str] = []
    for ch in plate:
        if groups and groups[-1][-1].isdigit() == ch.isdigit():
            groups[-1] += ch
        else:
            groups.append(ch)
    return " ".join(groups)


@functools.lru_cache(maxsize=4)
def _cut_out(photo: str, box: tuple[int, int, int, int], plate: tuple[int, int, int, int]) -> tuple[Any, ...]:
    image = cv2.imread(photo)
    if image is None:
        raise FileNotFoundError(photo)
    x1, y1, x2, y2 = box
    crop = image[y1:y2, x1:x2].copy()
    # GrabCut on a small copy (a second instead of half a minute), its mask scaled back up. The
    # vehicle fills its box: the middle is surely it, the border surely not.
    f = 200 / max(crop.shape[:2])
    small = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    mask[2 : h - 1, 2 : w - 2] = cv2.GC_PR_FGD
    mask[int(h * 0.2) : int(h * 0.9), int(w * 0.2) : int(w * 0.8)] = cv2.GC_FGD
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(7)  # GrabCut's k-means start is random: the same cut-out every run
    cv2.grabCut(small, mask, (0, 0, 0, 0), bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    alpha: Any = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)
    # Twice the photo's resolution: a vehicle near the camera is drawn larger than its photo.
    crop = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    alpha = cv2.GaussianBlur(cv2.resize(alpha, (crop.shape[1], crop.shape[0])), (7, 7), 0)
    px1, py1, px2, py2 = plate
    plate_box = (2 * (px1 - x1), 2 * (py1 - y1), 2 * (px2 - x1), 2 * (py2 - y1))
    # The plate is opaque whatever GrabCut made of it.
    alpha[plate_box[1] : plate_box[3], plate_box[0] : plate_box[2]] = 1.0
    return crop, alpha, plate_box


def vehicle_sprites() -> dict[str, VehicleSprite]:
    """The car and the bus (fetches the pinned photos on first use)."""
    from kuzet.common import testdata

    bus_photo = next(p for p in testdata.street_photos() if p.name == "bus.jpg")
    sprites = {}
    for cls, photo, box, plate in (
        ("car", testdata.car_photo(), _CAR_BOX, _CAR_PLATE),
        ("bus", bus_photo, _BUS_BOX, _BUS_PLATE),
    ):
        bgr, alpha, plate_box = _cut_out(str(photo), box, plate)
        # Its width on the road follows from its plate being a real plate's width.
        width_m = PLATE_WIDTH_M * bgr.shape[1] / (plate_box[2] - plate_box[0])
        sprites[cls] = VehicleSprite(cls, bgr, alpha, plate_box, width_m)
    return sprites


@dataclass(frozen=True)
class Lane:
    id: str
    # the lane's centre line and edges, metres east
    centre_x: float
    width_m: float
    # counting lines across the lane at these distances north (metres), in the lane's direction
    lines_y: tuple[float, ...]
    # the lane's traffic drives north (away from the camera) or south
    northbound: bool = True


@dataclass(frozen=True)
class Vehicle:
    vehicle_class: str
    lane: str
    speed_kmh: float
    plate: str
    # seconds into the clip at which it is at its start position
    start_s: float
    # against the lane's direction
    wrong_way: bool = False


@dataclass(frozen=True)
class SceneLine:
    id: str
    lane: str
    start: Pt
    end: Pt
    ground_y: float


@dataclass(frozen=True)
class VehicleTruth:
    index: int
    vehicle_class: str
    lane: str
    speed_kmh: float
    plate: str
    direction: str
    # line id -> seconds into the clip at which the vehicle's bottom centre crosses it
    crossings: dict[str, float]


@dataclass
class RoadScene:
    """A clip of vehicles driving through the camera's view."""

    lanes: Sequence[Lane]
    vehicles: Sequence[Vehicle]
    camera: SyntheticCamera
    width: int = 1920
    height: int = 1080
    fps: int = 25
    duration: float = 30.0
    seed: int = 1
    # where vehicles appear and leave (metres north), beyond the view at both ends
    enter_y: float = 6.0
    leave_y: float = 64.0
    calibration_ground: Sequence[Pt] = ()
    sprites: dict[str, VehicleSprite] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sprites:
            self.sprites = vehicle_sprites()
        known = {lane.id for lane in self.lanes}
        for v in self.vehicles:
            if v.lane not in known or v.vehicle_class not in self.sprites:
                raise ValueError(f"vehicle {v} names an unknown lane or class")

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    def _lane(self, lane_id: str) -> Lane:
        return next(lane for lane in self.lanes if lane.id == lane_id)

    @property
    def lines(self) -> list[SceneLine]:
        """Counting lines across each lane; start->end so that the lane's traffic crosses from
        left to right of it (kuzet.common.roads.lanes.CountingLine's direction)."""
        out = []
        for lane in self.lanes:
            left, right = lane.centre_x - lane.width_m / 2, lane.centre_x + lane.width_m / 2
            for k, y in enumerate(lane.lines_y):
                # northbound traffic moves up the picture: the line is drawn right to left
                a, b = ((right, y), (left, y)) if lane.northbound else ((left, y), (right, y))
                out.append(
                    SceneLine(
                        f"lane{lane.id}-{k + 1}", lane.id, self.camera.pixel(*a), self.camera.pixel(*b), y
                    )
                )
        return out

    @property
    def calibration(self) -> tuple[list[Pt], list[Pt]]:
        """Image and ground points of the road marks a surveyor would use."""
        ground = list(self.calibration_ground)
        return self.camera.image(ground), ground

    def position(self, index: int, t: float) -> Pt | None:
        """Where vehicle ``index`` touches the road at ``t`` (metres), None when it is not there."""
        v = self.vehicles[index]
        y = self._ground_y(v, t)
        if t < v.start_s or not self.enter_y <= y <= self.leave_y:
            return None
        return (self._lane(v.lane).centre_x, y)

    def box(self, index: int, t: float) -> tuple[float, float, float, float] | None:
        """The vehicle's rectangle in the picture at ``t`` (x1, y1, x2, y2; it may reach past the
        picture's edges), None when it is not on the road then."""
        where = self.position(index, t)
        if where is None:
            return None
        sprite = self.sprites[self.vehicles[index].vehicle_class]
        x, y = where
        u, v = self.camera.pixel(x, y)
        left, right = (
            self.camera.pixel(x - sprite.width_m / 2, y),
            self.camera.pixel(x + sprite.width_m / 2, y),
        )
        width = right[0] - left[0]
        height = width * sprite.bgr.shape[0] / sprite.bgr.shape[1]
        return (u - width / 2, v - height, u + width / 2, v)

    def _ground_y(self, v: Vehicle, t: float) -> float:
        lane = self._lane(v.lane)
        north = lane.northbound != v.wrong_way
        travelled = v.speed_kmh / 3.6 * (t - v.start_s)
        return self.enter_y + travelled if north else self.leave_y - travelled

    def crossing_times(self, v: Vehicle) -> dict[str, float]:
        """Line id -> seconds into the clip at which ``v`` crosses it (within the clip or not)."""
        north = self._lane(v.lane).northbound != v.wrong_way
        out = {}
        for line in self.lines:
            if line.lane == v.lane:
                distance = line.ground_y - self.enter_y if north else self.leave_y - line.ground_y
                out[line.id] = v.start_s + distance / (v.speed_kmh / 3.6)
        return out

    @property
    def truth(self) -> list[VehicleTruth]:
        out = []
        for i, v in enumerate(self.vehicles):
            crossings = {k: at for k, at in self.crossing_times(v).items() if at <= self.duration}
            out.append(
                VehicleTruth(
                    i,
                    v.vehicle_class,
                    v.lane,
                    v.speed_kmh,
                    v.plate,
                    "wrong_way" if v.wrong_way else "forward",
                    crossings,
                )
            )
        return out

    def frames(self) -> Iterator[np.ndarray]:
        for k in range(self.frame_count):
            yield self.frame_at(k / self.fps)

    def frame_at(self, t: float) -> np.ndarray:
        """The picture at ``t`` seconds into the clip (a live camera's frame is whenever it is)."""
        background, looks = self._looks
        frame = background.copy()
        here = [(box, i) for i in range(len(self.vehicles)) if (box := self.box(i, t)) is not None]
        # the far ones first (higher up the picture): a nearer vehicle hides them
        for box, i in sorted(here, key=lambda item: item[0][3]):
            self._paste(frame, looks[i], self.sprites[self.vehicles[i].vehicle_class].alpha, box)
        return frame

    @functools.cached_property
    def _looks(self) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """The empty road, and each vehicle's pixels with its plate."""
        background = _road(self.camera, self.width, self.height, self.lanes, self.seed)
        looks = {
            i: self.sprites[v.vehicle_class].with_plate(plate_display(v.plate))
            for i, v in enumerate(self.vehicles)
        }
        return background, looks

    @staticmethod
    def _paste(
        frame: np.ndarray, bgr: np.ndarray, alpha: np.ndarray, box: tuple[float, float, float, float]
    ) -> None:
        width, height = max(2, round(box[2] - box[0])), max(2, round(box[3] - box[1]))
        image = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_AREA)
        x0, y0 = round(box[0]), round(box[3]) - height
        fx0, fy0 = max(0, x0), max(0, y0)
        fx1, fy1 = min(frame.shape[1], x0 + width), min(frame.shape[0], y0 + height)
        if fx1 <= fx0 or fy1 <= fy0:
            return
        a = mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
        src = image[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0].astype(np.float32)
        dst = frame[fy0:fy1, fx0:fx1].astype(np.float32)
        frame[fy0:fy1, fx0:fx1] = (dst * (1 - a) + src * a).astype(np.uint8)


def _road(camera: SyntheticCamera, width: int, height: int, lanes: Sequence[Lane], seed: int) -> np.ndarray:
    """Grass, the asphalt of the lanes with a shoulder, solid edge lines and a dashed centre line."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    img[:] = (70.0, 120.0, 95.0)  # grass (BGR)
    west = min(lane.centre_x - lane.width_m / 2 for lane in lanes)
    east = max(lane.centre_x + lane.width_m / 2 for lane in lanes)
    far = 400.0

    def quad(x0: float, x1: float, y0: float, y1: float, colour: tuple[float, float, float]) -> None:
        pts = np.array(camera.image([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]), np.float64)
        cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], colour, cv2.LINE_AA, shift=4)

    quad(west - 1.0, east + 1.0, -4.0, far, (95.0, 98.0, 100.0))
    for x in (west, east):
        quad(x - 0.08, x + 0.08, -4.0, far, (225.0, 225.0, 225.0))
    edges = sorted({lane.centre_x + s * lane.width_m / 2 for lane in lanes for s in (-1, 1)} - {west, east})
    for x in edges:
        for y in np.arange(-4.0, far, 9.0):
            quad(x - 0.07, x + 0.07, float(y), float(y) + 3.0, (225.0, 225.0, 225.0))
    texture: Any = rng.normal(0, 5, (height // 4 + 1, width // 4 + 1)).astype(np.float32)
    texture = cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC)
    img += texture[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def scene_camera(width: int = 1920, height: int = 1080) -> SyntheticCamera:
    """A plate-reading view of two lanes: 6 m up, 5 m behind the road's y = 0, looking north
    15.8 degrees down with a long lens (the road from 8 m to 46 m in view; a plate 80 px wide
    15 m along), scaled to the frame size."""
    scale = width / 1920
    return SyntheticCamera(
        focal_px=3400.0 * scale,
        centre_px=(width / 2, height / 2),
        position_m=(0.0, -5.0, 6.0),
        pitch_deg=15.8,
    )


_PLATE_LETTERS = "ABCDEFHKLMNPRTUVWXY"
# The least time between two vehicles of a lane at any point of the road.
HEADWAY_S = 1.5


def kz_plate(rng: np.random.Generator) -> str:
    """A plate in the 2012 format for a person's vehicle (123ABC02)."""
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, 3))
    letters = "".join(_PLATE_LETTERS[int(i)] for i in rng.integers(0, len(_PLATE_LETTERS), 3))
    return f"{digits}{letters}{int(rng.integers(1, 21)):02d}"


def road_scenario(
    *,
    vehicles: int = 10,
    width: int = 1920,
    height: int = 1080,
    fps: int = 25,
    speeds_kmh: tuple[float, float] = (10.0, 20.0),
    spacing_s: float = 5.0,
    buses: int = 2,
    wrong_way: int = 1,
    seed: int = 1,
) -> RoadScene:
    """Two northbound lanes: the fast lane 1 with two counting lines 8 m apart (speed between
    lines), the slow lane 2 with one (speed along the track) where the whole of a bus is still in
    view. ``vehicles`` drive through one after another, alternating lanes (lane 2's halfway
    between lane 1's), each lane's next one ``spacing_s`` after its last or later, so that it
    never catches it up, at speeds drawn from ``speeds_kmh``. The defaults are for a camera
    analysed at 2 frames/s or a little less (a loaded machine): at 20 km/h a vehicle moves 2.8 m
    between looks, so it is seen about 13 times in view, on each side of a line within 2.8 m of
    it (at 30 km/h a loaded machine missed a crossing in about one run of two), and a lane's
    next vehicle enters 5 s later, after the tracker has let the last one go; ``buses`` of
    the lane 2 vehicles are buses, and the last ``wrong_way`` drive lane 2 southbound. The clip
    ends 2 s after the last one has passed every line."""
    rng = np.random.default_rng(seed)
    lanes = (
        Lane("1", -1.75, 3.5, (18.0, 26.0)),
        Lane("2", 1.75, 3.5, (17.0,)),
    )
    slow = [i for i in range(vehicles - wrong_way) if i % 2]
    bus_at = set(rng.choice(slow, size=min(buses, len(slow)), replace=False).tolist())
    cars: list[Vehicle] = []
    # The first 5 s in: a camera's first analysed frames come late (models warming up; on a loaded
    # machine the first two vehicles at 2.5 s were missed). Lane 2's enter halfway between lane
    # 1's: never two side by side near the lines (a car beside a bus there was missed now and
    # then at a loaded camera's few looks).
    next_start = {"1": 5.0, "2": 5.0 + spacing_s / 2}
    # When the last vehicle of each lane is off the road: a faster one behind it waits until it
    # cannot catch up (two vehicles never overlap in one lane).
    clear = {"1": 0.0, "2": 0.0}
    road_m = RoadScene.leave_y - RoadScene.enter_y
    for i in range(vehicles):
        against = i >= vehicles - wrong_way
        lane = "2" if against or i % 2 else "1"
        speed = round(float(rng.uniform(*speeds_kmh)), 1)
        crossing_s = road_m / (speed / 3.6)
        start = next_start[lane] if against else max(next_start[lane], clear[lane] + HEADWAY_S - crossing_s)
        cars.append(Vehicle("bus" if i in bus_at else "car", lane, speed, kz_plate(rng), start, against))
        next_start[lane] = start + spacing_s
        clear[lane] = start + crossing_s
    scene = RoadScene(
        lanes=lanes,
        vehicles=cars,
        camera=scene_camera(width, height),
        width=width,
        height=height,
        fps=fps,
        seed=seed,
        calibration_ground=[
            (-3.5, 10.0),
            (3.5, 10.0),
            (-3.5, 40.0),
            (3.5, 40.0),
            (-1.75, 25.0),
            (1.75, 25.0),
        ],
    )
    last = max(max(scene.crossing_times(v).values()) for v in cars)
    scene.duration = math.ceil(last + 2.0)
    return scene
