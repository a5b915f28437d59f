"""Oversight through the gateway: an overseer reads the oversight alerts of the agency it oversees
with their evidence and nothing else (docs/oversight.md); staff are enrolled with their consent."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from kuzet.common.v1 import common_pb2

OVERSIGHT_USERS = [
    {"username": "prison-operator", "password": "kuzet-demo", "agency": "prison", "roles": ["operator"]},
    {"username": "prison-admin", "password": "kuzet-demo", "agency": "prison", "roles": ["admin"]},
    {"username": "prison-auditor", "password": "kuzet-demo", "agency": "prison", "roles": ["auditor"]},
    {
        "username": "ombudsman-oversight",
        "password": "kuzet-demo",
        "agency": "ombudsman",
        "roles": ["oversight"],
    },
    {"username": "ombudsman-auditor", "password": "kuzet-demo", "agency": "ombudsman", "roles": ["auditor"]},
]


@pytest.fixture
def alerting_overrides() -> dict[str, Any]:
    return {"oversight_agencies": {"prison": ["ombudsman"]}}


@pytest.fixture
async def overseen(gateway_factory: Any, backing: Any) -> tuple[Any, Any]:
    gw = await gateway_factory(backing.endpoints, local_users=OVERSIGHT_USERS)
    return gw, backing


async def publish_with_snapshot(gw: Any, backing: Any, type_: str, n: int) -> tuple[str, bytes]:
    frame = io.BytesIO()
    Image.new("RGB", (160, 90), (40 + 20 * n, 44, 52)).save(frame, "JPEG")  # a real, decodable frame
    jpeg = frame.getvalue()
    info = await gw.gateway.objects.put(
        f"prison/snapshots/cam-cell-{n}/1.jpg", jpeg, content_type="image/jpeg"
    )
    ref = common_pb2.ObjectRef(
        key=info.key, sha256=info.sha256, size_bytes=info.size, content_type="image/jpeg"
    )
    alert_id = await backing.publish(
        "prison",
        type_,
        camera=f"cam-cell-{n}",
        site="north-block",
        snapshot=ref,
        severity=common_pb2.SEVERITY_HIGH,
    )
    return alert_id, jpeg


async def test_overseer_reads_oversight_alert_with_its_evidence_and_changes_nothing(overseen: Any) -> None:
    gw, backing = overseen
    alert_id, jpeg = await publish_with_snapshot(gw, backing, "staff_violence", 1)
    ordinary_id, _ = await publish_with_snapshot(gw, backing, "zone_intrusion", 2)
    ov = gw.auth("ombudsman-oversight")

    listed = (await gw.client.get("/api/v1/alerts", headers=ov)).json()["alerts"]
    assert [a["alert_id"] for a in listed] == [alert_id]
    url = listed[0]["snapshot_url"]
    resp = await gw.client.get(url)
    assert resp.status_code == 200 and resp.content == jpeg
    one = (await gw.client.get(f"/api/v1/alerts/{alert_id}?history=true", headers=ov)).json()
    assert one["alert"]["snapshot_url"].startswith("/evidence/")

    # The view is on the overseer's own agency's trail, not the prison's.
    trail = (
        await gw.client.get(
            "/api/v1/audit",
            params={"action_prefix": "evidence.", "service": "gateway"},
            headers=gw.auth("ombudsman-auditor"),
        )
    ).json()["records"]
    assert [(r["actor"], r["outcome"]) for r in trail] == [("ombudsman/ombudsman-oversight@local", "ok")]
    prison_trail = (
        await gw.client.get(
            "/api/v1/audit",
            params={"action_prefix": "evidence.", "service": "gateway"},
            headers=gw.auth("prison-auditor"),
        )
    ).json()["records"]
    assert prison_trail == []

    # Read-only: acknowledging or resolving is refused at the gateway.
    for action, body in (("acknowledge", {}), ("resolve", {"outcome": "true_positive"})):
        refused = await gw.client.post(f"/api/v1/alerts/{alert_id}/{action}", json=body, headers=ov)
        assert refused.status_code == 403
    # The prison's operator neither sees it nor its evidence; they keep their own alert.
    op = gw.auth("prison-operator")
    mine = (await gw.client.get("/api/v1/alerts", headers=op)).json()["alerts"]
    assert [a["alert_id"] for a in mine] == [ordinary_id]
    assert (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=op)).status_code == 404


async def test_overseer_gets_no_live_camera_or_general_evidence(overseen: Any) -> None:
    gw, backing = overseen
    await publish_with_snapshot(gw, backing, "staff_violence", 1)
    ov = gw.auth("ombudsman-oversight")
    live = await gw.client.get("/api/v1/cameras/cam-cell-1/snapshot", headers=ov)
    assert live.status_code == 403
    me = (await gw.client.get("/api/v1/me", headers=ov)).json()
    assert "alert_evidence.view" in me["permissions"] and "evidence.view" not in me["permissions"]
    # A link of the general kind is worthless for the oversight role, even correctly signed.
    general = gw.gateway.signer.sign(
        "object", "prison/snapshots/cam-cell-1/1.jpg", "ombudsman", "o", "p", roles=["oversight"]
    )
    assert (await gw.client.get(f"/evidence/{general}")).status_code == 403
    unknown = gw.gateway.signer.sign("nothing", "x", "ombudsman", "o", "p", roles=["oversight"])
    assert (await gw.client.get(f"/evidence/{unknown}")).status_code == 404


async def test_staff_enrolment_passes_consent_to_identity(overseen: Any) -> None:
    gw, _ = overseen
    admin = gw.auth("prison-admin")
    gallery = (
        await gw.client.post(
            "/api/v1/galleries",
            json={
                "name": "North block staff",
                "kind": "staff",
                "purpose": "Recognise staff on duty for the oversight of detainees' treatment",
                "legal_basis": "Penal Enforcement Code art. 18; staff consent",
                "owner": "security department",
            },
            headers=admin,
        )
    ).json()["gallery"]
    path = f"/api/v1/galleries/{gallery['gallery_id']}/people"
    photo = {"external_id": "staff-0042", "images": ["aGVsbG8="]}
    refused = await gw.client.post(path, json=photo, headers=admin)
    assert refused.status_code == 400 and "consent" in refused.json()["error"]["message"]
    given = await gw.client.post(path, json={**photo, "consent": "form 17/2026, 2026-03-01"}, headers=admin)
    # Identity went past the consent check to the photo itself (not a face: refused, or no
    # inference service here), so the gateway passed the consent on.
    assert "consent" not in given.text
