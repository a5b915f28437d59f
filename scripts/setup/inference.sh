#!/usr/bin/env bash
# Packages of the inference service that pip must not resolve on its own: rapidocr-onnxruntime
# carries the PP-OCRv4 plate models the service loads, but declares opencv-python, which would
# install a second cv2 over opencv-python-headless; only its ONNX files are used. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
# The pin lives in services/inference/requirements-no-deps.txt, which the image build installs too.
PIN=$(grep -E '^rapidocr-onnxruntime==' services/inference/requirements-no-deps.txt)
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(0 if 'rapidocr-onnxruntime==' + m.version('rapidocr-onnxruntime') == '$PIN' else 1)" 2>/dev/null; then
  flock /tmp/kuzet-pip.lock "$PY" -m pip install --quiet --no-deps -r services/inference/requirements-no-deps.txt
fi
echo "inference: $PIN ready"
