"""A mission's flown positions, recorded for the coverage report of what was actually seen.

Positions arrive at the telemetry rate (10 Hz); one is kept when the drone has moved
``MIN_STEP_M`` since the last one kept or ``MAX_INTERVAL_S`` has passed, so a 25-minute sweep
keeps a few thousand points while a corner is still cut by at most a few metres. Stored as
little-endian float64 rows (unix time, latitude, longitude, metres above home).
"""

from __future__ import annotations

import math

import numpy as np

MIN_STEP_M = 5.0
MAX_INTERVAL_S = 2.0
# Beyond any battery (about 5 h at one point a second): a stuck mission cannot grow without bound.
MAX_POINTS = 20_000
_M_PER_DEG = 111_195.0
COLUMNS = 4


class Track:
    def __init__(self, mission_id: str) -> None:
        self.mission_id = mission_id
        self._rows: list[tuple[float, float, float, float]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, t: float, lat: float, lon: float, rel_alt_m: float) -> None:
        if self._rows:
            t0, lat0, lon0, _ = self._rows[-1]
            dy = (lat - lat0) * _M_PER_DEG
            dx = (lon - lon0) * _M_PER_DEG * math.cos(math.radians(lat0))
            if t - t0 < MAX_INTERVAL_S and dx * dx + dy * dy < MIN_STEP_M * MIN_STEP_M:
                return
            if len(self._rows) >= MAX_POINTS:
                return
        self._rows.append((t, lat, lon, rel_alt_m))

    def to_bytes(self) -> bytes:
        return np.asarray(self._rows, dtype="<f8").reshape(-1, COLUMNS).tobytes()


def points_of(data: bytes) -> np.ndarray:
    """The stored rows as an (n, 4) array: time, latitude, longitude, metres above home."""
    return np.frombuffer(data, dtype="<f8").reshape(-1, COLUMNS)
