# shellcheck shell=bash
# Shared helpers for the integration scripts (sourced, bash only).
#
# Output convention: one "ok N - what" / "not ok N - what" line per check,
# "#   ..." diagnostics under failures, and a last line "P passed, F failed";
# the script exits non-zero when anything failed.
#
# Rules kept here: loopback only (127.0.0.1, ::1); every wait is bounded in
# count and time; only processes this script started are stopped, by PID.

T_N=0
T_PASS=0
T_FAIL=0
T_PIDS=()
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nt-itest.XXXXXX") || exit 1

ok() {
  T_N=$((T_N + 1))
  T_PASS=$((T_PASS + 1))
  echo "ok $T_N - $1"
}

# not_ok DESC [DIAGNOSTIC...]
not_ok() {
  T_N=$((T_N + 1))
  T_FAIL=$((T_FAIL + 1))
  echo "not ok $T_N - $1"
  shift
  local l
  for l in "$@"; do
    printf '%s\n' "$l" | head -n 20 | sed 's/^/#   /'
  done
}

# check DESC COMMAND... : ok when COMMAND succeeds.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

t_summary() {
  echo "$T_PASS passed, $T_FAIL failed"
  [ "$T_FAIL" -eq 0 ]
}

# Alive and not a zombie.
t_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# t_track PID: remember a process we started, for the cleanup.
t_track() { T_PIDS+=("$1"); }

# t_stop PID [SIGNAL]: signal a process we started, wait up to 3 s, then KILL.
t_stop() {
  local pid=$1 sig=${2:-TERM} i=0
  t_alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null
  while t_alive "$pid" && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
  t_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  return 0
}

# t_wait_exit PID MAX_TENTHS: 0 once PID has exited (zombie counts as
# exited), 1 if it is still running after MAX_TENTHS tenths of a second.
t_wait_exit() {
  local pid=$1 max=$2 i=0
  while t_alive "$pid"; do
    [ $i -ge "$max" ] && return 1
    sleep 0.1
    i=$((i + 1))
  done
  return 0
}

# t_wait_handler PID SIGNUM MAX_TENTHS: 0 once PID has a handler for signal
# SIGNUM installed (the SigCgt mask of /proc/PID/status), 1 if not within
# MAX_TENTHS tenths of a second. For tests that signal a program: a fixed
# sleep is too short under ASan on a busy machine.
t_wait_handler() {
  local pid=$1 sig=$2 max=$3 i=0 mask
  while :; do
    mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
    [ -n "$mask" ] && (((0x$mask >> (sig - 1)) & 1)) && return 0
    [ $i -ge "$max" ] && return 1
    sleep 0.1
    i=$((i + 1))
  done
}

t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do t_stop "$p"; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T_TMP"
}
trap t_cleanup EXIT

# t_wait_line FILE REGEX MAX_TENTHS: waits until FILE has a line matching the
# extended REGEX.
t_wait_line() {
  local f=$1 re=$2 max=$3 i=0
  while ! grep -Eq "$re" "$f" 2>/dev/null; do
    [ $i -ge "$max" ] && return 1
    sleep 0.1
    i=$((i + 1))
  done
  return 0
}

# ctime in brackets, as "[Sun Nov 22 15:11:00 2026]" (day padded with a
# space); SEP is what follows: ": " for nettool, " " for Twisted.
TS_RE_BASE='^\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}\]'

# t_check_replies OUTFILE SEP LINE... : OUTFILE holds exactly one line per
# LINE, in order, each "<ctime prefix>SEP<LINE>". Prints why on failure.
t_check_replies() {
  local out=$1 sep=$2
  shift 2
  local -a got
  mapfile -t got <"$out"
  if [ "${#got[@]}" -ne "$#" ]; then
    echo "expected $# lines, got ${#got[@]}"
    return 1
  fi
  local i=0 want line re="${TS_RE_BASE}${sep}"
  for want in "$@"; do
    line=${got[$i]}
    if ! [[ $line =~ $re ]]; then
      echo "line $((i + 1)) has no timestamp prefix: '$line'"
      return 1
    fi
    if [ "${line:${#BASH_REMATCH[0]}}" != "$want" ]; then
      echo "line $((i + 1)) is '$line', want '...${sep}${want}'"
      return 1
    fi
    i=$((i + 1))
  done
  return 0
}

# t_one_error_line FILE: exactly one line, starting with "nettool: ".
t_one_error_line() {
  [ "$(wc -l <"$1")" -eq 1 ] && head -n 1 "$1" | grep -q '^nettool: '
}

# Whether ::1 can be used.
t_have_ipv6() {
  grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}
