#!/usr/bin/env bash
# Retry-with-resume benchmark (issue 12; not part of the suite): one file
# served by nginx on loopback, fetched through tests/bench/cut_relay.c (or
# RELAY=py: tests/integration/cut_relay.py), which resets the connection
# every CUT_MIB MiB of data it carried (SIZE/CUT
# cuts in all, then it lets everything through). Rows, same run, same relay:
#   A nettool http-get, uninterrupted (the anchor: T0)
#   B nettool http-get --retry through the cuts (resumes: Range + If-Range;
#     the default --retry-delay: an attempt that moved data retries at once)
#   C curl -C - --retry --retry-all-errors through the cuts
#   D curl --retry --retry-all-errors through the cuts (starts over)
#   E curl uninterrupted
# The machine may be shared and loaded, so the rows are INTERLEAVED: each of
# RUNS rounds runs A, B, C, D, E once (a fresh relay each), so a burst of
# load hits all rows alike; each row's median wall time is compared with A's
# (ratio of medians), each round's B/A too (the median of those ratios is
# the steadier figure). Bytes on the wire: server -> client, counted by the
# relay. Files on /dev/shm; every result's sha256 is checked.
# Targets for nettool (B): bytes <= 1.05 x size, wall <= 1.1 x T0.
#   [RUNS=5] [CURL=0] tests/bench/resume_bench.sh [SIZE_MIB] [CUT_MIB]
#   (defaults: 1024, 100; CURL=0 leaves out rows C-E, for a quick look)
# NETTOOL=path uses that binary instead of building build/bench-resume.
set -euo pipefail
mib=${1:-1024}
cut_mib=${2:-100}
runs=${RUNS:-5}
with_curl=${CURL:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/bench_lib.sh
bench_need curl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is needed (scripts/install-deps.sh bench: nginx-light)"; exit 1; }
bench_nettool "$root/build/bench-resume"
PY=/usr/bin/python3
# on tmpfs: the disk (and http-get's fsync before the rename) must not decide
tmp=$(bench_shm)
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/www" "$tmp/ngx/tmp"
echo "making a $mib MiB file..." >&2
head -c $((mib * 1024 * 1024)) /dev/urandom >"$tmp/www/f.bin"
size=$(stat -c %s "$tmp/www/f.bin")
sha=$(sha256sum <"$tmp/www/f.bin" | cut -d' ' -f1)
# nginx on a port of 45000-45999 (this benchmark's range; it lies in the
# kernel's ephemeral range, so a port may be some connection's local port:
# bind fails then, and another one is tried)
start_nginx() {
  local port=$1
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
  local pid=$!
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 1; }
    if curl -s -o /dev/null -r 0-0 "http://127.0.0.1:$port/f.bin"; then
      pids+=("$pid")
      return 0
    fi
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}
port=""
for _ in $(seq 10); do
  p=$((45000 + RANDOM % 1000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi # someone listens
  if start_nginx "$p"; then port=$p; break; fi
done
[ -n "$port" ] || { echo "nginx did not start on a port of 45000-45999: $(tail -n 2 "$tmp/ngx/error.log")"; exit 1; }

# The relay: tests/bench/cut_relay.c (splice, no copy: what a cut costs is
# the client's) unless RELAY=py (tests/integration/cut_relay.py, the tests'
# relay: its copy loop is slower than the transfer it carries).
if [ "${RELAY:-c}" = py ]; then
  RELAY_CMD=($PY tests/integration/cut_relay.py)
else
  ${CC:-cc} -O2 -pthread -o "$tmp/cut_relay" tests/bench/cut_relay.c
  RELAY_CMD=("$tmp/cut_relay")
fi
n=0
# relay [ARGS...]: a fresh relay; sets RPORT, RSTATS, RPID
relay() {
  n=$((n + 1))
  RSTATS=$tmp/relay$n.json
  "${RELAY_CMD[@]}" --listen-port-file "$tmp/relay$n.port" \
    --target "127.0.0.1:$port" --stats "$RSTATS" "$@" &
  RPID=$!
  pids+=("$RPID")
  for _ in $(seq 50); do [ -s "$tmp/relay$n.port" ] && break; sleep 0.1; done
  RPORT=$(cat "$tmp/relay$n.port")
}
down() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))['down'])" "$RSTATS"; }
# dead: what the cuts cost the client (the C relay times them), as
# "reconnect-ms,first-byte-ms;..." per cut, or "-"
dead() {
  $PY -c "import json,sys; j=json.load(open(sys.argv[1])); r=j.get('reconnect_ms',[]); f=j.get('first_byte_ms',[]); print(';'.join('%.3f,%.3f' % p for p in zip(r, f)) or '-')" "$RSTATS"
}

cuts=$(((mib - 1) / cut_mib))
every=$((cut_mib * 1024 * 1024))
printf '%s, %d MiB file, a cut every %d MiB (%d cuts), loopback, %s relay, nginx %s, %s\n' \
  "$(date -u +%Y-%m-%d)" "$mib" "$cut_mib" "$cuts" "${RELAY:-c}" "$("$NGINX" -v 2>&1 | sed 's/.*\///')" \
  "$(curl --version | head -n 1 | cut -d' ' -f1-2)"

# once NAME CUT(0/1) CMD...: one run through a fresh relay; appends
# "NAME<TAB>rc<TAB>wall<TAB>bytes<TAB>sha-ok" to $res. @URL@ in CMD is the
# relay's URL.
res=$tmp/results.tsv
: >"$res"
once() {
  local name=$1 cut=$2
  shift 2
  rm -f "$tmp/out.bin" "$tmp/out.bin.part" "$tmp/out.bin.part.state"
  if [ "$cut" = 1 ]; then relay --cut-every "$every" --cuts "$cuts"; else relay; fi
  local s e rc=0 a args=() ok=1
  for a in "$@"; do args+=("${a//@URL@/http://127.0.0.1:$RPORT/f.bin}"); done
  s=$(date +%s.%N)
  "${args[@]}" >/dev/null 2>"$tmp/err" || rc=$?
  e=$(date +%s.%N)
  sleep 0.3 # the relay writes its stats when the connection ends
  { [ -f "$tmp/out.bin" ] && [ "$(sha256sum <"$tmp/out.bin" | cut -d' ' -f1)" = "$sha" ]; } || ok=0
  kill "$RPID" 2>/dev/null || true
  wait "$RPID" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$($PY -c "print(f'{$e - $s:.3f}')")" "$(down)" "$ok" \
    "$(dead)" >>"$res"
}
R=$((cuts + 5))
A="nettool, uninterrupted (T0)"
B="nettool --retry $R, cut"
C="curl -C - --retry $R --retry-all-errors, cut"
D="curl --retry $R --retry-all-errors, cut"
E="curl, uninterrupted"
# warm-up (not shown): page cache, nginx, the relay
relay
"$NETTOOL" http-get -q "http://127.0.0.1:$RPORT/f.bin" -o "$tmp/out.bin" || true
kill "$RPID" 2>/dev/null || true
for i in $(seq "$runs"); do
  echo "round $i of $runs..." >&2
  once "$A" 0 "$NETTOOL" http-get -q @URL@ -o "$tmp/out.bin"
  once "$B" 1 "$NETTOOL" http-get -q @URL@ -o "$tmp/out.bin" --retry "$R"
  if [ "$with_curl" = 1 ]; then
    once "$C" 1 curl -sS -C - --retry "$R" --retry-all-errors --retry-delay 1 -o "$tmp/out.bin" @URL@
    once "$D" 1 curl -sS --retry "$R" --retry-all-errors --retry-delay 1 -o "$tmp/out.bin" @URL@
    once "$E" 0 curl -sS -o "$tmp/out.bin" @URL@
  fi
done
$PY - "$res" "$size" "$A" "$B" "$E" "$C" <<'PYEOF'
import sys, statistics as st
rows = {}
deads = {}
order = []
for line in open(sys.argv[1]):
    name, rc, wall, down, ok, dead = line.rstrip("\n").split("\t")
    if name not in rows:
        rows[name] = []
        order.append(name)
    rows[name].append((int(rc), float(wall), int(down), ok == "1"))
    if dead != "-":
        deads.setdefault(name, []).append([tuple(map(float, p.split(","))) for p in dead.split(";")])
size = int(sys.argv[2])
a, b, e, c = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
t0 = st.median(w for _, w, _, _ in rows[a])
print(f"{'row (%d interleaved runs each)' % len(rows[a]):<44} {'exit':>4} {'bytes':>13} {'xsize':>6} "
      f"{'wall s':>7}  {'xT0':<6} {'sha':<5} (each wall s)")
for name in order:
    r = rows[name]
    rcs = max(x[0] for x in r)
    down = int(st.median(x[2] for x in r))
    wall = st.median(x[1] for x in r)
    sha = "same" if all(x[3] for x in r) else "DIFFERENT"
    print(f"{name:<44} {rcs:>4} {down:>13} {down / size:>6.3f} {wall:>7.2f}  x{wall / t0:<5.2f} "
          f"{sha:<5} ({' '.join('%.2f' % x[1] for x in r)})")
pairs = [rb[1] / ra[1] for ra, rb in zip(rows[a], rows[b])]
print(f"nettool cut / uninterrupted: ratio of medians x{st.median(x[1] for x in rows[b]) / t0:.3f}; "
      f"median of the per-round ratios x{st.median(pairs):.3f} "
      f"(rounds: {' '.join('%.2f' % p for p in pairs)}); target <= 1.1")
print(f"nettool bytes on the wire through the cuts: x{st.median(x[2] for x in rows[b]) / size:.4f} "
      f"the file (target <= 1.05)")
if b in deads:
    # timed by the relay: load on the machine stretches the whole transfer,
    # these only by what they are
    cuts = [c for run in deads[b] for c in run]
    per_run = [sum(r + f for r, f in run) / 1e3 for run in deads[b]]
    print(f"what a cut costs nettool (timed by the relay, {len(cuts)} cuts): reconnect "
          f"{st.median(r for r, _ in cuts):.2f} ms (max {max(r for r, _ in cuts):.2f}), then first byte "
          f"{st.median(f for _, f in cuts):.2f} ms (max {max(f for _, f in cuts):.2f}); dead time per run "
          f"{st.median(per_run) * 1e3:.1f} ms = x{1 + st.median(per_run) / t0:.4f} of T0")
if e in rows and c in rows:
    te = st.median(x[1] for x in rows[e])
    print(f"curl -C - cut / curl uninterrupted: x{st.median(x[1] for x in rows[c]) / te:.3f} "
          f"(its --retry-delay cannot go below 1 s: a second per cut)")
PYEOF
