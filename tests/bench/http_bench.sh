#!/usr/bin/env bash
# HTTP upload benchmark (not part of the suite): the same file, kept on
# /dev/shm so the disk does not decide, uploaded to the same fast local sink
# (tests/bench/http_sink.c: discards the body in the kernel, or decrypts it
# with OpenSSL for https) with `curl -F` and with `nettool http-upload`,
# alternating, RUNS times each, over http and https. Prints the median wall
# time, throughput, peak RSS (/usr/bin/time -v) and the ratios.
#   tests/bench/http_bench.sh [RUNS] [SIZE_MIB]      (defaults: 5, 1024)
set -euo pipefail
runs=${1:-5}
mib=${2:-1024}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/bench_lib.sh
bench_need curl /usr/bin/time cc
NETTOOL=
bench_nettool "$root/build/bench-http"
nt=$NETTOOL
tmp=$(mktemp -d)
pids=()
cleanup() {
  set +e # wait reports the SIGTERM; errexit must not cut the cleanup short
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp" "$file"
}
file=/dev/shm/nettool-bench-$$.bin
trap cleanup EXIT
cc -O2 -Wall -o "$tmp/http_sink" tests/bench/http_sink.c -lssl -lcrypto
sh tests/tls/make-certs.sh "$tmp/certs" >/dev/null
head -c $((mib * 1048576)) /dev/urandom >"$file"

"$tmp/http_sink" "$tmp/http.port" >"$tmp/sink.log" 2>&1 &
pids+=($!)
"$tmp/http_sink" "$tmp/https.port" --tls "$tmp/certs/server.crt" "$tmp/certs/server.key" >>"$tmp/sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/http.port" ] && [ -s "$tmp/https.port" ] && break; sleep 0.1; done
HTTP=http://127.0.0.1:$(cat "$tmp/http.port")/upload
HTTPS=https://localhost:$(cat "$tmp/https.port")/upload
CA=$tmp/certs/ca.crt

# measure NAME CMD...: one run; appends "seconds rss_kib" to $tmp/NAME.
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" >"$tmp/out" 2>"$tmp/err" ||
    { echo "$name failed:"; cat "$tmp/err" "$tmp/out"; exit 1; }
  [ "$(tr -d '\r\n' <"$tmp/out")" -gt $((mib * 1048576)) ] ||
    { echo "$name: the sink got $(cat "$tmp/out") bytes"; exit 1; }
  tail -1 "$tmp/t" >>"$tmp/$name"
}

for i in $(seq "$runs"); do
  measure curl_http curl -sS -F "file=@$file" "$HTTP"
  measure nettool_http "$nt" http-upload -q "$HTTP" "$file"
  measure curl_https curl -sS --cacert "$CA" -F "file=@$file" "$HTTPS"
  measure nettool_https "$nt" http-upload -q --cacert "$CA" "$HTTPS" "$file"
done

calc() { awk "BEGIN { print $1 }"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
echo "$(date -u +%Y-%m-%d): ${mib} MiB from /dev/shm to a local sink, $runs runs each, alternating; $(nproc) cores"
printf '| proto | client | median wall | throughput | peak RSS | wall runs (s) |\n|---|---|---:|---:|---:|---|\n'
for proto in http https; do
  for cl in curl nettool; do
    f=$tmp/${cl}_$proto
    med=$(cut -d' ' -f1 "$f" | median)
    rss=$(cut -d' ' -f2 "$f" | sort -n | tail -1)
    eval "med_${cl}_$proto=$med rss_${cl}_$proto=$rss"
    printf '| %s | %s | %.2f s | %.0f MiB/s | %.1f MiB | %s |\n' "$proto" "$cl" "$med" \
      "$(calc "$mib / $med")" "$(calc "$rss / 1024")" "$(cut -d' ' -f1 "$f" | tr '\n' ' ')"
  done
done
echo
for proto in http https; do
  eval "mc=\$med_curl_$proto mn=\$med_nettool_$proto rc=\$rss_curl_$proto rn=\$rss_nettool_$proto"
  printf '%s: nettool throughput %.2fx curl; peak RSS nettool %.1f MiB vs curl %.1f MiB (%.2fx)\n' \
    "$proto" "$(calc "$mc / $mn")" "$(calc "$rn / 1024")" "$(calc "$rc / 1024")" "$(calc "$rn / $rc")"
done
