#!/usr/bin/env bash
# Python packages of the ingest service that pip must not resolve on its own: `trackers`
# (ByteTrack) declares opencv-python, which would shadow opencv-python-headless's cv2. Its
# real dependencies (supervision, scipy, rich, pydeprecate) are in services/ingest/pyproject.toml.
# Idempotent. Also installs the RTSP server the ingest tests use.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
if ! "$PY" -c 'import trackers, sys; sys.exit(0 if trackers.__version__ == "2.6.1" else 1)' 2>/dev/null; then
  flock /tmp/kuzet-pip.lock "$PY" -m pip install --quiet --no-deps "trackers==2.6.1"
fi
"$PY" -c 'from trackers import ByteTrackTracker' || { echo "ingest: trackers not importable" >&2; exit 1; }
bash scripts/setup/rtsp.sh
echo "ingest: trackers 2.6.1 ready"
