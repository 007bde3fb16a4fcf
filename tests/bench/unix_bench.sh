#!/usr/bin/env bash
# tests/bench/unix_bench.sh -- UNIX stream echo: nettool vs libuv (uv_pipe)
# vs Twisted (listenUNIX), in one run, at 50 connections.
#
#   tests/bench/unix_bench.sh [--seconds S] [--warmup S] [--repeat N]
#                             [--conns N] [--size B] [--build-dir DIR] [--no-build]
#
# Builds a Release tree (default <repo>/build-bench-unix, -DNT_BUILD_BENCH=ON)
# with loadgen, echo_nettool and echo_libuv (all three with --unix); then
# for each round and each server (interleaved): starts it pinned to CPU 0
# (taskset -c 0) on a fresh socket path, drives it with loadgen pinned to
# CPU 1 (64-byte messages, one in flight per connection), and reads the
# server's CPU time (utime+stime from /proc/PID/stat) across the measured
# window. Each server keeps its best round (lowest CPU per message).
# Prints msgs/s, the server's CPU microseconds per message, and the ratio of
# each anchor's CPU per message to nettool's (> 1: nettool spends less).
# The machine should be quiet: other load steals from one side.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
SECS=4 WARM=1 REPEAT=3 CONNS=50 SIZE=64 BUILD=1
BDIR=$ROOT/build-bench-unix
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECS=$2; shift 2 ;;
    --warmup) WARM=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --build-dir) BDIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--seconds S] [--warmup S] [--repeat N] [--conns N] [--size B] [--build-dir DIR] [--no-build]" >&2; exit 64 ;;
  esac
done
if [ $BUILD = 1 ]; then
  cmake -S "$ROOT" -B "$BDIR" -G Ninja -DNT_BUILD_BENCH=ON -DNT_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BDIR" loadgen echo_nettool echo_libuv >/dev/null
fi
B=$BDIR/tests/bench
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nt-unix-bench.XXXXXX")
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_one NAME CMD...: prints "msgs_per_sec us_per_msg"
run_one() {
  local name=$1
  shift
  # A fresh path per run: a server that unlinks its path at exit (libuv
  # does) must not take the next run's socket with it.
  local sock=$TMP/$name.$RANDOM$RANDOM.sock
  taskset -c 0 "$@" --unix "$sock" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  SRV=$!
  local i=0
  until grep -q '^listening on unix' "$TMP/$name.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $SRV 2>/dev/null; then
      echo "$name did not start: $(cat "$TMP/$name.err")" >&2
      return 1
    fi
    sleep 0.1
  done
  # loadgen runs 3 s longer than the CPU sample, which starts 0.5 s into its
  # window: the sample sits inside the steady state even on a busy machine.
  taskset -c 1 "$B/loadgen" --unix "$sock" --conns "$CONNS" --size "$SIZE" \
    --seconds "$((SECS + 3))" --warmup "$WARM" >"$TMP/$name.lg" 2>&1 &
  local lg=$!
  sleep "$WARM"
  sleep 0.5
  local c0 t0 c1 t1
  c0=$(cpu_ticks $SRV)
  t0=$(date +%s.%N)
  sleep "$SECS"
  c1=$(cpu_ticks $SRV)
  t1=$(date +%s.%N)
  kill -0 $lg 2>/dev/null ||
    echo "warning: $name: loadgen ended before the CPU sample (machine busy?)" >&2
  wait $lg || { echo "loadgen failed for $name: $(cat "$TMP/$name.lg")" >&2; kill $SRV; SRV=; return 1; }
  kill $SRV
  wait $SRV 2>/dev/null || true
  SRV=
  local mps
  mps=$(sed -n 's/^msgs_per_sec=//p' "$TMP/$name.lg")
  # CPU seconds over the sampled interval, per message at the window's rate.
  awk -v c="$((c1 - c0))" -v tk="$TICK" -v t0="$t0" -v t1="$t1" -v m="$mps" \
    'BEGIN{printf "%s %.4f\n", m, (c / tk) / ((t1 - t0) * m) * 1e6}'
}

declare -A BEST_US BEST_MPS
SERVERS="nettool libuv twisted"
for r in $(seq 1 "$REPEAT"); do
  for s in $SERVERS; do
    case $s in
      nettool) res=$(run_one nettool "$B/echo_nettool") ;;
      libuv) res=$(run_one libuv "$B/echo_libuv") ;;
      twisted) res=$(run_one twisted "$PY" "$HERE/echo_twisted.py") ;;
    esac
    set -- $res
    echo "round $r $s: $1 msgs/s, $2 us CPU/msg" >&2
    if [ -z "${BEST_US[$s]:-}" ] || awk -v a="$2" -v b="${BEST_US[$s]}" 'BEGIN{exit !(a < b)}'; then
      BEST_US[$s]=$2
      BEST_MPS[$s]=$1
    fi
  done
done
echo
echo "UNIX stream echo, $CONNS connections, $SIZE-byte messages, best of $REPEAT x ${SECS}s ($(date -u +%Y-%m-%d))"
echo
echo "| server | msgs/s | server CPU us/msg | its CPU/msg / nettool's |"
echo "|---|---:|---:|---:|"
for s in $SERVERS; do
  printf '| %s | %.0f | %.2f | %.2fx |\n' "$s" "${BEST_MPS[$s]}" "${BEST_US[$s]}" \
    "$(awk -v a="${BEST_US[$s]}" -v b="${BEST_US[nettool]}" 'BEGIN{print a / b}')"
done
echo
echo "target: libuv's CPU per message >= 1.2x nettool's"
