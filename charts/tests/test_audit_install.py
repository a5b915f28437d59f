"""The audit key Secret on a real kube-apiserver: made at install, the same after an upgrade
(Helm's lookup reads it back), still there after uninstall."""

from __future__ import annotations

import base64
import subprocess
from typing import Any

from chartlib import CHART, Scenario, helm_binary
from kubernetes import client

from kuzet.common.k8stest import KubeApiServer, kube_apiserver  # noqa: F401 - fixture


def _helm(server: KubeApiServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), "--kubeconfig", str(server.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_audit_key_survives_upgrade_and_uninstall(kube_apiserver: KubeApiServer) -> None:  # noqa: F811
    ns = kube_apiserver.create_namespace("kuzet-audit")
    args = ["-n", ns, "--timeout", "60s", *Scenario("audit-install").args()]
    installed = _helm(kube_apiserver, "install", "kuzet", str(CHART), *args)
    assert installed.returncode == 0, installed.stderr
    api = kube_apiserver.api_client()
    core: Any = client.CoreV1Api(api)
    try:

        def key() -> str:
            secret = core.read_namespaced_secret("kuzet-audit-key", ns)
            return base64.b64decode(secret.data["audit-key"]).decode()

        first = key()
        assert first.startswith("helm-") and len(first.split(":", 1)[1]) == 48
        upgraded = _helm(
            kube_apiserver, "upgrade", "kuzet", str(CHART), *args, "--set", "audit.anchors.intervalSeconds=30"
        )
        assert upgraded.returncode == 0, upgraded.stderr
        assert key() == first  # no rotation: every record MACed so far still verifies
        uninstalled = _helm(kube_apiserver, "uninstall", "kuzet", "-n", ns)
        assert uninstalled.returncode == 0, uninstalled.stderr
        assert key() == first  # kept (resource-policy keep): a reinstall finds it
    finally:
        api.close()
