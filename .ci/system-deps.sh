#!/usr/bin/env bash
# System packages the container and Prometheus tests need (tests/test_container.py,
# tests/test_prometheus.py): buildah (builds and runs the image, --isolation chroot), debootstrap
# (../shared/tools/local-base-image.sh makes the base image with it) and prometheus (prometheus
# and promtool). Idempotent: installs only what is missing, and runs `apt-get update` only then.
# Needs root, as CI and the developers' machines have.
set -euo pipefail

declare -A needs=(
  [buildah]=buildah
  [debootstrap]=debootstrap
  [prometheus]=prometheus
  [promtool]=prometheus
)
missing=()
for cmd in "${!needs[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$cmd && ! -x /usr/bin/$cmd ]]; then
    missing+=("${needs[$cmd]}")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "system-deps: buildah, debootstrap and prometheus are installed"
  exit 0
fi
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ $(id -u) -ne 0 ]]; then
  echo "system-deps: need root to install: ${packages[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# buildah and debootstrap with their recommends (crun, fuse-overlayfs; debian-archive-keyring
# and gnupg, which debootstrap verifies the mirror with); prometheus without them (no
# node-exporter: the tests start their own Prometheus and nothing else).
with_recommends=() without=()
for pkg in "${packages[@]}"; do
  if [[ $pkg == prometheus ]]; then without+=("$pkg"); else with_recommends+=("$pkg"); fi
done
if ((${#with_recommends[@]})); then
  apt-get install -y -qq "${with_recommends[@]}" >/dev/null
fi
if ((${#without[@]})); then
  apt-get install -y -qq --no-install-recommends "${without[@]}" >/dev/null
fi
for cmd in buildah debootstrap prometheus promtool; do
  command -v "$cmd" >/dev/null || [[ -x /usr/sbin/$cmd ]] || {
    echo "system-deps: $cmd still missing after install" >&2
    exit 1
  }
done
echo "system-deps: done"
