"""Lease holders and ingest timing settings in the chart.

A service that takes a Lease (kuzet.common.dblease picks a Kubernetes Lease inside a pod) needs
the Role on leases, an API token and egress to the API server, i.e. ``leases: true``; without it
the pod cannot load its in-cluster credentials. The holders are found in the services' code, so
a new lease user without ``leases: true`` fails here rather than in a cluster.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from chartlib import ROOT, Scenario, render

# Calls that take a Lease: locks and elections, ingest's membership, retention on one replica.
LEASE_USE = re.compile(
    r"\b(open_lease_lock|open_membership|Retention|LeaseLock|LeaderElector|KubernetesLeadership)\("
)
COMPONENT = "app.kubernetes.io/component"


def lease_users(components: dict[str, Any]) -> set[str]:
    """Components whose service code takes a Lease."""
    return {
        name
        for name in components
        if any(LEASE_USE.search(p.read_text()) for p in (ROOT / "services" / name / "kuzet").rglob("*.py"))
    }


def test_every_service_that_takes_a_lease_may_hold_one(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    components = values["components"]
    users = lease_users(components)
    # The scan finds what is known today: the rules leader (badge), drone controllers, ingest
    # membership, retention in alerting, identity, ingest and traffic.
    assert users == {"alerting", "badge", "drone", "identity", "ingest", "traffic"}
    enabled = {n for n, c in components.items() if c.get("enabled")}
    holders = {n for n in enabled if components[n].get("leases")}
    assert users & enabled <= holders, f"take Leases without leases: true: {sorted(users - holders)}"
    (binding,) = [d for d in manifests if d["kind"] == "RoleBinding"]
    assert {s["name"] for s in binding["subjects"]} >= {f"kz-kuzet-{n}" for n in users & enabled}
    for doc in manifests:
        if doc["kind"] in ("Deployment", "StatefulSet") and doc["metadata"]["labels"][COMPONENT] in users:
            assert doc["spec"]["template"]["spec"]["automountServiceAccountToken"] is True, doc["metadata"]


def ingest_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    (env,) = [
        d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "kz-kuzet-ingest-env"
    ]
    return dict(env)


def test_ingest_minimum_analysed_interval_reaches_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from kuzet.common.config import load_settings
    from kuzet.ingest.config import IngestSettings

    assert ingest_env(render(Scenario("default")))["KUZET_INGEST_MIN_ANALYSED_INTERVAL_S"] == "2"
    env = ingest_env(
        render(Scenario("slow-cameras", sets=("components.ingest.minAnalysedIntervalSeconds=4",)))
    )
    assert env["KUZET_INGEST_MIN_ANALYSED_INTERVAL_S"] == "4"
    monkeypatch.setenv("KUZET_INGEST_MIN_ANALYSED_INTERVAL_S", env["KUZET_INGEST_MIN_ANALYSED_INTERVAL_S"])
    assert load_settings(IngestSettings).min_analysed_interval_s == 4.0


@pytest.mark.parametrize(
    "bad",
    [
        "components.ingest.minAnalysedIntervalSeconds=0",
        "components.ingest.minAnalysedIntervalSeconds=61",
        "components.ingest.leaseDurationSeconds=4",
    ],
)
def test_schema_rejects_ingest_timings_the_service_refuses(bad: str) -> None:
    with pytest.raises(AssertionError, match="values don't meet the specifications"):
        render(Scenario(f"bad-{bad}", sets=(bad,)))
