#!/usr/bin/env bash
# Build every service image from the one recipe, services/Dockerfile: the services and their
# ports are the chart's components (charts/kuzet/values.yaml), so an image exists for each
# component the chart deploys and exposes the port the chart probes.
#   scripts/build-images.sh [--dry-run] [--registry R] [--tag T] [--engine docker|podman]
# --dry-run prints the build commands (this machine has no container engine; the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
REGISTRY=ghcr.io/kuzet
TAG=$(git describe --always --dirty 2>/dev/null || echo dev)
ENGINE=docker
RUN=
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) RUN=echo ;;
    --registry) REGISTRY=$2; shift ;;
    --tag) TAG=$2; shift ;;
    --engine) ENGINE=$2; shift ;;
    *) echo "usage: $0 [--dry-run] [--registry R] [--tag T] [--engine docker|podman]" >&2; exit 2 ;;
  esac
  shift
done
"$PY" - <<'PY' | while read -r image port; do
import yaml
values = yaml.safe_load(open("charts/kuzet/values.yaml"))
for component in values["components"].values():
    print(component["image"], component["port"])
PY
  [ -d "services/$image" ] || { echo "no services/$image for the chart's image $image" >&2; exit 1; }
  $RUN "$ENGINE" build -f services/Dockerfile --build-arg "SERVICE=$image" --build-arg "PORT=$port" \
    -t "$REGISTRY/$image:$TAG" .
done
