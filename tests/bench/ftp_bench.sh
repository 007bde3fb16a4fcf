#!/usr/bin/env bash
# FTP benchmark (not part of the test suite): the same 1 GiB file fetched
# from and uploaded to the same local vsftpd by curl and by nettool
# ftp-get / ftp-put, alternating, ROUNDS times each (default 5), every file
# on /dev/shm so the disk does not decide; vsftpd pinned to one core, the
# clients to the other. Prints the median throughput and peak RSS (GNU
# time -v) of each, and the ratios nettool/curl.
#   tests/bench/ftp_bench.sh [NETTOOL] [ROUNDS] [SIZE_MIB]
# NETTOOL defaults to a Release build in build/bench-ftp (made if missing).
# Needs root (vsftpd), vsftpd, curl and /usr/bin/time (scripts/install-deps.sh
# bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nt=${1:-}
rounds=${2:-5}
size_mib=${3:-1024}
. "$root/tests/bench/bench_lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "ftp_bench: needs root (vsftpd starts as root)" >&2; exit 1; }
bench_need /usr/sbin/vsftpd curl /usr/bin/time
NETTOOL=$nt
bench_nettool "$root/build/bench-ftp"
nt=$NETTOOL

# shellcheck source=../integration/ftp_peers.sh
. "$root/tests/integration/ftp_peers.sh"
ftp_lock || { echo "ftp_bench: another FTP test holds the lock" >&2; exit 1; }
shm=$(bench_shm)
cleanup() { ftp_peers_cleanup || true; rm -rf "$shm"; }
trap cleanup EXIT

sh "$root/tests/tls/make-certs.sh" "$shm/certs" >/dev/null
chmod 755 "$shm/certs"
ftp_users_setup
port=$(ftp_free_port)
vsftpd_start "$shm/srv" "$port" "$shm/certs" >/dev/null
# The server (and the session processes it forks) on one core, the clients
# on the other, as tests/bench/run.sh does: less scheduler noise.
pin=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  taskset -a -p -c 0 "${FTP_PEERS_PIDS[-1]}" >/dev/null
  pin="taskset -c 1"
fi
src=$shm/srv/home/src.bin
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$src"
chown "$FTP_USER" "$src"
cp "$src" "$shm/local.bin"
url="ftp://$FTP_USER:$FTP_PASS@127.0.0.1:$port"
bytes=$((size_mib * 1024 * 1024))

# measure NAME CMD...: wall time (ns) and peak RSS (KiB) into the arrays.
declare -A secs rss
measure() {
  local name=$1
  shift
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$shm/time.txt" $pin "$@" >/dev/null 2>"$shm/err.txt" ||
    { echo "$name failed: $(cat "$shm/err.txt")" >&2; exit 1; }
  t1=$(date +%s%N)
  secs[$name]+="$(( t1 - t0 )) "
  rss[$name]+="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$shm/time.txt") "
}
check_same() { cmp -s "$1" "$2" || { echo "ftp_bench: $1 differs from the source" >&2; exit 1; }; }

for i in $(seq "$rounds"); do
  # alternate which one goes first
  if [ $((i % 2)) = 1 ]; then order="curl nettool"; else order="nettool curl"; fi
  for who in $order; do
    rm -f "$shm/got.bin"
    if [ "$who" = curl ]; then
      measure curl-get curl -sS -o "$shm/got.bin" "$url/src.bin"
    else
      measure nettool-get "$nt" ftp-get 127.0.0.1 src.bin -o "$shm/got.bin" --port "$port" \
        -u "$FTP_USER:$FTP_PASS" -q
    fi
    check_same "$shm/got.bin" "$src"
  done
  for who in $order; do
    rm -f "$shm/srv/home/up.bin"
    if [ "$who" = curl ]; then
      measure curl-put curl -sS -T "$shm/local.bin" "$url/up.bin"
    else
      measure nettool-put "$nt" ftp-put 127.0.0.1 "$shm/local.bin" up.bin --port "$port" \
        -u "$FTP_USER:$FTP_PASS" -q
    fi
    check_same "$shm/srv/home/up.bin" "$src"
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mibs() { awk -v b="$bytes" -v ns="$1" 'BEGIN {printf "%.0f", b / 1048576 / (ns / 1e9)}'; }

echo "FTP benchmark: $size_mib MiB over loopback from/to vsftpd $(/usr/sbin/vsftpd -v 0>&1 | awk '{print $3}'), $rounds rounds each, $(date -u +%Y-%m-%d)"
printf '| direction | curl MiB/s | nettool MiB/s | ratio | curl peak RSS | nettool peak RSS |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
for dir in get put; do
  cm=$(echo "${secs[curl-$dir]}" | median)
  nm=$(echo "${secs[nettool-$dir]}" | median)
  cr=$(echo "${rss[curl-$dir]}" | tr ' ' '\n' | grep . | sort -n | tail -1)
  nr=$(echo "${rss[nettool-$dir]}" | tr ' ' '\n' | grep . | sort -n | tail -1)
  ct=$(mibs "$cm")
  ntp=$(mibs "$nm")
  printf '| %s | %s | %s | %sx | %s KiB | %s KiB |\n' "$( [ $dir = get ] && echo download || echo upload)" \
    "$ct" "$ntp" "$(awk -v a="$ntp" -v b="$ct" 'BEGIN {printf "%.2f", a / b}')" "$cr" "$nr"
done
echo "per-run seconds:"
for k in curl-get nettool-get curl-put nettool-put; do
  printf '  %-12s' "$k"
  for ns in ${secs[$k]}; do awk -v ns="$ns" 'BEGIN {printf " %.2f", ns / 1e9}'; done
  printf '   RSS KiB: %s\n' "${rss[$k]}"
done
