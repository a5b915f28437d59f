"""The traffic routes through the gateway against a real traffic service: lane counts, speeds,
hotlist hits with their pictures, audited plate search and the hotlist, each refused to the roles
that may not, with the service's own messages for bad input and 404 for another agency's camera."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kuzet.common.config import Endpoints
from kuzet.common.v1 import common_pb2

CAMERA = "ring-km12"
PLATE = "123ABC02"


async def _ref(gw: Any, key: str, data: bytes) -> common_pb2.ObjectRef:
    info = await gw.gateway.objects.put(key, data, content_type="image/jpeg")
    return common_pb2.ObjectRef(
        key=info.key, sha256=info.sha256, size_bytes=info.size, content_type="image/jpeg"
    )


async def _site(gateway_factory: Any, traffic_starter: Any) -> tuple[Any, Any]:
    traffic = await traffic_starter()
    gw = await gateway_factory(Endpoints(traffic=traffic.address))
    resp = await gw.client.put(
        f"/api/v1/traffic/cameras/{CAMERA}", json=traffic.profile(), headers=gw.auth("prison-admin")
    )
    assert resp.status_code == 200, resp.text
    return gw, traffic


async def test_counts_speeds_hits_and_search(gateway_factory: Any, traffic_starter: Any) -> None:
    gw, traffic = await _site(gateway_factory, traffic_starter)
    admin, op = gw.auth("prison-admin"), gw.auth("prison-operator")
    camera = (await gw.client.get(f"/api/v1/traffic/cameras/{CAMERA}", headers=op)).json()["camera"]
    assert camera["agency_id"] == "prison" and camera["calibration_id"].startswith("cal-")
    listed = (await gw.client.get("/api/v1/traffic/cameras", headers=op)).json()["cameras"]
    assert [c["camera_id"] for c in listed] == [CAMERA]

    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    entry = {"plate": "123 abc 02", "reason": "stolen", "source": "case 4471", "legal_basis": "CPC art. 12"}
    added = await gw.client.post(
        "/api/v1/traffic/hotlist", json={"entries": [{**entry, "expires_at": expires}]}, headers=admin
    )
    assert added.status_code == 200 and added.json()["upserted"] == 1, added.text
    [listed_entry] = (await gw.client.get("/api/v1/traffic/hotlist", headers=admin)).json()["entries"]
    assert listed_entry["plate"] == PLATE and listed_entry["created_by"] == "prison/prison-admin@local"

    now = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(minutes=5)
    snapshot = await _ref(gw, "prison/traffic/ring-km12/1.jpg", b"\xff\xd8vehicle\xff\xd9")
    crop = await _ref(gw, "prison/traffic/ring-km12/1-plate.jpg", b"\xff\xd8plate\xff\xd9")
    observations = [
        traffic.observation(
            CAMERA, "l1", 1, at=now, plate=PLATE, speed_kmh=54, snapshot=snapshot, plate_crop=crop
        ),
        traffic.observation(CAMERA, "l1", 2, at=now, speed_kmh=47, vehicle_class="truck"),
        traffic.observation(CAMERA, "l2", 3, at=now + timedelta(minutes=1), speed_kmh=71),
    ]
    recorded = await traffic.record(*observations)
    assert recorded.recorded == 3 and recorded.hotlist_hits == 1
    assert [e.type for e in traffic.events] == ["plate_hotlist"]

    span = {"since": (now - timedelta(minutes=10)).isoformat(), "until": datetime.now(UTC).isoformat()}
    counts = await gw.client.get(
        f"/api/v1/traffic/cameras/{CAMERA}/counts", params={**span, "interval_s": 60}, headers=op
    )
    assert counts.status_code == 200, counts.text
    by_lane = {(c["lane"], c["interval_start"]): c for c in counts.json()["counts"]}
    first = by_lane[("1", now.replace(second=0).strftime("%Y-%m-%dT%H:%M:%SZ"))]
    assert first["vehicles"] == "2" and first["by_class"] == {"car": "1", "truck": "1"}
    assert first["mean_speed_kmh"] == 50.5
    quarter = (
        await gw.client.get(f"/api/v1/traffic/cameras/{CAMERA}/counts", params=span, headers=op)
    ).json()
    assert sum(int(c["vehicles"]) for c in quarter["counts"]) == 3

    speeds = (await gw.client.get(f"/api/v1/traffic/cameras/{CAMERA}/speeds", params=span, headers=op)).json()
    assert speeds["measured"] == "3" and speeds["median_kmh"] == 54
    assert {b["low_kmh"]: b["vehicles"] for b in speeds["bins"]} == {40: "1", 50: "1", 70: "1"}

    [hit] = (await gw.client.get("/api/v1/traffic/hotlist-hits", headers=op)).json()["hits"]
    assert hit["match"] == "exact" and hit["entry"]["reason"] == "stolen"
    assert hit["observation"]["plate"] == PLATE and hit["observation"]["lane"] == "1"
    # The pictures come through signed evidence links, whose every view is audited.
    assert (await gw.client.get(hit["observation"]["snapshot_url"])).content == b"\xff\xd8vehicle\xff\xd9"
    assert (await gw.client.get(hit["observation"]["plate_crop_url"])).content == b"\xff\xd8plate\xff\xd9"
    views = gw.gateway.audit.list(agency="prison", action_prefix="evidence.view")
    assert {v.details["purpose"] for v in views} == {f"hotlist hit {CAMERA}-l1-1"}
    # Admins keep the hotlist but may not view evidence: they get no links.
    [admin_hit] = (await gw.client.get("/api/v1/traffic/hotlist-hits", headers=admin)).json()["hits"]
    assert "snapshot_url" not in admin_hit["observation"]

    found = await gw.client.post(
        "/api/v1/traffic/plate-searches",
        json={"plate": "123-abc-02", "purpose": "case 4471: stolen car"},
        headers=gw.auth("prison-investigator"),
    )
    assert found.status_code == 200, found.text
    result = found.json()
    assert [o["observation_id"] for o in result["observations"]] == [f"{CAMERA}-l1-1"]
    assert result["observations"][0]["snapshot_url"].startswith("/evidence/")
    # The search is on the traffic service's record with its purpose, for the auditors.
    trail = await gw.client.get(
        "/api/v1/audit",
        params={"service": "traffic", "action_prefix": "traffic.plate."},
        headers=gw.auth("prison-auditor"),
    )
    assert trail.status_code == 200, trail.text
    [record] = trail.json()["records"]
    assert record["target"] == PLATE and record["details"]["purpose"] == "case 4471: stolen car"
    assert record["actor"] == "prison/prison-investigator@local" and record["seq"] == result["audit_id"]

    removed = await gw.client.delete(
        f"/api/v1/traffic/hotlist/{PLATE}", params={"reason": "car found"}, headers=admin
    )
    assert removed.status_code == 200, removed.text
    assert (await gw.client.get("/api/v1/traffic/hotlist", headers=admin)).json()["entries"] == []


async def test_bad_input_is_400_with_the_reason(gateway_factory: Any, traffic_starter: Any) -> None:
    gw, traffic = await _site(gateway_factory, traffic_starter)
    admin, op = gw.auth("prison-admin"), gw.auth("prison-operator")
    profile = traffic.profile()
    profile["calibration"] = {k: v[:3] for k, v in profile["calibration"].items()}
    cases: list[tuple[str, str, dict[str, Any], dict[str, str], str]] = [
        ("PUT", f"/api/v1/traffic/cameras/{CAMERA}", {"json": profile}, admin, "camera.calibration"),
        (
            "PUT",
            f"/api/v1/traffic/cameras/{CAMERA}",
            {"json": {"lines": []}},
            admin,
            "at least one counting line",
        ),
        ("PUT", f"/api/v1/traffic/cameras/{CAMERA}", {"json": {"lines": "one"}}, admin, "traffic camera"),
        (
            "GET",
            f"/api/v1/traffic/cameras/{CAMERA}/counts",
            {"params": {"interval_s": 120}},
            op,
            "interval_s",
        ),
        (
            "GET",
            f"/api/v1/traffic/cameras/{CAMERA}/counts",
            {"params": {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}},
            op,
            "must be before until",
        ),
        (
            "GET",
            f"/api/v1/traffic/cameras/{CAMERA}/speeds",
            {"params": {"since": "2026-01-01T00:00:00"}},
            op,
            "time zone",
        ),
        ("POST", "/api/v1/traffic/plate-searches", {"json": {"plate": PLATE}}, op, "purpose"),
        (
            "POST",
            "/api/v1/traffic/plate-searches",
            {"json": {"plate": PLATE, "purpose": "  "}},
            op,
            "purpose is required",
        ),
        (
            "POST",
            "/api/v1/traffic/plate-searches",
            {"json": {"plate": "12-AB-C", "purpose": "x"}},
            op,
            "12-AB-C",
        ),
        (
            "POST",
            "/api/v1/traffic/hotlist",
            {"json": {"entries": [_entry("12-AB-C", days=3)]}},
            admin,
            "entries[0]: hotlist entry: plate '12-AB-C'",
        ),
        (
            "POST",
            "/api/v1/traffic/hotlist",
            {"json": {"entries": [_entry(PLATE, days=-1)]}},
            admin,
            "it expired at",
        ),
        ("POST", "/api/v1/traffic/hotlist", {"json": {"entries": []}}, admin, "entries"),
        ("DELETE", f"/api/v1/traffic/hotlist/{PLATE}", {}, admin, "reason"),
    ]
    for method, path, kwargs, headers, words in cases:
        resp = await gw.client.request(method, path, headers=headers, **kwargs)
        assert resp.status_code == 400, (method, path, kwargs, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "INVALID_ARGUMENT" and words in error["message"], (path, kwargs, error)
    gone = await gw.client.delete(f"/api/v1/traffic/hotlist/{PLATE}", params={"reason": "x"}, headers=admin)
    assert gone.status_code == 404 and PLATE in gone.json()["error"]["message"]


def _entry(plate: str, *, days: int) -> dict[str, str]:
    expires = (datetime.now(UTC) + timedelta(days=days)).isoformat()
    return {
        "plate": plate,
        "reason": "stolen",
        "source": "case 1",
        "legal_basis": "CPC",
        "expires_at": expires,
    }


async def test_roles_and_agencies(gateway_factory: Any, traffic_starter: Any) -> None:
    gw, traffic = await _site(gateway_factory, traffic_starter)
    police = {role: gw.auth(f"police-{role}") for role in ("operator", "admin")}
    # Another agency's camera is not found, whatever the route; configuring it is refused.
    for path in (
        f"/api/v1/traffic/cameras/{CAMERA}",
        f"/api/v1/traffic/cameras/{CAMERA}/counts",
        f"/api/v1/traffic/cameras/{CAMERA}/speeds",
    ):
        resp = await gw.client.get(path, headers=police["operator"])
        assert resp.status_code == 404, (path, resp.text)
    taken = await gw.client.put(
        f"/api/v1/traffic/cameras/{CAMERA}", json=traffic.profile(), headers=police["admin"]
    )
    assert taken.status_code in (403, 404) and "another agency" in taken.json()["error"]["message"]
    assert (await gw.client.get("/api/v1/traffic/cameras", headers=police["operator"])).json()[
        "cameras"
    ] == []
    # Who may do what is the role table's: the role that may not gets 403 before the service.
    refused = [
        ("prison-operator", "PUT", f"/api/v1/traffic/cameras/{CAMERA}", traffic.profile()),
        ("prison-operator", "POST", "/api/v1/traffic/hotlist", {"entries": [_entry(PLATE, days=3)]}),
        ("prison-operator", "GET", "/api/v1/traffic/hotlist", None),
        ("prison-reviewer", "POST", "/api/v1/traffic/plate-searches", {"plate": PLATE, "purpose": "x"}),
        ("prison-auditor", "GET", "/api/v1/traffic/hotlist-hits", None),
        ("prison-pilot", "GET", f"/api/v1/traffic/cameras/{CAMERA}/counts", None),
    ]
    for user, method, path, body in refused:
        resp = await gw.client.request(method, path, json=body, headers=gw.auth(user))
        assert resp.status_code == 403, (user, path, resp.text)
        assert "needs one of the roles" in resp.json()["error"]["message"]
