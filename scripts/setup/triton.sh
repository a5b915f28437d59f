#!/usr/bin/env bash
# Real NVIDIA Triton (tritonserver 2.51, python backend, CPU) for the inference contract tests:
# it ships inside the nvidia-pytriton wheel. Idempotent. --no-deps: only the binary is used, and
# pytriton's own dependencies would move pinned packages of the shared venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
if ! "$PY" - <<'PYEOF' 2>/dev/null
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("pytriton")
root = pathlib.Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
sys.exit(0 if (root / "bin" / "tritonserver").exists() else 1)
PYEOF
then
  flock /tmp/kuzet-pip.lock "$PY" -m pip install --no-deps "nvidia-pytriton==0.7.0"
fi
"$PY" -c "from kuzet.inference.tritonlocal import pytriton_root; print('tritonserver:', pytriton_root() / 'bin' / 'tritonserver')"
