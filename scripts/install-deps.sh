#!/usr/bin/env bash
# Installs the Debian 12 packages nettool needs, and only those missing.
#   scripts/install-deps.sh [build|test|bench]   (default: test)
# As root it runs apt-get; otherwise it prints the exact apt-get line and
# fails, so nothing half-works.
set -euo pipefail

what=${1:-test}
pkgs="gcc cmake ninja-build pkg-config libc-ares-dev libssl-dev"
case $what in
  build) ;;
  test) pkgs="$pkgs libcmocka-dev python3-twisted dnsmasq-base openssl" ;;
  bench) pkgs="$pkgs libcmocka-dev python3-twisted dnsmasq-base libuv1-dev libevent-dev openssl" ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

# NNTP integration tests and benchmark: Debian's INN 2 news server.
case $what in test|bench) pkgs="$pkgs inn2" ;; esac
# FTP integration tests and benchmark: vsftpd (pure-ftpd is run from its
# unpacked .deb by the tests: the two conflict as packages); the benchmark
# compares with curl and measures with GNU time.
case $what in test|bench) pkgs="$pkgs vsftpd" ;; esac
case $what in bench) pkgs="$pkgs curl time" ;; esac
# Proxies (tests/integration/proxy.sh): Dante as SOCKS5 and tinyproxy as
# HTTP CONNECT proxy, both started on loopback with the test's own
# configuration; nginx serves http and https behind them.
case $what in test|bench) pkgs="$pkgs dante-server tinyproxy nginx-light" ;; esac
# Retried downloads that resume (http_resume.sh): nginx serves ranges and
# ETags on loopback, with the test's own configuration.
case $what in test|bench) pkgs="$pkgs nginx-light" ;; esac

# HTTP client: llhttp's C sources (node-llhttp installs them under
# /usr/share/llhttp; built by third_party/llhttp); the Flask multipart
# receiver for the tests (the benchmark's curl is listed above).
pkgs="$pkgs node-llhttp"
# apps/examples/glib_embed.c (the reactor in a GLib main loop) and its test.
pkgs="$pkgs libglib2.0-dev"
# The io_uring backend (reactor/backend_uring.c; left out without it).
pkgs="$pkgs liburing-dev"
# yEnc CRC32 and COMPRESS DEFLATE (zlib), NZB files (libexpat). nntp-get's
# tests: par2 (--par2), Nyuu from npm (scripts/install-nyuu.sh: node, npm,
# the Node headers and a compiler for its yencode addon) unless a node is
# already there; its benchmark compares with NZBGet.
pkgs="$pkgs zlib1g-dev libexpat1-dev"
case $what in test|bench) pkgs="$pkgs par2" ;; esac
case $what in test|bench) command -v node >/dev/null || pkgs="$pkgs nodejs npm libnode-dev make g++" ;; esac
case $what in bench) pkgs="$pkgs nzbget" ;; esac
# Man pages (docs/man/mkman.py -> scdoc); the completions test runs zsh.
pkgs="$pkgs scdoc python3"
case $what in test|bench) pkgs="$pkgs zsh" ;; esac
# cpack -G DEB reads the packages' Depends with dpkg-shlibdeps (install test).
case $what in test|bench) pkgs="$pkgs dpkg-dev" ;; esac
case $what in test|bench) pkgs="$pkgs python3-flask" ;; esac
# UNIX sockets against socat (tests/integration/unix_peers.sh).
case $what in test|bench) pkgs="$pkgs socat" ;; esac

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
# inn2 goes in on its own. Without systemd its postinst would start innd on
# port 119 (a temporary policy-rc.d says no), and it fails on hosts without a
# fully qualified name ("hostname does not resolve or domain not set in
# inn.conf"), leaving dpkg half-configured: then a domain goes into
# /etc/news/inn.conf and dpkg finishes the configuration.
case " $missing " in *" inn2 "*)
  missing=${missing/ inn2/}
  echo "installing: inn2" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  inn_ok() { dpkg-query -W -f='${Status}' inn2 2>/dev/null | grep -q 'ok installed'; }
  apt-get install -y -qq --no-install-recommends --no-upgrade inn2 >/dev/null 2>&1 ||
    { [ -e /etc/news/inn.conf ] || { apt-get update -qq &&
      apt-get install -y -qq --no-install-recommends --no-upgrade inn2 >/dev/null 2>&1; } || true; }
  if ! inn_ok && [ -e /etc/news/inn.conf ]; then
    sed -i 's/^#* *domain:.*/domain: localdomain/' /etc/news/inn.conf
    dpkg --configure -a >/dev/null
  fi
  inn_ok || { echo "inn2 did not install" >&2; exit 1; }
  [ -z "${missing// /}" ] && exit 0 ;;
esac
# vsftpd's (and nginx's, tinyproxy's, danted's) postinst would start it on
# port 21 (80, 8888, 1080) when the machine has no policy-rc.d (no
# systemd): a temporary one says no.
case " $missing " in *" vsftpd "*|*" nginx-light "*|*" dante-server "*|*" tinyproxy "*)
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi ;;
esac
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# --no-upgrade: never move packages the machine already has.
if ! apt-get install -y -qq --no-install-recommends --no-upgrade $missing >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends --no-upgrade $missing >/dev/null
fi
