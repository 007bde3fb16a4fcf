#!/usr/bin/env bash
# NNTP pipelining and COMPRESS benchmark (issue 13; not part of the suite).
# A private INN on loopback with N articles in local.bench (COMPRESS
# DEFLATE on, as Debian's nnrpd has it); in one run:
#   - loopback: the overview of all N (OVER commands of 100) and the bodies
#     of all N (BODY), one command at a time against pipelined, without
#     and with COMPRESS, and the bodies over a pool of 4 connections;
#     Python's nntplib (one OVER, bodies one at a time) as the anchor;
#   - through a relay that adds a 20 ms round trip (delay_relay.py): the
#     overview of 1,000 and SLOW bodies, one at a time against pipelined,
#     and nntplib through the same relay.
# Prints a Markdown table with the date and the ratios.
#   tests/bench/nntp_pipeline_bench.sh [N] [SLOW]     (needs root and inn2)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-10000}
slow=${2:-500}
[ "$(id -u)" = 0 ] || { echo "INN needs root" >&2; exit 1; }
py=/usr/bin/python3
work=$(mktemp -d /tmp/nt-nntp-pipebench.XXXXXX)
chmod 755 "$work"
relay_pid=
trap '[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null; bash "$root/tests/integration/nntp_inn.sh" stop "$work/inn"; rm -rf "$work"' EXIT

build=${NT_BENCH_BUILD:-$root/build/nntp-bench}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNT_BUILD_TESTS=OFF >/dev/null
fi
echo "building..." >&2
ninja -C "$build" nettool_static >/dev/null
uring=$(pkg-config --exists liburing 2>/dev/null && pkg-config --libs liburing || true)
cc -O2 -std=gnu11 -I"$root/include" "$root/tests/bench/nntp_pipe_bench.c" "$build/libnettool.a" \
  $(pkg-config --libs libcares) -lssl -lcrypto -lz -lexpat $uring -lpthread -o "$work/bench"

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bash "$root/tests/integration/nntp_inn.sh" start "$work/inn" "$port" >/dev/null
echo "filling local.bench with $n articles..." >&2
$py "$root/tests/bench/nntp_fill.py" 127.0.0.1 "$port" local.bench "$n" 4 >/dev/null

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
run() { # label port nover nbodies pipeline compress [conns]
  local label=$1; shift
  local out
  out=$("$work/bench" 127.0.0.1 "$1" local.bench "${@:2}") || { echo "$label failed" >&2; exit 1; }
  echo "$label: $out" >&2
  echo "$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", a / b}'; }

# loopback
s_p=$(run "one at a time" "$port" "$n" "$n" 1 0)
p_p=$(run "pipelined" "$port" "$n" "$n" 0 0)
s_z=$(run "one at a time, COMPRESS" "$port" "$n" "$n" 1 1)
p_z=$(run "pipelined, COMPRESS" "$port" "$n" "$n" 0 1)
pool=$(run "pool of 4, pipelined" "$port" 0 "$n" 0 0 4)
# nntplib waits out the server's delayed ACK on each BODY (about 40 ms, see
# nntp_bench.sh): its bodies are timed on NLB of them and scaled to n
nlb=${NLB:-500}
nl=$($py "$root/tests/bench/nntp_bench_nntplib.py" 127.0.0.1 "$port" local.bench "$n" "$nlb")
echo "nntplib: $nl" >&2
[ "$(field body_lines "$s_p")" = "$(field body_lines "$p_z")" ] || { echo "body lines differ" >&2; exit 1; }

# 20 ms round trip
rport_file=$work/relay.port
$py "$root/tests/bench/delay_relay.py" "$port" 20 >"$rport_file" &
relay_pid=$!
for _ in $(seq 50); do [ -s "$rport_file" ] && break; sleep 0.1; done
rport=$(cat "$rport_file")
r_s=$(run "20 ms, one at a time" "$rport" 1000 "$slow" 1 0)
r_p=$(run "20 ms, pipelined" "$rport" 1000 "$slow" 0 0)
r_z=$(run "20 ms, pipelined, COMPRESS" "$rport" 1000 "$slow" 0 1)
r_nl=$($py "$root/tests/bench/nntp_bench_nntplib.py" 127.0.0.1 "$rport" local.bench 1000 "$nlb")
echo "nntplib through the relay: $r_nl" >&2

echo
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores (shared); INN $(dpkg-query -W -f='${Version}' inn2) on loopback, $n articles:"
echo
echo "| loopback | overview of $n (OVER x$((n / 100))) | bodies of $n (BODY) |"
echo "|---|---:|---:|"
echo "| nettool, one command at a time | $(field overview_ms "$s_p") ms | $(field bodies_ms "$s_p") ms |"
echo "| nettool, pipelined (window $(field window "$p_p")) | $(field overview_ms "$p_p") ms | $(field bodies_ms "$p_p") ms |"
echo "| nettool, one at a time, COMPRESS | $(field overview_ms "$s_z") ms | $(field bodies_ms "$s_z") ms |"
echo "| nettool, pipelined, COMPRESS | $(field overview_ms "$p_z") ms | $(field bodies_ms "$p_z") ms |"
echo "| nettool, pool of 4 connections, pipelined | | $(field bodies_ms "$pool") ms |"
nl_scaled=$(awk -v t="$(field bodies_ms "$nl")" -v k="$nlb" -v n="$n" 'BEGIN {printf "%.0f", t * n / k}')
echo "| Python nntplib (one OVER; bodies one at a time: $nlb timed, scaled to $n) | $(field overview_ms "$nl") ms | $nl_scaled ms |"
echo "| pipelined vs one at a time | $(ratio "$(field overview_ms "$s_p")" "$(field overview_ms "$p_p")") | $(ratio "$(field bodies_ms "$s_p")" "$(field bodies_ms "$p_p")") |"
echo "| pipelined vs nntplib | $(ratio "$(field overview_ms "$nl")" "$(field overview_ms "$p_p")") | $(ratio "$nl_scaled" "$(field bodies_ms "$p_p")") |"
echo
echo "| 20 ms round trip (delay_relay.py) | overview of 1000 (OVER x10) | bodies of $slow |"
echo "|---|---:|---:|"
echo "| nettool, one command at a time | $(field overview_ms "$r_s") ms | $(field bodies_ms "$r_s") ms |"
echo "| nettool, pipelined (window $(field window "$r_p"), rtt $(field rtt_ms "$r_p") ms) | $(field overview_ms "$r_p") ms | $(field bodies_ms "$r_p") ms |"
echo "| nettool, pipelined, COMPRESS | $(field overview_ms "$r_z") ms | $(field bodies_ms "$r_z") ms |"
echo "| Python nntplib (one OVER of 1000; $nlb bodies one at a time) | $(field overview_ms "$r_nl") ms | $(field bodies_ms "$r_nl") ms |"
echo "| pipelined vs one at a time | $(ratio "$(field overview_ms "$r_s")" "$(field overview_ms "$r_p")") | $(ratio "$(field bodies_ms "$r_s")" "$(field bodies_ms "$r_p")") |"
