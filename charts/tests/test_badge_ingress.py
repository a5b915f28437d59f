"""The badge Ingress exposes the device port's Connect only; the API port stays cluster-internal."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from chartlib import CHART, Scenario, helm_binary, render

CONNECT = "/kuzet.badge.v1.BadgeService/Connect"
CONTROLLER = "components.badge.device.from[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=ingress-nginx"
BADGE_INGRESS = (
    "ingress.badge.enabled=true",
    "ingress.badge.host=badges.example.gov",
    "ingress.badge.tlsSecret=badges-tls",
)


def _ingress(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (ingress,) = [
        m for m in manifests if m["kind"] == "Ingress" and m["metadata"]["name"] == "kz-kuzet-badge"
    ]
    return ingress


def test_the_badge_ingress_routes_connect_to_the_device_port_only() -> None:
    manifests = render(Scenario("badge-ingress", sets=(*BADGE_INGRESS, CONTROLLER)))
    (rule,) = _ingress(manifests)["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == (CONNECT, "Exact")
    assert path["backend"]["service"] == {"name": "kz-kuzet-badge", "port": {"name": "devices"}}
    # The controller is admitted to the device port and to nothing else of the badge service.
    (policy,) = [
        m
        for m in manifests
        if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == "kz-kuzet-badge-ingress"
    ]
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    admitting = [r for r in policy["spec"]["ingress"] if controller in r["from"]]
    assert [[p["port"] for p in r["ports"]] for r in admitting] == [[50065]]


def test_the_region_example_exposes_badges_through_the_device_port() -> None:
    example = CHART / "examples" / "region-prison-police.yaml"
    manifests = render(Scenario("example:region-prison-police", (example,)))
    (path,) = _ingress(manifests)["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == CONNECT and path["backend"]["service"]["port"] == {"name": "devices"}


def test_a_badge_ingress_the_network_policy_would_block_is_refused() -> None:
    out = subprocess.run(
        [helm_binary(), "template", "kz", str(CHART), *Scenario("closed", sets=BADGE_INGRESS).args()],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "components.badge.device.from" in out.stderr


def test_device_limits_reach_the_service_settings(tmp_path: Path) -> None:
    limits = tmp_path / "limits.yaml"
    limits.write_text(
        "components: {badge: {device: {maxConnections: 500, controlFramesPerSecond: 50.5, idleTimeoutSeconds: 30}}}"
    )
    manifests = render(Scenario("badge-device-limits", (limits,)))
    (config,) = [
        m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "kz-kuzet-badge-env"
    ]
    data = config["data"]
    assert data["KUZET_BADGE_DEVICE_MAX_CONNECTIONS"] == "500"
    assert data["KUZET_BADGE_DEVICE_CONTROL_FRAMES_PER_S"] == "50.5"
    assert data["KUZET_BADGE_DEVICE_IDLE_TIMEOUT_S"] == "30"
    assert data["KUZET_BADGE_DEVICE_PREFACE_TIMEOUT_S"] == "10"
    for bad in (
        "components.badge.device.controlFrameBurst=1",
        "components.badge.device.writeHighWaterBytes=10",
    ):
        out = subprocess.run(
            [helm_binary(), "template", "kz", str(CHART), *Scenario("bad", sets=(bad,)).args()],
            capture_output=True,
            text=True,
        )
        assert out.returncode != 0 and "values don't meet the specifications" in out.stderr, bad
