#!/usr/bin/env bash
# tests/bench/run.sh [--quick] [options] -- the nettool foundation benchmark.
#
# One command, one run on this machine:
#   1. configures and builds a Release tree in build-bench/ from the repo root
#      (cmake -G Ninja -DNT_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release, and
#      -DNT_BUILD_TESTS=OFF: benchmarks are not part of the test suite); if the
#      top-level project cannot be configured, the anchors are built alone from
#      tests/bench/standalone and the nettool rows read "n/a".  A nettool
#      binary that fails to build is never replaced by a stale one;
#   2. starts each server on a free loopback port:
#        nettool-echo   build-bench/tests/bench/echo_nettool PORT
#        nettool-ts     build-bench/nettool ts-server --tcp PORT --bind 127.0.0.1
#        nettool-echo-uring, nettool-ts-uring   the same on the io_uring
#                       backend (NETTOOL_BACKEND=io_uring; issue 14)
#        libuv-echo     echo_libuv PORT            (anchor, libuv1-dev)
#        libevent-echo  echo_libevent PORT         (anchor, libevent-dev)
#        twisted-echo   /usr/bin/python3 echo_twisted.py PORT   (anchor)
#        twisted-ts     /usr/bin/python3 ts_twisted.py PORT     (anchor)
#      A nettool binary that does not exist (yet) or fails to build gives a row
#      of "n/a"; it does not stop the run;
#   3. drives every server with the same closed-loop load generator (loadgen.c:
#      raw epoll, no nettool code) at 1, 50 and 1000 concurrent connections
#      with 64-byte messages, for --seconds after --warmup, --repeat rounds
#      (servers interleaved within a round), keeping each cell's best round;
#   4. measures resident memory per idle connection: a fresh instance of each
#      server, VmRSS from /proc/PID/status before and after loadgen opens
#      --idle connections (10,000) and pings each once; (after - before) / N;
#   5. prints a markdown table -- msgs/s at 1/50/1000, the ratio to each anchor
#      and bytes per idle connection -- then the targets and diagnostics.
#
# CPU pinning: this machine has 2 cores.  Every server runs pinned to CPU 0
# (taskset -c 0) and the load generator to CPU 1 (taskset -c 1), so a server
# never competes with its own load for a core and every server gets exactly
# one core -- a fair single-threaded comparison.  (Loopback TCP processing
# runs in softirq context on whichever CPU sends, so some of each side's
# kernel work lands on the other's core; that is the same for every server.)
# The machine must otherwise be quiet: anything else running steals cycles
# from one side.  The script warns when it sees background load; --repeat N
# keeps the best of N rounds, which filters out most interference, and a cell
# that other processes disturbed is re-run (--retries).
#
# Load-generator ceiling: loadgen pays the same kernel work per message as a
# lean C server (a send, a recv, a share of epoll_wait, and the peer's
# loopback receive path), about 6 us of CPU per message on this 2-vCPU VM, so
# one core of it tops out near 110-160k msgs/s.  A server at least that lean
# drives loadgen to a full core; the diagnostics table then marks the cell
# "loadgen-bound" or "both cores busy", its msgs/s is a lower bound, and the
# server's CPU microseconds per message (also shown) is the fairer comparison.
#
# Options:
#   --quick          2 s per cell after 0.5 s warm-up, 1 round
#   --seconds S      measured seconds per cell (default 5)
#   --warmup S       warm-up seconds per cell (default 1)
#   --repeat N       rounds; each cell keeps its best (default 3; --quick: 1)
#   --idle N         idle connections for the memory measurement (default 10000)
#   --size B         message size in bytes (default 64; e.g. 16384)
#   --conns LIST     concurrency levels (default "1 50 1000")
#   --servers LIST   subset of servers, e.g. "libuv-echo twisted-echo"
#   --retries N      re-run a cell up to N more times when other processes
#                    took more than 10% of a core during it (default 1)
#   --no-build       use the binaries already in build-bench/
#   --standalone     build only loadgen and the anchors (tests/bench/standalone),
#                    e.g. while the library is mid-edit; nettool rows read n/a
#   --build-dir DIR  build tree (default: <repo>/build-bench)
#   --workers LIST   also measure `ts-server --workers N` for each N in LIST
#                    (e.g. "1 2"), on epoll and on io_uring (one ring per
#                    worker): rows nettool-ts-wN, nettool-ts-uring-wN, and a
#                    scaling table (msgs/s and server CPU against N = the
#                    list's first). A row with N workers is pinned to CPUs
#                    0..N-1 and its loadgen to CPU N when the machine has
#                    more than N CPUs; else loadgen stays on CPU 1, so on a
#                    2-CPU machine N = 2 shares CPU 1 with loadgen (which is
#                    single-threaded and itself needs about a core): there,
#                    the table shows what 2 workers cost and give on this
#                    machine, not how they scale with free cores.
#                    --workers "1 2" --servers "" measures only those rows.
#
# Output: the table on stdout; every raw loadgen result and server log under
# build-bench/bench-logs/, and all samples in build-bench/bench-logs/samples.csv.
# Benchmarks are not part of the test suite.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3 # the system python with python3-twisted, not pyenv's

SECONDS_PER=5
WARMUP=1
REPEAT=3
REPEAT_SET=0
IDLE_N=10000
CONNS_LIST="1 50 1000"
SERVERS="nettool-echo nettool-echo-uring nettool-ts nettool-ts-uring libuv-echo libevent-echo twisted-echo twisted-ts"
RETRIES=1
DO_BUILD=1
STANDALONE=0
BUILD="$ROOT/build-bench"
MSG_SIZE=64
WORKERS_LIST=""

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
  --quick) SECONDS_PER=2; WARMUP=0.5; ((REPEAT_SET)) || REPEAT=1 ;;
  --seconds) SECONDS_PER=$2; shift ;;
  --warmup) WARMUP=$2; shift ;;
  --repeat) REPEAT=$2; REPEAT_SET=1; shift ;;
  --idle) IDLE_N=$2; shift ;;
  --size) MSG_SIZE=$2; shift ;;
  --conns) CONNS_LIST=$2; shift ;;
  --servers) SERVERS=$2; shift ;;
  --retries) RETRIES=$2; shift ;;
  --no-build) DO_BUILD=0 ;;
  --standalone) STANDALONE=1 ;;
  --build-dir) BUILD=$2; shift ;;
  --workers) WORKERS_LIST=$2; shift ;;
  -h | --help) usage; exit 0 ;;
  *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done
for v in "$SECONDS_PER" "$WARMUP"; do
  [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: bad number '$v'" >&2; exit 64; }
done
[[ $REPEAT =~ ^[1-9][0-9]?$ ]] || { echo "run.sh: bad --repeat '$REPEAT'" >&2; exit 64; }
[[ $IDLE_N =~ ^[0-9]+$ ]] || { echo "run.sh: bad --idle '$IDLE_N'" >&2; exit 64; }
[[ $MSG_SIZE =~ ^[1-9][0-9]*$ ]] && ((MSG_SIZE <= 1048576)) ||
  { echo "run.sh: bad --size '$MSG_SIZE'" >&2; exit 64; }
[[ $RETRIES =~ ^[0-9]$ ]] || { echo "run.sh: bad --retries '$RETRIES'" >&2; exit 64; }
for w in $WORKERS_LIST; do
  [[ $w =~ ^[1-9][0-9]?$ ]] || { echo "run.sh: bad --workers '$WORKERS_LIST' (numbers 1 to 99)" >&2; exit 64; }
  SERVERS+=" nettool-ts-w$w nettool-ts-uring-w$w"
done
SERVERS=$(echo $SERVERS) # trim
[[ -n $SERVERS ]] || { echo "run.sh: no servers to measure" >&2; exit 64; }

LOGS="$BUILD/bench-logs"
log() { printf '%s\n' "$*" >&2; }

# --- processes we started: killed by PID on any exit ---------------------------
PIDS=()
stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 2 s; only our own PIDs
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- CPU pinning -----------------------------------------------------------------
NCPU=$(nproc)
if ((NCPU >= 2)) && command -v taskset >/dev/null; then
  PIN_SRV=(taskset -c 0)
  PIN_LG=(taskset -c 1)
  PIN_NOTE="server on CPU 0, loadgen on CPU 1"
else
  PIN_SRV=()
  PIN_LG=()
  PIN_NOTE="no pinning (needs 2 CPUs and taskset): numbers are not comparable"
fi

# --- build -------------------------------------------------------------------------
rm -rf "${BUILD:?}/bench-logs"
mkdir -p "$BUILD" "$LOGS"
cd "$LOGS" # every path below is absolute; keep strays out of the tree
BIN=""
NETTOOL="" # set only when built by this run (or --no-build): never a stale binary
NETTOOL_NOTE=""
ECHO_NETTOOL=""
ECHO_NETTOOL_NOTE=""
if ((DO_BUILD)); then
  log "== building Release tree in $BUILD"
  if ((!STANDALONE)) &&
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DNT_BUILD_BENCH=ON -DNT_BUILD_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=Release >"$LOGS/configure.log" 2>&1; then
    BIN="$BUILD/tests/bench"
    cmake --build "$BUILD" --target loadgen >"$LOGS/build-loadgen.log" 2>&1 ||
      { cat "$LOGS/build-loadgen.log" >&2; log "run.sh: loadgen does not build"; exit 1; }
    for t in echo_libuv echo_libevent; do
      cmake --build "$BUILD" --target "$t" >"$LOGS/build-$t.log" 2>&1 ||
        log "warning: $t did not build (see $LOGS/build-$t.log)"
    done
    if cmake --build "$BUILD" --target nettool >"$LOGS/build-nettool.log" 2>&1; then
      NETTOOL="$BUILD/nettool"
    else
      NETTOOL_NOTE="nettool did not build (see $LOGS/build-nettool.log)"
      log "warning: $NETTOOL_NOTE"
    fi
    if [[ -e $HERE/echo_nettool.c ]]; then
      if cmake --build "$BUILD" --target echo_nettool >"$LOGS/build-echo_nettool.log" 2>&1; then
        ECHO_NETTOOL="$BIN/echo_nettool"
      else
        ECHO_NETTOOL_NOTE="echo_nettool did not build (see $LOGS/build-echo_nettool.log)"
        log "warning: $ECHO_NETTOOL_NOTE"
      fi
    fi
  else
    if ((STANDALONE)); then
      NETTOOL_NOTE="--standalone: nettool not built"
    else
      log "warning: the top-level project does not configure (see $LOGS/configure.log);"
      log "         building the anchors alone; nettool rows will read n/a"
      NETTOOL_NOTE="top-level project did not configure"
    fi
    SA="$BUILD/standalone"
    cmake -S "$HERE/standalone" -B "$SA" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      >"$LOGS/configure-standalone.log" 2>&1 &&
      cmake --build "$SA" --target bench_all >"$LOGS/build-standalone.log" 2>&1 ||
      { cat "$LOGS/configure-standalone.log" "$LOGS/build-standalone.log" >&2 2>/dev/null; exit 1; }
    BIN="$SA/bench"
  fi
else
  if ((!STANDALONE)) && [[ -x $BUILD/tests/bench/loadgen ]]; then
    BIN="$BUILD/tests/bench"
    [[ -x $BUILD/nettool ]] && NETTOOL="$BUILD/nettool"
    [[ -x $BIN/echo_nettool ]] && ECHO_NETTOOL="$BIN/echo_nettool"
  else
    BIN="$BUILD/standalone/bench"
  fi
fi
LOADGEN="$BIN/loadgen"
[[ -x $LOADGEN ]] || { log "run.sh: no loadgen at $LOADGEN"; exit 1; }

# --- file descriptors: servers and loadgen inherit this -----------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [[ $NOFILE != unlimited ]] && ((NOFILE < IDLE_N + 100)); then
  log "warning: RLIMIT_NOFILE is $NOFILE; measuring $((NOFILE - 100)) idle connections"
  IDLE_N=$((NOFILE - 100))
fi

# --- servers ---------------------------------------------------------------------------
# server_cmd NAME PORT: prints the command (one word per line), or nothing if unavailable.
server_cmd() {
  local name=$1 port=$2
  case "$name" in
  nettool-echo) [[ -n $ECHO_NETTOOL && -x $ECHO_NETTOOL ]] && printf '%s\n' "$ECHO_NETTOOL" "$port" ;;
  nettool-ts) [[ -n $NETTOOL && -x $NETTOOL ]] &&
    printf '%s\n' "$NETTOOL" ts-server --tcp "$port" --bind 127.0.0.1 ;;
  nettool-echo-uring) [[ -n $ECHO_NETTOOL && -x $ECHO_NETTOOL ]] &&
    printf '%s\n' env NETTOOL_BACKEND=io_uring "$ECHO_NETTOOL" "$port" ;;
  nettool-ts-uring) [[ -n $NETTOOL && -x $NETTOOL ]] &&
    printf '%s\n' env NETTOOL_BACKEND=io_uring "$NETTOOL" ts-server --tcp "$port" --bind 127.0.0.1 ;;
  nettool-ts-w[0-9]*) [[ -n $NETTOOL && -x $NETTOOL ]] &&
    printf '%s\n' env NETTOOL_BACKEND=epoll "$NETTOOL" ts-server --tcp "$port" --bind 127.0.0.1 \
      --workers "${name##*-w}" ;;
  nettool-ts-uring-w[0-9]*) [[ -n $NETTOOL && -x $NETTOOL ]] &&
    printf '%s\n' env NETTOOL_BACKEND=io_uring "$NETTOOL" ts-server --tcp "$port" --bind 127.0.0.1 \
      --workers "${name##*-w}" ;;
  libuv-echo) [[ -x $BIN/echo_libuv ]] && printf '%s\n' "$BIN/echo_libuv" "$port" ;;
  libevent-echo) [[ -x $BIN/echo_libevent ]] && printf '%s\n' "$BIN/echo_libevent" "$port" ;;
  twisted-echo) "$PY" -c 'import twisted' 2>/dev/null &&
    printf '%s\n' "$PY" "$HERE/echo_twisted.py" "$port" ;;
  twisted-ts) "$PY" -c 'import twisted' 2>/dev/null &&
    printf '%s\n' "$PY" "$HERE/ts_twisted.py" "$port" ;;
  *) return 1 ;;
  esac
}
kind_of() { case "$1" in *-ts | *-ts-uring | *-ts-w[0-9]* | *-ts-uring-w[0-9]*) echo ts ;; *) echo echo ;; esac; }
# pin_of NAME: the taskset prefix for a server (one word per line): CPU 0,
# or CPUs 0..N-1 for a row with N workers.
pin_of() {
  local n
  ((${#PIN_SRV[@]})) || return 0
  if [[ $1 =~ -w([0-9]+)$ ]] && ((BASH_REMATCH[1] > 1)); then
    n=${BASH_REMATCH[1]}
    ((n > NCPU)) && n=$NCPU
    printf '%s\n' taskset -c "0-$((n - 1))"
  else
    printf '%s\n' "${PIN_SRV[@]}"
  fi
}
# lg_pin_of NAME: loadgen's taskset prefix for that server's cells: CPU N
# beside a row with N workers when there is one free, else CPU 1.
lg_pin_of() {
  ((${#PIN_LG[@]})) || return 0
  if [[ $1 =~ -w([0-9]+)$ ]] && ((BASH_REMATCH[1] > 1 && NCPU > BASH_REMATCH[1])); then
    printf '%s\n' taskset -c "${BASH_REMATCH[1]}"
  else
    printf '%s\n' "${PIN_LG[@]}"
  fi
}

free_port() {
  "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

SRV_PID=""
SRV_PORT=""
# start_server NAME TAG: starts it pinned, waits until it answers a ping (10 s max).
start_server() {
  local name=$1 tag=$2 port i
  local -a cmd pin
  port=$(free_port)
  mapfile -t cmd < <(server_cmd "$name" "$port")
  ((${#cmd[@]})) || return 1
  mapfile -t pin < <(pin_of "$name")
  "${pin[@]}" "${cmd[@]}" >"$LOGS/$name.$tag.log" 2>&1 &
  SRV_PID=$!
  SRV_PORT=$port
  PIDS+=("$SRV_PID")
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      log "warning: $name exited at start (see $LOGS/$name.$tag.log)"
      return 1
    fi
    if "$LOADGEN" --port "$port" --idle 1 --hold 0 --connect-timeout 1 \
      >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  log "warning: $name does not answer on port $port"
  stop_pid "$SRV_PID"
  return 1
}

cpu_ticks() { # user+system clock ticks of PID
  sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
getkey() { sed -n "s/^$1=//p" "$2" | head -n1; }

busy_fraction() { # fraction of all CPUs busy over the next second
  local a b
  a=$(head -n1 /proc/stat)
  sleep 1
  b=$(head -n1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x); split(b, y); tot = 0
    for (i = 2; i <= n; i++) tot += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.2f", (tot > 0 ? 1 - idle / tot : 0) }'
}

CLK_TCK=$(getconf CLK_TCK)
declare -A BEST SRVCPU LGCPU OTHER FLAG IDLEB NOTE
AVAIL=()

# --- throughput --------------------------------------------------------------------
BUSY0=$(busy_fraction)
log "== machine: $NCPU CPUs, $PIN_NOTE; background load before start: $(awk -v b="$BUSY0" 'BEGIN{printf "%d%%", b*100}')"
awk -v b="$BUSY0" 'BEGIN{exit !(b > 0.10)}' &&
  log "warning: the machine is busy; numbers will be noisy (more --repeat helps)"

declare -A PORT_OF PID_OF
for s in $SERVERS; do
  server_cmd "$s" 0 >/dev/null || { NOTE[$s]="not built"; continue; }
  if start_server "$s" tput; then
    PORT_OF[$s]=$SRV_PORT
    PID_OF[$s]=$SRV_PID
    AVAIL+=("$s")
  else
    NOTE[$s]="did not start"
  fi
done

cpu_busy_ticks() { # user+nice+system ticks of all CPUs (irq/softirq excluded, as from a process's times)
  awk '/^cpu / {print $2 + $3 + $4; exit}' /proc/stat
}
# run_cell SERVER CONNS ROUND TRY: one loadgen run; sets MPS SCPU LGC ERR FOREIGN OK
run_cell() {
  local s=$1 c=$2 r=$3 try=$4 pid=${PID_OF[$1]} out t0 t1 s0 s1 b0 b1 rc=0
  local -a rl=() lgpin
  mapfile -t lgpin < <(lg_pin_of "$s")
  out="$LOGS/tput.$s.c$c.r$r.t$try.txt"
  [[ $(kind_of "$s") == echo ]] && rl=(--reply-len "$MSG_SIZE")
  t0=$(cpu_ticks "$pid")
  b0=$(cpu_busy_ticks)
  s0=$(date +%s.%N)
  "${lgpin[@]}" "$LOADGEN" --port "${PORT_OF[$s]}" --conns "$c" --size "$MSG_SIZE" \
    --seconds "$SECONDS_PER" --warmup "$WARMUP" "${rl[@]}" >"$out" 2>&1 || rc=$?
  s1=$(date +%s.%N)
  b1=$(cpu_busy_ticks)
  t1=$(cpu_ticks "$pid")
  OK=1
  if [[ -z $t1 ]]; then
    log "warning: $s died during the $c-connection run (see $LOGS/$s.tput.log)"
    t1=$t0
    OK=0
  fi
  ((rc == 0)) || OK=0
  MPS=$(getkey msgs_per_sec "$out")
  MPS=${MPS:-0}
  LGC=$(getkey loadgen_cpu "$out")
  LGC=${LGC:-0}
  ERR=$(getkey errors "$out")
  [[ ${ERR:-0} == 0 ]] || OK=0
  # Server CPU as a fraction of one core over the whole loadgen run, and the
  # CPU time taken by anything other than the server and loadgen, in cores.
  read -r SCPU FOREIGN < <(awk -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" -v hz="$CLK_TCK" \
    -v b0="$b0" -v b1="$b1" -v lg="$(getkey loadgen_cpu_total_sec "$out")" 'BEGIN{
      d = s1 - s0; if (d <= 0) d = 1
      srv = (b - a) / hz; other = (b1 - b0) / hz - srv - lg; if (other < 0) other = 0
      printf "%.2f %.2f\n", srv / d, other / d }')
  echo "$s,$r,$try,$c,$MPS,$SCPU,$LGC,$FOREIGN,${ERR:-},$(getkey reply_len "$out"),$(getkey p50_us "$out"),$(getkey p99_us "$out")" >>"$LOGS/samples.csv"
  log "   round $r  $(printf '%-14s %5s conns: %10s msgs/s  (cpu: server %s, loadgen %s, other %s)' "$s" "$c" "$MPS" "$SCPU" "$LGC" "$FOREIGN")"
}

echo "server,round,try,conns,msgs_per_sec,server_cpu,loadgen_cpu,other_cpu,errors,reply_len,p50_us,p99_us" >"$LOGS/samples.csv"
for ((r = 1; r <= REPEAT; r++)); do
  for c in $CONNS_LIST; do
    for s in "${AVAIL[@]}"; do
      kill -0 "${PID_OF[$s]}" 2>/dev/null || continue
      for ((try = 0; try <= RETRIES; try++)); do
        run_cell "$s" "$c" "$r" "$try"
        key="$s|$c"
        if [[ -z ${BEST[$key]:-} ]] || awk -v a="$MPS" -v b="${BEST[$key]}" 'BEGIN{exit !(a > b)}'; then
          BEST[$key]=$MPS
          SRVCPU[$key]=$SCPU
          LGCPU[$key]=$LGC
          OTHER[$key]=$FOREIGN
          FLAG[$key]=""
          ((OK)) || FLAG[$key]="!"
        fi
        # Retry only a run that other processes disturbed.
        awk -v f="$FOREIGN" 'BEGIN{exit !(f > 0.10)}' || break
        ((try < RETRIES)) && log "   (other processes took ${FOREIGN} of a core: retrying)"
      done
    done
  done
done
for s in "${AVAIL[@]}"; do
  stop_pid "${PID_OF[$s]}"
done

# --- idle memory -----------------------------------------------------------------------
if ((IDLE_N > 0)); then
  log "== idle memory: $IDLE_N connections per server, fresh instances"
  for s in "${AVAIL[@]}"; do
    if ! start_server "$s" idle; then
      IDLEB[$s]="n/a"
      continue
    fi
    spid=$SRV_PID
    sleep 0.5
    rss0=$(rss_kb "$spid")
    out="$LOGS/idle.$s.txt"
    "${PIN_LG[@]}" "$LOADGEN" --port "$SRV_PORT" --idle "$IDLE_N" --hold 120 --size "$MSG_SIZE" \
      >"$out" 2>&1 &
    lpid=$!
    PIDS+=("$lpid")
    ok=0
    for ((i = 0; i < 1200; i++)); do # up to 120 s to connect and ping them all
      if grep -q '^idle_ready=' "$out" 2>/dev/null; then ok=1; break; fi
      kill -0 "$lpid" 2>/dev/null || break
      sleep 0.1
    done
    if ((ok)); then
      sleep 1 # let the server settle
      rss1=$(rss_kb "$spid")
      IDLEB[$s]=$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE_N" 'BEGIN{printf "%.0f", (b - a) * 1024 / n}')
      log "   $(printf '%-14s VmRSS %s kB -> %s kB: %s B/conn' "$s" "$rss0" "$rss1" "${IDLEB[$s]}")"
    else
      IDLEB[$s]="n/a"
      log "warning: $s: idle connections not established (see $out)"
    fi
    stop_pid "$lpid"
    stop_pid "$spid"
  done
fi
BUSY1=$(busy_fraction)

# --- report ---------------------------------------------------------------------------
ratio() { # ratio A B -> "1.23" or "n/a"
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN{ if (a == "" || b == "" || b + 0 <= 0 || a + 0 <= 0) print "n/a"; else printf "%.2f", a / b }'
}
cell() { # cell SERVER CONNS: best msgs/s, formatted
  local k="$1|$2"
  [[ -n ${BEST[$k]:-} ]] || { echo "n/a"; return; }
  awk -v v="${BEST[$k]}" -v f="${FLAG[$k]}" 'BEGIN{printf "%.0f%s", v, f}'
}
twisted_for() { [[ $(kind_of "$1") == ts ]] && echo twisted-ts || echo twisted-echo; }
ratios() { # ratios SERVER ANCHOR: "r1 / r50 / r1000"
  local s=$1 a=$2 c out=""
  if [[ $s == "$a" ]]; then echo "—"; return; fi
  for c in $CONNS_LIST; do
    out+="${out:+ / }$(ratio "${BEST[$s|$c]:-}" "${BEST[$a|$c]:-}")"
  done
  echo "$out"
}

hdr="| server |"
sep="|---|"
for c in $CONNS_LIST; do hdr+=" msgs/s @$c |"; sep+="---:|"; done
clist=$(echo "$CONNS_LIST" | tr ' ' '/')
hdr+=" vs libuv ($clist) | vs libevent ($clist) | vs Twisted ($clist) | B/idle conn |"
sep+="---|---|---|---:|"

echo
echo "## nettool benchmark — $(date '+%Y-%m-%d %H:%M'), $(uname -r), $NCPU CPUs"
echo
echo "${MSG_SIZE}-byte messages, closed loop, ${SECONDS_PER} s per cell after ${WARMUP} s warm-up, best of $REPEAT round(s); $PIN_NOTE; idle memory at $IDLE_N connections."
echo
echo "$hdr"
echo "$sep"
for s in $SERVERS; do
  row="| $s |"
  for c in $CONNS_LIST; do row+=" $(cell "$s" "$c") |"; done
  if [[ -n ${BEST[$s|${CONNS_LIST%% *}]:-} ]]; then
    row+=" $(ratios "$s" libuv-echo) | $(ratios "$s" libevent-echo) | $(ratios "$s" "$(twisted_for "$s")") |"
  else
    row+=" n/a | n/a | n/a |"
  fi
  row+=" ${IDLEB[$s]:-n/a} |"
  echo "$row"
done
echo
echo "Ratios are msgs/s of the row over the anchor's at the same concurrency. \"vs Twisted\" compares echo rows with twisted-echo and timestamp rows with twisted-ts. B/idle conn: (VmRSS with $IDLE_N idle connections - VmRSS before) / $IDLE_N. \"!\" marks a cell whose run reported errors (see bench-logs)."
for s in $SERVERS; do
  [[ -n ${NOTE[$s]:-} ]] || continue
  why=${NOTE[$s]}
  [[ $s == nettool-ts && -n $NETTOOL_NOTE ]] && why+="; $NETTOOL_NOTE"
  [[ $s == nettool-echo && -n $ECHO_NETTOOL_NOTE ]] && why+="; $ECHO_NETTOOL_NOTE"
  [[ $s == nettool-echo && ! -e $HERE/echo_nettool.c ]] && why+="; tests/bench/echo_nettool.c not written yet"
  echo "- $s: n/a ($why)"
done

# Targets: nettool rows at 50 and 1000 connections.
echo
echo "### Targets (msgs/s >= 1.2x libuv and >= 3x Twisted at 50 and 1000 connections; <= 256 B per idle connection)"
echo
verdict() { # verdict VALUE MIN|MAX LIMIT
  awk -v v="$1" -v m="$2" -v l="$3" 'BEGIN{
    if (v == "n/a" || v == "") { print "n/a"; exit }
    ok = (m == "min") ? (v + 0 >= l + 0) : (v + 0 <= l + 0)
    print (ok ? "PASS" : "FAIL") }'
}
for s in nettool-echo nettool-echo-uring nettool-ts nettool-ts-uring; do
  [[ " $SERVERS " == *" $s "* ]] || continue
  if [[ -z ${BEST[$s|${CONNS_LIST%% *}]:-} ]]; then
    echo "- $s: n/a (not measured)"
    continue
  fi
  line="- $s:"
  tw=$(twisted_for "$s")
  for c in 50 1000; do
    ru=$(ratio "${BEST[$s|$c]:-}" "${BEST[libuv-echo|$c]:-}")
    rt=$(ratio "${BEST[$s|$c]:-}" "${BEST[$tw|$c]:-}")
    line+=" @$c vs libuv ${ru}x $(verdict "$ru" min 1.2), vs $tw ${rt}x $(verdict "$rt" min 3);"
    line=${line//n\/ax/n\/a}
  done
  ib=${IDLEB[$s]:-n/a}
  line+=" idle ${ib} B/conn $(verdict "$ib" max 256)"
  echo "$line"
done

# Diagnostics: who was the bottleneck.  Each cell of the best run: CPU used
# (fractions of one core) by the server, by loadgen and by anything else, and
# the server's CPU time per message -- an efficiency figure that still
# compares servers when the load generator, not the server, set the pace.
echo
echo "### Diagnostics (best run per cell: CPU in cores for server / loadgen / other processes; server CPU µs per message)"
echo
dh="| server |"
ds="|---|"
for c in $CONNS_LIST; do dh+=" @$c |"; ds+="---|"; done
echo "$dh"
echo "$ds"
LGBOUND=0
NOISY=0
for s in "${AVAIL[@]}"; do
  row="| $s |"
  for c in $CONNS_LIST; do
    k="$s|$c"
    if [[ -n ${BEST[$k]:-} ]]; then
      mark=$(awk -v l="${LGCPU[$k]}" -v s="${SRVCPU[$k]}" -v o="${OTHER[$k]}" 'BEGIN{
        m = ""
        if (l >= 0.90) m = (s >= 0.85) ? " both cores busy" : " loadgen-bound"
        if (o > 0.10) m = m " noisy"
        print m }')
      [[ $mark == *loadgen-bound* || $mark == *both* ]] && LGBOUND=1
      [[ $mark == *noisy* ]] && NOISY=1
      us=$(awk -v c="${SRVCPU[$k]}" -v m="${BEST[$k]}" 'BEGIN{printf "%.1f", (m > 0 ? c / m * 1e6 : 0)}')
      row+=" ${SRVCPU[$k]} / ${LGCPU[$k]} / ${OTHER[$k]}; ${us} µs${mark} |"
    else
      row+=" n/a |"
    fi
  done
  echo "$row"
done

# io_uring (issue 14): server CPU per message against libuv's and against
# the same program on epoll, the efficiency figures that still compare when
# loadgen sets the pace. Target: >= 1.5x libuv at 50 and 1000 connections.
us_per_msg() { # SERVER CONNS -> server CPU microseconds per message, or empty
  local k="$1|$2"
  [[ -n ${BEST[$k]:-} ]] || return 0
  awk -v c="${SRVCPU[$k]}" -v m="${BEST[$k]}" 'BEGIN{ if (m > 0 && c > 0) printf "%.3f", c / m * 1e6 }'
}
uring_rows=""
for s in nettool-echo-uring nettool-ts-uring; do
  [[ " ${AVAIL[*]} " == *" $s "* ]] && uring_rows+=" $s"
done
if [[ -n $uring_rows ]]; then
  echo
  echo "### io_uring: server CPU per message (libuv's / the row's: > 1 means the row uses less; target >= 1.5 at 50 and 1000)"
  echo
  for s in $uring_rows; do
    epoll_row=${s%-uring}
    line="- $s:"
    for c in $CONNS_LIST; do
      u=$(us_per_msg "$s" "$c")
      l=$(us_per_msg libuv-echo "$c")
      e=$(us_per_msg "$epoll_row" "$c")
      line+=" @$c ${u:-n/a} µs/msg, vs libuv $(ratio "$l" "$u")x"
      [[ $c == 50 || $c == 1000 ]] && line+=" $(verdict "$(ratio "$l" "$u")" min 1.5)"
      line+=", vs $epoll_row $(ratio "$e" "$u")x;"
    done
    echo "${line//n\/ax/n\/a}"
  done
fi

# Workers (issue 14): ts-server --workers N against the list's first N, per
# backend: msgs/s, server CPU (cores) and CPU per message.
if [[ -n $WORKERS_LIST ]]; then
  w0=${WORKERS_LIST%% *}
  echo
  echo "### Workers: ts-server --workers N (N workers pinned to CPUs 0..N-1, loadgen on CPU N if there is one, else CPU 1; msgs/s, x vs N=$w0, server CPU in cores, µs/msg, loadgen CPU)"
  echo
  for be in ts ts-uring; do
    for w in $WORKERS_LIST; do
      s=nettool-$be-w$w
      line="- $s:"
      for c in $CONNS_LIST; do
        k="$s|$c"
        if [[ -z ${BEST[$k]:-} ]]; then line+=" @$c n/a;"; continue; fi
        line+=" @$c $(cell "$s" "$c") msgs/s ($(ratio "${BEST[$k]}" "${BEST[nettool-$be-w$w0|$c]:-}")x), server ${SRVCPU[$k]}, $(us_per_msg "$s" "$c") µs/msg, loadgen ${LGCPU[$k]};"
      done
      echo "${line//n\/ax/n\/a}"
    done
  done
  if ((NCPU <= 2)); then
    echo
    echo "Note: $NCPU CPUs: with more than one worker the server shares a CPU with loadgen, which needs most of one; the rows say what workers cost here, not how they scale (docs/DESIGN.md has the model)."
  fi
fi

echo
echo "Background load: $(awk -v b="$BUSY0" 'BEGIN{printf "%d%%", b*100}') of all CPUs before the run, $(awk -v b="$BUSY1" 'BEGIN{printf "%d%%", b*100}') after. Raw results: $LOGS/"
if ((LGBOUND)); then
  echo "Note: \"loadgen-bound\" / \"both cores busy\": loadgen used ~a whole core, so that cell's msgs/s is a lower bound for the server; compare servers there by µs per message as well."
fi
if ((NOISY)); then
  echo "Note: \"noisy\": other processes used more than 10% of a core during the best run; rerun on a quiet machine (or raise --repeat)."
fi
exit 0
