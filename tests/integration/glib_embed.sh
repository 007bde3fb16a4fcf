#!/usr/bin/env bash
# glib_embed.sh NETTOOL GLIB_EMBED -- the GLib embedding example
# (apps/examples/glib_embed.c): nettool's reactor as a GSource in a GLib main
# loop, uploading a file to the Flask multipart receiver (http_multipart.py)
# while serving the timestamp protocol, which `nettool ts-client` talks to.
# Checks the server's SHA-256 of the upload, the timestamp replies, that
# nettool's log lines reach GLib's log (and not stderr), that the process
# sleeps while idle, and a clean exit on SIGTERM; then a refused upload.
set -u
nt=$1 ge=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
PY=/usr/bin/python3
d=$T_TMP

if [ -z "$ge" ] || [ ! -x "$ge" ]; then
  not_ok "glib_embed is built" "not built: it needs glib-2.0 (Debian: libglib2.0-dev, scripts/install-deps.sh)"
  t_summary
  exit 1
fi
if ! $PY -c 'import flask' 2>/dev/null; then
  not_ok "python3-flask is missing (scripts/install-deps.sh installs it)"
  t_summary
  exit 1
fi

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
jget() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# --- the receiver ------------------------------------------------------------------
P=$(free_port)
$PY "$here/http_multipart.py" "$P" >"$d/flask.log" 2>&1 &
t_track $!
up=0
for _ in $(seq 100); do
  "$nt" http-get -q --timeout 1 "http://127.0.0.1:$P/health" >/dev/null 2>&1 && { up=1; break; }
  sleep 0.1
done
if [ $up = 0 ]; then
  not_ok "the Flask receiver starts" "$(tail -5 "$d/flask.log")"
  t_summary
  exit 1
fi

# --- upload + timestamp server in one GLib loop ------------------------------------
head -c 8388608 /dev/urandom >"$d/upload.bin" # several loop turns of body
want_sha=$(sha256sum "$d/upload.bin" | cut -d' ' -f1)
NETTOOL_LOG=debug G_MESSAGES_DEBUG=nettool \
  "$ge" "http://127.0.0.1:$P/upload" "$d/upload.bin" "$d/resp.json" >"$d/out" 2>"$d/err" &
pid=$!
t_track $pid

if t_wait_line "$d/out" '^ts-server on 127\.0\.0\.1:[0-9]+$' 100; then
  ok "the embedded ts-server listens on a loopback port"
else
  not_ok "the embedded ts-server listens on a loopback port" "$(head -5 "$d/out")" "$(head -5 "$d/err")"
fi
port=$(sed -n 's/^ts-server on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$d/out")
# The backend the suite's pass asks for: epoll, or io_uring (its ring's fd
# in GLib's poll); a fallback from io_uring to epoll only where the ring
# cannot be set up, which nettool logs.
be=$(sed -n 's/^reactor backend: //p' "$d/out")
want=epoll
[ "${NETTOOL_BACKEND:-}" = io_uring ] && want=io_uring
if [ "$be" = "$want" ]; then
  ok "the reactor in the GLib loop runs on $want"
elif [ "$want" = io_uring ] && [ "$be" = epoll ] && grep -q 'io_uring: setup failed' "$d/out"; then
  ok "the reactor in the GLib loop runs on epoll (io_uring cannot be set up here)"
else
  not_ok "the reactor in the GLib loop runs on $want" "got '$be'" "$(head -5 "$d/out")"
fi

printf 'hello glib\nsecond line\n' | timeout 10 "$nt" ts-client 127.0.0.1 "${port:-1}" >"$d/ts.out" 2>"$d/ts.err"
rc=$?
if [ $rc -eq 0 ] && why=$(t_check_replies "$d/ts.out" ': ' 'hello glib' 'second line'); then
  ok "ts-client gets timestamped replies from the server in the GLib loop"
else
  not_ok "ts-client gets timestamped replies from the server in the GLib loop" "rc=$rc ${why:-}" "$(cat "$d/ts.out" "$d/ts.err")"
fi

if t_wait_line "$d/out" '^upload: ' 300 && grep -q '^upload: HTTP 200, [0-9]* bytes sent$' "$d/out"; then
  ok "the upload ends with HTTP 200"
else
  not_ok "the upload ends with HTTP 200" "$(grep '^upload' "$d/out")" "$(tail -5 "$d/err")"
fi
if [ "$(jget "$d/resp.json" 'd["files"][0]["sha256"]')" = "$want_sha" ] &&
  [ "$(jget "$d/resp.json" 'd["files"][0]["size"]')" = 8388608 ] &&
  [ "$(jget "$d/resp.json" 'd["files"][0]["filename"]')" = upload.bin ] &&
  [ "$(jget "$d/resp.json" 'd["fields"][0]["value"]')" = glib_embed ]; then
  ok "the receiver got the whole file (its SHA-256) and the text field"
else
  not_ok "the receiver got the whole file (its SHA-256) and the text field" "$(head -c 800 "$d/resp.json")"
fi

# nettool's lines went through the log handler into g_log, none to stderr.
if grep -Eq '^\(process:[0-9]+\): nettool-DEBUG: .*http .*receiving -> done' "$d/out"; then
  ok "nettool's debug lines reach GLib's log through nt_log_set_handler"
else
  not_ok "nettool's debug lines reach GLib's log through nt_log_set_handler" "$(head -5 "$d/out")"
fi
if ! grep -q 'nettool\[' "$d/err"; then
  ok "the library writes nothing to stderr by itself"
else
  not_ok "the library writes nothing to stderr by itself" "$(grep 'nettool\[' "$d/err" | head -3)"
fi

# Idle (a listener, GLib's 100 ms timer): the loop sleeps, it does not spin
# on the backend fd. 1 s of wall time should cost well under 0.3 s of CPU.
if t_alive $pid; then
  c0=$(cpu_ticks $pid)
  sleep 1
  c1=$(cpu_ticks $pid)
  hz=$(getconf CLK_TCK)
  if [ $((c1 - c0)) -lt $((hz * 3 / 10)) ]; then
    ok "idle in the GLib loop costs no CPU ($((c1 - c0)) ticks of $hz/s)"
  else
    not_ok "idle in the GLib loop costs no CPU" "$((c1 - c0)) clock ticks in 1 s"
  fi
else
  not_ok "glib_embed is still running after the exchange" "$(tail -5 "$d/err")"
fi

kill -TERM $pid 2>/dev/null
if t_wait_exit $pid 50; then
  wait $pid
  rc=$?
  if [ $rc -eq 0 ]; then ok "SIGTERM (a GLib signal source) ends it with exit 0"; else
    not_ok "SIGTERM (a GLib signal source) ends it with exit 0" "exit $rc" "$(tail -5 "$d/err")"; fi
else
  not_ok "SIGTERM (a GLib signal source) ends it with exit 0" "still running after 5 s"
fi
if grep -Eq '^glib: [1-9][0-9]* timer ticks$' "$d/out"; then
  ok "GLib's own timer ran alongside nettool"
else
  not_ok "GLib's own timer ran alongside nettool" "$(tail -3 "$d/out")"
fi
if [ ! -s "$d/err" ]; then ok "nothing at all on stderr"; else not_ok "nothing at all on stderr" "$(head -5 "$d/err")"; fi

# --- a refused upload: the error comes back through the same loop ------------------
DEAD=$(free_port)
"$ge" "http://127.0.0.1:$DEAD/upload" "$d/upload.bin" "$d/resp2" >"$d/out2" 2>"$d/err2" &
pid2=$!
t_track $pid2
if t_wait_line "$d/out2" '^upload: ' 100 && grep -q '^upload: failed: connection refused' "$d/out2"; then
  ok "an upload to a closed port fails with 'connection refused'"
else
  not_ok "an upload to a closed port fails with 'connection refused'" "$(cat "$d/out2" "$d/err2" | head -5)"
fi
kill -TERM $pid2 2>/dev/null
if t_wait_exit $pid2 50; then
  wait $pid2
  rc=$?
  if [ $rc -eq 1 ]; then ok "and it exits 1"; else not_ok "and it exits 1" "exit $rc"; fi
else
  not_ok "and it exits 1" "still running after 5 s"
fi

# --- SIGTERM in the middle of an upload: cancelled, torn down cleanly -----------
# A peer that accepts and never reads: the 8 MiB upload is still sending
# when the signal comes; the example cancels it and turns the reactor until
# on_done has run, then frees everything.
HANG=$(free_port)
$PY -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
print("ready", flush=True)
time.sleep(60)' "$HANG" >"$d/hang.out" 2>&1 &
t_track $!
t_wait_line "$d/hang.out" '^ready$' 50
"$ge" "http://127.0.0.1:$HANG/upload" "$d/upload.bin" "$d/resp3" >"$d/out3" 2>"$d/err3" &
pid3=$!
t_track $pid3
t_wait_line "$d/out3" '^ts-server on ' 50
sleep 0.5
kill -TERM $pid3 2>/dev/null
if t_wait_exit $pid3 50; then
  wait $pid3
  rc=$?
  if [ $rc -eq 1 ] && grep -q '^upload: failed: operation canceled' "$d/out3"; then
    ok "SIGTERM during an upload: cancelled (on_done runs), exit 1"
  else
    not_ok "SIGTERM during an upload: cancelled (on_done runs), exit 1" "exit $rc" "$(head -5 "$d/out3")"
  fi
else
  not_ok "SIGTERM during an upload: cancelled (on_done runs), exit 1" "still running after 5 s"
fi
if [ ! -s "$d/err3" ]; then
  ok "and nothing was left live on the reactor (no warning on stderr)"
else
  not_ok "and nothing was left live on the reactor (no warning on stderr)" "$(head -5 "$d/err3")"
fi

t_summary
