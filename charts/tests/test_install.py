"""`helm install` of the chart against a real kube-apiserver 1.20 (+ etcd); no Pods run there."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chartlib import CHART, EXAMPLES, helm_binary
from kubernetes import client

from kuzet.common.callerkeys import SERVICES, generate_keys
from kuzet.common.k8stest import KubeApiServer, kube_apiserver  # noqa: F401 - fixture


def helm(server: KubeApiServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), "--kubeconfig", str(server.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@contextmanager
def hook_jobs_reported_complete(server: KubeApiServer, namespace: str) -> Iterator[list[str]]:
    """Stand-in for the Job controller this API server lacks: reports each hook Job complete.

    Nothing runs (there are no nodes); this only lets Helm's hook sequence proceed, so the test
    exercises the real ordering: dev Secrets, then the migration ServiceAccount, then the Jobs,
    then the release's resources.
    """
    seen: list[str] = []
    done: set[str] = set()  # by uid: an upgrade re-creates Jobs with the same names
    stop = threading.Event()
    api = server.api_client()
    batch: Any = client.BatchV1Api(api)

    def loop() -> None:
        while not stop.wait(0.2):
            for job in batch.list_namespaced_job(namespace).items:
                if job.metadata.uid in done:
                    continue
                done.add(job.metadata.uid)
                seen.append(job.metadata.name)
                now = "2026-01-01T00:00:00Z"
                job.status = client.V1JobStatus(
                    succeeded=1,
                    start_time=now,
                    completion_time=now,
                    conditions=[
                        client.V1JobCondition(type="Complete", status="True", last_transition_time=now)
                    ],
                )
                batch.replace_namespaced_job_status(job.metadata.name, namespace, job)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        api.close()


def create_secret(server: KubeApiServer, namespace: str, name: str, data: dict[str, str]) -> None:
    api = server.api_client()
    try:
        body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
        client.CoreV1Api(api).create_namespaced_secret(namespace, body)
    finally:
        api.close()


def create_caller_keys(server: KubeApiServer, namespace: str, directory: Path) -> None:
    """The Secret an operator makes from `kuzet keys generate`'s directory (``--from-file``)."""
    generate_keys(directory, SERVICES)
    files = {p.name: p.read_text() for p in directory.iterdir()}
    create_secret(server, namespace, "kuzet-caller-keys", files)


def test_helm_install_and_upgrade_example_region(kube_apiserver: KubeApiServer, tmp_path: Path) -> None:  # noqa: F811
    ns = kube_apiserver.create_namespace("kuzet-north")
    region = next(p for p in EXAMPLES if p.stem == "region-prison-police")
    # The Secrets the example names exist before the install, as in a real region.
    create_secret(
        kube_apiserver, ns, "kuzet-postgres-app", {"uri": "postgresql://kuzet:x@kuzet-postgres-rw/kuzet"}
    )
    create_secret(
        kube_apiserver,
        ns,
        "kuzet-s3",
        {"endpoint": "minio:9000", "bucket": "b", "access-key": "a", "secret-key": "s"},
    )
    create_caller_keys(kube_apiserver, ns, tmp_path)
    create_secret(kube_apiserver, ns, "kuzet-gateway", {"evidence-secret": "e"})
    args = ["-n", ns, "-f", str(region), "--timeout", "60s"]
    with hook_jobs_reported_complete(kube_apiserver, ns) as jobs:
        out = helm(kube_apiserver, "install", "kuzet", str(CHART), *args)
        assert out.returncode == 0, out.stderr
        assert sorted(jobs) == [
            f"kuzet-{s}-migrate"
            for s in ("alerting", "badge", "drone", "federation", "gateway", "identity", "ingest", "traffic")
        ]
        status = helm(kube_apiserver, "status", "kuzet", "-n", ns, "-o", "json")
        assert json.loads(status.stdout)["info"]["status"] == "deployed"

        api = kube_apiserver.api_client()
        try:
            apps: Any = client.AppsV1Api(api)
            net: Any = client.NetworkingV1Api(api)
            rbac: Any = client.RbacAuthorizationV1Api(api)
            custom: Any = client.CustomObjectsApi(api)
            deployments = {d.metadata.name for d in apps.list_namespaced_deployment(ns).items}
            assert {"kuzet-inference", "kuzet-gateway", "kuzet-triton", "kuzet-drone"} <= deployments
            (sts,) = apps.list_namespaced_stateful_set(ns).items
            assert sts.metadata.name == "kuzet-ingest" and sts.spec.replicas == 6
            policies = net.list_namespaced_network_policy(ns).items
            assert any(p.metadata.name == "kuzet-default-deny" for p in policies)
            # 1.20 serves neither policy/v1 nor autoscaling/v2: the chart used what it serves.
            pdbs = custom.list_namespaced_custom_object("policy", "v1beta1", ns, "poddisruptionbudgets")
            assert len(pdbs["items"]) == 9
            role = rbac.read_namespaced_role("kuzet-leases", ns)
            assert role.rules[0].resources == ["leases"]
            # Hook Jobs that succeeded are deleted by their hook-delete-policy.
            jobs_left: Any = client.BatchV1Api(api)
            assert jobs_left.list_namespaced_job(ns).items == []
        finally:
            api.close()

        upgraded = helm(
            kube_apiserver, "upgrade", "kuzet", str(CHART), *args, "--set", "components.ingest.replicas=8"
        )
        assert upgraded.returncode == 0, upgraded.stderr
    history = json.loads(helm(kube_apiserver, "history", "kuzet", "-n", ns, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2]
    assert history[-1]["status"] == "deployed"


def test_helm_install_dev_values_creates_secrets_before_hooks(
    kube_apiserver: KubeApiServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    ns = kube_apiserver.create_namespace("kuzet-dev")
    create_caller_keys(kube_apiserver, ns, tmp_path)
    dev = next(p for p in EXAMPLES if p.stem == "dev-single-node")
    with hook_jobs_reported_complete(kube_apiserver, ns):
        out = helm(
            kube_apiserver, "install", "kuzet", str(CHART), "-n", ns, "-f", str(dev), "--timeout", "60s"
        )
    assert out.returncode == 0, out.stderr
    api = kube_apiserver.api_client()
    try:
        core: Any = client.CoreV1Api(api)
        secrets = {s.metadata.name: s for s in core.list_namespaced_secret(ns).items}
        assert {"kuzet-database", "kuzet-objectstore", "kuzet-caller-keys"} <= set(secrets)
        config_maps: list[Any] = core.list_namespaced_config_map(ns).items
        for cm in config_maps:
            assert "dev-only-password" not in json.dumps(cm.data or {})
    finally:
        api.close()


def test_helm_install_default_values(kube_apiserver: KubeApiServer, tmp_path: Path) -> None:  # noqa: F811
    ns = kube_apiserver.create_namespace("kuzet-default")
    # Nothing is installed without caller keys; with the dev files, the chart makes their Secret.
    refused = helm(kube_apiserver, "install", "kuzet", str(CHART), "-n", ns, "--timeout", "60s")
    assert refused.returncode != 0 and "kuzet keys generate" in refused.stderr
    generate_keys(tmp_path, SERVICES)
    files = [
        a
        for p in sorted(tmp_path.iterdir())
        for a in ("--set-file", f"callerKeys.files.{p.name.replace('.', chr(92) + '.')}={p}")
    ]
    out = helm(kube_apiserver, "install", "kuzet", str(CHART), "-n", ns, "--timeout", "60s", *files)
    assert out.returncode == 0, out.stderr
    assert "no database is configured" in out.stdout  # NOTES warn about the embedded fallback
    uninstall = helm(kube_apiserver, "uninstall", "kuzet", "-n", ns)
    assert uninstall.returncode == 0, uninstall.stderr
