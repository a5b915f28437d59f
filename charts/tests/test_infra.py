"""infra/ files parse and hang together (the upstream charts themselves cannot run here)."""

from __future__ import annotations

from typing import Any

import yaml
from chartlib import ROOT

INFRA = ROOT / "infra"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((INFRA / name).read_text())
    assert isinstance(data, dict)
    return data


def test_collector_pipeline_exports_traces_to_tempo_and_jaeger() -> None:
    cfg = load("otel-collector-values.yaml")["config"]
    traces = cfg["service"]["pipelines"]["traces"]
    assert set(traces["receivers"]) <= set(cfg["receivers"])
    assert set(traces["processors"]) <= set(cfg["processors"])
    assert set(traces["exporters"]) == {"otlp/tempo", "otlp/jaeger"} <= set(cfg["exporters"])
    assert traces["processors"][0] == "memory_limiter" and traces["processors"][-1] == "batch"
    assert "4317" in cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]


def test_minio_bucket_has_object_lock_and_services_user_is_not_admin() -> None:
    values = load("minio-values.yaml")
    (kuzet,) = [b for b in values["buckets"] if b["name"] == "kuzet"]
    assert kuzet["objectlocking"] is True
    (user,) = values["users"]
    assert user["policy"] == "kuzet-services" and "existingSecret" in user
    assert "rootPassword" not in values and values["existingSecret"]


def test_cloudnativepg_app_secret_matches_the_region_example() -> None:
    values = load("cloudnativepg-values.yaml")
    example = yaml.safe_load((ROOT / "charts/kuzet/examples/region-prison-police.yaml").read_text())
    assert example["database"]["existingSecret"] == f"{values['fullnameOverride']}-app"
    assert example["database"]["secretKey"] == "uri"
    assert values["cluster"]["instances"] >= 3
    peer = example["database"]["egress"]["to"][0]["podSelector"]["matchLabels"]
    assert peer == {"cnpg.io/cluster": values["fullnameOverride"]}
