"""Protected areas through the REST API, against a real drone service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kuzet.common.config import Endpoints
from kuzet.drone.server import DroneServer

LAT, LON = 43.2389, 76.8897
URL = "/api/v1/protected-areas"


def corners(*offsets: tuple[float, float]) -> list[dict[str, float]]:
    """Points `(east, north)` metres from the reference point."""
    return [{"latitude": LAT + n / 111_195.0, "longitude": LON + e / 80_950.0} for e, n in offsets]


SQUARE = corners((0, 0), (500, 0), (500, 500), (0, 500))
BOWTIE = corners((0, 0), (500, 500), (500, 0), (0, 500))


async def test_admins_keep_areas_and_every_drone_reader_sees_them(
    gateway_factory: Callable[..., Any], drone_service: DroneServer
) -> None:
    gw = await gateway_factory(endpoints=Endpoints(drone=drone_service.address))
    admin, operator, pilot = (gw.auth(f"prison-{r}") for r in ("admin", "operator", "pilot"))
    body = {
        "name": "north reserve",
        "kind": "PROTECTED_AREA_KIND_RESERVE",
        "outline": SQUARE,
        "time_zone": "Asia/Almaty",
    }
    made = await gw.client.post(URL, json=body, headers=admin)
    assert made.status_code == 200, made.text
    area = made.json()["area"]
    assert area["agency_id"] == "prison" and area["area_m2"] == pytest.approx(250_000, rel=0.02)
    aid = area["area_id"]

    crossing = await gw.client.post(URL, json={**body, "outline": BOWTIE}, headers=admin)
    assert crossing.status_code == 400, crossing.text
    assert crossing.json()["error"]["code"] == "INVALID_ARGUMENT"
    # Reading is for every role that reads drones; changing is an admin's.
    assert (await gw.client.post(URL, json=body, headers=pilot)).status_code == 403

    listed = await gw.client.get(URL, headers=operator)
    assert [a["area_id"] for a in listed.json()["areas"]] == [aid]
    got = await gw.client.get(f"{URL}/{aid}", headers=pilot)
    assert got.status_code == 200 and got.json()["area"]["name"] == "north reserve"

    # The path names the area changed, whatever the body says.
    renamed = {**body, "area_id": "elsewhere", "name": "north reserve (extended)"}
    updated = await gw.client.put(f"{URL}/{aid}", json=renamed, headers=admin)
    assert updated.status_code == 200, updated.text
    assert updated.json()["area"]["area_id"] == aid
    assert updated.json()["area"]["name"] == "north reserve (extended)"

    # Another agency neither sees nor changes it, nor learns that it exists.
    police = gw.auth("police-admin")
    assert (await gw.client.get(URL, headers=police)).json().get("areas", []) == []
    for method in ("GET", "PUT", "DELETE"):
        foreign = await gw.client.request(
            method, f"{URL}/{aid}", json=body if method == "PUT" else None, headers=police
        )
        assert foreign.status_code == 404, (method, foreign.text)
        assert foreign.json()["error"]["message"] == "no such protected area"

    assert (await gw.client.delete(f"{URL}/{aid}", headers=admin)).status_code == 200
    assert (await gw.client.get(f"{URL}/{aid}", headers=operator)).status_code == 404
