"""Synthetic camera video for tests and benchmarks: a still scene in which a real person walks.

No video ships in any package, so clips are rendered from stills: a procedurally drawn, static
corridor/yard background (deterministic per seed) and a person cut out of a real street photo
(``bus.jpg`` from kuzet.common.testdata, segmented with GrabCut) so that the shipped CenterNet
detector really detects it; a drawn stick figure is not reliably a "person" to it. Optionally a
real face photo is composited over the head. Frames are encoded with PyAV's bundled libx264.

    spec = walking_scenario(640, 360)
    write_h264(spec, tmp_path / "walk.mp4", gop=25)

``spec.geometry`` carries the zone and line coordinates that match the walk, and
``spec.expected`` the events a correctly configured pipeline must produce, in order.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

__all__ = [
    "PersonSprite",
    "SceneSpec",
    "Waypoint",
    "encode_frames",
    "mostly_still_scenario",
    "person_sprite",
    "render_frames",
    "walking_scenario",
    "write_h264",
]

# Box of the man on the left of ultralytics' bus.jpg (CenterNet finds him at score ~0.7).
_BUS_PERSON_BOX = (48, 396, 214, 907)


@dataclass(frozen=True)
class PersonSprite:
    """A person cut-out: BGR pixels and an alpha mask (0..1), feet at the bottom centre."""

    bgr: np.ndarray
    alpha: np.ndarray

    def scaled(self, height: int) -> PersonSprite:
        h, w = self.bgr.shape[:2]
        width = max(2, round(w * height / h))
        return PersonSprite(
            cv2.resize(self.bgr, (width, height), interpolation=cv2.INTER_AREA),
            cv2.resize(self.alpha, (width, height), interpolation=cv2.INTER_AREA),
        )

    def lying(self) -> PersonSprite:
        # Rotated a quarter turn: head to the left, as someone who fell sideways.
        return PersonSprite(
            np.ascontiguousarray(np.rot90(self.bgr)), np.ascontiguousarray(np.rot90(self.alpha))
        )


@functools.lru_cache(maxsize=4)
def _person_sprite(photo: str, face: str | None) -> PersonSprite:
    image = cv2.imread(photo)
    if image is None:
        raise FileNotFoundError(photo)
    x1, y1, x2, y2 = _BUS_PERSON_BOX
    pad = 20
    crop = image[y1 - pad : y2 + 5, x1 - pad : x2 + pad].copy()
    mask = np.zeros(crop.shape[:2], np.uint8)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(7)  # GrabCut's k-means init is random: keep the sprite identical run to run
    cv2.grabCut(crop, mask, (pad - 5, pad - 5, x2 - x1 + 10, y2 - y1 + 5), bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    alpha: Any = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)
    alpha = cv2.GaussianBlur(cv2.erode(alpha, np.ones((3, 3), np.uint8)), (5, 5), 0)
    ys, xs = np.nonzero(alpha > 0.5)
    crop, alpha = (
        crop[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1],
        alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1],
    )
    if face is not None:
        crop = _paste_face(crop, face)
    return PersonSprite(np.ascontiguousarray(crop), np.ascontiguousarray(alpha))


# Face boxes (x, y, w, h) in the pinned face_recognition==1.3.0 photos, measured once with
# YuNet; other photos fall back to the upper-centre of the image.
KNOWN_FACE_BOXES = {
    "obama.jpg": (374, 95, 231, 321),
    "obama2.jpg": (195, 225, 275, 389),
    "obama3.jpg": (638, 246, 272, 367),
    "biden.jpg": (428, 177, 277, 383),
}


def _paste_face(body: np.ndarray, face_photo: str) -> np.ndarray:
    """Replace the head of the cut-out with the face of a portrait photo."""
    face = cv2.imread(face_photo)
    if face is None:
        raise FileNotFoundError(face_photo)
    fh, fw = face.shape[:2]
    x, y, w, h = KNOWN_FACE_BOXES.get(Path(face_photo).name, (fw // 3, fh // 8, fw // 3, fh // 3))
    m = int(0.15 * w)  # a little hair and chin around the detected box
    face = face[max(0, y - m) : y + h + m // 2, max(0, x - m) : x + w + m]
    out = body.copy()
    bw = out.shape[1]
    head = int(bw * 0.5)
    top, left = 0, int(bw * 0.32)
    patch = cv2.resize(face, (head, int(head * 1.2)))
    ph, pw = patch.shape[:2]
    ph, pw = min(ph, out.shape[0] - top), min(pw, bw - left)
    mask = np.zeros((ph, pw), np.float32)
    cv2.ellipse(mask, (pw // 2, ph // 2), (pw // 2, ph // 2), 0, 0, 360, 1.0, -1)
    region = out[top : top + ph, left : left + pw].astype(np.float32)
    blended = region * (1 - mask[..., None]) + patch[:ph, :pw].astype(np.float32) * mask[..., None]
    out[top : top + ph, left : left + pw] = blended.astype(np.uint8)
    return out


def person_sprite(face: Path | None = None) -> PersonSprite:
    """The real person cut-out (fetches the pinned street photo on first use)."""
    from kuzet.common import testdata

    bus = next(p for p in testdata.street_photos() if p.name == "bus.jpg")
    return _person_sprite(str(bus), str(face) if face else None)


@dataclass(frozen=True)
class Waypoint:
    """Where the person's feet are at time t (seconds); lying from this waypoint on when set."""

    t: float
    x: float
    y: float
    lying: bool = False


@dataclass
class SceneSpec:
    """A clip: frame size, rate, duration, a background seed and the person's path."""

    width: int = 640
    height: int = 360
    fps: int = 25
    duration: float = 10.0
    seed: int = 1
    # Height of the standing person in pixels; 0 renders no person.
    person_height: int = 200
    path: list[Waypoint] = field(default_factory=list)
    face: Path | None = None
    # Sensor noise (standard deviation in grey levels); real cameras are never perfectly still.
    noise: float = 1.0
    geometry: dict[str, object] = field(default_factory=dict)
    expected: list[dict[str, object]] = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)


@functools.lru_cache(maxsize=8)
def _background(width: int, height: int, seed: int) -> np.ndarray:
    """A corridor: a lit back wall with doors and a floor, textured so that it compresses like video."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    horizon = int(height * 0.45)
    wall = np.linspace(150, 110, horizon, dtype=np.float32)[:, None, None]
    img[:horizon] = wall * np.array([0.95, 1.0, 1.05], np.float32)
    floor = np.linspace(95, 140, height - horizon, dtype=np.float32)[:, None, None]
    img[horizon:] = floor * np.array([0.85, 0.9, 0.95], np.float32)
    for i in range(int(rng.integers(3, 6))):
        dw = int(width * rng.uniform(0.06, 0.1))
        dx = int(width * (0.08 + 0.2 * i + rng.uniform(0, 0.05)))
        top = int(horizon * rng.uniform(0.15, 0.3))
        colour = rng.uniform(60, 120, 3)
        cv2.rectangle(img, (dx, top), (dx + dw, horizon), tuple(float(c) for c in colour), -1)
        cv2.rectangle(img, (dx, top), (dx + dw, horizon), (40.0, 40.0, 40.0), max(1, width // 400))
    for k in range(0, width, max(8, width // 16)):  # floor tiles converge to the horizon
        cv2.line(img, (k, height - 1), (width // 2 + (k - width // 2) // 3, horizon), (80.0, 85.0, 90.0), 1)
    texture: Any = rng.normal(0, 6, (height // 4 + 1, width // 4 + 1)).astype(np.float32)
    texture = cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC)
    img += texture[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _position(path: list[Waypoint], t: float) -> Waypoint | None:
    if not path or t < path[0].t or t > path[-1].t:
        return None
    for a, b in itertools.pairwise(path):
        if a.t <= t <= b.t:
            f = 0.0 if b.t == a.t else (t - a.t) / (b.t - a.t)
            return Waypoint(t, a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f, a.lying)
    return path[-1]


def _composite(frame: np.ndarray, sprite: PersonSprite, foot_x: float, foot_y: float) -> None:
    h, w = sprite.bgr.shape[:2]
    x0, y0 = round(foot_x - w / 2), round(foot_y - h)
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(frame.shape[1], x0 + w), min(frame.shape[0], y0 + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    sub = sprite.bgr[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0].astype(np.float32)
    a = sprite.alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (region * (1 - a) + sub * a).astype(np.uint8)


def render_frames(spec: SceneSpec) -> Iterator[np.ndarray]:
    """BGR frames of the clip."""
    background = _background(spec.width, spec.height, spec.seed)
    standing = lying = None
    if spec.person_height > 0 and spec.path:
        standing = person_sprite(spec.face).scaled(spec.person_height)
        lying = standing.lying()
    rng = np.random.default_rng(spec.seed + 1000)
    noise_pool = (
        [rng.normal(0, spec.noise, (spec.height, spec.width, 1)).astype(np.int16) for _ in range(4)]
        if spec.noise > 0
        else []
    )
    for i in range(spec.frame_count):
        t = i / spec.fps
        frame = background.copy()
        where = _position(spec.path, t)
        if where is not None and standing is not None and lying is not None:
            sprite = lying if where.lying else standing
            bob = 0.0 if where.lying else 2.0 * math.sin(t * 2 * math.pi * 2)  # gait
            _composite(frame, sprite, where.x, where.y + bob)
        if noise_pool:
            frame = np.clip(frame.astype(np.int16) + noise_pool[i % len(noise_pool)], 0, 255).astype(np.uint8)
        yield frame


def encode_frames(
    frames: Iterator[np.ndarray],
    path: Path,
    *,
    width: int,
    height: int,
    fps: int = 25,
    gop: int = 25,
    codec: str = "libx264",
    preset: str = "veryfast",
) -> Path:
    """Encode BGR frames to an MP4 (H.264 baseline-compatible stream, closed GOP of ``gop``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        if codec == "libx264":
            stream.options = {
                "preset": preset,
                "g": str(gop),
                "keyint_min": str(gop),
                "sc_threshold": "0",  # keyframes exactly every gop frames, as cameras do
                "bf": "0",  # IP cameras stream without B-frames
                "crf": "26",
            }
        else:
            stream.codec_context.gop_size = gop
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_h264(spec: SceneSpec, path: Path, *, gop: int | None = None, codec: str = "libx264") -> Path:
    """Render and encode the clip (GOP defaults to one second)."""
    return encode_frames(
        render_frames(spec),
        path,
        width=spec.width,
        height=spec.height,
        fps=spec.fps,
        gop=gop or spec.fps,
        codec=codec,
    )


def walking_scenario(width: int = 640, height: int = 360, *, face: Path | None = None) -> SceneSpec:
    """A person enters a restricted zone, leaves it across a line (left to right) and falls.

    Timeline (seconds): 0-1 empty corridor; 1-10 walks in from the left, through the restricted
    zone (x 30%-55% of the width, about 4-7 s), across the line at x = 70% (about 8.5 s); at
    10.2 falls and lies still until the end (16 s). Slow on purpose: the pipeline must see
    each phase on several sampled frames even on a loaded machine. Coordinates scale with the
    frame size.
    """
    sx, sy = width / 640, height / 360
    floor_y = 330 * sy
    path = [
        Waypoint(1.0, -40 * sx, floor_y),
        Waypoint(10.0, 540 * sx, floor_y),
        Waypoint(10.2, 560 * sx, floor_y, lying=True),
        Waypoint(16.0, 560 * sx, floor_y, lying=True),
    ]
    zone = [(190 * sx, 220 * sy), (350 * sx, 220 * sy), (350 * sx, 359 * sy), (190 * sx, 359 * sy)]
    line = ((450 * sx, 359 * sy), (450 * sx, 200 * sy))  # a->b points up the image: its left is x < 450
    spec = SceneSpec(
        width=width,
        height=height,
        fps=25,
        duration=16.0,
        person_height=round(230 * sy),
        path=path,
        face=face,
    )
    spec.geometry = {"restricted_zone": zone, "line": line, "frame": (width, height)}
    spec.expected = [
        {"type": "zone_intrusion", "zone": "restricted"},
        {"type": "line_crossing", "line": "door", "direction": "left_to_right"},
        {"type": "person_down"},
    ]
    return spec


def mostly_still_scenario(
    width: int = 1280,
    height: int = 720,
    *,
    duration: float = 20.0,
    moving_fraction: float = 0.1,
    seed: int = 3,
) -> SceneSpec:
    """A still corridor where someone walks across for ``moving_fraction`` of the time (benchmarks)."""
    walk = duration * moving_fraction
    start = duration / 2 - walk / 2
    floor_y = height * 0.9
    sprite_w = height * 0.6 * 0.45
    path = [Waypoint(start, -sprite_w, floor_y), Waypoint(start + walk, width + sprite_w, floor_y)]
    return SceneSpec(
        width=width,
        height=height,
        duration=duration,
        seed=seed,
        person_height=round(height * 0.6),
        path=path,
    )
