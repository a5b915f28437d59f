"""Authorisation through the real gateway against the real alerting service.

Every route is walked with a token of every role: allowed roles get past the gateway (the
backing service answers), every other role gets 403 — and the walk must cover every route.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.routing import APIRoute

from kuzet.gateway.localissuer import SigningKey
from kuzet.gateway.roles import ROLES, Permission, allowed

P = Permission
GALLERY = {
    "name": "g",
    "kind": "watchlist",
    "purpose": "p",
    "legal_basis": "l",
    "owner": "o",
    "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
}
HOTLIST_ENTRY = {
    "plate": "123ABC02",
    "reason": "stolen",
    "source": "case 4471",
    "legal_basis": "court order 1/2026",
    "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
}
# (method, path template, permission, json body); {alert} is a real alert of the caller's agency.
MATRIX: list[tuple[str, str, Permission, Any]] = [
    ("GET", "/api/v1/alerts", P.ALERTS_READ, None),
    ("GET", "/api/v1/alerts/{alert}", P.ALERTS_READ, None),
    ("POST", "/api/v1/alerts/{alert}/acknowledge", P.ALERTS_ACT, {"note": "on it"}),
    ("POST", "/api/v1/alerts/{alert}/resolve", P.ALERTS_ACT, {"outcome": "false_alarm"}),
    ("GET", "/api/v1/sites", P.ALERTS_READ, None),
    ("PUT", "/api/v1/sites/north-block", P.SITES_ADMIN, {"display_name": "North block", "time_zone": "UTC"}),
    ("GET", "/api/v1/shared-routes", P.SITES_ADMIN, None),
    (
        "POST",
        "/api/v1/shared-routes",
        P.SITES_ADMIN,
        {"target_agency_id": "police", "reason": "joint operation 7"},
    ),
    ("DELETE", "/api/v1/shared-routes/r-1?reason=ended", P.SITES_ADMIN, None),
    ("GET", "/api/v1/reviews", P.REVIEWS_READ, None),
    ("POST", "/api/v1/reviews/m-1", P.REVIEWS_DECIDE, {"decision": "confirm", "reason": "same person"}),
    ("GET", "/api/v1/galleries", P.GALLERIES_READ, None),
    ("POST", "/api/v1/galleries", P.GALLERIES_ADMIN, GALLERY),
    ("PATCH", "/api/v1/galleries/g-1", P.GALLERIES_ADMIN, {"required_reviewers": 3}),
    ("GET", "/api/v1/galleries/g-1/people", P.GALLERIES_READ, None),
    ("POST", "/api/v1/galleries/g-1/people", P.PEOPLE_ENROL, {"images": ["aGVsbG8="]}),
    ("DELETE", "/api/v1/people/p-1?reason=erasure-42", P.PEOPLE_ERASE, None),
    ("POST", "/api/v1/identify", P.IDENTIFY, {"image": "aGVsbG8=", "purpose": "case 7"}),
    ("POST", "/api/v1/federation/searches", P.SITES_SEARCH, {"image": "aGVsbG8=", "purpose": "case 7"}),
    ("GET", "/api/v1/cameras", P.CAMERAS_READ, None),
    ("GET", "/api/v1/cameras/health", P.CAMERAS_READ, None),
    ("GET", "/api/v1/cameras/cam-1", P.CAMERAS_READ, None),
    ("GET", "/api/v1/cameras/cam-1/health", P.CAMERAS_READ, None),
    ("GET", "/api/v1/cameras/cam-1/snapshot", P.EVIDENCE_VIEW, None),
    ("GET", "/api/v1/cameras/cam-1/live?seconds=1", P.EVIDENCE_VIEW, None),
    ("POST", "/api/v1/cameras", P.CAMERAS_ADMIN, {"name": "gate"}),
    ("PUT", "/api/v1/cameras/cam-1", P.CAMERAS_ADMIN, {"name": "gate"}),
    ("DELETE", "/api/v1/cameras/cam-1", P.CAMERAS_ADMIN, None),
    ("GET", "/api/v1/audit?service=gateway", P.AUDIT_READ, None),
    ("GET", "/api/v1/audit?service=alerting", P.AUDIT_READ, None),
    ("POST", "/api/v1/audit/verify", P.AUDIT_READ, None),
    ("GET", "/api/v1/badges", P.BADGES_READ, None),
    ("GET", "/api/v1/badges/states", P.BADGES_READ, None),
    ("GET", "/api/v1/integrity-reports", P.INTEGRITY_READ, None),
    ("GET", "/api/v1/drones", P.DRONES_READ, None),
    ("GET", "/api/v1/drones/d-1/state", P.DRONES_READ, None),
    ("GET", "/api/v1/drone-zones", P.DRONES_READ, None),
    ("POST", "/api/v1/drones", P.DRONES_ADMIN, {"drone": {"drone_id": "d-9"}}),
    ("POST", "/api/v1/drone-zones", P.DRONES_ADMIN, {"name": "prison wall"}),
    ("DELETE", "/api/v1/drone-zones/z-1", P.DRONES_ADMIN, None),
    ("POST", "/api/v1/drones/plans", P.DRONES_COMMAND, {"drone_id": "d-1"}),
    ("POST", "/api/v1/drones/dispatch", P.DRONES_COMMAND, {"plan_id": "p-1", "pilot_confirmed": True}),
    ("POST", "/api/v1/drones/coverage-plans", P.DRONES_COMMAND, {"drone_ids": ["d-1"]}),
    ("GET", "/api/v1/drones/coverage-reports/c-1", P.DRONES_READ, None),
    ("GET", "/api/v1/drones/coverage-reports/c-1/geojson", P.DRONES_READ, None),
    ("GET", "/api/v1/protected-areas", P.DRONES_READ, None),
    ("GET", "/api/v1/protected-areas/a-1", P.DRONES_READ, None),
    ("POST", "/api/v1/protected-areas", P.DRONES_ADMIN, {"name": "north reserve"}),
    ("PUT", "/api/v1/protected-areas/a-1", P.DRONES_ADMIN, {"name": "north reserve"}),
    ("DELETE", "/api/v1/protected-areas/a-1", P.DRONES_ADMIN, None),
    ("GET", "/api/v1/drones/suggestions?latitude=43.2&longitude=76.9", P.DRONES_COMMAND, None),
    ("POST", "/api/v1/drones/d-1/control", P.DRONES_COMMAND, {"action": "hold", "reason": "check"}),
    ("POST", "/api/v1/drones/d-1/reenable", P.DRONES_COMMAND, {"reason": "checked"}),
    ("GET", "/api/v1/holds", P.HOLDS_READ, None),
    (
        "POST",
        "/api/v1/holds",
        P.HOLDS_MANAGE,
        {"kind": "identity.match", "item_id": "m-1", "reason": "appeal"},
    ),
    ("GET", "/api/v1/holds/identity/h-1", P.HOLDS_READ, None),
    ("POST", "/api/v1/holds/identity/h-1/release", P.HOLDS_MANAGE, {"reason": "case closed"}),
    ("GET", "/api/v1/traffic/cameras", P.TRAFFIC_READ, None),
    ("GET", "/api/v1/traffic/cameras/cam-1", P.TRAFFIC_READ, None),
    ("PUT", "/api/v1/traffic/cameras/cam-1", P.TRAFFIC_ADMIN, {"speed_limit_kmh": 60}),
    ("GET", "/api/v1/traffic/cameras/cam-1/counts?interval_s=60", P.TRAFFIC_READ, None),
    ("GET", "/api/v1/traffic/cameras/cam-1/speeds", P.TRAFFIC_READ, None),
    ("GET", "/api/v1/traffic/hotlist-hits", P.TRAFFIC_READ, None),
    ("POST", "/api/v1/traffic/plate-searches", P.PLATES_SEARCH, {"plate": "123ABC02", "purpose": "case 7"}),
    ("GET", "/api/v1/traffic/hotlist", P.TRAFFIC_ADMIN, None),
    ("POST", "/api/v1/traffic/hotlist", P.TRAFFIC_ADMIN, {"entries": [HOTLIST_ENTRY]}),
    ("DELETE", "/api/v1/traffic/hotlist/123ABC02?reason=found", P.TRAFFIC_ADMIN, None),
    ("GET", "/api/v1/citations", P.CITATIONS_READ, None),
    ("GET", "/api/v1/citations/offence-codes", P.CITATIONS_READ, None),
    ("GET", "/api/v1/citations/c-1", P.CITATIONS_READ, None),
    ("POST", "/api/v1/citations/c-1/pay", P.CITATIONS_RECORD, {"reason": "receipt 1"}),
    ("POST", "/api/v1/citations/c-1/contest", P.CITATIONS_RECORD, {"reason": "not me"}),
    ("POST", "/api/v1/citations/c-1/uphold", P.CITATIONS_DECIDE, {"reason": "seen on video"}),
    ("POST", "/api/v1/citations/c-1/void", P.CITATIONS_DECIDE, {"reason": "wrong plate"}),
    ("GET", "/api/v1/evidence-items", P.RECORDINGS_READ, None),
    ("GET", "/api/v1/evidence-items/e-1", P.RECORDINGS_READ, None),
    ("GET", "/api/v1/evidence-items/e-1/custody", P.RECORDINGS_READ, None),
    (
        "POST",
        "/api/v1/evidence-exports",
        P.EVIDENCE_EXPORT,
        {"evidence_ids": ["e-1"], "recipient": "court", "reason": "case 7"},
    ),
    ("GET", "/api/v1/statistics/alerts", P.STATISTICS_READ, None),
    ("GET", "/api/v1/statistics/citations", P.STATISTICS_READ, None),
    ("GET", "/api/v1/statistics/integrity", P.INTEGRITY_READ, None),
    ("GET", "/api/v1/statistics/flights", P.STATISTICS_READ, None),
    ("GET", "/api/v1/statistics/alert-outcomes", P.STATISTICS_READ, None),
]
ALERTING_ANSWERS: dict[tuple[str, str], int] = {
    ("DELETE", "/api/v1/shared-routes/r-1?reason=ended"): 404,
}
IDENTITY_ANSWERS: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/api/v1/reviews"): (200,),
    ("GET", "/api/v1/galleries"): (200,),
    ("POST", "/api/v1/galleries"): (200,),
    ("POST", "/api/v1/identify"): (400, 502, 503),
}
# Routes any signed-in user (or anybody) may call, and the evidence route (signed links).
OPEN = {"/api/v1/me", "/api/v1/roles", "/api/v1/config", "/evidence/{token}"}
# Permissions that guard signed evidence links, not a route (test_oversight_routes.py tests them).
LINK_ONLY = {P.ALERT_EVIDENCE_VIEW}


def test_matrix_covers_every_route(gw: Any) -> None:
    routes = {
        (m, r.path)
        for r in gw.app.routes
        if isinstance(r, APIRoute) and r.path.startswith(("/api/", "/evidence"))
        for m in (r.methods or ())
    }
    covered = {(m, p.split("?")[0].replace("{alert}", "{alert_id}")) for m, p, _, _ in MATRIX}
    templated = set()
    for method, path in routes:
        if path in OPEN:
            continue
        match = any(m == method and _same(path, p) for m, p in covered)
        if not match:
            templated.add((method, path))
    assert not templated, f"routes without an authorisation test: {sorted(templated)}"
    # And no permission in the table is dead: each guards at least one route.
    assert {perm for _, _, perm, _ in MATRIX} | LINK_ONLY == set(Permission)


def _same(template: str, concrete: str) -> bool:
    a, b = template.strip("/").split("/"), concrete.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


async def test_each_role_can_do_exactly_what_the_table_says(gateway_factory: Any, fleet_backing: Any) -> None:
    backing = fleet_backing
    gw = await gateway_factory(backing.endpoints)
    for role, (method, template, permission, body) in itertools.product(sorted(ROLES), MATRIX):
        headers = gw.auth(f"prison-{role}")
        path = template.format(alert=await backing.publish("prison")) if "{alert}" in template else template
        resp = await gw.client.request(method, path, json=body, headers=headers)
        if allowed(frozenset({role}), permission):
            assert resp.status_code not in (401, 403), (role, method, path, resp.text)
            if (method, template) in ALERTING_ANSWERS:
                assert resp.status_code == ALERTING_ANSWERS[(method, template)], (
                    role,
                    method,
                    path,
                    resp.text,
                )
            elif "/alerts" in path or "/sites" in path or "audit" in path or "shared-routes" in path:
                # The real alerting service (and the gateway's own trail) answer for real.
                assert resp.status_code == 200, (role, method, path, resp.text)
            elif permission.value.startswith(("reviews", "galleries", "people", "identify")):
                # The real identity service: the names used do not exist, or (no inference
                # service here) the face cannot be read.
                assert resp.status_code in IDENTITY_ANSWERS.get((method, template), (404,)), (
                    role,
                    method,
                    path,
                    resp.text,
                )
            else:
                # The real ingest, badge, drone and traffic services: lists answer, unknown ids are 404,
                # bodies they find incomplete are 400 — never a refusal, never a failure.
                assert resp.status_code in (200, 400, 404, 409), (role, method, path, resp.text)
        else:
            assert resp.status_code == 403, (role, method, path, resp.text)
            assert resp.json()["error"]["code"] == "PERMISSION_DENIED"


async def test_operator_flow_and_identity_reaching_alerting(stack: Any) -> None:
    gw, backing = stack
    alert = await backing.publish("prison", "person_down", camera="cam-7")
    op = gw.auth("prison-operator")
    listed = (await gw.client.get("/api/v1/alerts", params={"state": "new"}, headers=op)).json()
    assert alert in [a["alert_id"] for a in listed["alerts"]]
    acked = await gw.client.post(f"/api/v1/alerts/{alert}/acknowledge", json={"note": "going"}, headers=op)
    assert acked.status_code == 200
    # The subject from the token reached alerting as the caller.
    assert acked.json()["alert"]["acknowledged_by"] == "prison/prison-operator@local"
    assert acked.json()["alert"]["state"] == "ALERT_STATE_ACKNOWLEDGED"
    again = await gw.client.post(f"/api/v1/alerts/{alert}/resolve", json={"outcome": "wrong"}, headers=op)
    assert again.status_code == 400 and "outcome" in again.json()["error"]["message"]
    done = await gw.client.post(
        f"/api/v1/alerts/{alert}/resolve", json={"outcome": "action_taken", "note": "helped"}, headers=op
    )
    assert done.json()["alert"]["state"] == "ALERT_STATE_RESOLVED"
    hist = (await gw.client.get(f"/api/v1/alerts/{alert}", params={"history": "true"}, headers=op)).json()
    assert [h["kind"] for h in hist["history"]][-2:] == [
        "ALERT_UPDATE_KIND_ACKNOWLEDGED",
        "ALERT_UPDATE_KIND_RESOLVED",
    ]


async def test_agency_a_cannot_read_or_act_on_agency_b(stack: Any) -> None:
    gw, backing = stack
    theirs = await backing.publish("police", "zone_intrusion", camera="police-cam")
    ours = await backing.publish("prison", "zone_intrusion", camera="prison-cam")
    op = gw.auth("prison-operator")
    ids = [a["alert_id"] for a in (await gw.client.get("/api/v1/alerts", headers=op)).json()["alerts"]]
    assert ours in ids and theirs not in ids
    for method, path in [
        ("GET", f"/api/v1/alerts/{theirs}"),
        ("POST", f"/api/v1/alerts/{theirs}/acknowledge"),
    ]:
        resp = await gw.client.request(method, path, json={} if method == "POST" else None, headers=op)
        assert resp.status_code == 404, resp.text
    # The police operator sees theirs.
    police = gw.auth("police-operator")
    ids = [a["alert_id"] for a in (await gw.client.get("/api/v1/alerts", headers=police)).json()["alerts"]]
    assert theirs in ids and ours not in ids
    # Asking for another agency's audit trail is not possible: the agency comes from the token.
    aud = await gw.client.get(
        "/api/v1/audit", params={"service": "alerting"}, headers=gw.auth("prison-auditor")
    )
    assert aud.status_code == 200
    assert {r["agency_id"] for r in aud.json()["records"]} <= {"prison"}


async def test_bad_tokens_are_rejected(stack: Any) -> None:
    gw, _ = stack
    issuer = gw.gateway.local_issuer
    user = issuer.user("prison-admin")
    now = int(time.time())
    base = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "prison/x",
        "agency": "prison",
        "roles": ["operator"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    cases = {
        "none": None,
        "expired": issuer.issue(user, ttl_seconds=-120),
        "wrong audience": issuer.sign({**base, "aud": "other"}),
        "forged": issuer.sign(base, key=SigningKey(kid=issuer.key.kid, private=SigningKey.create().private)),
        "not yet valid": issuer.sign({**base, "nbf": now + 3600}),
        "garbage": "not-a-token",
    }
    for name, token in cases.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await gw.client.get("/api/v1/alerts", headers=headers)
        assert resp.status_code == 401, (name, resp.text)
        assert resp.json()["error"]["code"] == "UNAUTHENTICATED"
        assert resp.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_roles_in_a_token_grant_nothing(stack: Any) -> None:
    gw, _ = stack
    issuer = gw.gateway.local_issuer
    now = int(time.time())
    token = issuer.sign(
        {
            "iss": issuer.issuer,
            "aud": issuer.audience,
            "sub": "prison/x",
            "agency": "prison",
            "roles": ["superuser", "service"],
            "iat": now,
            "exp": now + 600,
        }
    )
    me = (await gw.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["roles"] == [] and me["permissions"] == []
    resp = await gw.client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
