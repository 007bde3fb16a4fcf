#!/usr/bin/env bash
# tus upload benchmark (issue 12; not part of the suite): the same file, kept
# on /dev/shm (the servers store there too), uploaded to real tus servers on
# loopback by nettool http-upload --resumable and by curl doing the same
# protocol by hand (POST creation, then one PATCH with the whole file:
# `curl -T`, which streams). Rows, INTERLEAVED (each round runs every row
# once, so a burst of load on a shared machine hits all rows alike):
#   @tus/server 2 (no checksum extension):
#     curl POST+PATCH                     the anchor
#     nettool (one PATCH, sendfile)
#     nettool --chunk-size 8 MiB          a HEAD-free PATCH per 8 MiB
#   @uploadx/core 7 (checksum extension):
#     curl POST+PATCH (no checksum)       the anchor
#     nettool --checksum off (one PATCH)
#     nettool (sha1 per 8 MiB piece, the default with a checksum)
# Prints each row's median wall time, the ratio to its anchor's median and
# the median of the per-round ratios, and the median CPU seconds of the
# client (user+sys) and of the server process (from /proc/PID/stat), which
# a loaded machine disturbs much less than wall time.
#   [RUNS=5] tests/bench/tus_bench.sh [SIZE_MIB]     (default 128)
# NETTOOL=path uses that binary instead of building build/bench-tus.
# Needs node >= 20.19 and npm (tests/integration/tus_npm.sh installs the
# servers into build/bench-tus/tus-node), curl, /usr/bin/time.
set -euo pipefail
mib=${1:-128}
runs=${RUNS:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/bench_lib.sh
bench_need curl /usr/bin/time
bench_nettool "$root/build/bench-tus"
cache=$root/build/bench-tus/tus-node
rc=0
bash tests/integration/tus_npm.sh "$cache" || rc=$?
[ $rc = 0 ] || { echo "the tus servers could not be installed (tus_npm.sh exit $rc)"; exit 1; }
cp tests/integration/tus_server.mjs tests/integration/tus_uploadx.mjs "$cache/"
PY=/usr/bin/python3
tmp=$(bench_shm)
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "making a $mib MiB file..." >&2
head -c $((mib * 1048576)) /dev/urandom >"$tmp/f.bin"
size=$(stat -c %s "$tmp/f.bin")
sha=$(sha256sum <"$tmp/f.bin" | cut -d' ' -f1)

# server NAME SCRIPT: starts it on a free port; sets URL_<NAME>, PID_<NAME>
server() {
  local name=$1 script=$2 port
  port=$(free_port)
  mkdir -p "$tmp/store-$name"
  node "$cache/$script" "$port" "$tmp/store-$name" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  printf -v "PID_$name" '%s' $!
  printf -v "URL_$name" '%s' "http://127.0.0.1:$port/files"
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "http://127.0.0.1:$port/files")" = 204 ] && return 0
    sleep 0.1
  done
  echo "the $name server did not start: $(tail -3 "$tmp/$name.log")"
  exit 1
}
server tus tus_server.mjs
server uploadx tus_uploadx.mjs

cat >"$tmp/curl_tus.sh" <<'EOF'
#!/bin/bash
# curl_tus.sh URL FILE: tus creation (POST), then the whole file in one PATCH
set -e
u=$1 f=$2
n=$(stat -c %s "$f")
# the file's name as metadata, as nettool sends it (uploadx 7 makes an upload
# created without metadata an ID that its own PATCH check then refuses: 403)
loc=$(curl -sS -D - -o /dev/null -X POST -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $n" \
  -H "Upload-Metadata: filename $(basename "$f" | tr -d '\n' | base64 -w0)" "$u" |
  tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case $loc in //*) loc=http:$loc ;; /*) loc=${u%%/files*}$loc ;; esac # uploadx: "//host:port/files/ID"
curl -sS -f -o /dev/null -X PATCH -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" \
  -H "Content-Type: application/offset+octet-stream" -T "$f" "$loc"
EOF
chmod +x "$tmp/curl_tus.sh"

res=$tmp/results.tsv
: >"$res"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# once ROW SERVER CMD...: one upload; "ROW<TAB>wall<TAB>client cpu<TAB>server cpu<TAB>ok"
once() {
  local row=$1 name=$2
  shift 2
  local spid_var=PID_$name
  local spid=${!spid_var}
  rm -rf "$tmp/store-$name"/* "$tmp/f.bin.nettool-upload"
  local t0 t1 ok=1
  t0=$(ticks "$spid")
  /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || ok=0
  t1=$(ticks "$spid")
  # the server's file: the largest one in its store
  local f
  f=$(find "$tmp/store-$name" -maxdepth 1 -type f ! -name '*.json' ! -name '*.META' -size +0 | head -1)
  { [ -n "$f" ] && [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$sha" ]; } || ok=0
  [ $ok = 1 ] || { echo "row '$row' failed:" >&2; tail -3 "$tmp/err" >&2; }
  read -r wall u s < <(tail -n 1 "$tmp/time") # after "Command exited with non-zero status N"
  printf '%s\t%s\t%s\t%s\t%s\n' "$row" "$wall" "$($PY -c "print($u + $s)")" \
    "$($PY -c "print(($t1 - $t0) / $(getconf CLK_TCK))")" "$ok" >>"$res"
}
T1="tus/server: curl POST+PATCH (anchor)"
T2="tus/server: nettool (one PATCH)"
T3="tus/server: nettool --chunk-size 8 MiB"
X1="uploadx: curl POST+PATCH (anchor)"
X2="uploadx: nettool --checksum off"
X3="uploadx: nettool (sha1, 8 MiB pieces)"
# warm-up (not shown)
once warm tus "$tmp/curl_tus.sh" "$URL_tus" "$tmp/f.bin"
once warm tus "$NETTOOL" http-upload --resumable -q "$URL_tus" "$tmp/f.bin"
for i in $(seq "$runs"); do
  echo "round $i of $runs..." >&2
  once "$T1" tus "$tmp/curl_tus.sh" "$URL_tus" "$tmp/f.bin"
  once "$T2" tus "$NETTOOL" http-upload --resumable -q "$URL_tus" "$tmp/f.bin"
  once "$T3" tus "$NETTOOL" http-upload --resumable -q --chunk-size 8388608 "$URL_tus" "$tmp/f.bin"
  once "$X1" uploadx "$tmp/curl_tus.sh" "$URL_uploadx" "$tmp/f.bin"
  once "$X2" uploadx "$NETTOOL" http-upload --resumable -q --checksum off "$URL_uploadx" "$tmp/f.bin"
  once "$X3" uploadx "$NETTOOL" http-upload --resumable -q "$URL_uploadx" "$tmp/f.bin"
done
printf '%s, %d MiB file on %s, loopback, %s, %s, node %s, %d cores, load %s\n' "$(date -u +%Y-%m-%d)" \
  "$mib" "$(dirname "$tmp")" "$(curl --version | head -n 1 | cut -d' ' -f1-2)" "$("$NETTOOL" --version 2>/dev/null | head -1)" \
  "$(node --version)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
$PY - "$res" "$T1" "$X1" <<'PYEOF'
import sys, statistics as st
rows, order = {}, []
for line in open(sys.argv[1]):
    row, wall, cpu, scpu, ok = line.rstrip("\n").split("\t")
    if row == "warm":
        continue
    if row not in rows:
        rows[row] = []
        order.append(row)
    rows[row].append((float(wall), float(cpu), float(scpu), ok == "1"))
anchors = {"tus/server": sys.argv[2], "uploadx": sys.argv[3]}
print(f"{'row (%d interleaved runs each)' % len(rows[order[0]]):<42} {'wall s':>7} {'x anchor':>8} "
      f"{'per-round x':>11} {'client cpu s':>12} {'server cpu s':>12}  ok  (each wall s)")
for row in order:
    r = rows[row]
    a = rows[anchors[row.split(":")[0]]]
    wall = st.median(x[0] for x in r)
    per = st.median(x[0] / y[0] for x, y in zip(r, a))
    print(f"{row:<42} {wall:>7.2f} {wall / st.median(y[0] for y in a):>8.2f} {per:>11.2f} "
          f"{st.median(x[1] for x in r):>12.2f} {st.median(x[2] for x in r):>12.2f}  "
          f"{'yes' if all(x[3] for x in r) else 'NO'} ({' '.join('%.2f' % x[0] for x in r)})")
PYEOF
