#!/usr/bin/env bash
# What the alerting tests and benchmark need besides PostgreSQL: a Mosquitto MQTT broker listening
# on 127.0.0.1:1883 (anonymous, loopback only). Idempotent: installs Debian's mosquitto when it is
# missing and starts a broker only when nothing listens on the port yet.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

port_open() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }

if ! command -v mosquitto >/dev/null 2>&1 && ! [ -x /usr/sbin/mosquitto ]; then
  # Several setup scripts may run at once: apt holds its own lock and fails rather than waits.
  flock /tmp/kuzet-apt.lock bash -c "
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y --no-install-recommends mosquitto \
      || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends mosquitto; }
  "
fi

if ! port_open; then
  conf="${TMPDIR:-/tmp}/kuzet-mosquitto.conf"
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' >"$conf"
  MOSQ="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
  "$MOSQ" -d -c "$conf"
  for _ in $(seq 1 50); do port_open && break; sleep 0.1; done
fi

port_open && echo "mosquitto listening on 127.0.0.1:1883"
