#!/usr/bin/env bash
# Type-check every service: kuzet.* are namespace packages spread over several folders.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(protos/python services/common)
targets=(services/common/kuzet)
for dir in services/*/; do
  svc=$(basename "$dir")
  [ "$svc" = common ] && continue
  [ -d "$dir/kuzet/$svc" ] || continue
  paths+=("${dir%/}")
  targets+=("${dir}kuzet")
done
MYPYPATH=$(IFS=:; echo "${paths[*]}") exec "${PYTHON:-.venv/bin/python}" -m mypy "$@" "${targets[@]}"
