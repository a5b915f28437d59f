"""One controller per drone across service instances, with Kubernetes Leases on a real API server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kuzet.common.k8stest import KubeApiServer, kube_apiserver  # noqa: F401 - fixture
from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.config import DroneSettings
from kuzet.drone.leadership import KubernetesLeadership, lease_name
from kuzet.drone.server import build
from kuzet.drone.sim import SimHost, VehicleConfig
from kuzet.drone.v1 import drone_pb2

from .conftest import HOME_LAT, HOME_LON


async def _until(check, within_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within_s / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


async def test_only_the_lease_holder_controls_a_drone_and_another_takes_over(
    kube_apiserver: KubeApiServer,  # noqa: F811
    sim: SimHost,
    tmp_path: Path,
    db_path: str,
) -> None:
    namespace = kube_apiserver.create_namespace()
    apis = [kube_apiserver.api_client(), kube_apiserver.api_client()]
    servers = []
    for name, api in zip(("drone-a", "drone-b"), apis, strict=True):
        settings = DroneSettings(port=free_port_number(), data_dir=tmp_path, database_url=db_path)
        leadership = KubernetesLeadership(api, identity=name, namespace=namespace, lease_s=3)
        servers.append(await build(settings, leadership=leadership, publish_event=lambda e: None))
    a, b = servers
    try:
        port = free_port_number()
        drone = drone_pb2.Drone(
            drone_id="K8s_Drone 1",
            agency_id="prison-service",
            system_id=5,
            home=common_pb2.GeoPoint(latitude=HOME_LAT, longitude=HOME_LON),
            link_url=f"udpin:127.0.0.1:{port}",
            limits=drone_pb2.DroneLimits(link_loss_timeout_s=2),
        )
        await a.fleet.store.put_drone(drone)
        await a.fleet.add(drone)
        sim.add(VehicleConfig(5, HOME_LAT, HOME_LON, 20.0), f"udpout:127.0.0.1:{port}")
        assert a.fleet.controller(drone.drone_id) is not None
        assert lease_name(drone.drone_id) == "kuzet-drone-k8s-drone-1"
        # B learns about the drone from the shared registry but may not open its link.
        await _until(lambda: drone.drone_id in b.fleet.drones, 5, "b sees the drone")
        await asyncio.sleep(1.5)
        assert b.fleet.controller(drone.drone_id) is None
        assert b.fleet.leadership.holder(drone.drone_id) in ("", "drone-a")
        # A goes away (releases its lease): B takes over and gets the link.
        await a.fleet.stop()
        await _until(lambda: b.fleet.controller(drone.drone_id) is not None, 10, "b takes over")
        ctl = b.fleet.controller(drone.drone_id)
        assert ctl is not None and ctl.controller_id == "drone-b"
        await _until(lambda: ctl.link_state == drone_pb2.LINK_STATE_UP, 10, "b's link is up")
    finally:
        await b.fleet.stop()
        for api in apis:
            api.close()
