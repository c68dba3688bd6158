#!/usr/bin/env bash
# A Debian root with a newer Python than CI's 3.11, for tests/test_python_versions.py: made with
# debootstrap from the Debian mirror as ../shared/tools/local-base-image.sh makes bookworm, and
# kept under $EDUSCORE_ROOTS (default /var/cache/eduscore/roots), reused while this script is
# unchanged. Prints the root's path; the build log goes to stderr. Needs root (debootstrap).
# Usage: .ci/debian-root.sh SUITE PYTHON   e.g. trixie 3.13, forky 3.14
set -euo pipefail
suite=${1:?usage: debian-root.sh SUITE PYTHON}
python=python${2:?usage: debian-root.sh SUITE PYTHON}
cache=${EDUSCORE_ROOTS:-/var/cache/eduscore/roots}
recipe=$(sha256sum "$0" | cut -c1-12)
root=$cache/$suite-$python-$recipe

mkdir -p "$cache"
exec 9>"$cache/$suite.lock" # one build per suite at a time; the others wait and reuse it
flock 9
if [[ -x $root/usr/bin/$python ]]; then
  echo "$root"
  exit 0
fi
if ! command -v debootstrap >/dev/null && [[ ! -x /usr/sbin/debootstrap ]]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi
find "$cache" -mindepth 1 -maxdepth 1 -type d -name "$suite-*" -exec rm -rf {} + # older recipes
tmp=$(mktemp -d "$cache/.build-$suite.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A suite newer than this debootstrap (forky on bookworm) is bootstrapped as sid is.
script=/usr/share/debootstrap/scripts/$suite
[[ -e $script ]] || script=/usr/share/debootstrap/scripts/sid
start=$SECONDS
if ! debootstrap --variant=minbase --include="$python,$python-venv,ca-certificates" \
  "$suite" "$tmp" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" "$script" >&2; then
  tail -n 30 "$tmp/debootstrap/debootstrap.log" >&2 || true
  exit 1
fi
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
mv "$tmp" "$root"
trap - EXIT
echo "debian-root: $suite, $(chroot "$root" "$python" -V), in $((SECONDS - start)) s: $root" >&2
echo "$root"
