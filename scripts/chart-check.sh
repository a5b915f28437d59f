#!/usr/bin/env bash
# Every check of the Helm chart and the service images (`make chart-check`, part of `make test`):
#   helm lint (default values + every example), helm template + kubernetes-validate --strict for the
#   target Kubernetes version, hadolint over the Dockerfiles, and pytest over the rendered YAML,
#   including `helm install` against a real kube-apiserver 1.20 + etcd.
# Installs its own tools first (idempotent, cached outside the repository).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"

scripts/setup/helm.sh >/dev/null
scripts/setup/kube-apiserver.sh >/dev/null
# pytest charts/tests runs, for the default values and every example: helm lint --strict, helm
# template + kubernetes-validate --strict (target version), the rendered-YAML properties, and
# helm install/upgrade against kube-apiserver 1.20 + etcd.
echo "== hadolint services/Dockerfile"
.tools/bin/hadolint --failure-threshold info services/Dockerfile

echo "== pytest charts/tests"
"$VENV/bin/pytest" charts/tests -q -p no:cacheprovider
