#!/usr/bin/env bash
# tls_bench.sh [BYTES] -- what TLS costs in nettool, in one run (not part of
# the test suite): builds a Release tree in build/bench-tls, makes the test
# PKI (tests/tls/make-certs.sh) plus an RSA-2048 server certificate, and runs
# tests/bench/tls_bench.c three times (ECDSA P-256 and RSA-2048 server keys
# with nettool's default AES-128-GCM, then ECDSA with AES-256-GCM):
#   - 1 GiB (or BYTES) through TLS vs plain TCP, nettool client -> nettool
#     server on 127.0.0.1, one connection each  => ratio TLS/plain;
#   - full and resumed handshakes per second (4 connections in parallel);
#   - memory per idle TLS connection (server heap and RSS, client heap).
# The server runs pinned to CPU 0, the client to CPU 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bytes=${1:-1073741824}
b=$root/build/bench-tls
"$root/scripts/install-deps.sh" build
command -v openssl >/dev/null || { echo "tls_bench.sh: needs the openssl command" >&2; exit 1; }
mkdir -p "$b"
cmake -S "$root" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNT_BUILD_BENCH=ON \
  -DNT_BUILD_TESTS=OFF >"$b.configure.log" 2>&1 || { cat "$b.configure.log"; exit 1; }
ninja -C "$b" tls_bench >"$b.build.log" 2>&1 || { cat "$b.build.log"; exit 1; }

c=$b/certs
sh "$root/tests/tls/make-certs.sh" "$c" >/dev/null
if [ ! -s "$c/rsa.crt" ]; then
  openssl req -newkey rsa:2048 -nodes -keyout "$c/rsa.key" -out "$c/rsa.csr" \
    -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$c/rsa.ext"
  openssl x509 -req -in "$c/rsa.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
    -days 825 -extfile "$c/rsa.ext" -out "$c/rsa.crt" 2>/dev/null
  rm -f "$c/rsa.csr" "$c/rsa.ext"
fi

echo "# $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(openssl version)"
"$b/tls_bench" --ca "$c/ca.crt" --cert "$c/server.crt" --key "$c/server.key" \
  --bytes "$bytes" --label "(ECDSA P-256 server key)"
echo
"$b/tls_bench" --ca "$c/ca.crt" --cert "$c/rsa.crt" --key "$c/rsa.key" \
  --bytes "$bytes" --label "(RSA-2048 server key)"
echo
"$b/tls_bench" --ca "$c/ca.crt" --cert "$c/server.crt" --key "$c/server.key" \
  --bytes "$bytes" --suites TLS_AES_256_GCM_SHA384 --label "(ECDSA P-256, AES-256-GCM)"
