#!/usr/bin/env bash
# twisted_interop.sh NETTOOL [EMBED_ECHO] -- nettool's timestamp client and
# server against the Twisted originals (peers/tsTservTW.py, peers/tsTclntTW.py,
# copied from the shared peer kit). Needs python3-twisted for /usr/bin/python3
# and fails loudly without it (the project's test command installs it).
# Prints ok/not ok per check and "N passed, N failed" last.
set -u
shopt -s lastpipe
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NETTOOL=${1:?usage: twisted_interop.sh NETTOOL [EMBED_ECHO]}
PY=/usr/bin/python3
PEERS=$HERE/peers
CT=15

if [ ! -x "$NETTOOL" ]; then
  not_ok "nettool binary exists" "not executable: $NETTOOL"
  t_summary
  exit 1
fi
if ! "$PY" -c 'import twisted.internet.reactor' 2>"$T_TMP/tw.err"; then
  not_ok "python3-twisted is importable by $PY (install: apt-get install python3-twisted)" "$(cat "$T_TMP/tw.err")"
  t_summary
  exit 1
fi
ok "python3-twisted $("$PY" -c 'import twisted; print(twisted.__version__)') is available"

# listen_port_of PID: the TCP port PID listens on (from /proc), or nothing.
listen_port_of() {
  "$PY" - "$1" <<'EOF'
import os, sys
pid = sys.argv[1]
inodes = set()
try:
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
except OSError:
    sys.exit(0)
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if f[3] == "0A" and f[9] in inodes:  # LISTEN
            print(int(f[1].rsplit(":", 1)[1], 16))
            sys.exit(0)
EOF
}

# start_twisted_server NAME HOST: sets TW_PID and TW_PORT.
start_twisted_server() {
  local name=$1 host=$2 i=0
  "$PY" "$PEERS/tsTservTW.py" 0 "$host" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
  TW_PID=$!
  t_track "$TW_PID"
  TW_PORT=
  while [ -z "$TW_PORT" ]; do
    if [ $i -ge 100 ] || ! t_alive "$TW_PID"; then return 1; fi
    sleep 0.1
    i=$((i + 1))
    TW_PORT=$(listen_port_of "$TW_PID")
  done
  return 0
}

# start_nettool_server NAME BIND: sets NT_PID and NT_PORT.
start_nettool_server() {
  local name=$1 bind=$2 i=0
  "$NETTOOL" ts-server --tcp 0 --bind "$bind" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
  NT_PID=$!
  t_track "$NT_PID"
  while ! grep -q '^listening on tcp ' "$T_TMP/$name.out" 2>/dev/null; do
    if [ $i -ge 50 ] || ! t_alive "$NT_PID"; then return 1; fi
    sleep 0.1
    i=$((i + 1))
  done
  NT_PORT=$(sed -n 's/^listening on tcp .*:\([0-9][0-9]*\)$/\1/p' "$T_TMP/$name.out")
  [ -n "$NT_PORT" ]
}

# our_client_vs_twisted HOST LABEL
our_client_vs_twisted() {
  local host=$1 label=$2
  if ! start_twisted_server "tws$label" "$host"; then
    not_ok "Twisted tsTservTW.py starts on $host" "$(cat "$T_TMP/tws$label.out" "$T_TMP/tws$label.err")"
    return
  fi
  ok "Twisted tsTservTW.py listens on $host port $TW_PORT"
  printf 'hello twisted\nsecond line\n  spaced  out  \nlast: one\n' |
    timeout "$CT" "$NETTOOL" ts-client "$host" "$TW_PORT" >"$T_TMP/c$label.out" 2>"$T_TMP/c$label.err"
  local rc=$? why
  if [ "$rc" -ne 0 ]; then
    not_ok "nettool ts-client gets Twisted's replies ($label)" "exit $rc" "stderr: $(cat "$T_TMP/c$label.err")" "stdout: $(cat "$T_TMP/c$label.out")"
  elif ! why=$(t_check_replies "$T_TMP/c$label.out" ' ' 'hello twisted' 'second line' '  spaced  out  ' 'last: one'); then
    not_ok "nettool ts-client gets Twisted's replies ($label)" "$why" "stdout: $(cat "$T_TMP/c$label.out")"
  else
    ok "nettool ts-client prints each '[ctime] data' reply from Twisted, in order ($label)"
  fi
  if grep -q '^\.\.\.connected from:' "$T_TMP/tws$label.out"; then
    ok "the Twisted server saw our connection ($label)"
  else
    not_ok "the Twisted server saw our connection ($label)" "$(cat "$T_TMP/tws$label.out")"
  fi
  t_stop "$TW_PID"
}

# twisted_client_vs_ours BIND HOST LABEL
twisted_client_vs_ours() {
  local bind=$1 host=$2 label=$3
  if ! start_nettool_server "nts$label" "$bind"; then
    not_ok "nettool ts-server starts on $bind" "$(cat "$T_TMP/nts$label.err")"
    return
  fi
  printf 'a\nb\n' | timeout "$CT" "$PY" "$PEERS/tsTclntTW.py" "$NT_PORT" "$host" >"$T_TMP/tc$label.out" 2>"$T_TMP/tc$label.err"
  local rc=$? why
  # Its stdout mixes "> " prompts and "...sending x..." with the replies,
  # which are whole lines of their own.
  grep -E "$TS_RE_BASE" "$T_TMP/tc$label.out" >"$T_TMP/tc$label.replies"
  if [ "$rc" -ne 0 ]; then
    not_ok "Twisted tsTclntTW.py gets our replies ($label)" "exit $rc" "$(cat "$T_TMP/tc$label.out" "$T_TMP/tc$label.err")"
  elif ! why=$(t_check_replies "$T_TMP/tc$label.replies" ': ' a b); then
    not_ok "Twisted tsTclntTW.py gets our replies ($label)" "$why" "stdout: $(cat "$T_TMP/tc$label.out")"
  else
    ok "Twisted tsTclntTW.py prints '[ctime]: a' and '[ctime]: b' from nettool ($label)"
  fi
  if grep -q '^> \.\.\.sending a\.\.\.$' "$T_TMP/tc$label.out" && grep -q '^> \.\.\.sending b\.\.\.$' "$T_TMP/tc$label.out"; then
    ok "the Twisted client sent both lines ($label)"
  else
    not_ok "the Twisted client sent both lines ($label)" "$(cat "$T_TMP/tc$label.out")"
  fi
  # Our server survived the client and still stops cleanly.
  kill -TERM "$NT_PID"
  if t_wait_exit "$NT_PID" 20; then
    wait "$NT_PID"
    rc=$?
    if [ "$rc" -eq 0 ]; then ok "nettool ts-server exits 0 on SIGTERM afterwards ($label)"; else not_ok "nettool ts-server exits 0 on SIGTERM afterwards ($label)" "exit $rc" "$(cat "$T_TMP/nts$label.err")"; fi
  else
    not_ok "nettool ts-server exits 0 on SIGTERM afterwards ($label)" "still running after 2 s"
  fi
}

our_client_vs_twisted 127.0.0.1 ipv4
twisted_client_vs_ours 127.0.0.1 127.0.0.1 ipv4
if t_have_ipv6; then
  our_client_vs_twisted ::1 ipv6
  twisted_client_vs_ours ::1 ::1 ipv6
else
  ok "IPv6 interop # SKIP ::1 is not configured"
fi

t_summary
