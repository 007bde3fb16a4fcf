#!/usr/bin/env bash
# nettool http-upload --resumable against the reference tus 1.0 server for
# Node (@tus/server 2 + @tus/file-store 2, installed from npm into CACHE_DIR):
# uploads and their tus metadata; SIGKILL of the client at random points and
# the same command again (the server's file matches the local SHA-256, one
# upload on the server, nothing resent twice beyond the pieces in flight); a
# server restarted between attempts; a server that lost the upload (its store
# deleted) -> a new upload; --retry across a server outage within one run; a
# changed file starts anew; not a tus endpoint, a size over Tus-Max-Size, a
# closed port.
#   tus.sh NETTOOL CACHE_DIR
set -u
nt=$1 cache=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
PY=/usr/bin/python3
d=$T_TMP

# --- the server: node >= 20.19 and the npm packages (tus_npm.sh, pinned) -----
. "$here/tus_lib.sh"
tus_npm_install
cp "$here/tus_server.mjs" "$cache/tus_server.mjs"
echo "# @tus/server $(tus_version @tus/server)"

SPID=
# start_server PORT STORE [env...]: the tus server; waits until OPTIONS answers
start_server() {
  local port=$1 store=$2
  shift 2
  mkdir -p "$store"
  env "$@" node "$cache/tus_server.mjs" "$port" "$store" >>"$d/server.log" 2>&1 &
  SPID=$!
  t_track $SPID
  tus_wait_options "http://127.0.0.1:$port/files"
}
stop_server() { t_stop "$SPID"; wait "$SPID" 2>/dev/null; SPID=; }
# the one upload in STORE (its data file), or "" if not exactly one
stored() {
  local f n
  n=$(find "$1" -maxdepth 1 -name '*.json' | wc -l)
  [ "$n" = 1 ] || { echo ""; return; }
  f=$(find "$1" -maxdepth 1 -name '*.json')
  echo "${f%.json}"
}
fail_info() { echo "rc=$rc"; head -5 "$d/err" 2>/dev/null; head -c 300 "$d/out" 2>/dev/null; }

# kill_mid PID STORE: SIGKILL once the upload is under way (the journal
# exists and the server holds some bytes; at most 10 s), as a crash would
kill_mid() {
  local pid=$1 store=$2 i f
  for i in $(seq 200); do
    if [ -e "$d/big.bin.nettool-upload" ]; then
      for f in "$store"/*; do
        case $f in *.json) continue ;; esac
        [ -s "$f" ] && break 2
      done
    fi
    t_alive "$pid" || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

P=$(free_port)
U=http://127.0.0.1:$P/files
S1=$d/store1
start_server "$P" "$S1" || { not_ok "the tus server starts" "$(tail -5 "$d/server.log")"; t_summary; exit 1; }
ok "the tus server starts on $U"

# --- a plain upload, with metadata --------------------------------------------
head -c 3000000 /dev/urandom >"$d/a.bin"
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/a.bin" -F note=héllo -F "tag=a,b c" --type text/x-test
f=$(stored "$S1")
check "upload: exit 0, the upload URL on stdout, the same bytes on the server" eval '[ $rc = 0 ] &&
  grep -q "^$U/" "$d/out" && [ -n "$f" ] && [ "$(sha "$f")" = "$(sha "$d/a.bin")" ] || { fail_info; false; }'
check "upload: metadata filename, filetype and the -F fields" eval '$PY -c "
import json,sys; m=json.load(open(sys.argv[1]))[\"metadata\"]
assert m==dict(filename=\"a.bin\",filetype=\"text/x-test\",note=\"héllo\",tag=\"a,b c\"), m" "$f.json"'
check "upload: the journal is gone once done" test ! -e "$d/a.bin.nettool-upload"
check "upload: nothing resent" eval '[ "$(sent "$d/err")" = 3000000 ] && [ "$(had "$d/err")" = 0 ]'
rm -f "$S1"/*

: >"$d/empty.bin"
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/empty.bin"
f=$(stored "$S1")
check "upload: a 0-byte file" eval '[ $rc = 0 ] && [ -n "$f" ] && [ ! -s "$f" ] || { fail_info; false; }'
rm -f "$S1"/*

run "$d/out" "$d/err" http-upload --resumable --json "$U" "$d/a.bin"
check "upload --json: final_url is the upload, bytes the size" eval '[ $rc = 0 ] && $PY -c "
import json,sys; j=json.load(open(sys.argv[1])); assert j[\"bytes\"]==3000000 and j[\"final_url\"].startswith(sys.argv[2]+\"/\"), j" "$d/out" "$U"'
rm -f "$S1"/*

# --- SIGKILL at random points, then the same command ----------------------------
head -c 67108864 /dev/urandom >"$d/big.bin"
CH=131072 # small pieces: many round trips, so a fast machine still sees kills land mid-upload
# the bytes the server holds of the upload (its largest data file)
held() {
  local g n=0 m
  for g in "$S1"/*; do
    case $g in *.json) continue ;; esac
    [ -f "$g" ] || continue
    m=$(stat -c %s "$g")
    [ "$m" -gt "$n" ] && n=$m
  done
  echo "$n"
}
kills=0 finished=0 early=0
for i in 1 2 3 4 5 6 7 8; do
  before=$(held)
  "$nt" http-upload --resumable --chunk-size $CH "$U" "$d/big.bin" >"$d/k.out" 2>"$d/k.err" &
  pid=$!
  # odd rounds: at a random moment from the start (creation included), 10-50
  # ms; even rounds: once this run has moved the server's data 1-4 MiB on
  # (at most 10 s), mid-data. By progress, not by time alone: a quiet
  # machine sends the whole 64 MiB in well under a second.
  if [ $((i % 2)) = 0 ]; then
    want=$((before + (RANDOM % 4 + 1) * 1048576))
    for _ in $(seq 1000); do [ "$(held)" -ge $want ] && break; t_alive $pid || break; sleep 0.01; done
  else
    sleep "0.0$((RANDOM % 5 + 1))"
  fi
  if t_alive $pid; then
    # killed before the journal named the upload: the server may keep an
    # orphan creation (a POST answered after the kill), never used again
    [ -e "$d/big.bin.nettool-upload" ] || early=$((early + 1))
    kill -KILL $pid
    kills=$((kills + 1))
    wait $pid 2>/dev/null
  else
    wait $pid
    rc=$?
    finished=1
    cp "$d/k.err" "$d/err"
    cp "$d/k.out" "$d/out"
    break
  fi
done
[ $finished = 1 ] || run "$d/out" "$d/err" http-upload --resumable --chunk-size $CH "$U" "$d/big.bin"
f=$S1/$(sed -n "s|^$U/||p" "$d/out")
n=$(find "$S1" -maxdepth 1 -name '*.json' | wc -l)
echo "# $kills kills ($early before the journal); $n upload(s) on the server; last run: $(tail -1 "$d/err")"
check "kill -9 x$kills at random points, then the same command: the server's file has the same SHA-256" \
  eval '[ $rc = 0 ] && [ $kills -ge 3 ] && [ -f "$f" ] &&
  [ "$(sha "$f")" = "$(sha "$d/big.bin")" ] || { fail_info; ls -la "$S1"; false; }'
check "kill -9: one upload used throughout (others only from kills before the journal)" eval '[ "$n" -le $((1 + early)) ]'
check "kill -9: the last run continued where the server was, sending only the rest" eval '
  [ $(( $(had "$d/err") + $(sent "$d/err") )) = 67108864 ] || { tail -1 "$d/err"; false; }'
rm -f "$S1"/*

# --- the same command twice at once: the second is refused, nothing mixed -------
"$nt" http-upload --resumable --chunk-size 262144 "$U" "$d/big.bin" -q >"$d/l1.out" 2>"$d/l1.err" &
pid=$!
for _ in $(seq 100); do [ -e "$d/big.bin.nettool-upload" ] && break; sleep 0.05; done
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/big.bin"
rc2=$rc
wait $pid
rc=$?
f=$(stored "$S1")
check "the same upload twice at once: the second exits 3 (file in use), the first completes" eval '[ $rc2 = 3 ] &&
  grep -q "another nettool is uploading" "$d/err" && [ $rc = 0 ] && [ "$(sha "$f")" = "$(sha "$d/big.bin")" ] ||
  { echo "rc2=$rc2 rc=$rc"; cat "$d/err"; false; }'
rm -f "$S1"/*

# --- the server restarts between attempts (same store) --------------------------
"$nt" http-upload --resumable --chunk-size $CH "$U" "$d/big.bin" -q >/dev/null 2>&1 &
kill_mid $! "$S1"
stop_server
start_server "$P" "$S1" || not_ok "the tus server restarts"
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/big.bin"
f=$(stored "$S1")
check "server restarted between attempts: resumed, same SHA-256" eval '[ $rc = 0 ] && [ -n "$f" ] &&
  [ "$(sha "$f")" = "$(sha "$d/big.bin")" ] && [ "$(had "$d/err")" -gt 0 ] || { fail_info; false; }'
rm -f "$S1"/*

# --- the server lost the upload: a new one, cleanly -------------------------------
"$nt" http-upload --resumable --chunk-size $CH "$U" "$d/big.bin" -q >/dev/null 2>&1 &
kill_mid $! "$S1"
stop_server
rm -rf "$S1"
start_server "$P" "$S1" || not_ok "the tus server restarts"
have_journal=0
[ -e "$d/big.bin.nettool-upload" ] && have_journal=1
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/big.bin"
f=$(stored "$S1")
check "store deleted: HEAD 404 -> one new upload, same SHA-256" eval '[ $rc = 0 ] && [ $have_journal = 1 ] &&
  [ -n "$f" ] && [ "$(sha "$f")" = "$(sha "$d/big.bin")" ] && grep -q "1 new uploads" "$d/err" || { fail_info; false; }'
rm -f "$S1"/*

# --- --retry within one run: the server goes away mid-upload and comes back ------
"$nt" http-upload --resumable --chunk-size 1048576 --retry 10 --retry-delay 0.3 "$U" "$d/big.bin" \
  >"$d/r.out" 2>"$d/r.err" &
pid=$!
sleep 0.25
stop_server
sleep 1
start_server "$P" "$S1" || not_ok "the tus server restarts"
t_wait_exit $pid 300
wait $pid
rc=$?
f=$(stored "$S1")
echo "# $(tail -1 "$d/r.err")"
check "--retry: an outage mid-upload, one run, same SHA-256" eval '[ $rc = 0 ] && [ -n "$f" ] &&
  [ "$(sha "$f")" = "$(sha "$d/big.bin")" ] || { echo rc=$rc; tail -5 "$d/r.err"; false; }'
check "--retry: it did retry and resend at most the pieces in flight" eval 'grep -q "retrying in" "$d/r.err" &&
  [ "$(sed -n "s/.*at the start; \([0-9]*\) sent.*/\1/p" "$d/r.err")" -le $((67108864 + 2 * 1048576)) ] || { tail -3 "$d/r.err"; false; }'
rm -f "$S1"/*

# --- a changed file is a new upload --------------------------------------------
"$nt" http-upload --resumable --chunk-size $CH "$U" "$d/big.bin" -q >/dev/null 2>&1 &
kill_mid $! "$S1"
printf 'changed' | dd of="$d/big.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
touch -d '+1 second' "$d/big.bin"
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/big.bin"
f=$(stored "$S1") # the old partial upload stays on the server: two .json
n=$(find "$S1" -maxdepth 1 -name '*.json' | wc -l)
newest=$(ls -t "$S1"/*.json | head -1)
check "changed file: a new upload from byte 0, same SHA-256" eval '[ $rc = 0 ] && [ "$(had "$d/err")" = 0 ] &&
  [ "$(sha "${newest%.json}")" = "$(sha "$d/big.bin")" ] || { fail_info; false; }'
rm -f "$S1"/*

# --- --delete-on-failure: SIGINT mid-upload deletes it on the server (termination)
"$nt" http-upload --resumable --delete-on-failure --chunk-size $CH "$U" "$d/big.bin" >"$d/t.out" 2>"$d/t.err" &
pid=$!
for _ in $(seq 200); do
  [ -e "$d/big.bin.nettool-upload" ] && [ -n "$(find "$S1" -maxdepth 1 -type f ! -name '*.json' -size +0)" ] && break
  t_alive $pid || break
  sleep 0.05
done
n_before=$(find "$S1" -maxdepth 1 -name '*.json' | wc -l)
kill -INT $pid
t_wait_exit $pid 100
wait $pid
rc=$?
check "--delete-on-failure: SIGINT -> exit 130, the server deleted the upload (DELETE), no journal" eval '[ $rc = 130 ] &&
  [ "$n_before" = 1 ] && [ -z "$(ls "$S1")" ] && [ ! -e "$d/big.bin.nettool-upload" ] &&
  grep -q "asked to delete" "$d/t.err" || { echo "rc=$rc before=$n_before"; ls -la "$S1"; cat "$d/t.err"; false; }'
rm -f "$S1"/*

# --- errors ------------------------------------------------------------------------
PH=$(free_port)
(cd "$d" && exec $PY -m http.server -b 127.0.0.1 "$PH" >"$d/plain.log" 2>&1) &
t_track $!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PH/" && break; sleep 0.1; done
run "$d/out" "$d/err" http-upload --resumable "http://127.0.0.1:$PH/files" "$d/a.bin"
check "not a tus endpoint (python http.server): exit 7, one line" eval '[ $rc = 7 ] &&
  [ "$(grep -c "^nettool: " "$d/err")" = 1 ] && grep -q "not a tus endpoint" "$d/err" || { fail_info; false; }'
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/nope.bin"
check "missing file: exit 9" eval '[ $rc = 9 ] || { fail_info; false; }'
run "$d/out" "$d/err" http-upload --resumable "$U" - </dev/null
check "stdin: usage error" eval '[ $rc = 2 ] || { fail_info; false; }'
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/a.bin" -F "f=@$d/a.bin"
check "-F file part with --resumable: usage error" eval '[ $rc = 2 ] || { fail_info; false; }'
run "$d/out" "$d/err" http-upload --resumable "$U" "$d/a.bin" --checksum require
check "--checksum require and a server without the extension: exit 7" eval '[ $rc = 7 ] &&
  grep -q "checksum" "$d/err" || { fail_info; false; }'
stop_server
P2=$(free_port)
start_server "$P2" "$d/store2" TUS_MAX_SIZE=1000 || not_ok "the small tus server starts"
run "$d/out" "$d/err" http-upload --resumable "http://127.0.0.1:$P2/files" "$d/a.bin"
check "over Tus-Max-Size: exit 8, says so" eval '[ $rc = 8 ] && grep -q "Tus-Max-Size" "$d/err" || { fail_info; false; }'
stop_server
run "$d/out" "$d/err" http-upload --resumable --connect-timeout 2 "http://127.0.0.1:$P2/files" "$d/a.bin"
check "closed port: exit 4" eval '[ $rc = 4 ] || { fail_info; false; }'

t_summary
