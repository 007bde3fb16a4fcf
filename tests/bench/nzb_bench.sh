#!/usr/bin/env bash
# NZB download benchmark (not part of the suite), all on loopback in one
# run: a private INN (tests/integration/nntp_inn.sh) holding SIZE of random
# data posted by Nyuu (npm, scripts/install-nyuu.sh) as yEnc articles of
# 700 KiB with its NZB; then the same NZB fetched and decoded by NZBGet
# (Debian's nzbget 21, standalone, private config: no par check, no
# unpack, direct write, no article cache) and by `nettool nntp-get`, with
# the same number of connections to the same server, RUNS times each,
# alternating. Both results are checked against the posted file (sha256).
# Prints wall time, CPU (user+sys) per decoded MiB and peak RSS (GNU time)
# as a Markdown table (medians of the runs, [min-max]) with nettool/NZBGet
# ratios, then the yEnc decoder's speed on one core
# (tests/bench/yenc_bench.c).
#   tests/bench/nzb_bench.sh [SIZE] [CONNECTIONS] [RUNS]   (root, inn2, nzbget, node)
#   SIZE as head -c takes it (default 500M); NETTOOL=path uses that binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size=${1:-500M}
conns=${2:-4}
runs=${3:-1}
[ "$(id -u)" = 0 ] || { echo "INN needs root" >&2; exit 1; }
"$root/scripts/install-deps.sh" bench
nyuu=$("$root/scripts/install-nyuu.sh")

work=$(mktemp -d /tmp/nt-nzb-bench.XXXXXX)
chmod 755 "$work"
trap 'bash "$root/tests/integration/nntp_inn.sh" stop "$work/inn"; rm -rf "$work"' EXIT

if [ -z "${NETTOOL:-}" ]; then
  echo "building (Release)..." >&2
  cmake -S "$root" -B "$root/build/nzb-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DNT_BUILD_TESTS=OFF >/dev/null
  ninja -C "$root/build/nzb-bench" -j2 nettool nettool_static >/dev/null
  NETTOOL=$root/build/nzb-bench/nettool
  lib=$root/build/nzb-bench/libnettool.a
else
  lib=$(dirname "$NETTOOL")/libnettool.a
fi
# shellcheck disable=SC2046 # the flags are words
cc -O2 -std=gnu11 -I"$root/include" "$root/tests/bench/yenc_bench.c" "$lib" \
  $(pkg-config --libs libcares expat zlib liburing) -lssl -lcrypto -lpthread -ldl -o "$work/yenc_bench"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bash "$root/tests/integration/nntp_inn.sh" start "$work/inn" "$port" >/dev/null ||
  { tail -n 20 "$work/inn/log/"* >&2; exit 1; } # why (the trap removes $work)
mkdir -p "$work/post"
head -c "$size" /dev/urandom >"$work/post/data.bin"
want=$(sha256sum <"$work/post/data.bin" | cut -d' ' -f1)
bytes=$(stat -c %s "$work/post/data.bin")
echo "posting $size with Nyuu ($conns connections, 700 KiB articles)..." >&2
t0=$(date +%s)
(cd "$work/post" && node "$nyuu" -h 127.0.0.1 -P "$port" -n "$conns" -a 700K -g local.bench \
   -f 'Nyuu Bench <bench@nntp.test>' -o "$work/data.nzb" -O data.bin) >"$work/nyuu.log" 2>&1 ||
  { tail -5 "$work/nyuu.log" >&2; exit 1; }
echo "  took $(( $(date +%s) - t0 )) s, $(grep -c '<segment ' "$work/data.nzb") articles" >&2

# NZBGet: everything under $work/nzbget, nothing outside
nz=$work/nzbget
mkdir -p "$nz"
cat >"$nz/nzbget.conf" <<EOF
MainDir=$nz
DestDir=$nz/dst
InterDir=$nz/inter
NzbDir=$nz/nzb
QueueDir=$nz/queue
TempDir=$nz/tmp
ScriptDir=$nz/scripts
LockFile=$nz/nzbget.lock
LogFile=$nz/nzbget.log
WebDir=/usr/share/nzbget/webui
ConfigTemplate=/usr/share/nzbget/webui/nzbget.conf
Server1.Active=yes
Server1.Name=inn
Server1.Level=0
Server1.Host=127.0.0.1
Server1.Port=$port
Server1.Username=
Server1.Password=
Server1.JoinGroup=no
Server1.Encryption=no
Server1.Connections=$conns
ControlIP=127.0.0.1
ControlPort=0
ControlUsername=nzbget
ControlPassword=bench
SecureControl=no
UpdateCheck=none
DaemonUsername=root
OutputMode=loggable
WriteLog=append
ParCheck=manual
ParRepair=no
Unpack=no
DirectUnpack=no
HealthCheck=none
DupeCheck=no
AppendCategoryDir=no
DiskSpace=0
KeepHistory=0
CrcCheck=yes
ArticleCache=0
DirectWrite=yes
NzbDirInterval=0
EOF

measure() { # label, command...: appends "label wall user sys maxrss_kb ok" to $work/results
  local label=$1 out=$2; shift 2
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" "$@" >"$work/$label.log" 2>&1 ||
    { echo "$label failed:" >&2; tail -5 "$work/$label.log" >&2; return 1; }
  local f ok=0
  f=$(find "$out" -type f -name 'data.bin' | head -n 1)
  [ -n "$f" ] && [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$want" ] && ok=1
  echo "$label $(tail -n 1 "$work/time.txt") $ok" >>"$work/results"
}
for _ in $(seq "$runs"); do
  rm -rf "$nz/dst" "$nz/inter" "$nz/queue" "$nz/tmp" "$nz/nzb"
  measure nzbget "$nz/dst" nzbget -c "$nz/nzbget.conf" "$work/data.nzb"
  rm -rf "$work/nt"; mkdir "$work/nt"
  measure nettool "$work/nt" "$NETTOOL" nntp-get "$work/data.nzb" -o "$work/nt" \
    --server "127.0.0.1:$port" --connections "$conns" -q
done

mib=$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}')
echo
echo "## NZB download, $(date -u +%Y-%m-%d), $mib MiB in $(grep -c '<segment ' "$work/data.nzb") articles, $conns connections, INN on loopback, $(nproc) cores"
echo
echo "| client | runs | wall s | CPU s (user+sys) | CPU ms per MiB | MiB/s | peak RSS MiB | sha256 |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
# medians over the runs, [min-max] beside them (a shared machine: the
# spread says how much to trust a ratio)
awk -v mib="$mib" '
  function med(a, n,   i, j, t) { # sorts a[1..n], returns the median
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { k = $1; n[k]++; W[k, n[k]] = $2; C[k, n[k]] = $3 + $4; M[k, n[k]] = $5; ok[k] += $6 }
  END {
    for (k in n) {
      delete w; delete c; delete m
      for (i = 1; i <= n[k]; i++) { w[i] = W[k, i]; c[i] = C[k, i]; m[i] = M[k, i] }
      mw[k] = med(w, n[k]); mc[k] = med(c, n[k]); mm[k] = med(m, n[k])
      printf "| %s | %d | %.2f [%.2f-%.2f] | %.2f [%.2f-%.2f] | %.2f [%.2f-%.2f] | %.1f | %.2f [%.2f-%.2f] | %s |\n", k, n[k],
        mw[k], w[1], w[n[k]], mc[k], c[1], c[n[k]], 1000 * mc[k] / mib, 1000 * c[1] / mib, 1000 * c[n[k]] / mib,
        mib / mw[k], mm[k] / 1024, m[1] / 1024, m[n[k]] / 1024, (ok[k] == n[k] ? "ok" : "MISMATCH")
    }
    if (("nzbget" in n) && ("nettool" in n))
      printf "\nnettool/NZBGet (medians): wall %.2fx, CPU per MiB %.2fx, peak memory %.2fx\n", mw["nettool"] / mw["nzbget"], mc["nettool"] / mc["nzbget"], mm["nettool"] / mm["nzbget"]
  }' "$work/results"
echo
echo "## yEnc decoding on one core (thread CPU time), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
"$work/yenc_bench" 256 5
