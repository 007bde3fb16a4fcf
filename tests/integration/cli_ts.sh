#!/usr/bin/env bash
# cli_ts.sh NETTOOL [EMBED_ECHO] -- the nettool ts-server / ts-client programs
# end to end on loopback: replies and their format, TCP, UDP, IPv6, stdin
# from a pipe and from a file, the empty line, workers, signals, exit codes
# and the one-line error messages. Prints ok/not ok per check and
# "N passed, N failed" last; exits non-zero if anything failed.
set -u
shopt -s lastpipe # "... | client ..." sets RC in this shell
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NETTOOL=${1:?usage: cli_ts.sh NETTOOL [EMBED_ECHO]}
if [ ! -x "$NETTOOL" ]; then
  not_ok "nettool binary exists" "not executable: $NETTOOL"
  t_summary
  exit 1
fi
# Every client run is bounded by this many seconds.
CT=10

# start_server NAME ARGS... : starts "nettool ts-server ARGS" in the
# background and waits for its "listening on" lines; sets SRV_PID,
# SRV_TCP and SRV_UDP (empty when not listening on that protocol).
start_server() {
  local name=$1
  shift
  "$NETTOOL" ts-server "$@" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
  SRV_PID=$!
  t_track "$SRV_PID"
  SRV_TCP=
  SRV_UDP=
  local want=0
  case " $* " in *" --tcp "*) want=$((want + 1)) ;; esac
  case " $* " in *" --udp "*) want=$((want + 1)) ;; esac
  local i=0
  # cat|grep prints 0 even before the server's output file exists.
  while [ "$(cat "$T_TMP/$name.out" 2>/dev/null | grep -c '^listening on ')" -lt "$want" ]; do
    if [ $i -ge 50 ] || ! t_alive "$SRV_PID"; then return 1; fi
    sleep 0.1
    i=$((i + 1))
  done
  SRV_TCP=$(sed -n 's/^listening on tcp .*:\([0-9][0-9]*\)$/\1/p' "$T_TMP/$name.out")
  SRV_UDP=$(sed -n 's/^listening on udp .*:\([0-9][0-9]*\)$/\1/p' "$T_TMP/$name.out")
  return 0
}

# client NAME INPUTFILE ARGS... : runs "nettool ts-client ARGS < INPUTFILE";
# sets RC; output in $T_TMP/NAME.out and .err.
client() {
  local name=$1 input=$2
  shift 2
  timeout "$CT" "$NETTOOL" ts-client "$@" <"$input" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err"
  RC=$?
}

# replies_ok DESC NAME SEP LINE... : exit 0, nothing on stderr, and the
# replies to LINE... in order.
replies_ok() {
  local desc=$1 name=$2 sep=$3
  shift 3
  local why
  if [ "$RC" -ne 0 ]; then
    not_ok "$desc" "exit $RC" "stderr: $(cat "$T_TMP/$name.err")" "stdout: $(cat "$T_TMP/$name.out")"
  elif [ -s "$T_TMP/$name.err" ]; then
    not_ok "$desc" "stderr not empty: $(cat "$T_TMP/$name.err")"
  elif ! why=$(t_check_replies "$T_TMP/$name.out" "$sep" "$@"); then
    not_ok "$desc" "$why" "stdout: $(cat "$T_TMP/$name.out")"
  else
    ok "$desc"
  fi
}

# expect_exit DESC WANT INPUTFILE ARGS... : nettool ARGS exits WANT, and
# when WANT is not 0 prints exactly one "nettool: " line on stderr.
expect_exit() {
  local desc=$1 want=$2 input=$3
  shift 3
  timeout "$CT" "$NETTOOL" "$@" <"$input" >"$T_TMP/x.out" 2>"$T_TMP/x.err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    not_ok "$desc" "exit $rc, want $want: nettool $*" "stderr: $(cat "$T_TMP/x.err")"
  elif [ "$want" -ne 0 ] && ! t_one_error_line "$T_TMP/x.err"; then
    not_ok "$desc" "want one 'nettool: ' line on stderr, got:" "$(cat "$T_TMP/x.err")"
  else
    ok "$desc"
  fi
}

printf 'first line\nsecond: with a colon\n  leading and trailing spaces  \ntabs\tinside\n[brackets] and $dollars\n' >"$T_TMP/in5"
LINES5=("first line" "second: with a colon" "  leading and trailing spaces  " $'tabs\tinside' '[brackets] and $dollars')

# --- server on ephemeral ports ------------------------------------------------

if start_server s1 --tcp 0 --udp 0 --bind 127.0.0.1 &&
  [ -n "$SRV_TCP" ] && [ -n "$SRV_UDP" ] &&
  [ "$SRV_TCP" -gt 0 ] && [ "$SRV_TCP" -lt 65536 ] &&
  [ "$SRV_UDP" -gt 0 ] && [ "$SRV_UDP" -lt 65536 ] &&
  grep -qx "listening on tcp 127.0.0.1:$SRV_TCP" "$T_TMP/s1.out" &&
  grep -qx "listening on udp 127.0.0.1:$SRV_UDP" "$T_TMP/s1.out"; then
  ok "ts-server listens on ephemeral TCP $SRV_TCP and UDP $SRV_UDP ports"
else
  not_ok "ts-server listens on ephemeral TCP and UDP ports" "stdout: $(cat "$T_TMP/s1.out")" "stderr: $(cat "$T_TMP/s1.err")"
  t_summary
  exit 1
fi
S1_PID=$SRV_PID
S1_TCP=$SRV_TCP
S1_UDP=$SRV_UDP

# --- replies over TCP and UDP ------------------------------------------------------

cat "$T_TMP/in5" | client tcp5 /dev/stdin 127.0.0.1 "$S1_TCP"
replies_ok "ts-client over TCP: one reply per line, in order, ctime format" tcp5 ': ' "${LINES5[@]}"

client udp5 "$T_TMP/in5" 127.0.0.1 "$S1_UDP" --udp
replies_ok "ts-client --udp: one reply per line, in order, ctime format" udp5 ': ' "${LINES5[@]}"

# The time in the reply is now (the server's local time, as ctime shows it).
if why=$(/usr/bin/python3 - "$T_TMP/tcp5.out" <<'EOF'
import sys, time
line = open(sys.argv[1]).readline()
stamp = line[1:line.index("]")]
now = time.time()
ok = any(time.ctime(now + d) == stamp for d in range(-5, 2))
print("" if ok else "reply time %r is not now (%r)" % (stamp, time.ctime(now)))
sys.exit(0 if ok else 1)
EOF
); then
  ok "the reply's timestamp is the current local time"
else
  not_ok "the reply's timestamp is the current local time" "$why"
fi

# stdin from a regular file (read through the call-soon queue, not epoll).
client file5 "$T_TMP/in5" 127.0.0.1 "$S1_TCP"
replies_ok "ts-client with stdin redirected from a regular file" file5 ': ' "${LINES5[@]}"

# stdin from a slow pipe: lines arrive while the client waits.
(echo early; sleep 0.3; echo late) | client slow /dev/stdin 127.0.0.1 "$S1_TCP"
replies_ok "ts-client with lines arriving slowly on a pipe" slow ': ' early late

# An empty line ends the session: nothing after it is sent.
printf 'alpha\nbeta\n\ngamma\ndelta\n' >"$T_TMP/inempty"
client empty "$T_TMP/inempty" 127.0.0.1 "$S1_TCP"
replies_ok "an empty line ends the session (TCP, file)" empty ': ' alpha beta
printf 'alpha\nbeta\n\ngamma\ndelta\n' | client emptyp /dev/stdin 127.0.0.1 "$S1_UDP" --udp
replies_ok "an empty line ends the session (UDP, pipe)" emptyp ': ' alpha beta

# A last line without a newline still counts; CRLF input loses its CR.
printf 'crlf line\r\nno newline at end' | client tail /dev/stdin 127.0.0.1 "$S1_TCP"
replies_ok "a CRLF line and a last line without newline" tail ': ' "crlf line" "no newline at end"

# No input at all: connects, sends nothing, exits 0 with no output.
client none /dev/null 127.0.0.1 "$S1_TCP"
if [ "$RC" -eq 0 ] && [ ! -s "$T_TMP/none.out" ] && [ ! -s "$T_TMP/none.err" ]; then
  ok "empty stdin: exit 0, no output"
else
  not_ok "empty stdin: exit 0, no output" "exit $RC" "$(cat "$T_TMP/none.out" "$T_TMP/none.err")"
fi

# The longest line accepted (61440 bytes) goes through whole.
head -c 61440 /dev/zero | tr '\0' 'a' >"$T_TMP/maxline"
echo >>"$T_TMP/maxline"
client maxline "$T_TMP/maxline" 127.0.0.1 "$S1_TCP"
nlines=$(wc -l <"$T_TMP/maxline.out")
na=$(sed 's/\[[^]]*\]: //g' "$T_TMP/maxline.out" | tr -cd a | wc -c)
if [ "$RC" -eq 0 ] && [ "$nlines" -eq 1 ] && [ "$na" -eq 61440 ] &&
  grep -Eq "${TS_RE_BASE}: a" "$T_TMP/maxline.out"; then
  ok "a 61440-byte line is sent and answered whole"
else
  not_ok "a 61440-byte line is sent and answered whole" "exit $RC, $nlines lines, $na bytes of payload" "stderr: $(cat "$T_TMP/maxline.err")"
fi

# --- IPv6 -----------------------------------------------------------------------------------

if t_have_ipv6; then
  if start_server s6 --tcp 0 --udp 0 --bind ::1 &&
    grep -qx "listening on tcp \[::1\]:$SRV_TCP" "$T_TMP/s6.out" &&
    grep -qx "listening on udp \[::1\]:$SRV_UDP" "$T_TMP/s6.out"; then
    ok "ts-server --bind ::1 listens on [::1]"
    client v6t "$T_TMP/in5" ::1 "$SRV_TCP"
    replies_ok "ts-client over TCP to ::1" v6t ': ' "${LINES5[@]}"
    client v6u "$T_TMP/in5" ::1 "$SRV_UDP" --udp
    replies_ok "ts-client --udp to ::1" v6u ': ' "${LINES5[@]}"
    client v6b "$T_TMP/in5" '[::1]' "$SRV_TCP"
    replies_ok "ts-client to [::1] (bracketed)" v6b ': ' "${LINES5[@]}"
  else
    not_ok "ts-server --bind ::1 listens on [::1]" "stdout: $(cat "$T_TMP/s6.out")" "stderr: $(cat "$T_TMP/s6.err")"
  fi
  t_stop "$SRV_PID"
else
  ok "IPv6 checks # SKIP ::1 is not configured"
fi

# --- workers: 20 concurrent clients -----------------------------------------------------------------

if start_server sw --tcp 0 --udp 0 --bind 127.0.0.1 --workers 4; then
  SW_PID=$SRV_PID
  cpids=()
  for i in $(seq 1 20); do
    printf 'client %d line 1\nclient %d line 2\nclient %d line 3\n' "$i" "$i" "$i" >"$T_TMP/w$i.in"
    proto=()
    [ $((i % 5)) -eq 0 ] && proto=(--udp)
    port=$SRV_TCP
    [ ${#proto[@]} -gt 0 ] && port=$SRV_UDP
    (
      timeout "$CT" "$NETTOOL" ts-client 127.0.0.1 "$port" "${proto[@]}" <"$T_TMP/w$i.in" >"$T_TMP/w$i.out" 2>"$T_TMP/w$i.err"
      echo $? >"$T_TMP/w$i.rc"
    ) &
    cpids+=($!)
    t_track $!
  done
  for p in "${cpids[@]}"; do wait "$p"; done
  bad=""
  for i in $(seq 1 20); do
    rc=$(cat "$T_TMP/w$i.rc" 2>/dev/null || echo none)
    if [ "$rc" != 0 ]; then
      bad="$bad client $i: exit $rc $(cat "$T_TMP/w$i.err");"
    elif ! why=$(t_check_replies "$T_TMP/w$i.out" ': ' "client $i line 1" "client $i line 2" "client $i line 3"); then
      bad="$bad client $i: $why;"
    fi
  done
  if [ -z "$bad" ]; then
    ok "--workers 4 serves 20 concurrent clients (16 TCP, 4 UDP) correctly"
  else
    not_ok "--workers 4 serves 20 concurrent clients correctly" "$bad"
  fi
  # SIGINT stops every worker: exit 0 within 2 s.
  kill -INT "$SW_PID"
  if t_wait_exit "$SW_PID" 20; then
    wait "$SW_PID"
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$T_TMP/sw.err" ]; then
      ok "SIGINT stops ts-server --workers 4: exit 0 within 2 s"
    else
      not_ok "SIGINT stops ts-server --workers 4: exit 0 within 2 s" "exit $rc" "stderr: $(cat "$T_TMP/sw.err")"
    fi
  else
    not_ok "SIGINT stops ts-server --workers 4: exit 0 within 2 s" "still running after 2 s"
  fi
else
  not_ok "ts-server --workers 4 starts" "stdout: $(cat "$T_TMP/sw.out")" "stderr: $(cat "$T_TMP/sw.err")"
fi

# --- signals ------------------------------------------------------------------------------------------

# SIGTERM with a client connection still open.
if start_server st --tcp 0 --bind 127.0.0.1; then
  ST_PID=$SRV_PID
  ST_TCP=$SRV_TCP
  exec 7<>"/dev/tcp/127.0.0.1/$ST_TCP"
  printf 'held\n' >&7
  reply=
  IFS= read -r -t 3 reply <&7
  if [[ $reply =~ ${TS_RE_BASE}': held'$ ]]; then
    ok "a raw TCP connection gets its reply"
  else
    not_ok "a raw TCP connection gets its reply" "got '$reply'"
  fi
  kill -TERM "$ST_PID"
  if t_wait_exit "$ST_PID" 20; then
    wait "$ST_PID"
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$T_TMP/st.err" ]; then
      ok "SIGTERM stops ts-server with a connection open: exit 0 within 2 s"
    else
      not_ok "SIGTERM stops ts-server with a connection open: exit 0 within 2 s" "exit $rc" "stderr: $(cat "$T_TMP/st.err")"
    fi
  else
    not_ok "SIGTERM stops ts-server with a connection open: exit 0 within 2 s" "still running after 2 s"
  fi
  # The server closed our connection on its way out.
  rest=
  if IFS= read -r -t 2 rest <&7; then
    not_ok "the held connection is closed by the server's exit" "read '$rest'"
  else
    ok "the held connection is closed by the server's exit"
  fi
  exec 7<&- 7>&-
  # Its port is free again, and nobody listens there: connection refused (4).
  client refused /dev/null 127.0.0.1 "$ST_TCP"
  if [ "$RC" -eq 4 ] && t_one_error_line "$T_TMP/refused.err"; then
    ok "ts-client to a port just closed: exit 4, one error line"
  else
    not_ok "ts-client to a port just closed: exit 4, one error line" "exit $RC" "stderr: $(cat "$T_TMP/refused.err")"
  fi
else
  not_ok "ts-server for the SIGTERM check starts" "$(cat "$T_TMP/st.err")"
fi

# SIGINT, single reactor.
if start_server si --udp 0 --bind 127.0.0.1; then
  kill -INT "$SRV_PID"
  if t_wait_exit "$SRV_PID" 20; then
    wait "$SRV_PID"
    rc=$?
    if [ "$rc" -eq 0 ]; then ok "SIGINT stops ts-server: exit 0 within 2 s"; else not_ok "SIGINT stops ts-server: exit 0 within 2 s" "exit $rc"; fi
  else
    not_ok "SIGINT stops ts-server: exit 0 within 2 s" "still running after 2 s"
  fi
else
  not_ok "ts-server for the SIGINT check starts" "$(cat "$T_TMP/si.err")"
fi

# --- exit codes and messages -------------------------------------------------------------------------------

expect_exit "nettool --help: exit 0" 0 /dev/null --help
if grep -q 'ts-server' "$T_TMP/x.out" && grep -q 'ts-client' "$T_TMP/x.out"; then
  ok "nettool --help lists the commands on stdout"
else
  not_ok "nettool --help lists the commands on stdout" "$(cat "$T_TMP/x.out")"
fi
expect_exit "nettool ts-server --help: exit 0" 0 /dev/null ts-server --help
expect_exit "nettool ts-client --help: exit 0" 0 /dev/null ts-client --help
expect_exit "unknown command: exit 2" 2 /dev/null no-such-command
# No command at all: one line pointing at --help, exit 2.
timeout "$CT" "$NETTOOL" </dev/null >"$T_TMP/x.out" 2>"$T_TMP/x.err"
rc=$?
if [ "$rc" -eq 2 ] && [ ! -s "$T_TMP/x.out" ] && [ "$(wc -l <"$T_TMP/x.err")" -eq 1 ] &&
   grep -q "^nettool: no command given (see 'nettool --help')$" "$T_TMP/x.err"; then
  ok "no command: exit 2, one line on stderr"
else
  not_ok "no command: exit 2, one line on stderr" "exit $rc" "$(cat "$T_TMP/x.err")"
fi
expect_exit "ts-server unknown flag: exit 2" 2 /dev/null ts-server --bogus
expect_exit "ts-client unknown flag: exit 2" 2 /dev/null ts-client --bogus 127.0.0.1 1
expect_exit "ts-server --tcp 70000: exit 2" 2 /dev/null ts-server --tcp 70000
expect_exit "ts-server --udp -1: exit 2" 2 /dev/null ts-server --udp -1
expect_exit "ts-server --tcp without a value: exit 2" 2 /dev/null ts-server --tcp
expect_exit "ts-server --workers 0: exit 2" 2 /dev/null ts-server --tcp 0 --workers 0
expect_exit "ts-server --bind not-an-address: exit 2" 2 /dev/null ts-server --tcp 0 --bind 'bad addr'
expect_exit "ts-client port 0: exit 2" 2 /dev/null ts-client 127.0.0.1 0
expect_exit "ts-client port 65536: exit 2" 2 /dev/null ts-client 127.0.0.1 65536
expect_exit "ts-client port not a number: exit 2" 2 /dev/null ts-client 127.0.0.1 http
expect_exit "ts-client missing PORT: exit 2" 2 /dev/null ts-client 127.0.0.1
expect_exit "ts-client --timeout 0: exit 2" 2 /dev/null ts-client 127.0.0.1 1 --timeout 0
expect_exit "ts-client non-numeric host: exit 2" 2 /dev/null ts-client 'bad host' 7
expect_exit "second ts-server on a port in use: exit 3" 3 /dev/null ts-server --tcp "$S1_TCP" --bind 127.0.0.1
expect_exit "second ts-server on a UDP port in use: exit 3" 3 /dev/null ts-server --udp "$S1_UDP" --bind 127.0.0.1

# Over-long input line: exit 11 (the session had started; nothing else fails).
head -c 61441 /dev/zero | tr '\0' 'b' >"$T_TMP/longline"
echo >>"$T_TMP/longline"
expect_exit "an input line over 61440 bytes: exit 11" 11 "$T_TMP/longline" ts-client 127.0.0.1 "$S1_TCP"
printf 'short\n' >"$T_TMP/short"
cat "$T_TMP/longline" >>"$T_TMP/short"
# (Whether the reply to "short" is printed first is a race: the client reads
# ahead and stops as soon as it meets the bad line. Only the exit is checked.)
expect_exit "an over-long line after a good one: exit 11" 11 "$T_TMP/short" ts-client 127.0.0.1 "$S1_TCP"

# UDP to a closed port: ICMP port unreachable, reported as refused (4).
S1_UDP_CLOSED=$(/usr/bin/python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1]); s.close()')
printf 'x\n' >"$T_TMP/x1"
expect_exit "ts-client --udp to a closed port: exit 4" 4 "$T_TMP/x1" ts-client 127.0.0.1 "$S1_UDP_CLOSED" --udp --timeout 3

# Reply timeout: a server that accepts and never answers.
/usr/bin/python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(30)  # never outlive the test
print(s.getsockname()[1], flush=True)
held = []
try:
    while True:
        held.append(s.accept()[0])
except Exception:
    pass
' >"$T_TMP/mute.out" 2>"$T_TMP/mute.err" &
MUTE_PID=$!
t_track "$MUTE_PID"
if t_wait_line "$T_TMP/mute.out" '^[0-9]+$' 50; then
  MUTE_PORT=$(head -n 1 "$T_TMP/mute.out")
  start=$(date +%s%N)
  expect_exit "no reply within --timeout 0.5: exit 10" 10 "$T_TMP/x1" ts-client 127.0.0.1 "$MUTE_PORT" --timeout 0.5
  el=$((($(date +%s%N) - start) / 1000000))
  if [ "$el" -ge 400 ] && [ "$el" -lt 3000 ]; then
    ok "the reply timeout took about 0.5 s ($el ms)"
  else
    not_ok "the reply timeout took about 0.5 s" "took $el ms"
  fi
  # SIGTERM while a reply is awaited: the session stops at once (it does not
  # wait out --timeout), exit 130 with one "interrupted" line.
  mkfifo "$T_TMP/fifo"
  "$NETTOOL" ts-client 127.0.0.1 "$MUTE_PORT" <"$T_TMP/fifo" >"$T_TMP/sigc.out" 2>"$T_TMP/sigc.err" &
  CPID=$!
  t_track "$CPID"
  exec 8>"$T_TMP/fifo"
  echo waiting >&8
  t_wait_handler "$CPID" 15 100 # SIGTERM's handler: the session is running
  sleep 0.3
  kill -TERM "$CPID"
  if t_wait_exit "$CPID" 20; then
    wait "$CPID"
    rc=$?
    if [ "$rc" -eq 130 ] && grep -qx 'nettool: ts-client: interrupted' "$T_TMP/sigc.err" &&
      t_one_error_line "$T_TMP/sigc.err"; then
      ok "SIGTERM to ts-client awaiting a reply: exit 130 within 2 s"
    else
      not_ok "SIGTERM to ts-client awaiting a reply: exit 130 within 2 s" "exit $rc" "stderr: $(cat "$T_TMP/sigc.err")"
    fi
  else
    not_ok "SIGTERM to ts-client awaiting a reply: exit 130 within 2 s" "still running after 2 s"
  fi
  exec 8>&-

  # The connect limit covers the TLS handshake: a server that accepts and
  # never answers the ClientHello ends the session after --timeout (the
  # default connect limit), not after TLS's own 10 s.
  start=$(date +%s%N)
  expect_exit "TLS handshake with a silent server, --timeout 1: exit 10" 10 "$T_TMP/x1" ts-client 127.0.0.1 "$MUTE_PORT" --tls --timeout 1
  el=$((($(date +%s%N) - start) / 1000000))
  if [ "$el" -ge 900 ] && [ "$el" -lt 3000 ] &&
    grep -qx "nettool: ts-client: TLS with 127.0.0.1:$MUTE_PORT: not done within 1 s (--connect-timeout, TLS handshake included)" "$T_TMP/x.err"; then
    ok "the handshake ended after about 1 s ($el ms), the message names the limit"
  else
    not_ok "the handshake ended after about 1 s, the message names the limit" "took $el ms" "stderr: $(cat "$T_TMP/x.err")"
  fi
  start=$(date +%s%N)
  expect_exit "--connect-timeout 0.5 --timeout 5 over TLS: exit 10" 10 "$T_TMP/x1" ts-client 127.0.0.1 "$MUTE_PORT" --tls --timeout 5 --connect-timeout 0.5
  el=$((($(date +%s%N) - start) / 1000000))
  if [ "$el" -ge 400 ] && [ "$el" -lt 2500 ] && grep -q 'not done within 0.5 s (--connect-timeout' "$T_TMP/x.err"; then
    ok "--connect-timeout 0.5 took about 0.5 s ($el ms), said as given"
  else
    not_ok "--connect-timeout 0.5 took about 0.5 s, said as given" "took $el ms" "stderr: $(cat "$T_TMP/x.err")"
  fi
  # --max-time: the whole session, whatever the other limits say.
  start=$(date +%s%N)
  expect_exit "--max-time 0.7 with --timeout 5 and no reply: exit 10" 10 "$T_TMP/x1" ts-client 127.0.0.1 "$MUTE_PORT" --timeout 5 --max-time 0.7
  el=$((($(date +%s%N) - start) / 1000000))
  if [ "$el" -ge 600 ] && [ "$el" -lt 2500 ] &&
    grep -qx "nettool: ts-client: 127.0.0.1 port $MUTE_PORT: not done within 0.7 s (--max-time)" "$T_TMP/x.err"; then
    ok "--max-time 0.7 took about 0.7 s ($el ms), said as given"
  else
    not_ok "--max-time 0.7 took about 0.7 s, said as given" "took $el ms" "stderr: $(cat "$T_TMP/x.err")"
  fi
  # SIGINT during the TLS handshake: exit 130 at once.
  "$NETTOOL" ts-client 127.0.0.1 "$MUTE_PORT" --tls --timeout 10 <"$T_TMP/x1" >"$T_TMP/sigh.out" 2>"$T_TMP/sigh.err" &
  CPID=$!
  t_track "$CPID"
  t_wait_handler "$CPID" 2 100 # SIGINT's handler: the connect is under way
  sleep 0.5                     # the handshake too
  kill -INT "$CPID"
  if t_wait_exit "$CPID" 20; then
    wait "$CPID"
    rc=$?
    if [ "$rc" -eq 130 ] && grep -qx 'nettool: ts-client: interrupted' "$T_TMP/sigh.err"; then
      ok "SIGINT during the TLS handshake: exit 130 within 2 s"
    else
      not_ok "SIGINT during the TLS handshake: exit 130 within 2 s" "exit $rc" "stderr: $(cat "$T_TMP/sigh.err")"
    fi
  else
    not_ok "SIGINT during the TLS handshake: exit 130 within 2 s" "still running after 2 s"
  fi
else
  not_ok "the silent test server starts" "$(cat "$T_TMP/mute.err")"
fi
t_stop "$MUTE_PID"

# Connect timeout: a listener whose queue is full (backlog 0, filled, never
# accepting) drops our SYN, so the connection can only time out: exit 10.
/usr/bin/python3 -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(4):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    fill.append(c)
time.sleep(0.2)
print(port, flush=True)
time.sleep(20)  # never outlive the test
' >"$T_TMP/full.out" 2>"$T_TMP/full.err" &
FULL_PID=$!
t_track "$FULL_PID"
if t_wait_line "$T_TMP/full.out" '^[0-9]+$' 50; then
  FULL_PORT=$(head -n 1 "$T_TMP/full.out")
  start=$(date +%s%N)
  expect_exit "connect timeout (--timeout 0.5, listener queue full): exit 10" 10 "$T_TMP/x1" ts-client 127.0.0.1 "$FULL_PORT" --timeout 0.5
  el=$((($(date +%s%N) - start) / 1000000))
  if [ "$el" -lt 3000 ]; then ok "the connect timeout took about 0.5 s ($el ms)"; else not_ok "the connect timeout took about 0.5 s" "took $el ms"; fi
else
  not_ok "the full-queue test listener starts" "$(cat "$T_TMP/full.err")"
fi
t_stop "$FULL_PID"

# Many lines: read-ahead is bounded (64 lines) and resumes; order is kept.
seq -f 'line number %g' 1 300 >"$T_TMP/many"
mapfile -t MANY <"$T_TMP/many"
client manyf "$T_TMP/many" 127.0.0.1 "$S1_TCP"
replies_ok "300 lines from a regular file, all answered in order" manyf ': ' "${MANY[@]}"
cat "$T_TMP/many" | client manyp /dev/stdin 127.0.0.1 "$S1_UDP" --udp
replies_ok "300 lines from a pipe over UDP, all answered in order" manyp ': ' "${MANY[@]}"

# Clients that reset their connections do not hurt the server; a client that
# half-closes after sending still gets its reply.
if why=$(/usr/bin/python3 - "$S1_TCP" <<'EOF2'
import socket, struct, sys
port = int(sys.argv[1])
for i in range(20):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    if i % 2:
        c.sendall(b"reset me\n")
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
c = socket.create_connection(("127.0.0.1", port), timeout=5)
c.sendall(b"half-closed\n")
c.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = c.recv(4096)
    if not b:
        break
    data += b
c.close()
print(data.decode(errors="replace").rstrip("\n"))
EOF2
) && [[ $why =~ ${TS_RE_BASE}': half-closed'$ ]]; then
  ok "server survives 20 reset connections; a half-closing client gets its reply, then EOF"
else
  not_ok "server survives 20 reset connections; a half-closing client gets its reply, then EOF" "$why"
fi

# SIGINT to a ts-client idle between lines (stdin open, nothing typed).
mkfifo "$T_TMP/fifo2"
"$NETTOOL" ts-client 127.0.0.1 "$S1_TCP" <"$T_TMP/fifo2" >"$T_TMP/sigi.out" 2>"$T_TMP/sigi.err" &
CPID=$!
t_track "$CPID"
exec 8>"$T_TMP/fifo2"
echo one >&8
t_wait_line "$T_TMP/sigi.out" ': one$' 30
kill -INT "$CPID"
if t_wait_exit "$CPID" 20; then
  wait "$CPID"
  rc=$?
  if [ "$rc" -eq 130 ] && why=$(t_check_replies "$T_TMP/sigi.out" ': ' one) &&
    grep -qx 'nettool: ts-client: interrupted' "$T_TMP/sigi.err"; then
    ok "SIGINT to an idle ts-client: exit 130 within 2 s, reply printed"
  else
    not_ok "SIGINT to an idle ts-client: exit 130 within 2 s, reply printed" "exit $rc" "stdout: $(cat "$T_TMP/sigi.out")" "stderr: $(cat "$T_TMP/sigi.err")"
  fi
else
  not_ok "SIGINT to an idle ts-client: exit 130 within 2 s" "still running after 2 s"
fi
exec 8>&-

# --- timeouts between and within replies ------------------------------------------------------------------------

# Time spent waiting for input does not count: a 2 s pause between lines with
# --timeout 1 is fine (the reply timer counts from when the line was sent).
(echo one; sleep 2; echo two) | client pause /dev/stdin 127.0.0.1 "$S1_TCP" --timeout 1
replies_ok "a 2 s pause between input lines with --timeout 1" pause ': ' one two

# A hostile server: escape sequences in a reply, and a reply trickled a
# byte at a time (never complete) -- it answers "[prompt]: LINE" otherwise.
/usr/bin/python3 - >"$T_TMP/hostile.out" 2>"$T_TMP/hostile.err" <<'EOF3' &
import socket, threading, time
EVIL = b"\x1b]0;owned\x07\x1b[2Jhi\x9b31m\xc2\x9bX\tend"
def serve(c):
    f = c.makefile("rb")
    try:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line == b"evil":
                c.sendall(EVIL + b"\n")
            elif line == b"trickle":
                for _ in range(40):  # 4 s of one byte every 0.1 s
                    c.sendall(b"x")
                    time.sleep(0.1)
                c.sendall(b"\n")
            else:
                c.sendall(b"[prompt]: " + line + b"\n")
    except OSError:
        pass
    c.close()
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(60)  # never outlive the test
print(s.getsockname()[1], flush=True)
try:
    while True:
        threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
except Exception:
    pass
EOF3
HOSTILE_PID=$!
t_track "$HOSTILE_PID"
if t_wait_line "$T_TMP/hostile.out" '^[0-9]+$' 50; then
  HP=$(head -n 1 "$T_TMP/hostile.out")
  printf 'trickle\n' >"$T_TMP/trickle.in"
  start=$(date +%s%N)
  expect_exit "a reply trickled a byte every 0.1 s, --timeout 1: exit 10" 10 "$T_TMP/trickle.in" ts-client 127.0.0.1 "$HP" --timeout 1
  el=$((($(date +%s%N) - start) / 1000000))
  if [ "$el" -lt 2500 ] && grep -qx "nettool: ts-client: tcp 127.0.0.1 port $HP: no reply within 1 s (--timeout)" "$T_TMP/x.err"; then
    ok "the trickled reply did not extend --timeout ($el ms), the message says 1 s"
  else
    not_ok "the trickled reply did not extend --timeout" "took $el ms" "stderr: $(cat "$T_TMP/x.err")"
  fi
  # Replies to a terminal are shown with controls as '?'; to a file, as sent.
  if why=$(/usr/bin/python3 - "$NETTOOL" "$HP" <<'EOF4'
import os, pty, select, subprocess, sys, time
nettool, port = sys.argv[1], sys.argv[2]
EVIL = b"\x1b]0;owned\x07\x1b[2Jhi\x9b31m\xc2\x9bX\tend"
m, s = pty.openpty()
p = subprocess.Popen([nettool, "ts-client", "127.0.0.1", port], stdin=subprocess.PIPE,
                     stdout=s, stderr=subprocess.PIPE)
os.close(s)
p.stdin.write(b"evil\n")
p.stdin.close()
out, end = b"", time.time() + 8
while time.time() < end:
    r, _, _ = select.select([m], [], [], 0.2)
    if r:
        try:
            b = os.read(m, 4096)
        except OSError:
            break
        if not b:
            break
        out += b
    elif p.poll() is not None:
        break
rc = p.wait(5)
bad = [c for c in (b"\x1b", b"\x07", b"\x9b") if c in out]
if rc != 0 or bad or b"?]0;owned??[2Jhi?31m?X\tend" not in out:
    print("terminal: exit %s, got %r" % (rc, out)); sys.exit(1)
p = subprocess.run([nettool, "ts-client", "127.0.0.1", port], input=b"evil\n",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=8)
if p.returncode != 0 or p.stdout != EVIL + b"\n":
    print("pipe: exit %s, got %r" % (p.returncode, p.stdout)); sys.exit(1)
EOF4
  ); then
    ok "a reply with escape sequences: shown as '?' on a terminal, bytes kept in a pipe"
  else
    not_ok "a reply with escape sequences: shown as '?' on a terminal, bytes kept in a pipe" "$why"
  fi
else
  not_ok "the hostile test server starts" "$(cat "$T_TMP/hostile.err")"
fi
t_stop "$HOSTILE_PID"

# --- backpressure: a client that sends and never reads ------------------------------------------------------------

# It may send 200 MB: once 64 KiB of replies wait for it the server stops
# reading it, so the kernel's buffers fill and its sends stall; the server's
# memory must not grow by more than 2 MiB, and another client is answered
# meanwhile.
# (Under AddressSanitizer freed memory sits in a quarantine, which RSS
# counts; without it the measure is of nettool, not of the sanitizer.)
if ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0" \
  start_server bp --tcp 0 --bind 127.0.0.1; then
  client bpwarm "$T_TMP/in5" 127.0.0.1 "$SRV_TCP"
  res=$(/usr/bin/python3 "$HERE/ts_flood.py" --pid "$SRV_PID" --port "$SRV_TCP" --mb 200 \
    -- "$NETTOOL" ts-client 127.0.0.1 "$SRV_TCP" 2>&1)
  growth=$(sed -n 's/.* growth=\(-*[0-9]*\) .*/\1/p' <<<"$res")
  sent=$(sed -n 's/^sent=\([0-9]*\) .*/\1/p' <<<"$res")
  if [ -n "$growth" ] && [ "$growth" -lt 2048 ] && [ "$sent" -gt 1000000 ]; then
    ok "a client sending 200 MB without reading: server RSS +$growth KiB (< 2 MiB)"
  else
    not_ok "a client sending 200 MB without reading: server RSS < 2 MiB more" "$res"
  fi
  if [[ $res =~ second_rc=0\ second_out=\[.*\]:\ second\ client$ ]]; then
    ok "another client is answered while the flood is held back"
  else
    not_ok "another client is answered while the flood is held back" "$res"
  fi
  client bpafter "$T_TMP/in5" 127.0.0.1 "$SRV_TCP"
  replies_ok "the server still answers after the flooding client left" bpafter ': ' "${LINES5[@]}"
  t_stop "$SRV_PID"
else
  not_ok "ts-server for the backpressure check starts" "$(cat "$T_TMP/bp.err")"
fi

# --- the first server is still fine, then stops cleanly on SIGTERM ------------------------------------------------

# --- --json: an object per reply and one at the end, parsed back -------------------
json_ok() { # DESC NAME WANT-EXIT PYTHON-EXPR (on the list of objects, o)
  local desc=$1 name=$2 want=$3 expr=$4 why
  if [ "$RC" -ne "$want" ]; then
    not_ok "$desc" "exit $RC, want $want" "$(cat "$T_TMP/$name.err")"; return
  fi
  if why=$(/usr/bin/python3 -c '
import json, sys
o = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8").read().splitlines()]
assert eval("(" + sys.argv[2] + ")"), "failed on %r" % o
' "$T_TMP/$name.out" "$expr" 2>&1); then ok "$desc"; else not_ok "$desc" "$why"; fi
}
printf 'one\nq"b\\s\001x\n' >"$T_TMP/in_json"
client json_tcp "$T_TMP/in_json" 127.0.0.1 "$S1_TCP" --json
json_ok "ts-client --json: one object per reply (request, reply, seconds), then the end" json_tcp 0 \
  'len(o) == 3 and [x["event"] for x in o] == ["reply", "reply", "end"]
   and o[0]["request"] == "one" and o[0]["reply"].endswith("]: one") and o[0]["reply"].startswith("[")
   and o[1]["request"] == "q\"b\\s\x01x" and o[1]["reply"].endswith("]: q\"b\\s\x01x")
   and all(x["command"] == "ts-client" and x["port"] == '"$S1_TCP"' and x["seconds"] >= 0 for x in o)
   and o[2]["replies"] == 2 and o[2]["exit_code"] == 0 and "error" not in o[2]'
client json_udp "$T_TMP/in5" 127.0.0.1 "$S1_UDP" --udp --json
json_ok "ts-client --udp --json: five replies and the end" json_udp 0 \
  'len(o) == 6 and o[-1]["event"] == "end" and o[-1]["replies"] == 5
   and [x["request"] for x in o[:5]] == [l for l in open("'"$T_TMP/in5"'").read().splitlines() if l][:5]'
client json_refused "$T_TMP/in5" 127.0.0.1 1 --json
json_ok "ts-client --json, connection refused: exit 4, the end object with the error line" json_refused 4 \
  'len(o) == 1 and o[0]["event"] == "end" and o[0]["exit_code"] == 4 and o[0]["replies"] == 0
   and "refused" in o[0]["error"]'

client last "$T_TMP/in5" 127.0.0.1 "$S1_TCP"
replies_ok "the first server still answers after all that" last ': ' "${LINES5[@]}"
kill -TERM "$S1_PID"
if t_wait_exit "$S1_PID" 20; then
  wait "$S1_PID"
  rc=$?
  if [ "$rc" -eq 0 ] && [ ! -s "$T_TMP/s1.err" ]; then
    ok "SIGTERM stops ts-server (TCP+UDP): exit 0 within 2 s, nothing on stderr"
  else
    not_ok "SIGTERM stops ts-server (TCP+UDP): exit 0 within 2 s" "exit $rc" "stderr: $(cat "$T_TMP/s1.err")"
  fi
else
  not_ok "SIGTERM stops ts-server (TCP+UDP): exit 0 within 2 s" "still running after 2 s"
fi

t_summary
