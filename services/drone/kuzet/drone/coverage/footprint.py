"""The ground a nadir camera sees at a flight altitude, and the sweep line spacing it allows.

A flat ground under a level camera: the footprint is a rectangle of 2 h tan(fov / 2) on each
axis, the image's width across the track (as ``CameraSpec.horizontal_fov_deg`` is defined).
Neighbouring lines overlap by the side overlap, so the spacing is the width times (1 - overlap):
the same rule as ``planning.sweep_spacing``, which this generalises to both axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kuzet.common.errors import InvalidArgument
from kuzet.drone import planning
from kuzet.drone.v1 import drone_pb2

# CameraSpec carries no vertical field of view: a 4:3 sensor (most drone survey cameras) is assumed.
DEFAULT_ASPECT = 4.0 / 3.0
MAX_OVERLAP = 0.9


@dataclass(frozen=True)
class Camera:
    hfov_deg: float
    vfov_deg: float
    side_overlap: float

    def __post_init__(self) -> None:
        for name, fov in (("horizontal", self.hfov_deg), ("vertical", self.vfov_deg)):
            if not 1.0 <= fov <= 170.0:
                raise InvalidArgument(f"camera {name} field of view {fov:g} deg is outside 1..170")
        if not 0.0 <= self.side_overlap <= MAX_OVERLAP:
            raise InvalidArgument(f"side overlap {self.side_overlap:g} is outside 0..{MAX_OVERLAP:g}")


@dataclass(frozen=True)
class Footprint:
    across_m: float  # across the track (image width)
    along_m: float  # along the track (image height)


def vfov_for_aspect(hfov_deg: float, aspect: float = DEFAULT_ASPECT) -> float:
    return math.degrees(2.0 * math.atan(math.tan(math.radians(hfov_deg) / 2.0) / aspect))


def camera_of(drone: drone_pb2.Drone) -> Camera:
    """The drone's camera, with the defaults planning uses when its spec leaves them out."""
    hfov = drone.camera.horizontal_fov_deg or planning.DEFAULT_HFOV_DEG
    overlap = drone.camera.side_overlap if drone.camera.side_overlap > 0 else planning.DEFAULT_OVERLAP
    return Camera(hfov_deg=hfov, vfov_deg=vfov_for_aspect(hfov), side_overlap=overlap)


def footprint(camera: Camera, altitude_m: float) -> Footprint:
    if altitude_m <= 0:
        raise InvalidArgument(f"altitude {altitude_m:g} m must be above 0 (metres above the ground)")
    return Footprint(
        across_m=2.0 * altitude_m * math.tan(math.radians(camera.hfov_deg) / 2.0),
        along_m=2.0 * altitude_m * math.tan(math.radians(camera.vfov_deg) / 2.0),
    )


def line_spacing(camera: Camera, altitude_m: float) -> float:
    return footprint(camera, altitude_m).across_m * (1.0 - camera.side_overlap)
