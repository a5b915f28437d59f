"""People cut out of real photographs, with arms that can be raised and swung.

No photo in the pinned test packages shows a whole person lying, climbing or fighting, so the
clip set poses cut-outs: the two full-length people of ultralytics' ``bus.jpg`` (boxes found by
the shipped CenterNet, keypoints by the shipped MoveNet on each crop, both measured once and
written below), segmented with GrabCut. A figure is placed by its feet, scaled to a height,
tilted about its feet (a fall) and each arm rotated about its shoulder as one rigid piece. The
photos' forearms are folded in front of the body, so an arm is the real upper arm, a copy of it
as a straight forearm and a hand painted in the face's skin colour (an approximation: see
docs/behaviour.md, "The labelled clip set"). The figure's keypoints go through the same
transforms, so every rendered frame comes with the true position of every joint.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from kuzet.common.geometry import Pt

# Keypoint indices (COCO order, as kuzet.ingest.behaviour.keypoints).
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_HIP, R_HIP = 5, 6, 7, 8, 9, 10, 11, 12


@dataclass(frozen=True)
class _Source:
    box: tuple[int, int, int, int]
    # 17 COCO keypoints (x, y) in bus.jpg pixels.
    keypoints: tuple[tuple[int, int], ...]


# fmt: off
_SOURCES = {
    "bus-left": _Source(
        (48, 396, 214, 907),
        ((142, 442), (147, 434), (132, 435), (147, 438), (110, 441), (159, 491), (84, 495),
         (186, 568), (96, 552), (169, 570), (171, 550), (152, 633), (96, 635), (167, 750),
         (88, 755), (190, 853), (71, 859)),
    ),
    "bus-middle": _Source(
        (214, 408, 347, 855),
        ((295, 449), (298, 440), (284, 442), (301, 445), (266, 450), (323, 492), (249, 493),
         (330, 552), (255, 578), (276, 528), (262, 640), (307, 620), (258, 621), (304, 719),
         (265, 720), (273, 797), (262, 820)),
    ),
}
# fmt: on
FIGURES = tuple(_SOURCES)
# Room above and beside the body for raised and swung arms, as a fraction of the body's height.
_PAD = 0.45
_WORKING_HEIGHT = 260


@dataclass(frozen=True)
class Arm:
    """One arm's pixels on the figure's canvas, and the keypoints that move with it."""

    bgr: np.ndarray
    alpha: np.ndarray
    shoulder: Pt
    parts: tuple[int, int]  # elbow, wrist
    # Sign of a raise in OpenCV's rotation (counter-clockwise positive): arms rise outwards.
    outward: int


@dataclass(frozen=True)
class Stance:
    """Where and how a figure stands in a frame: feet at (x, y), standing ``height`` pixels tall,
    tilted ``tilt`` degrees about the feet (90: lying, head to the left; -90: to the right),
    and each arm (image-left, image-right) raised outwards by that many degrees (0: at rest,
    90: sideways, 170: above the head)."""

    x: float
    y: float
    height: float
    tilt: float = 0.0
    arms: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Placed:
    """A figure drawn on a frame: its box and its 17 keypoints (x, y) in frame pixels."""

    box: tuple[float, float, float, float]
    keypoints: np.ndarray


@dataclass(frozen=True, eq=False)
class Figure:
    name: str
    bgr: np.ndarray
    alpha: np.ndarray  # the body without the free part of the arms
    arms: tuple[Arm, Arm]
    keypoints: np.ndarray  # (17, 2) on the canvas
    feet: Pt
    height: float

    def draw(self, frame: np.ndarray, stance: Stance) -> Placed | None:
        """Composites the figure onto the frame (in place); None when it falls outside it."""
        bgr, alpha, points = self._posed(round(stance.arms[0]), round(stance.arms[1]))
        scale = stance.height / self.height
        m = np.asarray(cv2.getRotationMatrix2D(self.feet, stance.tilt, scale), np.float64)
        m[:, 2] += np.array([stance.x - self.feet[0], stance.y - self.feet[1]])
        h, w = alpha.shape
        corners = cv2.transform(np.array([[[0, 0], [w, 0], [0, h], [w, h]]], np.float32), m)[0]
        fh, fw = frame.shape[:2]
        x0, y0 = (max(0, math.floor(v)) for v in corners.min(axis=0))
        x1, y1 = min(fw, math.ceil(corners[:, 0].max())), min(fh, math.ceil(corners[:, 1].max()))
        if x1 <= x0 or y1 <= y0:
            return None
        m[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        a = cv2.warpAffine(alpha, m, size, flags=cv2.INTER_LINEAR)[..., None]
        if not (a > 0.5).any():
            return None
        sub = cv2.warpAffine(bgr, m, size, flags=cv2.INTER_LINEAR).astype(np.float32)
        region = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = (region * (1 - a) + sub * a).astype(np.uint8)
        ys, xs = np.nonzero(a[..., 0] > 0.5)
        box = (float(x0 + xs.min()), float(y0 + ys.min()), float(x0 + xs.max() + 1), float(y0 + ys.max() + 1))
        return Placed(box, cv2.transform(points[None], m)[0] + (x0, y0))

    @functools.lru_cache(maxsize=512)  # noqa: B019 (figures live as long as the process)
    def _posed(self, left: int, right: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        bgr, alpha = self.bgr.astype(np.float32), self.alpha.copy()
        points = self.keypoints.astype(np.float32).copy()
        for arm, raise_deg in zip(self.arms, (left, right), strict=True):
            m = cv2.getRotationMatrix2D(arm.shoulder, arm.outward * raise_deg, 1.0)
            size = (alpha.shape[1], alpha.shape[0])
            a = cv2.warpAffine(arm.alpha, m, size)[..., None]
            bgr = bgr * (1 - a) + cv2.warpAffine(arm.bgr, m, size).astype(np.float32) * a
            alpha = np.maximum(alpha, a[..., 0])
            points[list(arm.parts)] = cv2.transform(points[None, list(arm.parts)], m)[0]
        return np.clip(bgr, 0, 255).astype(np.uint8), alpha, points


def _cut_out(image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, Pt]:
    """GrabCut inside the box; the crop, its alpha and its top-left in the photo."""
    x1, y1, x2, y2 = box
    pad = 20
    cx0, cy0 = max(0, x1 - pad), max(0, y1 - pad)
    crop = image[cy0 : min(image.shape[0], y2 + 5), cx0 : min(image.shape[1], x2 + pad)].copy()
    mask = np.zeros(crop.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(7)  # GrabCut's k-means start is random: the same cut-out every run
    rect = (x1 - cx0 - 5, y1 - cy0 - 5, x2 - x1 + 10, y2 - y1 + 5)
    cv2.grabCut(crop, mask, rect, bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    alpha: Any = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)
    alpha = cv2.GaussianBlur(cv2.erode(alpha, np.ones((3, 3), np.uint8)), (5, 5), 0)
    return crop, alpha, (float(cx0), float(cy0))


def _figure(name: str, image: np.ndarray) -> Figure:
    src = _SOURCES[name]
    crop, alpha, (ox, oy) = _cut_out(image, src.box)
    points = np.array(src.keypoints, np.float32) - (ox, oy)
    # Posed at the largest size a clip draws (posing at the photo's size costs 4x the time).
    scale = _WORKING_HEIGHT / alpha.shape[0]
    size = (round(alpha.shape[1] * scale), _WORKING_HEIGHT)
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    points *= scale
    # Place the crop on a canvas with room for raised arms above and swung arms beside.
    h, w = alpha.shape
    pad = round(_PAD * h)
    canvas_bgr = np.zeros((h + pad, w + 2 * pad, 3), np.uint8)
    canvas_alpha = np.zeros((h + pad, w + 2 * pad), np.float32)
    canvas_bgr[pad:, pad : pad + w] = crop
    canvas_alpha[pad:, pad : pad + w] = alpha
    points += (pad, pad)
    torso = np.zeros_like(canvas_alpha)
    quad = points[[L_SHOULDER, R_SHOULDER, R_HIP, L_HIP]].round().astype(np.int32)
    cv2.fillConvexPoly(torso, quad, 1.0)
    torso_len = float(
        np.linalg.norm(points[[L_SHOULDER, R_SHOULDER]].mean(0) - points[[L_HIP, R_HIP]].mean(0))
    )
    # The photos' forearms are folded in front of the body (MoveNet's wrists there are guesses),
    # so an arm is the real upper arm and a copy of it as the forearm, straight, with a hand
    # painted in the face's skin colour at its end.
    nose = points[0].round().astype(int)
    skin = np.median(canvas_bgr[nose[1] - 3 : nose[1] + 4, nose[0] - 6 : nose[0] + 7].reshape(-1, 3), axis=0)
    thickness = max(3, round(0.22 * torso_len))
    arms = []
    body_alpha = canvas_alpha.copy()
    size = (canvas_alpha.shape[1], canvas_alpha.shape[0])
    centre_x = float(points[[L_SHOULDER, R_SHOULDER], 0].mean())
    for shoulder, elbow, wrist in sorted(
        ((L_SHOULDER, L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW, R_WRIST)), key=lambda a: points[a[0], 0]
    ):
        upper = points[elbow] - points[shoulder]
        points[wrist] = points[elbow] + upper
        stroke = np.zeros_like(canvas_alpha)
        ends = np.array([points[shoulder], points[elbow]]).round().astype(np.int32)
        cv2.polylines(stroke, [ends], False, 1.0, thickness=thickness)
        upper_alpha = np.minimum(stroke, canvas_alpha)
        # What of the arm lies over the torso stays painted on it (a sleeve over the coat).
        body_alpha = np.minimum(body_alpha, 1.0 - stroke * (1.0 - torso))
        shift = np.array([[1, 0, upper[0]], [0, 1, upper[1]]], np.float32)
        fore_bgr = cv2.warpAffine(canvas_bgr, shift, size)
        fore_alpha = cv2.warpAffine(upper_alpha, shift, size)
        arm_bgr = np.where(upper_alpha[..., None] > 0, canvas_bgr, fore_bgr)
        arm_alpha = np.maximum(upper_alpha, fore_alpha)
        hand = points[wrist] + 0.12 * upper
        axes = (max(2, round(0.45 * thickness)), max(2, round(0.7 * thickness)))
        angle = math.degrees(math.atan2(upper[1], upper[0])) - 90
        centre = (round(float(hand[0])), round(float(hand[1])))
        cv2.ellipse(arm_bgr, centre, axes, angle, 0, 360, tuple(float(c) for c in skin), -1)
        cv2.ellipse(arm_alpha, centre, axes, angle, 0, 360, 1.0, -1)
        outward = 1 if points[shoulder, 0] > centre_x else -1
        arms.append(
            Arm(
                np.ascontiguousarray(arm_bgr),
                cv2.GaussianBlur(arm_alpha, (3, 3), 0),
                (float(points[shoulder, 0]), float(points[shoulder, 1])),
                (elbow, wrist),
                outward,
            )
        )
    feet_y = float(np.nonzero(canvas_alpha.max(axis=1) > 0.5)[0].max())
    head_y = float(np.nonzero(canvas_alpha.max(axis=1) > 0.5)[0].min())
    feet = (float(points[[15, 16], 0].mean()), feet_y)
    return Figure(name, canvas_bgr, body_alpha, (arms[0], arms[1]), points, feet, feet_y - head_y)


@functools.cache
def figures() -> dict[str, Figure]:
    """Every figure, cut out of the pinned street photo (fetched on first use)."""
    from kuzet.common import testdata

    bus = next(p for p in testdata.street_photos() if p.name == "bus.jpg")
    image = cv2.imread(str(bus))
    if image is None:
        raise FileNotFoundError(bus)
    return {name: _figure(name, image) for name in _SOURCES}
