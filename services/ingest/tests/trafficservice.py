"""A small TrafficService on loopback for ingest's tests: it serves traffic cameras' profiles and
records the observations ingest sends (the traffic service itself is tested on its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from kuzet.common.roads.lanes import VEHICLE_CLASSES
from kuzet.common.roads.scene import RoadScene
from kuzet.common.tls import bind, server_credentials
from kuzet.common.v1 import common_pb2
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc


class Traffic(traffic_pb2_grpc.TrafficServiceServicer):
    """Serves profiles and records observations by id; ``fail_first`` calls of
    RecordObservations answer UNAVAILABLE (after reading the batch), and a batch with an unknown
    vehicle class is INVALID_ARGUMENT."""

    def __init__(self, profiles: dict[str, traffic_pb2.TrafficCamera], fail_first: int = 0) -> None:
        self.profiles, self.fail_first = profiles, fail_first
        self.calls: list[tuple[bool, list[str]]] = []
        self.recorded: dict[str, traffic_pb2.VehicleObservation] = {}
        self.duplicates = 0

    async def GetCamera(
        self, request: traffic_pb2.GetCameraRequest, context: Any
    ) -> traffic_pb2.GetCameraResponse:
        if request.camera_id not in self.profiles:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"camera {request.camera_id} has no traffic profile"
            )
        return traffic_pb2.GetCameraResponse(camera=self.profiles[request.camera_id])

    async def RecordObservations(
        self, request: traffic_pb2.RecordObservationsRequest, context: Any
    ) -> traffic_pb2.RecordObservationsResponse:
        ids = [o.observation_id for o in request.observations]
        failing = len(self.calls) < self.fail_first
        self.calls.append((failing, ids))
        if failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        if bad := [o.observation_id for o in request.observations if o.vehicle_class not in VEHICLE_CLASSES]:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown vehicle class in {bad}")
        new = [o for o in request.observations if o.observation_id not in self.recorded]
        self.duplicates += len(ids) - len(new)
        self.recorded.update((o.observation_id, o) for o in new)
        return traffic_pb2.RecordObservationsResponse(recorded=len(new), duplicates=len(ids) - len(new))


def profile_of(scene: RoadScene, camera_id: str) -> traffic_pb2.TrafficCamera:
    image, ground = scene.calibration
    return traffic_pb2.TrafficCamera(
        camera_id=camera_id,
        agency_id="prison",
        lines=[
            traffic_pb2.CountingLine(
                id=line.id,
                lane=line.lane,
                start=common_pb2.Point(x=line.start[0], y=line.start[1]),
                end=common_pb2.Point(x=line.end[0], y=line.end[1]),
            )
            for line in scene.lines
        ],
        calibration=traffic_pb2.GroundCalibration(
            image_points=[common_pb2.Point(x=x, y=y) for x, y in image],
            ground_points_m=[common_pb2.Point(x=x, y=y) for x, y in ground],
        ),
        speed_limit_kmh=50,
    )


@asynccontextmanager
async def serve_traffic(servicer: Traffic) -> AsyncIterator[str]:
    """The servicer on a loopback port (mTLS, as every Kuzet server); yields its address."""
    server = grpc.aio.server()
    traffic_pb2_grpc.add_TrafficServiceServicer_to_server(servicer, server)
    port = bind(server, "127.0.0.1:0", server_credentials())
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)
