"""Coverage planning and its report through the REST API, against a real drone service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import Endpoints
from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.server import DroneServer
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

AGENCY = "prison"
LAT, LON, ALT = 51.5007, -0.1246, 20.0
PILOT = Caller("prison-pilot", AGENCY, frozenset({"pilot"}))


@pytest.fixture
async def registered(drone_service: DroneServer) -> DroneServer:
    # Planning needs the drone's registration only, not its link.
    drone = drone_pb2.Drone(
        drone_id="gw-cov",
        agency_id=AGENCY,
        home=common_pb2.GeoPoint(latitude=LAT, longitude=LON, altitude_m=ALT),
        system_id=9,
        link_url=f"udpin:127.0.0.1:{free_port_number()}",
    )
    async with open_channel(drone_service.address, audience="drone", caller=PILOT) as channel:
        await drone_pb2_grpc.DroneServiceStub(channel).RegisterDrone(
            drone_pb2.RegisterDroneRequest(drone=drone), metadata=caller_metadata(PILOT, audience="drone")
        )
    return drone_service


def point(east_m: float, north_m: float) -> dict[str, float]:
    return {"latitude": LAT + north_m / 111_195.0, "longitude": LON + east_m / 69_230.0}


def square(east_m: float, north_m: float, half: float) -> list[dict[str, float]]:
    return [point(east_m + dx * half, north_m + dy * half) for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]


async def test_plan_report_and_geojson_export(
    gateway_factory: Callable[..., Any], registered: DroneServer
) -> None:
    gw = await gateway_factory(endpoints=Endpoints(drone=registered.address))
    pilot, operator = gw.auth("prison-pilot"), gw.auth("prison-operator")
    body = {
        "outline": square(0, 200, 100),
        "holes": [{"points": square(0, 200, 30)}],
        "drone_ids": ["gw-cov"],
        "altitude_m": 40,
    }
    planned = await gw.client.post("/api/v1/drones/coverage-plans", json=body, headers=pilot)
    assert planned.status_code == 200, planned.text
    plan = planned.json()["plan"]
    assert plan["drones"][0]["legs"][0]["ok"] and plan["coverage_ratio"] > 0.95

    too_high = await gw.client.post(
        "/api/v1/drones/coverage-plans", json={**body, "altitude_m": 150}, headers=pilot
    )
    assert too_high.status_code == 400 and "legal limit" in too_high.json()["error"]["message"]
    # Planning is a command (pilot), reading the report is not.
    denied = await gw.client.post("/api/v1/drones/coverage-plans", json=body, headers=operator)
    assert denied.status_code == 403

    cid = plan["coverage_plan_id"]
    got = await gw.client.get(f"/api/v1/drones/coverage-reports/{cid}", headers=operator)
    assert got.status_code == 200, got.text
    report = got.json()["report"]
    assert report["coverage_plan_id"] == cid and report["gaps"] and report["seen_m2"] == 0

    exported = await gw.client.get(f"/api/v1/drones/coverage-reports/{cid}/geojson", headers=operator)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/geo+json"
    assert f"coverage-{cid}.geojson" in exported.headers["content-disposition"]
    doc = exported.json()
    assert doc["type"] == "FeatureCollection" and doc["coverage_report"]["coverage_ratio"] == 0
    [gap] = doc["features"]  # nothing seen: the whole allowed area (with its hole) is one gap
    assert gap["properties"]["kind"] == "gap" and len(gap["geometry"]["coordinates"]) == 2
    for ring in gap["geometry"]["coordinates"]:
        assert ring[0] == ring[-1] and len(ring) >= 4
    assert gap["properties"]["area_m2"] == pytest.approx(200 * 200 - 60 * 60, rel=0.01)
    records = gw.gateway.audit.list(agency=AGENCY, action_prefix="drone.coverage.export")
    assert [r.target for r in records] == [cid]

    other = await gw.client.get(f"/api/v1/drones/coverage-reports/{cid}", headers=gw.auth("police-operator"))
    assert other.status_code in (403, 404)
    missing = await gw.client.get("/api/v1/drones/coverage-reports/nope", headers=operator)
    assert missing.status_code == 404
