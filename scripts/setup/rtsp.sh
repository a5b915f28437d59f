#!/usr/bin/env bash
# Installs GStreamer's RTSP server (Debian packages) used by the ingest tests and e2e scenarios.
# Idempotent: does nothing when the packages are present. The tests run the server with the
# system python3 (Debian's `gi`), so the venv needs no PyGObject build.
set -euo pipefail

PKGS=(gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
      gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0)

check() {
  /usr/bin/python3 -c 'import gi; gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0"); from gi.repository import Gst, GstRtspServer' 2>/dev/null \
    && gst-inspect-1.0 rtph264pay >/dev/null 2>&1 && gst-inspect-1.0 h264parse >/dev/null 2>&1 \
    && gst-inspect-1.0 qtdemux >/dev/null 2>&1
}

if check; then
  echo "rtsp: gst-rtsp-server already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
(
  flock 9
  if ! $SUDO apt-get install -y --no-install-recommends "${PKGS[@]}"; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${PKGS[@]}"
  fi
) 9>/tmp/kuzet-apt.lock

check || { echo "rtsp: GStreamer RTSP server still not importable with /usr/bin/python3" >&2; exit 1; }
echo "rtsp: gst-rtsp-server installed"
