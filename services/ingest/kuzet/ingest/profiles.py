"""Traffic cameras' profiles (counting lines, ground calibration, speed limit) from the traffic
service's GetCamera: ingest does not own them, the traffic service does (an operator sets them with
ConfigureCamera), so every traffic camera fetches its own at start and again every ``refresh_s``.

Transient failures (the traffic service restarting, unreachable) are retried with exponential
backoff and jitter; a profile already fetched stays in use meanwhile. A camera with no usable
profile (never fetched, unknown to the traffic service, invalid) still tracks vehicles but counts
nothing, and says why in its health (``status``) instead of failing silently.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

import grpc

from kuzet.common.errors import KuzetError
from kuzet.common.eventsink import RETRYABLE
from kuzet.common.roads.calibration import GroundCalibration, calibration_from_proto
from kuzet.common.roads.lanes import CountingLine
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrafficProfile:
    message: traffic_pb2.TrafficCamera
    lines: tuple[CountingLine, ...]
    # None when the profile has no calibration: vehicles are counted, their speed is not measured.
    calibration: GroundCalibration | None

    @classmethod
    def from_proto(cls, message: traffic_pb2.TrafficCamera) -> TrafficProfile:
        """The profile, or InvalidArgument naming what is wrong with it."""
        lines = tuple(CountingLine.from_proto(line) for line in message.lines)
        has_calibration = bool(message.calibration.image_points or message.calibration.ground_points_m)
        calibration = calibration_from_proto(message.calibration) if has_calibration else None
        return cls(message, lines, calibration)


class TrafficProfiles:
    """GetCamera for the traffic cameras of this process, over one channel."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        refresh_s: float = 60.0,
        timeout_s: float = 5.0,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._stub = traffic_pb2_grpc.TrafficServiceStub(channel)
        self.refresh_s, self.timeout_s = refresh_s, timeout_s
        self.initial_backoff_s, self.max_backoff_s = initial_backoff_s, max_backoff_s

    async def fetch(self, camera_id: str) -> TrafficProfile:
        """One GetCamera; raises grpc.aio.AioRpcError or InvalidArgument (an unusable profile)."""
        response = await self._stub.GetCamera(
            traffic_pb2.GetCameraRequest(camera_id=camera_id), timeout=self.timeout_s
        )
        return TrafficProfile.from_proto(response.camera)


class ProfileFollower:
    """One camera's current profile, kept fresh by a background task."""

    def __init__(self, camera_id: str, profiles: TrafficProfiles) -> None:
        self.camera_id, self._profiles = camera_id, profiles
        self.profile: TrafficProfile | None = None
        # Why there is no (fresh) profile; empty when the last fetch succeeded.
        self.status = "traffic profile not fetched yet"
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"traffic-profile-{self.camera_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self) -> None:
        backoff = self._profiles.initial_backoff_s
        while True:
            try:
                profile = await self._profiles.fetch(self.camera_id)
            except grpc.aio.AioRpcError as exc:
                self._failed(f"{exc.code().name} {exc.details()}", transient=exc.code() in RETRYABLE)
            except KuzetError as exc:
                self._failed(f"invalid: {exc.message}", transient=False)
            else:
                backoff = self._profiles.initial_backoff_s
                self.status = ""
                if self.profile is None or profile.message != self.profile.message:
                    self.profile = profile
                    self.changed.set()
                    log.info(
                        "camera %s: traffic profile with %d counting lines%s",
                        self.camera_id,
                        len(profile.lines),
                        f", calibration {profile.calibration.calibration_id}" if profile.calibration else "",
                    )
                await asyncio.sleep(self._profiles.refresh_s)
                continue
            # Jitter: the cameras of a replica must not all ask again in the same instant.
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self._profiles.max_backoff_s)

    def _failed(self, reason: str, *, transient: bool) -> None:
        kept = " (the last one fetched stays in use)" if self.profile is not None else ""
        status = f"traffic profile of camera {self.camera_id} unavailable: {reason}{kept}"
        if status != self.status:
            (log.warning if transient else log.error)("%s", status)
        self.status = status
