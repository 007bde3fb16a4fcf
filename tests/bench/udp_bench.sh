#!/usr/bin/env bash
# tests/bench/udp_bench.sh [--build-dir DIR] [--seconds S] [--repeat N]
#                          [--sockets "1 50"] [--size B]
# UDP server CPU per datagram, epoll against io_uring, in the same run:
# `nettool ts-server --udp` (one reactor, pinned to CPU 0) answers a
# closed-loop load (udp_load.c, raw epoll, pinned to CPU 1: SOCKETS
# connected sockets, one datagram in flight each). For each cell: replies/s
# and the server's CPU (utime + stime from /proc/PID/stat over the measured
# seconds) per datagram; the best of --repeat rounds (backends interleaved);
# the ratio epoll / io_uring (> 1: io_uring spends less). Loopback: part of
# each side's kernel work is charged to the sender's CPU, the same for both.
# Needs DIR/nettool (default build-bench, configured and built as Release
# if missing); udp_load is compiled into DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build-bench
seconds=4
repeat=2
sockets="1 50"
size=64
while [ $# -gt 0 ]; do
  case $1 in
  --build-dir) build=$2; shift 2 ;;
  --seconds) seconds=$2; shift 2 ;;
  --repeat) repeat=$2; shift 2 ;;
  --sockets) sockets=$2; shift 2 ;;
  --size) size=$2; shift 2 ;;
  *) echo "usage: $0 [--build-dir DIR] [--seconds S] [--repeat N] [--sockets LIST] [--size B]" >&2; exit 2 ;;
  esac
done
case $build in /*) ;; *) build=$root/$build ;; esac
if [ ! -x "$build/nettool" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DNT_BUILD_TESTS=OFF >/dev/null
  ninja -C "$build" nettool >/dev/null
fi
cc -O2 -Wall -o "$build/udp_load" "$here/udp_load.c"
nt=$build/nettool
tck=$(getconf CLK_TCK)
pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

# cpu_ticks PID: utime + stime
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_cell BACKEND SOCKETS -> "replies/s us_per_datagram lost"
run_cell() {
  local be=$1 n=$2 out port
  out=$(mktemp)
  NETTOOL_BACKEND=$be taskset -c 0 "$nt" ts-server --udp 0 --bind 127.0.0.1 >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q "listening on udp" "$out" && break
    sleep 0.05
  done
  port=$(sed -n 's/.*listening on udp .*:\([0-9]*\).*/\1/p' "$out" | head -1)
  [ -n "$port" ] || { echo "ts-server did not start: $(cat "$out")" >&2; exit 1; }
  taskset -c 1 "$build/udp_load" 127.0.0.1 "$port" "$n" 0.5 "$size" >/dev/null # warm-up
  local c0 c1 res
  c0=$(cpu_ticks "$pid")
  res=$(taskset -c 1 "$build/udp_load" 127.0.0.1 "$port" "$n" "$seconds" "$size")
  c1=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  rm -f "$out"
  echo "$res" | awk -v c=$((c1 - c0)) -v tck="$tck" '{
    printf "%.0f %.2f %d\n", $2 / $6, (c / tck) * 1e6 / ($2 > 0 ? $2 : 1), $4 }'
}

echo "# udp_bench $(date -u '+%Y-%m-%d %H:%M UTC'), $seconds s per cell, best of $repeat, ${size}-byte datagrams, load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A best_rate best_cpu
for n in $sockets; do
  for ((r = 0; r < repeat; r++)); do
    for be in epoll io_uring; do
      read -r rate cpu lost < <(run_cell "$be" "$n")
      k="$be/$n"
      if [ -z "${best_cpu[$k]:-}" ] || awk -v a="$cpu" -v b="${best_cpu[$k]}" 'BEGIN{exit !(a < b)}'; then
        best_cpu[$k]=$cpu
        best_rate[$k]=$rate
      fi
      echo "# round $r $be $n sockets: $rate replies/s, $cpu us/datagram, $lost lost"
    done
  done
done
echo
echo "| sockets | epoll replies/s | epoll µs/dgram | io_uring replies/s | io_uring µs/dgram | CPU epoll / io_uring |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in $sockets; do
  awk -v n="$n" -v er="${best_rate[epoll/$n]}" -v ec="${best_cpu[epoll/$n]}" \
    -v ur="${best_rate[io_uring/$n]}" -v uc="${best_cpu[io_uring/$n]}" \
    'BEGIN{printf "| %d | %d | %.2f | %d | %.2f | %.2fx |\n", n, er, ec, ur, uc, ec / uc}'
done
