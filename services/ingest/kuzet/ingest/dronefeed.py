"""Ingest's client of the drone service: the drone cameras' detections to ReportDetections, and the
check that a camera's drone exists.

Reports queue in an outbox (kuzet.common.outbox; bounded: past ``capacity`` the oldest go, counted
as dropped) and leave one at a time, in frame order. A report that fails transiently (the drone service restarting,
unreachable) is retried with exponential backoff and jitter; meanwhile the cameras' health says the drone service is unreachable. Sending
a frame twice raises nothing twice: the drone service alerts once per drone, track, rule and area.
FAILED_PRECONDITION means the drone has no recorded telemetry at the frame's time (not flying a
mission, or not yet stored): it will never have, so the report is skipped (logged at debug, it is
the normal state of a drone camera on the ground). Other refusals are logged and dropped.

A drone service replica that does not have the drone's newest telemetry answers UNAVAILABLE naming
the replica that has (``x-kuzet-leader``): the report is sent there at once, on a channel kept per
replica, and retried as above if that fails too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from kuzet.common.caller import Caller
from kuzet.common.errors import InvalidArgument, Unavailable
from kuzet.common.eventsink import RETRYABLE
from kuzet.common.grpcclient import leader_address, open_channel
from kuzet.common.outbox import Outbox
from kuzet.common.tls import host_of
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

log = logging.getLogger(__name__)


@dataclass
class FeedStats:
    reported: int = 0
    placed: int = 0
    alerts: int = 0
    no_telemetry: int = 0
    retries: int = 0
    rejected: int = 0
    dropped: int = 0


class DroneFeed:
    def __init__(
        self,
        endpoint: str,
        caller: Caller,
        *,
        capacity: int = 1_000,
        timeout_s: float = 10.0,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._endpoint, self._caller = endpoint, caller
        self._channels = {endpoint: open_channel(endpoint, audience="drone", caller=caller)}
        self._stub = drone_pb2_grpc.DroneServiceStub(self._channels[endpoint])
        self.timeout_s = timeout_s
        self.stats = FeedStats()
        self._outbox: Outbox[drone_pb2.ReportDetectionsRequest] = Outbox(
            "drone service",
            self._report,
            self.stats,
            describe=lambda r: f"frame report of camera {r.camera_id}",
            capacity=capacity,
            initial_backoff_s=initial_backoff_s,
            max_backoff_s=max_backoff_s,
        )

    @property
    def status(self) -> str:
        """For a drone camera's health: what keeps its detections from the drone service."""
        if not (why := self._outbox.unreachable):
            return ""
        return f"drone service unreachable ({why}), {self._outbox.pending} frame reports waiting"

    async def check_drone(self, drone_id: str, agency: str) -> None:
        """InvalidArgument unless ``drone_id`` is a drone of ``agency``; Unavailable when the drone
        service cannot say."""
        try:
            found = await self._stub.GetDrone(
                drone_pb2.GetDroneRequest(drone_id=drone_id), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise InvalidArgument(f"camera.drone_id: no drone {drone_id!r} is registered") from None
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(f"camera.drone_id: {exc.details()}") from None
            raise Unavailable(
                f"camera.drone_id: cannot check drone {drone_id!r}, the drone service answered "
                f"{exc.code().name}: {exc.details()}"
            ) from None
        # Ingest sees every agency's drones; a camera must not report into another agency's.
        if found.drone.agency_id != agency:
            raise InvalidArgument(f"camera.drone_id: no drone {drone_id!r} is registered")

    def submit(self, report: drone_pb2.ReportDetectionsRequest) -> None:
        self._outbox.submit(report)

    def start(self) -> None:
        self._outbox.start("drone-reports")

    async def flush(self, timeout_s: float) -> bool:
        """Whether every submitted report was delivered (or skipped) within ``timeout_s``."""
        return await self._outbox.flush(timeout_s)

    async def close(self, drain_s: float = 2.0) -> None:
        await self._outbox.close(drain_s)
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()

    async def _report(self, batch: list[drone_pb2.ReportDetectionsRequest]) -> None:
        (report,) = batch
        try:
            response = await self._send(report)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in RETRYABLE:
                raise
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                self.stats.no_telemetry += 1
                log.debug("camera %s: frame not placed: %s", report.camera_id, exc.details())
            else:
                self.stats.rejected += 1
                log.error(
                    "drone service refused camera %s's frame report: %s %s",
                    report.camera_id,
                    exc.code().name,
                    exc.details(),
                )
            return
        self.stats.reported += 1
        self.stats.placed += len(response.placed)
        self.stats.alerts += sum(len(p.alerts) for p in response.placed)

    async def _send(self, report: drone_pb2.ReportDetectionsRequest) -> drone_pb2.ReportDetectionsResponse:
        try:
            return await self._stub.ReportDetections(report, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if not (leader := leader_address(exc)):
                raise
        return await self._replica(leader).ReportDetections(report, timeout=self.timeout_s)

    def _replica(self, address: str) -> drone_pb2_grpc.DroneServiceStub:
        channel = self._channels.get(address)
        if channel is None:
            # A replica's address is its pod IP, which no certificate names: it proves itself by
            # the name of the service's endpoint.
            channel = self._channels[address] = open_channel(
                address, audience="drone", caller=self._caller, server_name=host_of(self._endpoint)
            )
        return drone_pb2_grpc.DroneServiceStub(channel)
