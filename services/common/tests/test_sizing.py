"""`kuzet plan`: the arithmetic on a small case worked by hand (bench results and a chart written
for it), the provenance of every figure on the repository's own bench results, the written Helm
values against the real chart (`helm template`, which checks them against the chart's schema
first), and bad input through the real `kuzet` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kuzet.common.sizing.cli import main
from kuzet.common.sizing.model import pack, split_evenly

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "bench" / "results"
CHART = ROOT / "charts" / "kuzet"
# The operator's own values a plan's overlay comes after: the chart tests' caller-keys Secret and
# egress peers, and Secrets for PostgreSQL and S3 (Triton pulls its models from the object store).
OPERATOR = [
    ROOT / "charts" / "tests" / "values" / "caller-keys.yaml",
    ROOT / "charts" / "tests" / "values" / "collector-and-stores-egress.yaml",
]
SECRETS = ["--set", "database.existingSecret=pg", "--set", "objectStore.existingSecret=s3"]
KUZET = Path(sys.executable).with_name("kuzet")


# --- a small case, worked by hand -------------------------------------------------------------
def write_bench(directory: Path) -> Path:
    """Bench results with round figures: the same files and keys the bench scripts write."""
    directory.mkdir()

    def row(**kw: Any) -> dict[str, Any]:
        return kw

    files = {
        "ingest.json": {
            "analytic_fps": 1.0,
            "clip_seconds": 60.0,
            "motion_pass_ratio": 0.2,
            "rows": [
                row(size="720p", mode="raw decode", frames_decoded=600, streams_per_core=12.0),
                row(size="720p", mode="pipeline full", frames_decoded=600, streams_per_core=10.0),
                row(size="720p", mode="pipeline keyframe", frames_decoded=60, streams_per_core=40.0),
            ],
        },
        "inference.json": {
            "rows": [
                row(model="centernet", batch=1, path="embedded", cpu_ms=100.0),
                row(model="yunet", batch=1, path="embedded", cpu_ms=20.0),
                row(model="sface", batch=1, path="embedded", cpu_ms=40.0),
                row(model="centernet", batch=8, path="embedded", cpu_ms=880.0),
                row(model="centernet", batch=8, path="direct", cpu_ms=800.0),
                row(model="yunet", batch=8, path="embedded", cpu_ms=200.0),
                row(model="yunet", batch=8, path="direct", cpu_ms=160.0),
                # Below the direct path: the service's share is taken as 0, not negative.
                row(model="sface", batch=8, path="embedded", cpu_ms=390.0),
                row(model="sface", batch=8, path="direct", cpu_ms=400.0),
            ]
        },
        "identity.json": {
            "rows": [row(size=1000, index_cpu_p50_ms=1.0), row(size=100000, index_cpu_p50_ms=2.0)]
        },
        "alerting.json": {"fanout": {"server_cpu_ms_per_event": 2.0}},
    }
    for name, data in files.items():
        (directory / name).write_text(json.dumps(data))
    return directory


SMALL_CHART = """
components:
  ingest:    {replicas: 1, resources: {requests: {cpu: "1", memory: 1Gi}, limits: {cpu: "2", memory: 2Gi}}, autoscaling: {enabled: false}}
  inference: {replicas: 1, resources: {requests: {cpu: 500m, memory: 512Mi}, limits: {cpu: "2", memory: 1Gi}},
              autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 70}}
  identity:  {replicas: 1, resources: {requests: {cpu: 500m, memory: 512Mi}, limits: {cpu: "1", memory: 1Gi}}}
  alerting:  {replicas: 1, resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {cpu: "1", memory: 512Mi}}}
  badge:     {replicas: 1, resources: {requests: {cpu: 500m, memory: 512Mi}, limits: {cpu: "2", memory: 2Gi}}}
  drone:     {replicas: 1, resources: {requests: {cpu: 500m, memory: 512Mi}, limits: {cpu: "1", memory: 1Gi}}}
  gateway:   {replicas: 1, resources: {requests: {cpu: 500m, memory: 512Mi}, limits: {cpu: "2", memory: 1Gi}}}
triton:
  resources: {requests: {cpu: "2", memory: 4Gi, nvidia.com/gpu: 1}, limits: {cpu: "4", memory: 8Gi, nvidia.com/gpu: 1}}
"""


@pytest.fixture
def small(tmp_path: Path) -> list[str]:
    """Options of a plan on the hand-worked bench results and chart."""
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "values.yaml").write_text(SMALL_CHART)
    models = tmp_path / "models" / "centernet"
    models.mkdir(parents=True)
    (models / "config.pbtxt").write_text(
        'name: "centernet"\ninstance_group [\n  {\n    count: 2\n    kind: KIND_GPU\n  }\n]\n'
    )
    return [
        "--bench", str(write_bench(tmp_path / "bench")),
        "--chart", str(chart),
        "--models", str(tmp_path / "models"),
        "--resolution", "720p",
        "--cameras", "100", "--sites", "2",
        "--motion-pass", "0.2",
        "--face-share", "0.1",
        "--events-per-camera-hour", "36",
        "--gallery-size", "1000",
        "--utilisation", "0.5",
        "--node-cpu", "8", "--node-memory-gib", "64",
    ]  # fmt: skip


def run_plan(args: list[str], out: Path) -> dict[str, Any]:
    assert main([*args, "--out", str(out)]) == 0
    return dict(json.loads((out / "summary.json").read_text()))


def test_a_small_case_on_cpu_as_worked_by_hand(small: list[str], tmp_path: Path) -> None:
    plan = run_plan(small, tmp_path / "out")
    assert [s["site"] for s in plan["sites"]] == ["site-01", "site-02"]
    site = plan["sites"][0]
    # 50 cameras x 1 frame/s x 0.2 through the gate = 10 detector frames/s; x 0.1 = 1 face
    # search/s; 50 x 36 events an hour = 0.5 events/s.
    assert (site["cameras"], site["detector_frames_per_s"], site["face_searches_per_s"]) == (50, 10, 1)
    assert site["events_per_s"] == 0.5
    c = site["components"]
    # ingest: 50 x 1/10 core = 5 cores busy, / 0.5 = 10, / 2 cores a replica = 5 replicas.
    assert (c["ingest"]["busy_cores"], c["ingest"]["replicas"]) == (5, 5)
    # inference: 10 x 0.1 s + 1 x (2 x 0.02 + 0.04) s = 1.08 busy, / 0.5 / 2 = 1.08 -> 2.
    assert (c["inference"]["busy_cores"], c["inference"]["replicas"]) == (1.08, 2)
    # identity 1 x 1 ms, alerting 0.5 x 2 ms: far below one replica; the chart's 1 each stays.
    assert (c["identity"]["busy_cores"], c["identity"]["replicas"]) == (0.001, 1)
    assert (c["alerting"]["busy_cores"], c["alerting"]["replicas"]) == (0.001, 1)
    # Cores: 5 x 2 + 2 x 2 + 1 + 1 + 3 x 0.5 = 17.5; GiB: 5 x 2 + 2 x 1 + 1 + 0.5 + 3 x 0.5 = 15.
    assert (site["cpu_cores"], site["memory_gib"], site["gpus"]) == (17.5, 15, 0)
    # On 8-core nodes: four 2-core pods; three 2-core and two 1-core pods; three 0.5-core pods.
    assert site["nodes"] == {"cpu": 3, "gpu": 0}
    assert plan["totals"]["cpu_cores"] == 35 and plan["totals"]["nodes"] == {"cpu": 6, "gpu": 0}

    values = yaml.safe_load((tmp_path / "out" / "site-01.values.yaml").read_text())
    assert values["triton"] == {"enabled": False}
    assert values["components"]["ingest"] == {
        "replicas": 5,
        "resources": {"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    }
    # The autoscaler keeps the planned floor, at the planned utilisation.
    assert values["components"]["inference"]["autoscaling"] == {
        "enabled": True,
        "minReplicas": 2,
        "maxReplicas": 3,
        "targetCPUUtilizationPercentage": 50,
    }
    assert values["components"]["alerting"]["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert set(values["components"]) == {"ingest", "inference", "identity", "alerting"}


def test_a_small_case_on_gpus_as_worked_by_hand(small: list[str], tmp_path: Path) -> None:
    plan = run_plan(
        [*small, "--gpu", "t4", "--gpu-images-per-s", "4", "--gpus-per-node", "4"], tmp_path / "out"
    )
    site = plan["sites"][0]
    c = site["components"]
    # The GPU computes 10 frames + 1 search x (0.08 / 0.1) = 10.8 frames/s; one GPU gives
    # 4 x 0.5 = 2 at the target utilisation: 6 GPUs, a Triton pod each, 4 to a node: 2 nodes.
    assert (site["gpu_frames_per_s"], site["gpus"], site["triton_replicas"]) == (10.8, 6, 6)
    assert site["nodes"]["gpu"] == 2
    # Inference keeps only its own part: 10 x (880 - 800) / 8 ms + 1 x (2 x (200 - 160) / 8 + 0) ms.
    assert (c["inference"]["busy_cores"], c["inference"]["replicas"]) == (0.11, 1)
    # 6 GPUs x 2 detector instances = 12 frames in flight over 5 ingest replicas: 3 each.
    assert site["ingest_inference_concurrency"] == 3
    values = yaml.safe_load((tmp_path / "out" / "site-02.values.yaml").read_text())
    assert values["triton"] == {"enabled": True, "replicas": 6}
    assert values["components"]["ingest"]["env"] == {"KUZET_INGEST_INFERENCE_CONCURRENCY": "3"}
    given = {f["key"]: f for f in plan["figures"]}["gpu_images_per_s"]
    assert (given["value"], given["measured"]) == (4, False)
    assert given["provenance"] == "not measured here: given as --gpu-images-per-s for t4"


def test_keyframe_mode_costs_the_keyframe_figure(small: list[str], tmp_path: Path) -> None:
    plan = run_plan([*small, "--keyframe"], tmp_path / "out")
    ingest = plan["sites"][0]["components"]["ingest"]
    # 50 x 1/40 core = 1.25 busy, / 0.5 / 2 = 1.25 -> 2 replicas.
    assert (ingest["busy_cores"], ingest["replicas"]) == (1.25, 2)


def test_cameras_spread_evenly_or_as_listed(small: list[str], tmp_path: Path) -> None:
    assert split_evenly(10, 3) == [("site-01", 4), ("site-02", 3), ("site-03", 3)]
    assert [n for _, n in split_evenly(39_500, 78)] == [507] * 32 + [506] * 46
    assert split_evenly(200, 100)[-1] == ("site-100", 2)
    listed = tmp_path / "sites.csv"
    listed.write_text("# facility, cameras\nnorth-fac-01, 700\n\nnorth-remand,120  # remand centre\n")
    args = [a for a in small if a not in ("--cameras", "100", "--sites", "2")]
    plan = run_plan([*args, "--site-cameras", str(listed)], tmp_path / "out")
    assert [(s["site"], s["cameras"]) for s in plan["sites"]] == [
        ("north-fac-01", 700),
        ("north-remand", 120),
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "north-fac-01.values.yaml",
        "north-remand.values.yaml",
        "summary.json",
    ]


def test_pods_pack_first_fit_decreasing() -> None:
    assert pack([(2.0, 1.0)] * 7 + [(1.0, 1.0)] * 2 + [(0.5, 0.5)] * 3, (8.0, 64.0)) == 3
    # Memory can be what fills a node.
    assert pack([(1.0, 40.0)] * 3, (32.0, 64.0)) == 3
    assert pack([(2.0, 8.0, 1.0)] * 6, (32.0, 128.0, 4.0)) == 2


# --- provenance on the repository's own bench results -----------------------------------------
def test_every_figure_names_its_bench_result_or_says_it_is_not_measured(tmp_path: Path) -> None:
    plan = run_plan(["--cameras", "39500", "--sites", "78", "--gpu", "h100"], tmp_path / "out")
    figures = plan["figures"]
    assert figures, "the plan lists the figures it used"
    for f in figures:
        if f["measured"]:
            file = f["provenance"].removeprefix("measured: ").split(":", 1)[0]
            assert file in {
                f"bench/results/{n}.json" for n in ("ingest", "inference", "identity", "alerting")
            }, f
            assert (ROOT / file).is_file()
        else:
            assert f["provenance"].startswith("not measured here: "), f
    by_key = {f["key"]: f for f in figures}
    # The measured figures are the bench results' own numbers.
    ingest = json.loads((BENCH / "ingest.json").read_text())
    full = next(r for r in ingest["rows"] if (r["size"], r["mode"]) == ("1080p", "pipeline full"))
    assert by_key["decode_cores_per_camera"]["value"] == pytest.approx(1 / full["streams_per_core"])
    assert (
        "rows[size=1080p, mode=pipeline full].streams_per_core"
        in by_key["decode_cores_per_camera"]["provenance"]
    )
    inference = json.loads((BENCH / "inference.json").read_text())
    detector = next(
        r for r in inference["rows"] if (r["model"], r["batch"], r["path"]) == ("centernet", 1, "embedded")
    )
    assert by_key["detect_cpu_s"]["value"] == pytest.approx(detector["cpu_ms"] / 1000)
    alerting = json.loads((BENCH / "alerting.json").read_text())
    assert by_key["alerting_cpu_s_per_event"]["value"] == pytest.approx(
        alerting["fanout"]["server_cpu_ms_per_event"] / 1000
    )
    # No GPU was measured here: the GPU figure is a publication, and says so.
    gpu = by_key["gpu_images_per_s"]
    assert not gpu["measured"] and "https://docs.nvidia.com/" in gpu["provenance"]
    # The chart's replica sizes are its defaults, not measurements.
    assert by_key["ingest.memory_limit"]["provenance"].startswith("not measured here: chart default")
    assert plan["totals"]["cameras"] == 39500 and len(plan["sites"]) == 78


# --- the written values against the real chart ---------------------------------------------------
def helm() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    found = str(local) if os.access(local, os.X_OK) else shutil.which("helm")
    assert found, "helm not found: make setup (scripts/setup/helm.sh) installs it"
    return found


def render(values: Path) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart with the operator's values, then the plan's."""
    files = [arg for path in (*OPERATOR, values) for arg in ("-f", str(path))]
    return subprocess.run(
        [helm(), "template", "kz", str(CHART), *files, *SECRETS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("gpu", [[], ["--gpu", "l40s", "--keyframe"]], ids=["cpu", "gpu"])
def test_written_values_meet_the_charts_schema_and_render(gpu: list[str], tmp_path: Path) -> None:
    out = tmp_path / "plan"
    plan = run_plan(["--cameras", "1500", "--sites", "2", *gpu], out)
    site = plan["sites"][0]
    values_file = out / f"{site['site']}.values.yaml"
    # helm checks the values against the chart's values.schema.json before it renders.
    rendered = render(values_file)
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]

    def workload(kind: str, component: str) -> dict[str, Any]:
        found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == f"kz-kuzet-{component}"]
        assert len(found) == 1, (kind, component, [d["metadata"]["name"] for d in docs if d["kind"] == kind])
        return found[0]

    ingest = workload("StatefulSet", "ingest")
    assert ingest["spec"]["replicas"] == site["components"]["ingest"]["replicas"]
    container = ingest["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"] == container["resources"]["limits"]
    hpa = [
        d
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"].endswith("inference")
    ]
    assert hpa and hpa[0]["spec"]["minReplicas"] == site["components"]["inference"]["replicas"]
    tritons = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("triton")]
    if gpu:
        assert [t["spec"]["replicas"] for t in tritons] == [site["triton_replicas"]]
        env = workload("ConfigMap", "ingest-env")["data"]
        assert env["KUZET_INGEST_INFERENCE_CONCURRENCY"] == str(site["ingest_inference_concurrency"])
    else:
        assert tritons == []


# --- bad input through the real command ----------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cameras", "0", "--sites", "1"], "--cameras must be at least 1, not 0"),
        (["--cameras", "-5", "--sites", "1"], "--cameras must be at least 1, not -5"),
        (["--cameras", "10", "--sites", "0"], "--sites must be at least 1, not 0"),
        (["--cameras", "5", "--sites", "10"], "--sites 10 is more than --cameras 5"),
        (["--cameras", "100", "--sites", "2", "--gpu", "z80"], "unknown GPU type 'z80'"),
        (
            ["--cameras", "100", "--sites", "2", "--bench", "/nonexistent"],
            "missing bench result /nonexistent/ingest.json",
        ),
        (["--cameras", "100", "--sites", "2", "--utilisation", "1.5"], "at most 1"),
        (["--cameras", "100", "--sites", "2", "--fps", "30"], "--fps 30: must be above 0 and at most"),
        (
            ["--cameras", "100", "--sites", "2", "--keyframe", "--fps", "2"],
            "keyframe mode gives one frame per GOP",
        ),
        (["--cameras", "100", "--sites", "2", "--gallery-size", "5000000"], "the largest gallery measured"),
        (["--cameras", "100"], "give --cameras and --sites, or --site-cameras FILE"),
        (["--cameras", "100", "--sites", "2", "--fps", "-1"], "argument --fps: -1 is out of range"),
        (["--cameras", "many", "--sites", "2"], "argument --cameras: invalid int value: 'many'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args: list[str], message: str) -> None:
    assert KUZET.exists(), "the kuzet command is missing: make dev"
    done = subprocess.run(
        [str(KUZET), "plan", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_bad_site_list_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "sites.csv"
    for text, message in [
        ("north-1,10\nNorth 2,5\n", "line 2: site id 'North 2' must be lowercase"),
        ("north-1,10\nnorth-2,0\n", "line 2: cameras must be a whole number of at least 1, not '0'"),
        ("north-1,10\nnorth-1,5\n", "line 2: site north-1 is listed twice"),
        ("# nothing\n", "names no site"),
    ]:
        listed.write_text(text)
        assert main(["--site-cameras", str(listed)]) == 2
        assert message in capsys.readouterr().err
    listed.write_text("north-1,10\n")
    assert main(["--site-cameras", str(listed), "--cameras", "11"]) == 2
    assert "--cameras 11 but" in capsys.readouterr().err


def test_helm_refuses_values_the_schema_refuses(tmp_path: Path) -> None:
    """The render above is a schema check: helm refuses a value its schema forbids."""
    bad = tmp_path / "bad.values.yaml"
    bad.write_text("components:\n  ingest:\n    replicas: -1\n")
    rendered = render(bad)
    assert rendered.returncode != 0 and "replicas" in rendered.stderr, rendered.stderr
