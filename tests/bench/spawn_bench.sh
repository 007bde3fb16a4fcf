#!/bin/bash
# Spawn-and-reap rate of `true`: nettool (nt_process_spawn) against libuv
# (uv_spawn), same machine, same run, alternating, median of ROUNDS; prints
# the rate of each and the ratio. Both search PATH for `true` and give the
# child three pipes read to EOF ("pipes") or /dev/null ("null").
# Usage: spawn_bench.sh BUILD_DIR [N] [K] [ROUNDS]
#   BUILD_DIR holds spawn_nettool and spawn_libuv (-DNT_BUILD_BENCH=ON).
set -euo pipefail
b=${1:?usage: spawn_bench.sh BUILD_DIR [N] [K] [ROUNDS]}
n=${2:-1000}
k=${3:-8}
rounds=${4:-3}
for p in spawn_nettool spawn_libuv; do
  [ -x "$b/tests/bench/$p" ] || [ -x "$b/$p" ] || { echo "missing $p in $b" >&2; exit 1; }
done
bin() { if [ -x "$b/tests/bench/$1" ]; then echo "$b/tests/bench/$1"; else echo "$b/$1"; fi; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "date: $(date -u +%F) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg)"
# Each program prints: children, ms, children/s, the parent's CPU us per
# child (children's own CPU excluded: exec'ing `true` costs both the same).
for mode in pipes null; do
  nt=(); uv=(); ntc=(); uvc=()
  for ((i = 0; i < rounds; i++)); do
    read -r _ _ r c < <("$(bin spawn_nettool)" "$n" "$k" "$mode")
    nt+=("$r"); ntc+=("$c")
    read -r _ _ r c < <("$(bin spawn_libuv)" "$n" "$k" "$mode")
    uv+=("$r"); uvc+=("$c")
  done
  a=$(printf '%s\n' "${nt[@]}" | median)
  c=$(printf '%s\n' "${uv[@]}" | median)
  ac=$(printf '%s\n' "${ntc[@]}" | median)
  cc=$(printf '%s\n' "${uvc[@]}" | median)
  printf '%-5s N=%d K=%d  rate: nettool %5d/s  libuv %5d/s  ratio %.2fx (rounds %s / %s)\n' \
    "$mode" "$n" "$k" "$a" "$c" "$(awk -v a="$a" -v c="$c" 'BEGIN { print a / c }')" "${nt[*]}" "${uv[*]}"
  printf '%-5s N=%d K=%d  parent CPU per child: nettool %.0f us  libuv %.0f us  ratio %.2fx\n' \
    "$mode" "$n" "$k" "$ac" "$cc" "$(awk -v a="$ac" -v c="$cc" 'BEGIN { print c / a }')"
done
