"""How usable a face crop is for recognition: size, sharpness and pose, each scored 0..1.

Thresholds were chosen on real photos (face_recognition test images, sharp vs. blurred) and are
deliberately conservative: identity refuses to enrol or search with a crop that has issues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kuzet.common.inference.results import FaceQuality
from kuzet.inference.opencv import cv2


@dataclass(frozen=True)
class QualityThresholds:
    # Inter-eye distance in source pixels: below min_eye_px the crop is "too_small";
    # good_eye_px and above scores 1.
    min_eye_px: float = 20.0
    good_eye_px: float = 40.0
    # Variance of the Laplacian of the grey 112x112 crop.
    min_sharpness: float = 60.0
    good_sharpness: float = 200.0
    # Nose offset from the eye midline relative to half the eye distance (0 frontal, ~1 profile).
    max_yaw: float = 0.6


# The inner face of an aligned 112x112 crop (brows to chin, cheek to cheek): the edges of the crop
# may hold background or, for faces cut by the frame, the warp's black border whose hard edge
# would read as "sharp".
_INNER = (slice(32, 104), slice(24, 88))


def sharpness(crop_bgr: np.ndarray) -> float:
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)[_INNER]
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def pose_measures(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw asymmetry, roll in degrees) from five landmarks in source pixels."""
    left_eye, right_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    eye_vec = right_eye - left_eye
    eye_dist = float(np.hypot(*eye_vec))
    if eye_dist < 1e-6:
        return 1.0, 0.0
    roll = math.degrees(math.atan2(float(eye_vec[1]), float(eye_vec[0])))
    # Project the nose onto the eye line: frontal faces put it halfway between the eyes.
    along = float(np.dot(nose - left_eye, eye_vec) / eye_dist)
    yaw = abs(along - eye_dist / 2) / (eye_dist / 2)
    return min(1.0, yaw), roll


def _ramp(value: float, low: float, high: float) -> float:
    """0.5 at low, 1 at high and above, falling linearly to 0 at 0: a score below 0.5 means an issue."""
    if value >= high:
        return 1.0
    if value >= low:
        return 0.5 + 0.5 * (value - low) / (high - low)
    return max(0.0, 0.5 * value / low)


def assess(crop_bgr: np.ndarray, landmarks: np.ndarray, t: QualityThresholds | None = None) -> FaceQuality:
    t = t or QualityThresholds()
    eye_px = float(np.hypot(*(landmarks[1] - landmarks[0])))
    sharp = sharpness(crop_bgr)
    yaw, roll = pose_measures(landmarks)
    size_score = _ramp(eye_px, t.min_eye_px, t.good_eye_px)
    blur_score = _ramp(sharp, t.min_sharpness, t.good_sharpness)
    pose_score = max(0.0, 1.0 - 0.5 * yaw / t.max_yaw)
    issues = []
    if eye_px < t.min_eye_px:
        issues.append("too_small")
    if sharp < t.min_sharpness:
        issues.append("blurry")
    if yaw > t.max_yaw:
        issues.append("pose")
    return FaceQuality(
        score=min(size_score, blur_score, pose_score),
        size_score=size_score,
        blur_score=blur_score,
        pose_score=pose_score,
        issues=tuple(issues),
        inter_eye_px=eye_px,
        sharpness=sharp,
        yaw_asymmetry=yaw,
        roll_deg=roll,
    )
