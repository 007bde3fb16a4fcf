#!/usr/bin/env bash
# Zero-copy sends on io_uring (issue 14; not part of the suite): the CPU
# nettool spends sending SIZE_MIB from stdin with `http-upload URL -` to
# http_sink.c on loopback (the body goes through the ring's sends in
# 64 KiB chunks), with NETTOOL_URING_SEND_ZC=0 (copy), 1 (IORING_OP_SEND_ZC
# for every chunk of 64 KiB) and auto (the default: zero-copy until the
# kernel reports it copied, which on loopback it always does), and on epoll
# as the anchor. Loopback cannot win: the kernel copies a zero-copy send's
# pages when the skb crosses to the receiving socket, so this measures what
# the zero-copy machinery costs there (page pinning, the notification).
# nettool pinned to CPU 1, the sink to CPU 0 where there are 2 CPUs.
# Prints nettool's CPU (user + system, GNU time) and wall seconds, medians
# of ROUNDS, and each mode's CPU per GiB against the copy.
#   tests/bench/zc_bench.sh [NETTOOL] [ROUNDS] [SIZE_MIB]
# Defaults: a Release build in build/bench-zc, 3 rounds, 1024 MiB.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nt=${1:-}
rounds=${2:-3}
size_mib=${3:-1024}
[[ $rounds =~ ^[1-9][0-9]?$ ]] || { echo "zc_bench: bad ROUNDS '$rounds'" >&2; exit 64; }
[[ $size_mib =~ ^[1-9][0-9]*$ ]] || { echo "zc_bench: bad SIZE_MIB '$size_mib'" >&2; exit 64; }
. "$root/tests/bench/bench_lib.sh"
bench_need /usr/bin/time cc
NETTOOL=$nt
bench_nettool "$root/build/bench-zc"
nt=$NETTOOL
shm=$(bench_shm)
sink_pid=""
cleanup() {
  set +e
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  rm -rf "$shm"
}
trap cleanup EXIT
bench_pins
bench_sink "$shm"
url=$sink_url
src=$shm/src.bin
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$src"
bytes=$((size_mib * 1024 * 1024))

# run MODE: one upload (MODE: epoll, or io_uring's 0 / 1 / auto)
run() {
  local mode=$1 be=io_uring zc=$1
  [ "$mode" = epoll ] && { be=epoll; zc=0; }
  NETTOOL_BACKEND=$be NETTOOL_URING_SEND_ZC=$zc /usr/bin/time -f "%U %S %e" -o "$shm/t" \
    "${pin[@]}" "$nt" http-upload -q "$url" - <"$src" >"$shm/out" 2>"$shm/err" ||
    { echo "zc_bench: $mode failed: $(cat "$shm/err")" >&2; exit 1; }
  [ "$(tr -d '\r\n' <"$shm/out")" -gt "$bytes" ] ||
    { echo "zc_bench: $mode: the sink got $(cat "$shm/out") bytes" >&2; exit 1; }
  awk '{printf "%.3f %.3f\n", $1 + $2, $3}' "$shm/t" >>"$shm/r.$mode"
}
modes="epoll 0 1 auto"
for i in $(seq "$rounds"); do
  for m in $modes; do run "$m"; done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "Zero-copy sends: $size_mib MiB from stdin by http-upload to a loopback sink, nettool's CPU (user+system) and wall seconds, median of $rounds, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| mode | CPU s | CPU s per GiB | wall s | CPU vs io_uring copy |"
echo "|---|---:|---:|---:|---:|"
base=$(cut -d' ' -f1 "$shm/r.0" | median)
for m in $modes; do
  cpu=$(cut -d' ' -f1 "$shm/r.$m" | median)
  wall=$(cut -d' ' -f2 "$shm/r.$m" | median)
  label=$m
  case $m in epoll) label="epoll (copy)" ;; 0) label="io_uring, ZC=0 (copy)" ;;
  1) label="io_uring, ZC=1 (forced)" ;; auto) label="io_uring, ZC=auto" ;; esac
  awk -v l="$label" -v c="$cpu" -v w="$wall" -v b="$base" -v mib="$size_mib" \
    'BEGIN{printf "| %s | %.2f | %.2f | %.2f | %.2fx |\n", l, c, c * 1024 / mib, w, c / b}'
done
