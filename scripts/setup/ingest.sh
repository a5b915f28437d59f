#!/usr/bin/env bash
# Python packages of the ingest service that pip must not resolve on its own: `trackers`
# (ByteTrack) declares opencv-python, which would shadow opencv-python-headless's cv2. Its
# real dependencies (supervision, scipy, rich, pydeprecate) are in services/ingest/pyproject.toml.
# Idempotent. Also installs the RTSP server the ingest tests use.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
# The pin lives in services/ingest/requirements-no-deps.txt, which the image build installs too.
PIN=$(grep -E '^trackers==' services/ingest/requirements-no-deps.txt)
if ! "$PY" -c "import trackers, sys; sys.exit(0 if 'trackers==' + trackers.__version__ == '$PIN' else 1)" 2>/dev/null; then
  flock /tmp/kuzet-pip.lock "$PY" -m pip install --quiet --no-deps -r services/ingest/requirements-no-deps.txt
fi
"$PY" -c 'from trackers import ByteTrackTracker' || { echo "ingest: trackers not importable" >&2; exit 1; }
bash scripts/setup/rtsp.sh
echo "ingest: $PIN ready"
