#!/usr/bin/env bash
# unix_peers.sh NETTOOL UNIX_FDPASS UNIX_ECHO -- UNIX domain sockets between
# processes: nettool's ts-server/ts-client (endpoints unix:PATH, unix:@NAME)
# against socat and against Twisted's UNIX server and client, both ways;
# descriptors passed between two processes (nettool to nettool, Twisted to
# nettool, nettool to Twisted); datagrams against socat (UNIX-SENDTO,
# UNIX-RECVFROM); stale and live socket files; abstract names;
# endpoint errors in the CLI; the unix_echo example. socat and
# python3-twisted come from scripts/install-deps.sh; missing, the test fails.
set -u
shopt -s lastpipe
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NETTOOL=${1:?usage: unix_peers.sh NETTOOL UNIX_FDPASS UNIX_ECHO}
FDPASS=${2:?usage: unix_peers.sh NETTOOL UNIX_FDPASS UNIX_ECHO}
ECHO=${3:?usage: unix_peers.sh NETTOOL UNIX_FDPASS UNIX_ECHO}
PY=/usr/bin/python3
TW=$HERE/unix_twisted.py
ABS="nt-itest-$$"

for tool in "$NETTOOL" "$FDPASS" "$ECHO"; do
  [ -x "$tool" ] || { not_ok "$tool is executable"; t_summary; exit 1; }
done
if ! command -v socat >/dev/null; then
  not_ok "socat is installed (scripts/install-deps.sh test)"
  t_summary
  exit 1
fi
if ! "$PY" -c 'import twisted.internet.reactor' 2>"$T_TMP/tw.err"; then
  not_ok "python3-twisted is importable by $PY" "$(cat "$T_TMP/tw.err")"
  t_summary
  exit 1
fi

# start_server NAME ARGS...: a nettool ts-server with ARGS; sets SRV_PID once
# it printed every "listening on" line it will print.
start_server() {
  local name=$1
  shift
  "$NETTOOL" ts-server "$@" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
  SRV_PID=$!
  t_track "$SRV_PID"
  local want
  want=$(printf '%s\n' "$@" | grep -c '^--listen$')
  local i=0
  while [ "$(grep -c '^listening on ' "$T_TMP/$name.out" 2>/dev/null)" -lt "$want" ]; do
    if [ $i -ge 50 ] || ! t_alive "$SRV_PID"; then return 1; fi
    sleep 0.1
    i=$((i + 1))
  done
}

# --- nettool against nettool, then socat, over a path and an abstract name --
S=$T_TMP/ts.sock
if start_server srv1 --listen "unix:$S" --listen "unix:@$ABS"; then
  ok "ts-server listens on unix:$S and unix:@$ABS"
  check "the socket file is a socket" test -S "$S"
  check "ts-server prints 'listening on unix $S'" grep -qx "listening on unix $S" "$T_TMP/srv1.out"
  check "ts-server prints 'listening on unix @$ABS'" grep -qx "listening on unix @$ABS" "$T_TMP/srv1.out"
  printf 'one\ntwo\n' | timeout 10 "$NETTOOL" ts-client "unix:$S" >"$T_TMP/c1.out" 2>"$T_TMP/c1.err"
  why=$(t_check_replies "$T_TMP/c1.out" ': ' one two) &&
    ok "ts-client unix:PATH gets both replies" || not_ok "ts-client unix:PATH gets both replies" "$why" "$(cat "$T_TMP/c1.err")"
  printf 'abstract\n' | timeout 10 "$NETTOOL" ts-client "unix:@$ABS" >"$T_TMP/c2.out" 2>"$T_TMP/c2.err"
  why=$(t_check_replies "$T_TMP/c2.out" ': ' abstract) &&
    ok "ts-client unix:@NAME (abstract) gets its reply" || not_ok "ts-client unix:@NAME gets its reply" "$why" "$(cat "$T_TMP/c2.err")"
  printf 'via socat\n' | timeout 10 socat -t 2 - "UNIX-CONNECT:$S" >"$T_TMP/s1.out" 2>&1
  why=$(t_check_replies "$T_TMP/s1.out" ': ' 'via socat') &&
    ok "socat UNIX-CONNECT gets ts-server's reply" || not_ok "socat UNIX-CONNECT gets ts-server's reply" "$why"
  printf 'abstract socat\n' | timeout 10 socat -t 2 - "ABSTRACT-CONNECT:$ABS" >"$T_TMP/s2.out" 2>&1
  why=$(t_check_replies "$T_TMP/s2.out" ': ' 'abstract socat') &&
    ok "socat ABSTRACT-CONNECT gets ts-server's reply" || not_ok "socat ABSTRACT-CONNECT gets the reply" "$why"
  # Twisted's UNIX client against ts-server.
  timeout 20 "$PY" "$TW" client "$S" "from twisted" >"$T_TMP/tw1.out" 2>"$T_TMP/tw1.err"
  why=$(t_check_replies "$T_TMP/tw1.out" ': ' 'from twisted') &&
    ok "Twisted connectUNIX gets ts-server's reply" || not_ok "Twisted connectUNIX gets ts-server's reply" "$why" "$(cat "$T_TMP/tw1.err")"
  timeout 20 "$PY" "$TW" client "@$ABS" "twisted abstract" >"$T_TMP/tw2.out" 2>"$T_TMP/tw2.err"
  why=$(t_check_replies "$T_TMP/tw2.out" ': ' 'twisted abstract') &&
    ok "Twisted connectUNIX to an abstract name" || not_ok "Twisted connectUNIX to an abstract name" "$why" "$(cat "$T_TMP/tw2.err")"

  # A live server's socket is never taken over.
  timeout 10 "$NETTOOL" ts-server --listen "unix:$S" >"$T_TMP/srv2.out" 2>"$T_TMP/srv2.err"
  rc=$?
  if [ $rc -eq 3 ] && grep -q 'address already in use' "$T_TMP/srv2.err" && t_one_error_line "$T_TMP/srv2.err"; then
    ok "a second ts-server on a live socket exits 3 (address already in use)"
  else
    not_ok "a second ts-server on a live socket exits 3" "exit $rc" "$(cat "$T_TMP/srv2.err")"
  fi
  printf 'still\n' | timeout 10 "$NETTOOL" ts-client "unix:$S" >"$T_TMP/c3.out" 2>&1
  why=$(t_check_replies "$T_TMP/c3.out" ': ' still) &&
    ok "the first server still serves on its socket" || not_ok "the first server still serves" "$why"
  timeout 10 "$NETTOOL" ts-server --listen "unix:@$ABS" >/dev/null 2>"$T_TMP/srv3.err"
  rc=$?
  [ $rc -eq 3 ] && ok "an abstract name in use: exit 3" || not_ok "an abstract name in use: exit 3" "exit $rc" "$(cat "$T_TMP/srv3.err")"

  # SIGTERM: clean exit, the socket file removed.
  t_stop "$SRV_PID" TERM
  wait "$SRV_PID"
  rc=$?
  [ $rc -eq 0 ] && ok "ts-server exits 0 on SIGTERM" || not_ok "ts-server exits 0 on SIGTERM" "exit $rc"
  [ ! -e "$S" ] && ok "its socket file is removed" || not_ok "its socket file is removed"
else
  not_ok "ts-server listens on unix sockets" "$(cat "$T_TMP/srv1.err")"
fi

# --- stale files: a killed server's socket is taken over; other files stay ---
if start_server srv4 --listen "unix:$S"; then
  t_stop "$SRV_PID" KILL
  wait "$SRV_PID" 2>/dev/null
  check "a SIGKILLed server leaves its socket file" test -S "$S"
  if start_server srv5 --listen "unix:$S"; then
    ok "a new ts-server takes over the stale socket file"
    printf 'after stale\n' | timeout 10 "$NETTOOL" ts-client "unix:$S" >"$T_TMP/c4.out" 2>&1
    why=$(t_check_replies "$T_TMP/c4.out" ': ' 'after stale') &&
      ok "and serves on it" || not_ok "and serves on it" "$why"
    t_stop "$SRV_PID"
  else
    not_ok "a new ts-server takes over the stale socket file" "$(cat "$T_TMP/srv5.err")"
  fi
else
  not_ok "ts-server for the stale test" "$(cat "$T_TMP/srv4.err")"
fi
echo "precious" >"$T_TMP/regular"
timeout 10 "$NETTOOL" ts-server --listen "unix:$T_TMP/regular" >/dev/null 2>"$T_TMP/srv6.err"
rc=$?
if [ $rc -eq 3 ] && [ "$(cat "$T_TMP/regular")" = precious ]; then
  ok "a regular file at the path is refused (exit 3) and left as it was"
else
  not_ok "a regular file at the path is refused and left" "exit $rc" "$(cat "$T_TMP/srv6.err")"
fi

# --- ts-client against Twisted's UNIX server; socat as the server ---------------
T=$T_TMP/tw.sock
"$PY" "$TW" server "$T" >"$T_TMP/tws.out" 2>"$T_TMP/tws.err" &
TWS=$!
t_track "$TWS"
if t_wait_line "$T_TMP/tws.out" '^ready$' 100; then
  printf 'to twisted\nagain\n' | timeout 10 "$NETTOOL" ts-client "unix:$T" >"$T_TMP/c5.out" 2>"$T_TMP/c5.err"
  why=$(t_check_replies "$T_TMP/c5.out" ': ' 'to twisted' again) &&
    ok "ts-client unix:PATH against Twisted listenUNIX" || not_ok "ts-client against Twisted listenUNIX" "$why" "$(cat "$T_TMP/c5.err")"
else
  not_ok "Twisted listenUNIX server starts" "$(cat "$T_TMP/tws.err")"
fi
t_stop "$TWS"
"$PY" "$TW" server "@$ABS-tw" >"$T_TMP/tws2.out" 2>"$T_TMP/tws2.err" &
TWS=$!
t_track "$TWS"
if t_wait_line "$T_TMP/tws2.out" '^ready$' 100; then
  printf 'abstract to twisted\n' | timeout 10 "$NETTOOL" ts-client "unix:@$ABS-tw" >"$T_TMP/c6.out" 2>"$T_TMP/c6.err"
  why=$(t_check_replies "$T_TMP/c6.out" ': ' 'abstract to twisted') &&
    ok "ts-client unix:@NAME against Twisted on an abstract name" || not_ok "ts-client unix:@NAME against Twisted" "$why" "$(cat "$T_TMP/c6.err")"
else
  not_ok "Twisted abstract server starts" "$(cat "$T_TMP/tws2.err")"
fi
t_stop "$TWS"
X=$T_TMP/socat.sock
# socat's address syntax has its own quoting: the answering command is a file.
printf '#!/bin/sh\nexec sed -u "s/^/[Sat Dec  5 05:00:00 2026]: /"\n' >"$T_TMP/stamp.sh"
chmod +x "$T_TMP/stamp.sh"
socat "UNIX-LISTEN:$X,fork" "EXEC:$T_TMP/stamp.sh" 2>"$T_TMP/socat.err" &
SOC=$!
t_track "$SOC"
i=0
while [ ! -S "$X" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
printf 'to socat\n' | timeout 10 "$NETTOOL" ts-client "unix:$X" >"$T_TMP/c7.out" 2>"$T_TMP/c7.err"
why=$(t_check_replies "$T_TMP/c7.out" ': ' 'to socat') &&
  ok "ts-client unix:PATH against socat UNIX-LISTEN" || not_ok "ts-client against socat UNIX-LISTEN" "$why" "$(cat "$T_TMP/c7.err" "$T_TMP/socat.err")"
t_stop "$SOC"

# --- datagrams: socat against nettool's UNIX datagram socket, and back ----------
D=$T_TMP/dgram.sock
"$FDPASS" dgram "$D" >"$T_TMP/dg.out" 2>"$T_TMP/dg.err" &
DPID=$!
t_track "$DPID"
if t_wait_line "$T_TMP/dg.out" '^ready$' 50; then
  echo "hello dgram" | timeout 10 socat -t 2 - "UNIX-SENDTO:$D,bind=$T_TMP/dgc.sock" >"$T_TMP/dg1.out" 2>&1
  [ "$(cat "$T_TMP/dg1.out")" = "echo: hello dgram" ] &&
    ok "socat UNIX-SENDTO gets nt_unix_dgram_bind's answer" ||
    not_ok "socat UNIX-SENDTO gets the datagram answer" "$(cat "$T_TMP/dg1.out" "$T_TMP/dg.err")"
  t_stop "$DPID"
  [ ! -e "$D" ] && ok "nt_udp_close removed the datagram socket's file" || not_ok "datagram socket file removed"
else
  not_ok "unix_fdpass dgram starts" "$(cat "$T_TMP/dg.err")"
fi
DS=$T_TMP/dgram-socat.sock
socat "UNIX-RECVFROM:$DS,fork" "EXEC:$T_TMP/stamp.sh" 2>"$T_TMP/dgs.err" &
DSP=$!
t_track "$DSP"
i=0
while [ ! -S "$DS" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
timeout 15 "$FDPASS" dgram-send "$DS" "to socat dgram" >"$T_TMP/dg2.out" 2>"$T_TMP/dg2.err"
why=$(t_check_replies "$T_TMP/dg2.out" ': ' 'to socat dgram') &&
  ok "an autobound nettool datagram socket gets socat UNIX-RECVFROM's answer" ||
  not_ok "nettool datagram client against socat UNIX-RECVFROM" "$why" "$(cat "$T_TMP/dg2.err" "$T_TMP/dgs.err")"
t_stop "$DSP"

# --- connecting where nobody listens ----------------------------------------------
timeout 10 "$NETTOOL" ts-client "unix:$T_TMP/nobody.sock" </dev/null >/dev/null 2>"$T_TMP/c8.err"
rc=$?
[ $rc -eq 4 ] && grep -q 'no such file or directory' "$T_TMP/c8.err" &&
  ok "ts-client to a missing socket: exit 4, 'no such file or directory'" ||
  not_ok "ts-client to a missing socket: exit 4" "exit $rc" "$(cat "$T_TMP/c8.err")"
timeout 10 "$NETTOOL" ts-client "unix:@$ABS-nobody" </dev/null >/dev/null 2>"$T_TMP/c9.err"
rc=$?
[ $rc -eq 4 ] && grep -q 'connection refused' "$T_TMP/c9.err" &&
  ok "ts-client to an unused abstract name: exit 4, refused" ||
  not_ok "ts-client to an unused abstract name: exit 4" "exit $rc" "$(cat "$T_TMP/c9.err")"

# --- endpoint errors in the CLI: exit 2, one line naming the mistake ----------------
bad_endpoint() { # DESC EXPECTED-SUBSTRING ARGS...
  local desc=$1 want=$2
  shift 2
  timeout 10 "$NETTOOL" "$@" </dev/null >/dev/null 2>"$T_TMP/bad.err"
  local rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "$want" "$T_TMP/bad.err" && [ "$(wc -l <"$T_TMP/bad.err")" -eq 1 ]; then
    ok "$desc"
  else
    not_ok "$desc" "exit $rc" "$(cat "$T_TMP/bad.err")"
  fi
}
bad_endpoint "ts-server --listen sctp:1: unknown type" "unknown type 'sctp'" ts-server --listen sctp:1
bad_endpoint "ts-server --listen tcp:80x: bad port" "bad port '80x'" ts-server --listen tcp:80x
bad_endpoint "ts-server --listen tls:0 without cert=" "needs cert=FILE" ts-server --listen tls:0
bad_endpoint "ts-server --listen unix:/x:mode=9: bad mode" "bad mode '9'" ts-server --listen unix:/x:mode=9
bad_endpoint "ts-client tcp:host: missing port" "missing port" ts-client tcp:localhost
bad_endpoint "ts-client unix:@: bad name" "bad UNIX socket name" ts-client unix:@
bad_endpoint "ts-client unix:PATH --udp: refused" "the endpoint names its transport" ts-client unix:/x --udp
bad_endpoint "ts-client with three arguments" "expected HOST and PORT, or an ENDPOINT" ts-client a b c

# --- endpoints for TCP and UDP in the same server; the old forms still work -------
if start_server srv7 --listen tcp:0:interface=127.0.0.1 --listen udp:0:interface=127.0.0.1 --tcp 0 --bind 127.0.0.1; then
  TP=$(sed -n 's/^listening on tcp 127.0.0.1:\([0-9]*\)$/\1/p' "$T_TMP/srv7.out" | head -n 1)
  UP=$(sed -n 's/^listening on udp 127.0.0.1:\([0-9]*\)$/\1/p' "$T_TMP/srv7.out" | head -n 1)
  printf 'tcp ep\n' | timeout 10 "$NETTOOL" ts-client "tcp:127.0.0.1:$TP" >"$T_TMP/c10.out" 2>&1
  why=$(t_check_replies "$T_TMP/c10.out" ': ' 'tcp ep') &&
    ok "ts-client tcp:HOST:PORT against --listen tcp:0" || not_ok "ts-client tcp:HOST:PORT" "$why" "$(cat "$T_TMP/srv7.out")"
  printf 'old form\n' | timeout 10 "$NETTOOL" ts-client 127.0.0.1 "$TP" >"$T_TMP/c11.out" 2>&1
  why=$(t_check_replies "$T_TMP/c11.out" ': ' 'old form') &&
    ok "ts-client HOST PORT still works" || not_ok "ts-client HOST PORT still works" "$why"
  printf 'udp ep\n' | timeout 10 "$NETTOOL" ts-client "udp:127.0.0.1:$UP" >"$T_TMP/c12.out" 2>&1
  why=$(t_check_replies "$T_TMP/c12.out" ': ' 'udp ep') &&
    ok "ts-client udp:HOST:PORT against --listen udp:0" || not_ok "ts-client udp:HOST:PORT" "$why" "$(cat "$T_TMP/srv7.out")"
  n=$(grep -c '^listening on ' "$T_TMP/srv7.out")
  [ "$n" -eq 3 ] && ok "three 'listening on' lines (two endpoints and --tcp)" || not_ok "three listening lines" "$(cat "$T_TMP/srv7.out")"
  t_stop "$SRV_PID"
else
  not_ok "ts-server with tcp and udp endpoints" "$(cat "$T_TMP/srv7.err")"
fi

# --- --workers: the workers share the first one's ports, even PORT 0's ------------
# listening_ports PID: "SOCKETS PORTS" -- TCP listening sockets of PID and
# how many distinct ports they are on (from /proc).
listening_ports() {
  "$PY" - "$1" <<'PYEOF'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if link.startswith("socket:["):
        inodes.add(link[8:-1])
socks, ports = 0, set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for row in open(table).read().splitlines()[1:]:
        f = row.split()
        if f[3] == "0A" and f[9] in inodes:
            socks += 1
            ports.add(int(f[1].rsplit(":", 1)[1], 16))
print(socks, len(ports))
PYEOF
}
W=$T_TMP/workers.sock
if start_server srv10 --workers 3 --listen tcp:0:interface=127.0.0.1 --listen "unix:$W"; then
  lp=$(listening_ports "$SRV_PID")
  [ "$lp" = "3 1" ] && ok "--workers 3 --listen tcp:0: three sockets on one port" ||
    not_ok "--workers 3 --listen tcp:0: three sockets on one port" "sockets, ports: $lp"
  n=0
  for i in 1 2 3 4; do
    printf 'w%s\n' $i | timeout 10 "$NETTOOL" ts-client "unix:$W" >"$T_TMP/w$i.out" 2>&1
    t_check_replies "$T_TMP/w$i.out" ': ' "w$i" >/dev/null && n=$((n + 1))
  done
  [ $n -eq 4 ] && ok "--workers 3: the UNIX socket (first worker) answers" || not_ok "--workers 3: UNIX socket answers" "$n of 4"
  t_stop "$SRV_PID"
else
  not_ok "ts-server --workers 3 with endpoints" "$(cat "$T_TMP/srv10.err")"
fi

# --- tls: endpoints (the test PKI from tests/tls/make-certs.sh) ---------------------
C=$T_TMP/certs
if sh "$HERE/../tls/make-certs.sh" "$C" >/dev/null 2>&1; then
  if start_server srv8 --listen "tls:0:interface=127.0.0.1:cert=$C/server.crt:key=$C/server.key"; then
    LP=$(sed -n 's/^listening on tls 127.0.0.1:\([0-9]*\)$/\1/p' "$T_TMP/srv8.out")
    printf 'over tls\n' | timeout 10 "$NETTOOL" ts-client "tls:localhost:$LP:cacert=$C/ca.crt" >"$T_TMP/c13.out" 2>"$T_TMP/c13.err"
    why=$(t_check_replies "$T_TMP/c13.out" ': ' 'over tls') &&
      ok "ts-client tls:localhost:PORT:cacert=CA against --listen tls:0:cert=..." ||
      not_ok "ts-client tls: against --listen tls:" "$why" "$(cat "$T_TMP/srv8.out" "$T_TMP/c13.err")"
    timeout 10 "$NETTOOL" ts-client "tls:localhost:$LP" </dev/null >/dev/null 2>"$T_TMP/c14.err"
    rc=$?
    [ $rc -eq 6 ] && ok "without cacert= the test CA is not trusted: exit 6" ||
      not_ok "tls: without cacert=: exit 6" "exit $rc" "$(cat "$T_TMP/c14.err")"
    t_stop "$SRV_PID"
  else
    not_ok "ts-server --listen tls:0:cert=...:key=..." "$(cat "$T_TMP/srv8.err")"
  fi
  timeout 10 "$NETTOOL" ts-server --listen "tls:0:cert=$T_TMP/none.pem" >/dev/null 2>"$T_TMP/srv9.err"
  rc=$?
  [ $rc -eq 9 ] && t_one_error_line "$T_TMP/srv9.err" &&
    ok "--listen tls: with a missing cert file: exit 9, one line" ||
    not_ok "--listen tls: with a missing cert file: exit 9" "exit $rc" "$(cat "$T_TMP/srv9.err")"
else
  not_ok "the test PKI (tests/tls/make-certs.sh)"
fi

# --- descriptors passed between processes --------------------------------------------
F=$T_TMP/fd-target
fd_pair() { # DESC SERVER-CMD... -- CLIENT-CMD...  (both given the socket, file)
  local desc=$1
  shift
  local -a srv=() cli=()
  while [ "$1" != -- ]; do srv+=("$1"); shift; done
  shift
  cli=("$@")
  : >"$F"
  # files of its own per pair: "cmd >file &" truncates the file in the
  # child, so the wait below could read the previous pair's "ready"; and a
  # previous server on its way out cannot take this pair's socket name
  FD_N=$((${FD_N:-0} + 1))
  local sock=$T_TMP/fd$FD_N.sock
  rm -f "$sock"
  "${srv[@]}" "$sock" >"$T_TMP/fds$FD_N.out" 2>"$T_TMP/fds$FD_N.err" &
  local spid=$!
  t_track "$spid"
  if ! t_wait_line "$T_TMP/fds$FD_N.out" '^ready$' 100; then
    not_ok "$desc: server starts" "$(cat "$T_TMP/fds$FD_N.err")"
    t_stop "$spid"
    return
  fi
  timeout 20 "${cli[@]}" "$sock" "$F" >"$T_TMP/fdc.out" 2>"$T_TMP/fdc.err"
  local rc=$?
  t_wait_exit "$spid" 50
  local who=${srv[-1]}
  if [ $rc -eq 0 ] && grep -qx 'fds 1' "$T_TMP/fdc.out" && [ "$(wc -l <"$F")" -eq 1 ] && grep -q '^written by ' "$F"; then
    ok "$desc (the receiver wrote '$(cat "$F")' through the passed fd)"
  else
    not_ok "$desc" "client exit $rc: $(cat "$T_TMP/fdc.out" "$T_TMP/fdc.err")" "server: $(cat "$T_TMP/fds$FD_N.err")" "file: $(cat "$F")" "$who"
  fi
  t_stop "$spid"
}
fd_pair "fd passing nettool -> nettool" "$FDPASS" recv -- "$FDPASS" send
fd_pair "fd passing Twisted -> nettool" "$FDPASS" recv -- "$PY" "$TW" fdclient
fd_pair "fd passing nettool -> Twisted" "$PY" "$TW" fdserver -- "$FDPASS" send
grep -q 'written by nettool' "$F" 2>/dev/null || true

# --- the unix_echo example --------------------------------------------------------------
E=$T_TMP/echo.sock
"$ECHO" "$E" >"$T_TMP/echo.out" 2>"$T_TMP/echo.err" &
EPID=$!
t_track "$EPID"
if t_wait_line "$T_TMP/echo.out" "^listening on $E\$" 50; then
  head -c 300000 /dev/urandom >"$T_TMP/blob"
  timeout 20 socat -t 5 - "UNIX-CONNECT:$E" <"$T_TMP/blob" >"$T_TMP/blob.back" 2>"$T_TMP/echo-socat.err"
  if cmp -s "$T_TMP/blob" "$T_TMP/blob.back"; then
    ok "unix_echo echoes 300 KB through socat byte for byte (half-close ends it)"
  else
    not_ok "unix_echo echoes 300 KB" "$(wc -c <"$T_TMP/blob.back") bytes back" "$(cat "$T_TMP/echo-socat.err")"
  fi
  mode=$(stat -c %a "$E")
  [ "$mode" = 600 ] && ok "unix_echo's socket file is mode 0600" || not_ok "socket mode 0600" "$mode"
  t_wait_line "$T_TMP/echo.out" "^connection from pid [0-9]+ uid $(id -u)\$" 20 &&
    ok "unix_echo saw the client's credentials" || not_ok "unix_echo saw credentials" "$(cat "$T_TMP/echo.out")"
  t_wait_line "$T_TMP/echo.out" '^closed after 300000 bytes: ok$' 50 &&
    ok "unix_echo: connection closed cleanly after 300000 bytes" || not_ok "unix_echo closed cleanly" "$(cat "$T_TMP/echo.out")"
  t_stop "$EPID" INT
  [ ! -e "$E" ] && ok "unix_echo removed its socket on SIGINT" || not_ok "unix_echo removed its socket"
else
  not_ok "unix_echo starts" "$(cat "$T_TMP/echo.err")"
fi

t_summary
