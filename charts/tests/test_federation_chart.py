"""The federation component: its settings from values, one replica, egress to the NATS servers
named in values (none without a NATS URL), and the renders that must fail."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from chartlib import CHART, Scenario, helm_binary, render

from kuzet.common.config import load_settings
from kuzet.federation.config import FederationSettings

NATS_PEER = "components.federation.natsEgress.to[0].podSelector.matchLabels.app=nats"
HUB = Scenario(
    "federation-hub",
    sets=(
        "components.federation.role=hub",
        "components.federation.siteId=hub",
        "components.federation.facilities={site-a,site-b}",
        "components.federation.natsUrl=nats://kuzet-nats:4222",
        NATS_PEER,
    ),
)


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def egress_ports(docs: list[dict[str, Any]]) -> dict[int, list[Any]]:
    policy = named(docs, "NetworkPolicy", "kz-kuzet-federation-egress")
    return {p["port"]: rule.get("to", []) for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


def test_a_hub_gets_its_settings_and_egress_to_its_nats_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render(HUB)
    env = named(docs, "ConfigMap", "kz-kuzet-federation-env")["data"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(FederationSettings)
    assert settings.role == "hub" and settings.site_id == "hub"
    assert settings.facilities == ["site-a", "site-b"]
    assert settings.nats_url == "nats://kuzet-nats:4222"
    assert env["KUZET_ENDPOINT_ALERTING"].startswith("kz-kuzet-alerting")
    assert env["KUZET_ENDPOINT_IDENTITY"].startswith("kz-kuzet-identity")
    assert egress_ports(docs)[4222] == [{"podSelector": {"matchLabels": {"app": "nats"}}}]
    deployment = named(docs, "Deployment", "kz-kuzet-federation")
    assert deployment["spec"]["replicas"] == 1
    assert not [
        d for d in docs if d["kind"] == "PodDisruptionBudget" and "federation" in d["metadata"]["name"]
    ]


def test_a_region_under_a_nation_gets_its_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    region = Scenario(
        "federation-region",
        sets=(
            "components.federation.role=hub",
            "components.federation.siteId=north",
            "components.federation.hubDomain=north",
            "components.federation.upstreamDomain=nation",
            "components.federation.facilities={north-1,north-2}",
            "components.federation.natsUrl=nats://kuzet-nats:4222",
            NATS_PEER,
        ),
    )
    env = named(render(region), "ConfigMap", "kz-kuzet-federation-env")["data"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(FederationSettings)
    assert (settings.hub_domain, settings.upstream_domain) == ("north", "nation")
    assert (
        "KUZET_FEDERATION_UPSTREAM_DOMAIN"
        not in named(render(HUB), "ConfigMap", "kz-kuzet-federation-env")["data"]
    )


def test_without_a_nats_server_it_is_off_and_reaches_no_nats() -> None:
    docs = render(Scenario("default"))
    env = named(docs, "ConfigMap", "kz-kuzet-federation-env")["data"]
    assert "KUZET_FEDERATION_NATS_URL" not in env
    assert env["KUZET_FEDERATION_ROLE"] == "facility"
    assert 4222 not in egress_ports(docs)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("components.federation.natsUrl=nats://kuzet-nats:4222",), "natsEgress"),
        (
            ("components.federation.role=hub", "components.federation.natsUrl=nats://n:4222", NATS_PEER),
            "a hub sources at least one facility",
        ),
        (("components.federation.siteId=hub",), "must differ from hubDomain"),
        (("components.federation.replicas=2",), "one replica"),
        (
            (
                "components.federation.natsUrl=nats://n:4222",
                "components.federation.secretEnv.KUZET_FEDERATION_NATS_URL.secret=nats",
                "components.federation.secretEnv.KUZET_FEDERATION_NATS_URL.key=url",
                NATS_PEER,
            ),
            "not both",
        ),
        (("components.federation.siteId=site.a",), "siteId"),
        (("components.federation.upstreamDomain=nation",), "only a hub"),
        (
            (
                "components.federation.role=hub",
                "components.federation.facilities={a}",
                "components.federation.upstreamDomain=hub",
            ),
            "not this hub's own domain",
        ),
    ],
)
def test_bad_federation_values_fail_the_render(sets: tuple[str, ...], message: str) -> None:
    out = subprocess.run(
        [helm_binary(), "template", "kz", str(CHART), *Scenario("bad", sets=sets).args()],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and message in out.stderr, out.stderr
