#!/bin/bash
# http-get -o with --retry against nginx (ranges, ETag), started here on
# loopback with its own configuration, through cut_relay.py, which resets
# the connection at chosen byte counts: each retry resumes (Range +
# If-Range; nginx answers 206), the bytes on the wire stay within 10 % of
# the file, the result is the file; a file changed between two attempts
# restarts (If-Range fails: 200) instead of splicing; a server without
# ranges restarts cleanly; a download killed with SIGKILL continues when
# the same command runs again (OUT.part.state); Repr-Digest and Content-MD5
# checked (a wrong one: exit 12, OUT.part kept); a 404 is not retried.
# usage: http_resume.sh NETTOOL
set -u
NETTOOL=$1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PY=/usr/bin/python3

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
  echo "# nginx is not installed (scripts/install-deps.sh test installs nginx-light)"
  exit 77
fi

# A free port from the range this test owns (27000-27999), by trying.
free_port() {
  local p
  for p in $(seq "$1" "$2"); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
PORT=$(free_port 27080 27140) || { echo "no free port"; exit 1; }

WWW=$T_TMP/www
mkdir -p "$WWW/norange" "$T_TMP/ngx/tmp"
SIZE=$((8 * 1024 * 1024))
head -c $SIZE /dev/urandom >"$WWW/big.bin"
cp "$WWW/big.bin" "$WWW/norange/big.bin"
SHA=$(sha256sum <"$WWW/big.bin" | cut -d' ' -f1)
SUM_B64=$(openssl dgst -sha256 -binary "$WWW/big.bin" | base64 -w0)
MD5_B64=$(openssl dgst -md5 -binary "$WWW/big.bin" | base64 -w0)
cp "$WWW/big.bin" "$WWW/good.bin"
cp "$WWW/big.bin" "$WWW/bad.bin"
cp "$WWW/big.bin" "$WWW/md5.bin"
cp "$WWW/big.bin" "$WWW/slow.bin"
chmod -R a+rX "$T_TMP"

cat >"$T_TMP/ngx/nginx.conf" <<EOF
worker_processes 1;
pid $T_TMP/ngx/nginx.pid;
error_log $T_TMP/ngx/error.log info;
events { worker_connections 64; }
http {
  access_log $T_TMP/ngx/access.log;
  client_body_temp_path $T_TMP/ngx/tmp/body;
  proxy_temp_path $T_TMP/ngx/tmp/proxy;
  fastcgi_temp_path $T_TMP/ngx/tmp/fcgi;
  uwsgi_temp_path $T_TMP/ngx/tmp/uwsgi;
  scgi_temp_path $T_TMP/ngx/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT;
    root $WWW;
    location /norange/ { max_ranges 0; }
    location = /slow.bin { limit_rate 2m; }
    location = /good.bin { add_header Repr-Digest "sha-256=:$SUM_B64:"; }
    location = /bad.bin {
      add_header Repr-Digest "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";
    }
    location = /md5.bin { add_header Content-MD5 "$MD5_B64"; }
  }
}
EOF
# as root nginx would switch its worker to nobody: keep the worker as us
if [ "$(id -u)" = 0 ]; then
  sed -i '1i user root root;' "$T_TMP/ngx/nginx.conf"
fi
"$NGINX" -p "$T_TMP/ngx" -e "$T_TMP/ngx/error.log" -c "$T_TMP/ngx/nginx.conf" \
  -g 'daemon off;' 2>"$T_TMP/ngx/stderr" &
t_track $!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "nginx did not start"; cat "$T_TMP/ngx/stderr" "$T_TMP/ngx/error.log"; exit 1
fi

# relay ARGS...: starts cut_relay.py towards nginx; sets RPORT and RSTATS.
RN=0
relay() {
  RN=$((RN + 1))
  RSTATS=$T_TMP/relay$RN.json
  rm -f "$T_TMP/relay$RN.port"
  $PY "$HERE/cut_relay.py" --listen-port-file "$T_TMP/relay$RN.port" \
    --target "127.0.0.1:$PORT" --stats "$RSTATS" "$@" &
  RPID=$!
  t_track $RPID
  for _ in $(seq 50); do [ -s "$T_TMP/relay$RN.port" ] && break; sleep 0.1; done
  RPORT=$(cat "$T_TMP/relay$RN.port")
}
stat_of() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$RSTATS" "$1"; }
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

# 1. plain download, no relay
OUT=$T_TMP/o1.bin
"$NETTOOL" http-get -q "http://127.0.0.1:$PORT/big.bin" -o "$OUT" 2>"$T_TMP/e1"
rc=$?
if [ $rc -eq 0 ] && [ "$(sha_of "$OUT")" = "$SHA" ] && [ ! -e "$OUT.part.state" ]; then
  ok "http-get -o: the whole file, no state left"
else
  not_ok "http-get -o: the whole file" "exit $rc" "$(cat "$T_TMP/e1")"
fi

# 2. three cuts mid-body: each retry resumes
relay --cut-at 1000000,3500000,6000000
OUT=$T_TMP/o2.bin
: >"$T_TMP/ngx/access.log"
"$NETTOOL" http-get "http://127.0.0.1:$RPORT/big.bin" -o "$OUT" --retry 5 \
  --retry-delay 0.1 2>"$T_TMP/e2"
rc=$?
down=$(stat_of down)
cuts=$(stat_of cuts)
n206=$(grep -c '" 206 ' "$T_TMP/ngx/access.log")
if [ $rc -eq 0 ] && [ "$(sha_of "$OUT")" = "$SHA" ]; then
  ok "three cuts, --retry 5: exit 0 and the same sha256"
else
  not_ok "three cuts, --retry 5" "exit $rc" "$(cat "$T_TMP/e2")"
fi
if [ "$cuts" = 3 ] && [ "$n206" = 3 ] && grep -q 'resuming at byte' "$T_TMP/e2"; then
  ok "each of the 3 retries asked for the rest (nginx: 3 x 206)"
else
  not_ok "each retry resumes" "cuts $cuts, 206s $n206" "$(cat "$T_TMP/ngx/access.log")" "$(cat "$T_TMP/e2")"
fi
if [ "$down" -le $((SIZE + SIZE / 10)) ]; then
  ok "bytes on the wire $down <= 1.1 x $SIZE"
else
  not_ok "bytes on the wire" "$down for $SIZE"
fi
t_stop $RPID

# 2b. one cut, no --retry: exit 7 and one line that says how the connection
# ended (the status) and how much came, each once (it used to say twice that
# the connection closed); the retry lines of 2 say it the same way
relay --cut-at 1000000
OUT=$T_TMP/o2b.bin
"$NETTOOL" http-get -q "http://127.0.0.1:$RPORT/big.bin" -o "$OUT" 2>"$T_TMP/e2b"
rc=$?
want="^nettool: http-get: http://127\.0\.0\.1:$RPORT/big\.bin: (connection reset by peer|connection closed before the reply was complete): the response body stopped after [0-9]+ of $SIZE bytes; partial download kept in $OUT\.part \(the same command continues it\)\$"
if [ $rc -eq 7 ] && [ "$(wc -l <"$T_TMP/e2b")" = 1 ] && grep -Eq "$want" "$T_TMP/e2b" &&
  [ "$(grep -o 'connection' "$T_TMP/e2b" | wc -l)" = 1 ] &&
  grep -Eq '(connection reset by peer|connection closed before the reply was complete): the response body stopped after [0-9]+ of [0-9]+ bytes, retrying in' "$T_TMP/e2" &&
  ! grep -q 'the connection closed' "$T_TMP/e2"; then
  ok "a cut without --retry: exit 7, one line saying once how it ended and how much came"
else
  not_ok "a cut without --retry: one clear line" "exit $rc" "$(cat "$T_TMP/e2b")" "$(grep retrying "$T_TMP/e2")"
fi
t_stop $RPID

# 3. the file changes between two attempts: If-Range fails, nginx sends
# the new file whole (200), which is what arrives, not a splice. The cut
# comes before 1 MiB of body (after more, the retry would go at once): the
# file is changed during the --retry-delay wait.
relay --cut-at 500000
OUT=$T_TMP/o3.bin
: >"$T_TMP/ngx/access.log"
cp "$WWW/big.bin" "$T_TMP/orig.bin"
"$NETTOOL" http-get "http://127.0.0.1:$RPORT/big.bin" -o "$OUT" --retry 3 \
  --retry-delay 2 2>"$T_TMP/e3" &
NPID=$!
t_track $NPID
t_wait_line "$T_TMP/e3" 'retrying in' 100
head -c $((SIZE - 4096)) /dev/urandom >"$WWW/big.new"
touch -d '2026-01-01 00:00:00' "$WWW/big.new"
mv "$WWW/big.new" "$WWW/big.bin"
NEWSHA=$(sha_of "$WWW/big.bin")
wait $NPID
rc=$?
n200=$(grep -c '" 200 ' "$T_TMP/ngx/access.log")
if [ $rc -eq 0 ] && [ "$(sha_of "$OUT")" = "$NEWSHA" ] && [ "$n200" = 2 ]; then
  ok "changed between attempts: If-Range made nginx send the new file whole (200)"
else
  not_ok "changed between attempts" "exit $rc, 200s $n200" "$(cat "$T_TMP/e3")" "$(cat "$T_TMP/ngx/access.log")"
fi
cp "$T_TMP/orig.bin" "$WWW/big.bin"
t_stop $RPID

# 4. a server without ranges (max_ranges 0): the retry starts over cleanly
relay --cut-at 3000000
OUT=$T_TMP/o4.bin
"$NETTOOL" http-get -q "http://127.0.0.1:$RPORT/norange/big.bin" -o "$OUT" \
  --retry 2 --retry-delay 0.1 2>"$T_TMP/e4"
rc=$?
if [ $rc -eq 0 ] && [ "$(sha_of "$OUT")" = "$SHA" ]; then
  ok "server without ranges: started over, right file"
else
  not_ok "server without ranges" "exit $rc" "$(cat "$T_TMP/e4")"
fi
t_stop $RPID

# 5. killed (SIGKILL) mid-transfer, then the same command again continues
OUT=$T_TMP/o5.bin
: >"$T_TMP/ngx/access.log"
"$NETTOOL" http-get -q "http://127.0.0.1:$PORT/slow.bin" -o "$OUT" 2>"$T_TMP/e5" &
NPID=$!
t_track $NPID
for _ in $(seq 100); do
  [ "$(stat -c %s "$OUT.part" 2>/dev/null || echo 0)" -gt 3000000 ] && break
  sleep 0.1
done
kill -KILL $NPID
wait $NPID 2>/dev/null
kept=$(stat -c %s "$OUT.part" 2>/dev/null || echo 0)
if [ "$kept" -gt 0 ] && [ -s "$OUT.part.state" ]; then
  ok "SIGKILL left OUT.part ($kept bytes) and OUT.part.state"
else
  not_ok "SIGKILL left the part and its state" "$(ls -l "$T_TMP")"
fi
"$NETTOOL" http-get -q "http://127.0.0.1:$PORT/slow.bin" -o "$OUT" 2>>"$T_TMP/e5"
rc=$?
last=$(tail -n 1 "$T_TMP/ngx/access.log")
if [ $rc -eq 0 ] && [ "$(sha_of "$OUT")" = "$SHA" ] && [[ $last == *'" 206 '* ]] &&
  [ ! -e "$OUT.part.state" ]; then
  ok "the same command again continued (206) and finished"
else
  not_ok "the same command continues" "exit $rc" "$last" "$(cat "$T_TMP/e5")"
fi

# 6. digests: a right Repr-Digest and Content-MD5 pass; a wrong one: 12
OUT=$T_TMP/o6.bin
if "$NETTOOL" http-get -v "http://127.0.0.1:$PORT/good.bin" -o "$OUT" 2>"$T_TMP/e6" &&
  grep -q 'verified: Repr-Digest SHA-256' "$T_TMP/e6"; then
  ok "Repr-Digest sha-256 checked and right"
else
  not_ok "Repr-Digest right" "$(tail -n 5 "$T_TMP/e6")"
fi
if "$NETTOOL" http-get -v "http://127.0.0.1:$PORT/md5.bin" -o "$OUT" 2>"$T_TMP/e6" &&
  grep -q 'verified: Content-MD5 MD5' "$T_TMP/e6"; then
  ok "Content-MD5 checked and right"
else
  not_ok "Content-MD5 right" "$(tail -n 5 "$T_TMP/e6")"
fi
OUT=$T_TMP/o7.bin
"$NETTOOL" http-get -q "http://127.0.0.1:$PORT/bad.bin" -o "$OUT" --retry 3 2>"$T_TMP/e7"
rc=$?
if [ $rc -eq 12 ] && [ ! -e "$OUT" ] && [ -s "$OUT.part" ] && [ ! -e "$OUT.part.state" ] &&
  grep -q 'does not match' "$T_TMP/e7" && ! grep -q retrying "$T_TMP/e7"; then
  ok "wrong Repr-Digest: exit 12, OUT.part kept, not retried"
else
  not_ok "wrong Repr-Digest" "exit $rc" "$(cat "$T_TMP/e7")"
fi
if "$NETTOOL" http-get -q --no-verify "http://127.0.0.1:$PORT/bad.bin" -o "$OUT" 2>"$T_TMP/e7"; then
  ok "--no-verify: the wrong digest is not checked"
else
  not_ok "--no-verify" "$(cat "$T_TMP/e7")"
fi

# 7. a 404 is not retried
"$NETTOOL" http-get "http://127.0.0.1:$PORT/nope.bin" -o "$T_TMP/o8" --retry 3 2>"$T_TMP/e8"
rc=$?
if [ $rc -eq 8 ] && ! grep -q retrying "$T_TMP/e8" && [ ! -e "$T_TMP/o8.part" ]; then
  ok "404: exit 8 at once, no retry, no part file"
else
  not_ok "404 not retried" "exit $rc" "$(cat "$T_TMP/e8")"
fi

t_summary
