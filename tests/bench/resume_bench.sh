#!/usr/bin/env bash
# Retry-with-resume benchmark (issue 12; not part of the suite): one file
# served by nginx on loopback, fetched through tests/integration/cut_relay.py,
# which resets the connection every CUT_MIB MiB of data it carried (SIZE/CUT
# cuts in all, then it lets everything through). Same run, same relay:
#   - nettool http-get --retry, uninterrupted (the anchor: wall time T0)
#   - nettool http-get --retry through the cuts (resumes: Range + If-Range)
#   - curl --retry --retry-all-errors through the cuts (starts over)
#   - curl -C - --retry --retry-all-errors through the cuts
#   - curl uninterrupted
# Files on /dev/shm. Prints bytes on the wire (server -> client, counted by the relay) and wall
# time, each as a ratio to the file size and to T0, and checks the sha256.
# Targets for nettool: bytes <= 1.05 x size, wall <= 1.1 x T0.
#   [RUNS=3] tests/bench/resume_bench.sh [SIZE_MIB] [CUT_MIB]   (defaults: 1024, 100)
# NETTOOL=path uses that binary instead of building build/bench-resume.
set -euo pipefail
mib=${1:-1024}
cut_mib=${2:-100}
runs=${RUNS:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v curl >/dev/null || { echo "curl is needed (scripts/install-deps.sh bench)"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is needed (scripts/install-deps.sh bench: nginx-light)"; exit 1; }
if [ -z "${NETTOOL:-}" ]; then
  b=build/bench-resume
  cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNT_BUILD_TESTS=OFF >/dev/null
  ninja -C "$b" nettool >/dev/null
  NETTOOL=$b/nettool
fi
PY=/usr/bin/python3
# on tmpfs: the disk (and http-get's fsync before the rename) must not decide
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
tmp=$(mktemp -d "$shm/nt-resume-bench.XXXXXX")
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"

port=""
for p in $(seq 27500 27560); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free port in 27500-27560"; exit 1; }

mkdir -p "$tmp/www" "$tmp/ngx/tmp"
echo "making a $mib MiB file..." >&2
head -c $((mib * 1024 * 1024)) /dev/urandom >"$tmp/www/f.bin"
size=$(stat -c %s "$tmp/www/f.bin")
sha=$(sha256sum <"$tmp/www/f.bin" | cut -d' ' -f1)
cat >"$tmp/ngx/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $tmp/ngx/tmp/body;
  proxy_temp_path $tmp/ngx/tmp/proxy;
  fastcgi_temp_path $tmp/ngx/tmp/fcgi;
  uwsgi_temp_path $tmp/ngx/tmp/uwsgi;
  scgi_temp_path $tmp/ngx/tmp/scgi;
  server { listen 127.0.0.1:$port; root $tmp/www; }
}
EOF
[ "$(id -u)" = 0 ] && sed -i '1i user root root;' "$tmp/ngx/nginx.conf"
"$NGINX" -p "$tmp/ngx" -e "$tmp/ngx/error.log" -c "$tmp/ngx/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

n=0
# relay [ARGS...]: a fresh cut_relay.py; sets RPORT, RSTATS, RPID
relay() {
  n=$((n + 1))
  RSTATS=$tmp/relay$n.json
  $PY tests/integration/cut_relay.py --listen-port-file "$tmp/relay$n.port" \
    --target "127.0.0.1:$port" --stats "$RSTATS" "$@" &
  RPID=$!
  pids+=("$RPID")
  for _ in $(seq 50); do [ -s "$tmp/relay$n.port" ] && break; sleep 0.1; done
  RPORT=$(cat "$tmp/relay$n.port")
}
down() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))['down'])" "$RSTATS"; }

cuts=$(((mib - 1) / cut_mib))
every=$((cut_mib * 1024 * 1024))
printf '%s, %d MiB file, a cut every %d MiB (%d cuts), loopback, nginx %s, %s\n' \
  "$(date -u +%Y-%m-%d)" "$mib" "$cut_mib" "$cuts" "$("$NGINX" -v 2>&1 | sed 's/.*\///')" \
  "$(curl --version | head -n 1 | cut -d' ' -f1-2)"
printf '%-44s %4s %13s %6s %7s  %-6s %-5s %s\n' "run ($runs times each)" "exit" "bytes" "xsize" "wall s" "xT0" "sha" "(each wall s)"
t0=""

# run NAME CUTS(0/1) CMD...: RUNS times (a fresh relay each); the median
# wall time (the machine may be shared: the spread is printed too) and the
# bytes of the median run. @URL@ in CMD is the relay's URL.
run() {
  local name=$1 cut=$2
  shift 2
  local i walls=() bytes_of=() rcs=0 oks=same
  for i in $(seq "$runs"); do
    rm -f "$tmp/out.bin" "$tmp/out.bin.part" "$tmp/out.bin.part.state"
    if [ "$cut" = 1 ]; then relay --cut-every "$every" --cuts "$cuts"; else relay; fi
    local s e rc=0 a args=()
    for a in "$@"; do args+=("${a//@URL@/http://127.0.0.1:$RPORT/f.bin}"); done
    s=$(date +%s.%N)
    "${args[@]}" >/dev/null 2>"$tmp/err" || rc=$?
    e=$(date +%s.%N)
    sleep 0.3 # the relay writes its stats when the connection ends
    walls+=("$($PY -c "print(f'{$e - $s:.2f}')")")
    bytes_of+=("$(down)")
    [ "$rc" = 0 ] || rcs=$rc
    { [ -f "$tmp/out.bin" ] && [ "$(sha256sum <"$tmp/out.bin" | cut -d' ' -f1)" = "$sha" ]; } || oks=DIFFERENT
    kill "$RPID" 2>/dev/null || true
    wait "$RPID" 2>/dev/null || true
  done
  local med
  med=$($PY -c "import sys; w=sorted(map(float,sys.argv[1:])); print(w[len(w)//2])" "${walls[@]}")
  local bytes
  bytes=$($PY -c "import sys; b=sorted(map(int,sys.argv[1:])); print(b[len(b)//2])" "${bytes_of[@]}")
  [ -z "$t0" ] && t0=$med
  printf '%-44s %4s %13s %6s %7s  x%-5s %-5s (%s)\n' "$name" "$rcs" "$bytes" \
    "$($PY -c "print(f'{$bytes / $size:.3f}')")" "$med" \
    "$($PY -c "print(f'{$med / $t0:.2f}')")" "$oks" "${walls[*]}"
}
R=$((cuts + 5))
# warm-up (not shown): page cache, nginx, the relay
relay
"$NETTOOL" http-get -q "http://127.0.0.1:$RPORT/f.bin" -o "$tmp/out.bin" || true
kill "$RPID" 2>/dev/null || true
run "nettool, uninterrupted (T0)" 0 "$NETTOOL" http-get -q @URL@ -o "$tmp/out.bin"
run "nettool --retry $R --retry-delay 0.1, cut" 1 "$NETTOOL" http-get -q @URL@ \
  -o "$tmp/out.bin" --retry "$R" --retry-delay 0.1
run "nettool --retry $R --retry-delay 0.01, cut" 1 "$NETTOOL" http-get -q @URL@ \
  -o "$tmp/out.bin" --retry "$R" --retry-delay 0.01
run "curl --retry $R --retry-all-errors, cut" 1 curl -sS --retry "$R" \
  --retry-all-errors --retry-delay 1 -o "$tmp/out.bin" @URL@
run "curl -C - --retry $R --retry-all-errors, cut" 1 curl -sS -C - --retry "$R" \
  --retry-all-errors --retry-delay 1 -o "$tmp/out.bin" @URL@
run "curl, uninterrupted" 0 curl -sS -o "$tmp/out.bin" @URL@
run "nettool, uninterrupted (again: the noise)" 0 "$NETTOOL" http-get -q @URL@ -o "$tmp/out.bin"
echo "(curl's --retry-delay cannot go below 1 s: its waits add ${cuts} s or more to its wall time)"
