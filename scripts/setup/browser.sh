#!/usr/bin/env bash
# Installs what the gateway's browser tests need: Debian's Chromium (Playwright's own browser
# download does not work offline) and the playwright + schemathesis Python packages.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${KUZET_VENV:-$ROOT/.venv}/bin/python"
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  # Several setup scripts may run at once: apt holds its own lock and fails rather than waits.
  flock /tmp/kuzet-apt.lock bash -c "
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core \
      || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core; }
  "
fi

if ! "$PY" -c "import playwright, schemathesis" >/dev/null 2>&1; then
  flock /tmp/kuzet-pip.lock "$PY" -m pip install --quiet "playwright>=1.45" "schemathesis>=3.30"
fi

/usr/bin/chromium --version
"$PY" -c "import playwright, schemathesis; print('playwright + schemathesis ready')"
