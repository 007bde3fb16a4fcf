#!/usr/bin/env bash
# nettool http-get / http-upload against scripted hostile peers on loopback
# (http_hostile_peer.py): escape sequences in the reason phrase, a TLS
# stream cut without close_notify, silent and stalling servers (the
# --connect-timeout / --idle-timeout / --max-time limits, exact and re-armed
# for retries), SIGINT/SIGTERM during a download, redirects whose target
# fails, -k and a redirect to https.
#   http_hostile.sh NETTOOL MAKE_CERTS
set -u
nt=$1 make_certs=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
PY=/usr/bin/python3
d=$T_TMP
peer="$here/http_hostile_peer.py"

ms() { date +%s%3N; }
# run ARGS...: nettool under a 30 s bound; rc, elapsed ms in $el.
run() {
  local t0
  t0=$(ms)
  timeout 30 "$nt" "$@" >"$d/out" 2>"$d/err"
  rc=$?
  el=$(($(ms) - t0))
}
info() { echo "rc=$rc elapsed=${el:-?}ms"; head -5 "$d/err" | cat -v; }

# start_peer NAME MODE [ARGS...]: the peer's port in $port.
start_peer() {
  local name=$1
  shift
  rm -f "$d/$name.port"
  $PY "$peer" "$d/$name.port" "$@" >"$d/$name.log" 2>&1 &
  t_track $!
  local i
  for i in $(seq 100); do [ -s "$d/$name.port" ] && break; sleep 0.1; done
  port=$(cat "$d/$name.port" 2>/dev/null)
}

start_peer esc esc
ESC=$port
start_peer silent silent
SILENT=$port
start_peer partial partial
PARTIAL=$port
start_peer redirect redirect
REDIR=$port
DEAD=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TLS=0
if [ -n "$make_certs" ] && sh "$make_certs" "$d/certs" >/dev/null 2>&1; then
  TLS=1
  start_peer tlscut tls-cut "$d/certs/server.crt" "$d/certs/server.key"
  TLSCUT=$port
  start_peer tlsok tls-ok "$d/certs/server.crt" "$d/certs/server.key"
  TLSOK=$port
fi

# --- item 13: server text reaches the terminal only escaped --------------------
run http-get "http://127.0.0.1:$ESC/"
check "ESC/OSC/C1 in the reason phrase never reach stderr (status line and error)" eval \
  '[ $rc = 8 ] && ! grep -q $'"'"'\x1b'"'"' "$d/err" && ! grep -q $'"'"'\xc2\x9b'"'"' "$d/err" &&
   ! grep -q $'"'"'\x07'"'"' "$d/err" && grep -q "^HTTP/1.1 404 Not ?]0;pwned?Fo?\[31mund?1m$" "$d/err" &&
   grep -q "the server answered 404 Not ?]0;pwned?" "$d/err" || { info; false; }'

# --- item 3: the limits ------------------------------------------------------------
run http-get "http://127.0.0.1:$PARTIAL/" --idle-timeout 2 -o "$d/p.bin"
check "--idle-timeout 2: fires 2 s after the last byte, not up to 4 s (${el} ms)" eval \
  '[ $rc = 10 ] && [ $el -ge 1900 ] && [ $el -lt 3500 ] && grep -q "no byte moved for 2 s (--idle-timeout)" "$d/err" || { info; false; }'
run http-get "http://127.0.0.1:$SILENT/" --idle-timeout 1 --retry 2 --retry-delay 0.2
check "--idle-timeout with --retry: each try times out, no hang (${el} ms)" eval \
  '[ $rc = 10 ] && [ $el -lt 6000 ] && [ "$(grep -c "retrying in 0.2 s" "$d/err")" = 2 ] &&
   grep -q "no byte moved for 1 s (--idle-timeout)" "$d/err" || { info; false; }'
run http-get "http://127.0.0.1:$SILENT/" --idle-timeout 1 --retry 5 --retry-delay 0.1 --max-time 1.5
check "--max-time 1.5 covers the retries (${el} ms)" eval \
  '[ $rc = 10 ] && [ $el -lt 3000 ] && grep -q "took longer than 1.5 s (--max-time)" "$d/err" || { info; false; }'
run http-get "http://127.0.0.1:$SILENT/" --timeout 0.5
check "--timeout is the wait for the server, as in every command: the idle limit (${el} ms)" eval \
  '[ $rc = 10 ] && [ $el -ge 400 ] && [ $el -lt 2000 ] && grep -q "no byte moved for 0.5 s (--timeout)" "$d/err" || { info; false; }'
run http-get "http://127.0.0.1:$SILENT/" --timeout 5 --idle-timeout 0.5
check "--idle-timeout wins over --timeout (${el} ms)" eval \
  '[ $rc = 10 ] && [ $el -lt 2000 ] && grep -q "no byte moved for 0.5 s (--idle-timeout)" "$d/err" || { info; false; }'
run http-get "https://127.0.0.1:$SILENT/" --idle-timeout 1
check "--idle-timeout applies to the TLS handshake (${el} ms)" eval \
  '[ $rc = 10 ] && [ $el -lt 5000 ] && grep -q "connect to 127.0.0.1 port $SILENT: timed out: no connection within 1 s" "$d/err" || { info; false; }'
run http-get "https://127.0.0.1:$SILENT/" --connect-timeout 0.5
check "--connect-timeout 0.5 ends a stuck handshake (${el} ms)" eval \
  '[ $rc = 10 ] && [ $el -lt 3000 ] && grep -q "no connection within 0.5 s (--connect-timeout)" "$d/err" || { info; false; }'

# --- item 4: SIGINT/SIGTERM: 130 at once, OUT.part kept, OUT untouched ----------
for sig in INT TERM; do
  echo precious >"$d/keep.bin"
  rm -f "$d/keep.bin.part"
  "$nt" http-get "http://127.0.0.1:$PARTIAL/" -o "$d/keep.bin" >"$d/out" 2>"$d/err" &
  pid=$!
  for _ in $(seq 100); do [ "$(stat -c %s "$d/keep.bin.part" 2>/dev/null)" = 5000 ] && break; sleep 0.1; done
  t0=$(ms)
  kill -$sig $pid
  if t_wait_exit $pid 50; then wait $pid; rc=$?; else kill -KILL $pid; rc=hung; fi
  el=$(($(ms) - t0))
  check "SIG$sig during a download: exit 130 at once (${el} ms), OUT.part kept, OUT untouched" eval \
    '[ "$rc" = 130 ] && [ $el -lt 2000 ] && [ "$(stat -c %s "$d/keep.bin.part")" = 5000 ] &&
     [ "$(cat "$d/keep.bin")" = precious ] && [ "$(grep -c "^nettool: " "$d/err")" = 1 ] &&
     grep -q "interrupted; partial download kept in $d/keep.bin.part" "$d/err" || { info; false; }'
done

# --- item 12: errors name the redirect's target -----------------------------------
run http-get "http://127.0.0.1:$REDIR/to/http://127.0.0.1:$DEAD/x"
check "a redirect to a dead port: the error names that port, not the first one" eval \
  '[ $rc = 4 ] && grep -q "connect to 127.0.0.1 port $DEAD: connection refused" "$d/err" || { info; false; }'
run http-get "http://127.0.0.1:$REDIR/to/http://127.0.0.1:$SILENT/slow" --idle-timeout 1
check "a redirect to a silent server: the timeout names the target URL" eval \
  '[ $rc = 10 ] && grep -q "http://127.0.0.1:$SILENT/slow: timed out" "$d/err" || { info; false; }'

# --- items 12 and 14 over TLS --------------------------------------------------------
if [ "$TLS" = 1 ]; then
  run http-get "http://127.0.0.1:$REDIR/to/https://127.0.0.1:$TLSOK/" -k
  check "-k: a redirect to https warns" eval \
    '[ $rc = 0 ] && [ "$(cat "$d/out")" = ok ] && grep -q "warning: --insecure: .*(redirected to https)" "$d/err" || { info; false; }'
  echo precious >"$d/cut.bin"
  run http-get "https://localhost:$TLSCUT/" --cacert "$d/certs/ca.crt" -o "$d/cut.bin"
  check "TLS cut without close_notify mid-body: truncated transfer, exit 7 (not 6)" eval \
    '[ $rc = 7 ] && ! grep -q "handshake" "$d/err" && grep -q "close_notify" "$d/err" &&
     [ "$(cat "$d/cut.bin")" = precious ] && [ "$(stat -c %s "$d/cut.bin.part")" = 5000 ] || { info; false; }'
else
  ok "TLS peers # SKIP no test certificates (tests/tls/make-certs.sh)"
fi

# --- issue 15 item 8: a password on the command line leaves argv --------------
# secret_case NAME WANT ARGS...: http-get ARGS (PORT replaced by a record
# peer's port) runs while the peer holds its request; then
# /proc/PID/cmdline (what ps shows) must hold no "s3cret", and the request
# must still have carried Basic credentials WANT (user:pass).
secret_case() {
  local name=$1 want=$2 a args=()
  shift 2
  start_peer "$name" record
  for a in "$@"; do args+=("${a//PORT/$port}"); done
  "$nt" http-get "${args[@]}" -q --idle-timeout 20 >"$d/out" 2>"$d/err" &
  pid=$!
  t_track $pid
  cmd=""
  if t_wait_line "$d/$name.log" '^request$' 100; then
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  fi
  auth=$(grep -i '^authorization:' "$d/$name.log")
  t_stop $pid TERM
  wait $pid 2>/dev/null
  rc=$?
  [ -n "$cmd" ] && [[ "$cmd" != *s3cret* ]] &&
    [ "$auth" = "Authorization: Basic $(printf %s "$want" | base64 -w0)" ] ||
    { echo "cmdline: $cmd"; echo "sent: $auth"; false; }
}
check "-u USER:PASS: the password is gone from /proc/PID/cmdline, still sent" \
  secret_case sec1 alice:s3cret-opt -u alice:s3cret-opt "http://127.0.0.1:PORT/"
check "a URL's USER:PASS@: the password is gone from /proc/PID/cmdline, still sent" \
  secret_case sec2 bob:s3cret:url "http://bob:s3cret:url@127.0.0.1:PORT/x?y=@"
check "--user=USER:PASS and a URL password: both gone, -u wins" \
  secret_case sec3 carol:s3cret-c --user=carol:s3cret-c "http://bob:s3cret-u@127.0.0.1:PORT/"

# --- review item 4: the other credentials on the command line ------------------
# hold_case NAME ARGS...: http-get ARGS (PORT: a record peer's) held by the
# peer; $cmd is its /proc/PID/cmdline while it waits, then it is stopped.
hold_case() {
  local name=$1 a args=()
  shift
  start_peer "$name" record
  for a in "$@"; do args+=("${a//PORT/$port}"); done
  no_proxy='' NO_PROXY='' "$nt" http-get "${args[@]}" -q --idle-timeout 20 \
    >"$d/out" 2>"$d/err" &
  pid=$!
  t_track $pid
  cmd=""
  t_wait_line "$d/$name.log" '^request$' 100 && cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  t_stop $pid TERM
  wait $pid 2>/dev/null
}
hold_case sec4 -H 'Authorization: Bearer s3cret-tok' -H 'cookie: id=s3cret-ck' \
  -H 'X-Api-Token:s3cret-api' -H 'X-Trace: plain-1' "http://127.0.0.1:PORT/"
check "-H credentials (Authorization, Cookie, *Token*): values gone from /proc/PID/cmdline, names and other headers kept, all sent" eval \
  '[ -n "$cmd" ] && [[ "$cmd" != *s3cret* ]] &&
   [[ "$cmd" == *"-H Authorization: xxxxxxxxxxxxxxxxx -H cookie: xxxxxxxxxxxx -H X-Api-Token:xxxxxxxxxx -H X-Trace: plain-1 "* ]] &&
   grep -qx "Authorization: Bearer s3cret-tok" "$d/sec4.log" && grep -qx "cookie: id=s3cret-ck" "$d/sec4.log" &&
   grep -qx "X-Api-Token: s3cret-api" "$d/sec4.log" && grep -qx "X-Trace: plain-1" "$d/sec4.log" ||
   { echo "cmdline: $cmd"; cat "$d/sec4.log"; false; }'
hold_case sec5 --proxy "http://pu:s3cret-px@127.0.0.1:PORT" "http://127.0.0.1:$DEAD/"
check "--proxy USER:PASS@: the password is gone from /proc/PID/cmdline, still sent to the proxy" eval \
  '[ -n "$cmd" ] && [[ "$cmd" != *s3cret* ]] && [[ "$cmd" == *"http://pu:xxxxxxxxx@127.0.0.1:"* ]] &&
   grep -qx "Proxy-Authorization: Basic $(printf %s pu:s3cret-px | base64 -w0)" "$d/sec5.log" ||
   { echo "cmdline: $cmd"; cat "$d/sec5.log"; false; }'

run http-get "http://127.0.0.1:$DEAD/" -u dave:s3cret-d
check "-u with a refused connection: unchanged (exit 4, no password printed)" eval \
  '[ $rc = 4 ] && ! grep -q s3cret "$d/err" || { info; false; }'

t_summary
