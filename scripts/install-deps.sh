#!/usr/bin/env bash
# Installs the Debian 12 packages nettool needs, and only those missing.
#   scripts/install-deps.sh [build|test|bench]   (default: test)
# As root it runs apt-get; otherwise it prints the exact apt-get line and
# fails, so nothing half-works.
set -euo pipefail

what=${1:-test}
pkgs="gcc cmake ninja-build pkg-config libc-ares-dev"
case $what in
  build) ;;
  test) pkgs="$pkgs libcmocka-dev python3-twisted dnsmasq-base" ;;
  bench) pkgs="$pkgs libcmocka-dev python3-twisted dnsmasq-base libuv1-dev libevent-dev" ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "nettool needs these Debian packages:$missing" >&2
  echo "run: sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# --no-upgrade: never move packages the machine already has.
if ! apt-get install -y -qq --no-install-recommends --no-upgrade $missing >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends --no-upgrade $missing >/dev/null
fi
