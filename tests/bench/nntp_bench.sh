#!/usr/bin/env bash
# NNTP benchmark (not part of the suite): a private INN on loopback with
# 10,000 articles in local.bench; in one session, the overview of all of
# them and the bodies of the last 1,000, with nettool (libnettool,
# tests/bench/nntp_bench.c, plus the nntp-read CLI for the overview) and
# with Python 3.11's nntplib (tests/bench/nntp_bench_nntplib.py). Prints
# times, peak RSS and ratios as a Markdown table, then RSS against the
# number of overview lines (nettool streams: flat; nntplib collects).
#   tests/bench/nntp_bench.sh [ARTICLES] [RUNS]     (needs root and inn2)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-10000}
runs=${2:-3}
bodies=1000
[ "$(id -u)" = 0 ] || { echo "INN needs root" >&2; exit 1; }
"$root/scripts/install-deps.sh" bench

work=$(mktemp -d /tmp/nt-nntp-bench.XXXXXX)
chmod 755 "$work"
trap 'bash "$root/tests/integration/nntp_inn.sh" stop "$work/inn"; rm -rf "$work"' EXIT

echo "building (Release)..." >&2
cmake -S "$root" -B "$root/build/nntp-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DNT_BUILD_TESTS=OFF >/dev/null
ninja -C "$root/build/nntp-bench" -j2 nettool nettool_static >/dev/null
cc -O2 -std=gnu11 -I"$root/include" "$root/tests/bench/nntp_bench.c" \
  "$root/build/nntp-bench/libnettool.a" $(pkg-config --libs libcares) -lssl -lcrypto \
  -lpthread -o "$work/nntp_bench"
nt=$root/build/nntp-bench/nettool

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bash "$root/tests/integration/nntp_inn.sh" start "$work/inn" "$port" >/dev/null
echo "filling local.bench with $n articles..." >&2
start=$(date +%s)
/usr/bin/python3 "$root/tests/bench/nntp_fill.py" 127.0.0.1 "$port" local.bench "$n" 4 >/dev/null
echo "  took $(( $(date +%s) - start )) s" >&2

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cli_over() { # wall ms and max RSS of `nettool nntp-read --overview N`
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/cli.rss" "$nt" nntp-read local.bench \
    --server "127.0.0.1:$port" --overview "$1" >"$work/cli.out"
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) $(cat "$work/cli.rss")"
}

declare -A res
for r in $(seq "$runs"); do
  a=$("$work/nntp_bench" 127.0.0.1 "$port" local.bench "$n" "$bodies")
  b=$(/usr/bin/python3 "$root/tests/bench/nntp_bench_nntplib.py" 127.0.0.1 "$port" local.bench "$n" "$bodies")
  c=$(cli_over "$n")
  [ "$(field over_lines "$a")" = "$(field over_lines "$b")" ] || { echo "mismatch: $a / $b" >&2; exit 1; }
  [ "$(field body_lines "$a")" = "$(field body_lines "$b")" ] || { echo "mismatch: $a / $b" >&2; exit 1; }
  for k in overview_ms bodies_ms total_ms maxrss_kib; do
    res[nt_$k]+="$(field $k "$a") "
    res[py_$k]+="$(field $k "$b") "
  done
  res[cli_ms]+="${c% *} "
  res[cli_rss]+="${c#* } "
  echo "run $r: nettool $a" >&2
  echo "run $r: nntplib $b" >&2
  echo "run $r: nettool nntp-read --overview $n: ${c% *} ms, ${c#* } KiB" >&2
done
med() { tr ' ' '\n' <<<"${res[$1]}" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", b / a}'; }

echo
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores; $n articles in local.bench, INN $(dpkg-query -W -f='${Version}' inn2), medians of $runs runs:"
echo
echo "| work | nettool | nntplib (Python $(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')) | ratio |"
echo "|---|---:|---:|---:|"
for k in overview_ms bodies_ms total_ms; do
  case $k in
    overview_ms) what="overview of $n articles (OVER)" ;;
    bodies_ms) what="bodies of the last $bodies (BODY)" ;;
    total_ms) what="total, one session" ;;
  esac
  a=$(med nt_$k) b=$(med py_$k)
  echo "| $what | $a ms | $b ms | $(ratio "$a" "$b") |"
done
a=$(med nt_maxrss_kib) b=$(med py_maxrss_kib)
echo "| peak RSS | $a KiB | $b KiB | $(ratio "$a" "$b") |"
echo "| \`nettool nntp-read --overview $n\` (whole process, table printed) | $(med cli_ms) ms, $(med cli_rss) KiB | | |"

echo
echo "Peak RSS (KiB) against the number of overview lines fetched (bodies: none):"
echo
echo "| overview lines | nettool | nntplib |"
echo "|---:|---:|---:|"
for k in 1000 $((n / 2)) "$n"; do
  a=$("$work/nntp_bench" 127.0.0.1 "$port" local.bench "$k" 0)
  b=$(/usr/bin/python3 "$root/tests/bench/nntp_bench_nntplib.py" 127.0.0.1 "$port" local.bench "$k" 0)
  echo "| $k | $(field maxrss_kib "$a") | $(field maxrss_kib "$b") |"
done
