"""Citations and badge evidence through the REST API, against the real badge service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .badge_records import BadgeRecords


async def _records(gateway_factory: Callable[..., Any], fleet_backing: Any) -> tuple[Any, BadgeRecords]:
    gw = await gateway_factory(fleet_backing.endpoints)
    return gw, BadgeRecords(fleet_backing.endpoints.badge)


async def test_citation_life_cycle_by_role(gateway_factory: Callable[..., Any], fleet_backing: Any) -> None:
    gw, records = await _records(gateway_factory, fleet_backing)
    first = await records.citation(plate="111AAA02")
    second = await records.citation(plate="222BBB02")
    op, admin, auditor = gw.auth("prison-operator"), gw.auth("prison-admin"), gw.auth("prison-auditor")
    base = "/api/v1/citations"

    listed = (await gw.client.get(base, params={"status": "issued"}, headers=op)).json()
    shown = {c["citation_id"]: c for c in listed["citations"]}
    assert {first.citation_id, second.citation_id} <= set(shown)
    # The buttons each role gets: an operator records payments and contests, an admin also decides.
    assert [a["action"] for a in shown[first.citation_id]["actions"]] == ["pay", "contest"]
    one = (await gw.client.get(f"{base}/{first.citation_id}", headers=admin)).json()["citation"]
    assert [a["action"] for a in one["actions"]] == ["pay", "contest", "void"]
    assert [
        a["action"] for a in (await gw.client.get(base, headers=auditor)).json()["citations"][0]["actions"]
    ] == []

    # A contest needs the grounds: refused by the gateway before the service is asked.
    empty = await gw.client.post(f"{base}/{first.citation_id}/contest", json={"reason": ""}, headers=op)
    assert empty.status_code == 400, empty.text
    contested = await gw.client.post(
        f"{base}/{first.citation_id}/contest", json={"reason": "I was not driving"}, headers=op
    )
    assert contested.status_code == 200, contested.text
    citation = contested.json()["citation"]
    assert citation["status"] == "CITATION_STATUS_CONTESTED"
    assert citation["history"][-1]["reason"] == "I was not driving"
    assert citation["actions"] == []  # deciding is the admin's
    # The operator may not decide, and the route says so even when asked directly.
    refused = await gw.client.post(f"{base}/{first.citation_id}/void", json={"reason": "x"}, headers=op)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "PERMISSION_DENIED"
    upheld = await gw.client.post(
        f"{base}/{first.citation_id}/uphold", json={"reason": "camera shows the driver"}, headers=admin
    )
    assert upheld.json()["citation"]["status"] == "CITATION_STATUS_UPHELD"
    paid = await gw.client.post(f"{base}/{first.citation_id}/pay", json={"reason": "receipt 77"}, headers=op)
    assert paid.json()["citation"]["status"] == "CITATION_STATUS_PAID"
    assert [h["to_status"] for h in paid.json()["citation"]["history"]] == [
        "CITATION_STATUS_ISSUED",
        "CITATION_STATUS_CONTESTED",
        "CITATION_STATUS_UPHELD",
        "CITATION_STATUS_PAID",
    ]
    # Final: another move is the service's 409 with the reason.
    again = await gw.client.post(f"{base}/{first.citation_id}/void", json={"reason": "late"}, headers=admin)
    assert again.status_code == 409 and "final" in again.json()["error"]["message"]

    voided = await gw.client.post(
        f"{base}/{second.citation_id}/void", json={"reason": "wrong plate"}, headers=admin
    )
    assert voided.json()["citation"]["status"] == "CITATION_STATUS_VOIDED"
    only_voided = (await gw.client.get(base, params={"status": "voided"}, headers=op)).json()["citations"]
    assert [c["citation_id"] for c in only_voided] == [second.citation_id]
    bad = await gw.client.get(base, params={"status": "lost"}, headers=op)
    assert bad.status_code == 400
    codes = (await gw.client.get(f"{base}/offence-codes", headers=op)).json()["codes"]
    assert "TR-201" in {c["code"] for c in codes}

    # Each move is in badge's audit trail with its actor.
    trail = await gw.client.get(
        "/api/v1/audit", params={"service": "badge", "action": "citation."}, headers=auditor
    )
    assert trail.status_code == 200, trail.text
    actions = [r["action"] for r in trail.json()["records"]]
    assert any(a.startswith("citation.") and a != "citation.view" for a in actions), actions


async def test_evidence_by_badge_and_incident_custody_and_verified_export(
    gateway_factory: Callable[..., Any], fleet_backing: Any
) -> None:
    gw, records = await _records(gateway_factory, fleet_backing)
    await records.badges("B-1", "B-2")
    at_incident = await records.recording("B-1", incident_id="inc-7")
    other = await records.recording("B-1")
    elsewhere = await records.recording("B-2", incident_id="inc-8")
    inv = gw.auth("prison-investigator")

    by_badge = (await gw.client.get("/api/v1/evidence-items", params={"badge_id": "B-1"}, headers=inv)).json()
    assert {e["evidence_id"] for e in by_badge["evidence"]} == {at_incident.evidence_id, other.evidence_id}
    by_incident = (
        await gw.client.get("/api/v1/evidence-items", params={"incident_id": "inc-7"}, headers=inv)
    ).json()
    assert [e["evidence_id"] for e in by_incident["evidence"]] == [at_incident.evidence_id]

    item = at_incident.evidence_id
    seen = await gw.client.get(f"/api/v1/evidence-items/{item}", params={"reason": "case 17"}, headers=inv)
    assert seen.json()["evidence"]["incident_id"] == "inc-7"
    custody = (await gw.client.get(f"/api/v1/evidence-items/{item}/custody", headers=inv)).json()
    assert custody["chain_ok"] is True
    steps = [r["action"] for r in custody["records"]]
    assert steps[-1] == "CUSTODY_ACTION_VIEWED" and "CUSTODY_ACTION_STORED" in steps

    # An operator may not export; an investigator gets a manifest and each object re-hashed.
    body = {"evidence_ids": [item, elsewhere.evidence_id], "recipient": "City court", "reason": "case 17"}
    refused = await gw.client.post("/api/v1/evidence-exports", json=body, headers=gw.auth("prison-operator"))
    assert refused.status_code == 403
    export = await gw.client.post("/api/v1/evidence-exports", json=body, headers=inv)
    assert export.status_code == 200, export.text
    out = export.json()
    assert out["manifest_ok"] and out["verified"], out
    assert {r["evidence_id"] for r in out["verification"]} == {item, elsewhere.evidence_id}
    assert all(r["ok"] for r in out["verification"])
    after = (await gw.client.get(f"/api/v1/evidence-items/{item}/custody", headers=inv)).json()
    assert [r["action"] for r in after["records"]][-2:] == [
        "CUSTODY_ACTION_EXPORTED",
        "CUSTODY_ACTION_VERIFIED",
    ]
    assert after["chain_ok"]

    # Another agency sees none of it.
    police = gw.auth("police-investigator")
    assert (await gw.client.get("/api/v1/evidence-items", headers=police)).json()["evidence"] == []
    theirs = await gw.client.get(f"/api/v1/evidence-items/{item}/custody", headers=police)
    assert theirs.status_code in (403, 404)
    bad_id = await gw.client.post(
        "/api/v1/evidence-exports", json={**body, "evidence_ids": ["../x"]}, headers=inv
    )
    assert bad_id.status_code == 400
