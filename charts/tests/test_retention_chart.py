"""Retention and legal-hold settings reach each component's environment, and bad ones are refused."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from chartlib import CHART, Scenario, helm_binary, render


def _env(docs: list[dict[str, Any]], component: str) -> dict[str, str]:
    (cm,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == f"kz-kuzet-{component}-env"
    ]
    return dict(cm["data"])


def test_defaults_reach_each_service() -> None:
    docs = render(Scenario("default"))
    identity = _env(docs, "identity")
    assert identity["KUZET_IDENTITY_RETENTION_PROBE_DAYS"] == "30"
    assert identity["KUZET_IDENTITY_RETENTION_MATCH_DAYS"] == "365"
    assert identity["KUZET_IDENTITY_RETENTION_INTERVAL_S"] == "3600"
    assert identity["KUZET_IDENTITY_HOLD_RELEASE_TTL_S"] == "86400"
    assert _env(docs, "alerting")["KUZET_ALERTING_RETENTION_ALERT_DAYS"] == "365"
    assert _env(docs, "ingest")["KUZET_INGEST_RETENTION_OBJECT_DAYS"] == "30"
    badge = _env(docs, "badge")
    assert badge["KUZET_BADGE_HOLD_RELEASE_TTL_S"] == "86400"
    assert not any(k.startswith("KUZET_BADGE_RETENTION_") and k.endswith("_DAYS") for k in badge)


def test_agency_overrides_are_json_the_service_reads() -> None:
    docs = render(
        Scenario(
            "retention-overrides",
            sets=(
                "components.identity.retention.agencyDays.match.police=730",
                "components.ingest.retention.days.object=14",
            ),
        )
    )
    identity = _env(docs, "identity")
    assert json.loads(identity["KUZET_IDENTITY_RETENTION_MATCH_AGENCY_DAYS"]) == {"police": 730}
    assert _env(docs, "ingest")["KUZET_INGEST_RETENTION_OBJECT_DAYS"] == "14"


def _template(*sets: str) -> subprocess.CompletedProcess[str]:
    args = [helm_binary(), "template", "kz", str(CHART)]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def test_bad_retention_values_are_refused() -> None:
    unknown = _template("components.identity.retention.agencyDays.probes.police=10")
    assert unknown.returncode != 0 and "no such kind" in unknown.stderr
    negative = _template("components.alerting.retention.days.alert=-1")
    assert negative.returncode != 0 and "retention" in negative.stderr
    zero_ttl = _template("components.badge.retention.holdReleaseTtlSeconds=0")
    assert zero_ttl.returncode != 0 and "holdReleaseTtlSeconds" in zero_ttl.stderr
