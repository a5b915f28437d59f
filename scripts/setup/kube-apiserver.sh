#!/usr/bin/env bash
# Builds kube-apiserver 1.20 from Debian's `kubernetes` source package with Debian's Go and
# installs etcd, so tests can run a real Kubernetes API server on loopback.
# Idempotent: the ~110 MB binary is cached OUTSIDE the repository and reused.
# Prints the binary's path on its last line.
set -euo pipefail

CACHE="${KUZET_CACHE_DIR:-$HOME/.cache/kuzet}"
DEST="$CACHE/kube-apiserver-1.20"
BIN="$DEST/kube-apiserver"
APT_LOCK=/tmp/kuzet-apt.lock

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    flock "$APT_LOCK" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing[*]}"
  fi
}

# etcd is needed at test run time even when the binary is cached.
apt_install etcd-server

if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

apt_install golang-go rsync make dpkg-dev

# apt-get source needs a deb-src entry; add one mirroring the configured Debian suites.
SRC_LIST=/etc/apt/sources.list.d/kuzet-deb-src.sources
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  flock "$APT_LOCK" bash -c "cat > $SRC_LIST <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt-get update -qq"
fi

WORK="$CACHE/kube-apiserver-build"
mkdir -p "$WORK" "$DEST"
cd "$WORK"
if ! ls kubernetes_*.dsc >/dev/null 2>&1; then
  flock "$APT_LOCK" apt-get source --download-only kubernetes
fi
SRCDIR=$(find "$WORK" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
if [[ -z "$SRCDIR" ]]; then
  dpkg-source --no-check -x kubernetes_*.dsc >/dev/null
  SRCDIR=$(find "$WORK" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
fi
cd "$SRCDIR"
# Offline build against the vendored dependencies; nice it, the machine is shared.
# GOFLAGS=-mod=vendor keeps Go from consulting the network even for the toolchain.
GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on KUBE_BUILD_PLATFORMS=linux/amd64 \
  nice -n 19 make WHAT=cmd/kube-apiserver >"$WORK/build.log" 2>&1 || {
  tail -n 40 "$WORK/build.log" >&2
  echo "kube-apiserver build failed; full log: $WORK/build.log" >&2
  exit 1
}
built=$(find "$SRCDIR/_output" -type f -name kube-apiserver -perm -u+x | head -n1)
install -m 0755 "$built" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
"$BIN" --version
echo "$BIN"
