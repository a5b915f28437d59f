"""A synthetic road camera: a pinhole camera over a flat road, so every ground point's pixel is known.

Tests, benchmarks and the rendered road scenes use it to put vehicles at known positions and speeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
FPS = 25.0


@dataclass
class SyntheticCamera:
    """1920x1080, focal length 1200 px, 10 m above the road at y = -5 m, looking north 20 degrees down.

    Ground: x east, y north, metres. The road (three 3.5 m lanes, x from -5.25 to 5.25) is in view
    from y = 10 m (the bottom of the picture) to beyond y = 70 m.
    """

    focal_px: float = 1200.0
    centre_px: tuple[float, float] = (960.0, 540.0)
    position_m: tuple[float, float, float] = (0.0, -5.0, 10.0)
    pitch_deg: float = 20.0
    ground_to_image: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pitch = math.radians(self.pitch_deg)
        # rows: the camera's right, down and forward axes in ground coordinates (z up)
        rotation = np.array(
            [
                [1.0, 0.0, 0.0],
                [0.0, -math.sin(pitch), -math.cos(pitch)],
                [0.0, math.cos(pitch), -math.sin(pitch)],
            ]
        )
        translation = -rotation @ np.array(self.position_m)
        intrinsics = np.array(
            [
                [self.focal_px, 0.0, self.centre_px[0]],
                [0.0, self.focal_px, self.centre_px[1]],
                [0.0, 0.0, 1.0],
            ]
        )
        # a point on the road (z = 0) only meets the first two rotation columns
        self.ground_to_image = intrinsics @ np.column_stack([rotation[:, 0], rotation[:, 1], translation])

    def image(self, ground: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        pts = np.hstack([np.asarray(ground, dtype=float), np.ones((len(ground), 1))]) @ self.ground_to_image.T
        return [(float(u), float(v)) for u, v in pts[:, :2] / pts[:, 2:3]]

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        return self.image([(x, y)])[0]

    @property
    def horizon_row(self) -> float:
        return self.centre_px[1] - self.focal_px * math.tan(math.radians(self.pitch_deg))

    def drive(
        self,
        *,
        speed_kmh: float,
        lane_x: float = 0.0,
        from_y: float = 12.0,
        to_y: float = 68.0,
        jitter_px: float = 0.0,
        seed: int = 0,
    ) -> list[tuple[datetime, tuple[float, float]]]:
        """A vehicle at a steady speed north along x = lane_x, one position per frame, with pixel noise."""
        speed_ms = speed_kmh / 3.6
        frames = int((to_y - from_y) / speed_ms * FPS) + 1
        ground = [(lane_x, from_y + speed_ms * k / FPS) for k in range(frames)]
        noise = np.random.default_rng(seed).normal(0.0, jitter_px, size=(frames, 2)) if jitter_px else None
        points = self.image(ground)
        return [
            (
                T0 + timedelta(seconds=k / FPS),
                (u + float(noise[k, 0]), v + float(noise[k, 1])) if noise is not None else (u, v),
            )
            for k, (u, v) in enumerate(points)
        ]


# Marked on the road: the corners of the three lanes 60 m apart, and the middle lane's marks at 40 m.
CALIBRATION_GROUND = [(-5.25, 10.0), (5.25, 10.0), (-5.25, 70.0), (5.25, 70.0), (-1.75, 40.0), (1.75, 40.0)]
