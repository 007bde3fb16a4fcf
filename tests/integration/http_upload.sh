#!/usr/bin/env bash
# nettool http-upload / http-get against real multipart parsers on loopback:
# the Flask/Werkzeug receiver (http_multipart.py, over http and https, and
# with MAX_BYTES for 413), busboy (Node, when node and npm are there), and a
# fast streaming receiver for the sparse 3 GiB file (http_fast_receiver.py).
# Every part is checked by the SHA-256 the server computed.
#   http_upload.sh NETTOOL MAKE_CERTS CACHE_DIR
set -u
nt=$1 make_certs=${2:-} cache=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
PY=/usr/bin/python3
d=$T_TMP

if ! $PY -c 'import flask' 2>/dev/null; then
  not_ok "python3-flask is missing (scripts/install-deps.sh installs it)"
  t_summary
  exit 1
fi

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# jget FILE EXPR: a value from a JSON report ("d" is the document).
jget() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
sha() { $PY -c 'import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],"rb")
for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"; }
ready() { # URL: up to 10 s
  local i
  for i in $(seq 100); do
    "$nt" http-get -q -k --timeout 1 "$1/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
start_flask() { # NAME PORT ARGS... (env MAX_BYTES)
  local name=$1 port=$2
  shift 2
  $PY "$here/http_multipart.py" "$port" "$@" >"$d/$name.log" 2>&1 &
  t_track $!
}

# run OUT ERR ARGS...: nettool with stdout/stderr captured; rc in $rc.
run() {
  local out=$1 err=$2
  shift 2
  "$nt" "$@" >"$out" 2>"$err"
  rc=$?
}
one_error() { [ "$(grep -c '^nettool: ' "$1")" = 1 ]; }
fail_info() { echo "rc=$rc"; cat "$d/err" 2>/dev/null | head -5; head -c 600 "$d/out" 2>/dev/null; }

# --- the files ------------------------------------------------------------------
: >"$d/empty.bin"
printf 'x' >"$d/one.bin"
head -c 10485760 /dev/urandom >"$d/ten.bin"
head -c 200000 /dev/urandom >"$d/mid.bin"
printf 'field file\n' >"$d/small.txt"
odd='my "quoted" file\with back slash, café 日本.txt'
printf 'odd name\n' >"$d/$odd"
odd2='my "quoted" file, café 日本.txt' # busboy keeps only what follows a '\'
printf 'odd name\n' >"$d/$odd2"

# --- servers --------------------------------------------------------------------------
P=$(free_port)
start_flask flask "$P"
P413=$(free_port)
start_flask flask413 "$P413" --max-bytes 100000
rm -f "$d/fast.port"
$PY "$here/http_fast_receiver.py" "$d/fast.port" >"$d/fast.log" 2>&1 &
t_track $!
rm -f "$d/slow.port"
$PY "$here/http_fast_receiver.py" "$d/slow.port" --rate 2000000 >"$d/slow.log" 2>&1 &
t_track $!
TLS=0
if [ -n "$make_certs" ] && [ -f "$make_certs" ] && sh "$make_certs" "$d/certs" >/dev/null 2>&1; then
  TLS=1
  PS=$(free_port)
  start_flask flasktls "$PS" --tls "$d/certs/server.crt" "$d/certs/server.key"
fi
U=http://127.0.0.1:$P
check "Flask receiver is up" ready "$U"
check "Flask receiver with MAX_BYTES is up" ready "http://127.0.0.1:$P413"
for _ in $(seq 50); do [ -s "$d/fast.port" ] && [ -s "$d/slow.port" ] && break; sleep 0.1; done
FAST=http://127.0.0.1:$(cat "$d/fast.port" 2>/dev/null)
SLOW=http://127.0.0.1:$(cat "$d/slow.port" 2>/dev/null)

# upload_check DESC FILE [ARGS...]: FILE uploaded to Flask arrives whole.
upload_check() {
  local desc=$1 f=$2
  shift 2
  run "$d/out" "$d/err" http-upload "$U/upload" "$f" "$@"
  local want got size
  want=$(sha "$f")
  got=$(jget "$d/out" '[x for x in d["files"] if x["field"]=="file"][0]["sha256"]')
  size=$(jget "$d/out" '[x for x in d["files"] if x["field"]=="file"][0]["size"]')
  if [ "$rc" = 0 ] && [ "$got" = "$want" ] && [ "$size" = "$(stat -c %s "$f")" ]; then
    ok "$desc"
  else
    not_ok "$desc" "$(fail_info)"
  fi
}

# --- Flask: sizes, parts, names ----------------------------------------------------------
upload_check "0-byte file" "$d/empty.bin"
upload_check "1-byte file" "$d/one.bin"
upload_check "10 MiB file (sha256 from the server)" "$d/ten.bin"
check "status line on stderr, body on stdout" eval \
  'grep -qx "HTTP/1.1 200 OK" "$d/err" && [ "$(wc -l <"$d/err")" = 1 ] && jget "$d/out" "d[\"method\"]" | grep -qx POST'
check "10 MiB went with Expect: 100-continue and Content-Length" eval \
  '[ "$(jget "$d/out" "d[\"headers\"].get(\"Expect\")")" = 100-continue ] && [ "$(jget "$d/out" "d[\"content_length\"]")" -gt 10485760 ]'
check "no progress bar when stderr is not a terminal" eval '! grep -q $'"'"'\r'"'"' "$d/err"'

run "$d/out" "$d/err" http-upload "$U/upload" "$d/ten.bin" -F title=hello -F "note=été ✓" \
  -F "a=@$d/small.txt" -F "b=@$d/mid.bin;type=application/x-custom;filename=renamed.dat" \
  -F "c=@$d/one.bin" --field payload --type application/zip
check "several files and fields in one request" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "len(d[\"files\"])")" = 4 ] &&
  [ "$(jget "$d/out" "[f[\"value\"] for f in d[\"fields\"]]")" = "['"'"'hello'"'"', '"'"'été ✓'"'"']" ] &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/small.txt")" ] &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"content_type\"]")" = text/plain ] &&
  [ "$(jget "$d/out" "d[\"files\"][1][\"filename\"]")" = renamed.dat ] &&
  [ "$(jget "$d/out" "d[\"files\"][1][\"content_type\"]")" = application/x-custom ] &&
  [ "$(jget "$d/out" "d[\"files\"][1][\"sha256\"]")" = "$(sha "$d/mid.bin")" ] &&
  [ "$(jget "$d/out" "d[\"files\"][3][\"field\"]")" = payload ] &&
  [ "$(jget "$d/out" "d[\"files\"][3][\"content_type\"]")" = application/zip ] &&
  [ "$(jget "$d/out" "d[\"files\"][3][\"sha256\"]")" = "$(sha "$d/ten.bin")" ] || { fail_info; false; }'

run "$d/out" "$d/err" http-upload "$U/upload" "$d/$odd"
check "filename with spaces, quotes, a backslash and UTF-8 arrives as it is" eval \
  '[ $rc = 0 ] && [ "$(jget "$d/out" "d[\"files\"][0][\"filename\"]")" = "$odd" ] || { fail_info; false; }'

cat "$d/ten.bin" | "$nt" http-upload "$U/upload" - >"$d/out" 2>"$d/err"
rc=$?
check "stdin ('-') goes chunked and arrives whole" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "d[\"transfer_encoding\"]")" = chunked ] &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/ten.bin")" ] || { fail_info; false; }'

# --- curl's habits: -H 'Expect:', -H Content-Type, --form-string, -F name=<file (issue 10) ---------
run "$d/out" "$d/err" http-upload "$U/upload" "$d/ten.bin" -H 'Expect:'
check "-H 'Expect:' removes Expect: 100-continue (10 MiB arrives whole)" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "d[\"headers\"].get(\"Expect\")")" = None ] &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/ten.bin")" ] || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "$U/upload" "$d/mid.bin" -H 'Content-Type: multipart/form-data' -F t=v
check "-H 'Content-Type: multipart/form-data' keeps the boundary: the form parses" eval '[ $rc = 0 ] &&
  jget "$d/out" "d[\"content_type\"]" | grep -q "^multipart/form-data; boundary=nettool-" &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/mid.bin")" ] &&
  [ "$(jget "$d/out" "d[\"fields\"][0][\"value\"]")" = v ] || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "$U/upload" "$d/one.bin" -H 'Content-Type: application/json'
check "-H with a Content-Type the form cannot be parsed with: refused, exit 2" eval \
  '[ $rc = 2 ] && grep -q "another type would make the form unparseable" "$d/err" || { fail_info; false; }'
printf 'line one\nline two\n' >"$d/text.txt"
run "$d/out" "$d/err" http-upload "$U/upload" "$d/one.bin" --form-string 'a=@not-a-file' \
  --form-string 'b=<not-a-file;type=x' -F "c=<$d/text.txt"
check "--form-string sends @ and < literally; -F name=<file sends the contents as a text field" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "[f[\"value\"] for f in d[\"fields\"]]")" = "['"'"'@not-a-file'"'"', '"'"'<not-a-file;type=x'"'"', '"'"'line one\\nline two\\n'"'"']" ] &&
  [ "$(jget "$d/out" "len(d[\"files\"])")" = 1 ] || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "$U/upload" "$d/one.bin" -F "s=@$d/small.txt;type=text/plain; charset=utf-8"
check "an unquoted ';type=text/plain; charset=utf-8': exit 2, says how to quote it" eval \
  '[ $rc = 2 ] && grep -qF ";type=\"text/plain; charset=utf-8\"" "$d/err" || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "$U/upload" "$d/one.bin" -F "s=@$d/small.txt;type=\"text/plain; charset=utf-8\""
check "a quoted type with parameters is sent whole" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"content_type\"]")" = "text/plain; charset=utf-8" ] || { fail_info; false; }'

# --- answers, output files, errors ------------------------------------------------------------
run "$d/out" "$d/err" http-upload "http://127.0.0.1:$P413/upload" "$d/mid.bin"
check "413 from MAX_BYTES: exit 8, status on stderr" eval \
  '[ $rc = 8 ] && grep -q "^HTTP/1.1 413" "$d/err" && grep -q "nettool: http-upload: .*413" "$d/err" || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "http://127.0.0.1:$P413/upload" "$d/ten.bin"
check "413 to a 10 MiB upload (answered early, before the body)" eval \
  '[ $rc = 8 ] && grep -q "^HTTP/1.1 413" "$d/err" || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "$U/status/500" "$d/one.bin"
check "500: exit 8" eval '[ $rc = 8 ] && grep -q "^HTTP/1.1 500" "$d/err"'

echo previous >"$d/report.json"
run "$d/out" "$d/err" http-upload "$U/upload" "$d/one.bin" -o "$d/report.json"
check "-o OUT: the body goes to OUT, no OUT.part left" eval \
  '[ $rc = 0 ] && [ ! -s "$d/out" ] && [ ! -e "$d/report.json.part" ] && [ "$(jget "$d/report.json" "d[\"files\"][0][\"size\"]")" = 1 ]'
echo precious >"$d/keep.txt"
run "$d/out" "$d/err" http-get "$U/status/404" -o "$d/keep.txt"
check "http-get: a 404 leaves an existing OUT untouched (exit 8)" eval \
  '[ $rc = 8 ] && [ "$(cat "$d/keep.txt")" = precious ] && [ ! -e "$d/keep.txt.part" ]'
run "$d/out" "$d/err" http-get "$U/health" -o "$d/keep.txt"
check "http-get: a 200 replaces OUT" eval '[ $rc = 0 ] && [ "$(cat "$d/keep.txt")" = ok ]'
run "$d/out" "$d/err" http-get "$U/health" -o "$d/nodir/x"
check "http-get: OUT in a missing directory: exit 9" eval '[ $rc = 9 ] && one_error "$d/err"'

run "$d/out" "$d/err" http-upload "$U/upload" "$d/nope.bin"
check "missing FILE: exit 9, one line" eval '[ $rc = 9 ] && t_one_error_line "$d/err" && grep -q "nope.bin: no such file" "$d/err"'
run "$d/out" "$d/err" http-upload "ftp://127.0.0.1/x" "$d/one.bin"
check "ftp:// URL: exit 2" eval '[ $rc = 2 ] && grep -q "only http:// and https://" "$d/err"'
run "$d/out" "$d/err" http-upload "http://127.0.0.1:70000/" "$d/one.bin"
check "port out of range: exit 2" eval '[ $rc = 2 ] && t_one_error_line "$d/err"'
run "$d/out" "$d/err" http-upload "$U/upload" "$d/one.bin" -F 'novalue'
check "bad -F: exit 2" eval '[ $rc = 2 ] && grep -q "bad -F" "$d/err"'
DEAD=$(free_port)
run "$d/out" "$d/err" http-upload "http://127.0.0.1:$DEAD/upload" "$d/one.bin"
check "connection refused: exit 4, one line" eval \
  '[ $rc = 4 ] && t_one_error_line "$d/err" && grep -q "connect to 127.0.0.1 port $DEAD: connection refused" "$d/err"'
run "$d/out" "$d/err" http-get "http://no-such-host.invalid./" --timeout 5
check "unknown host: exit 5" eval '[ $rc = 5 ] && grep -q "resolve no-such-host.invalid." "$d/err"'

# --- credentials and redirects -------------------------------------------------------------------
run "$d/out" "$d/err" http-upload "$U/upload" "$d/one.bin" -u 'alice:s3cret pass'
check "-u: Basic auth sent, the password never printed" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "d[\"headers\"][\"Authorization\"]")" = "Basic $(printf "alice:s3cret pass" | base64)" ] &&
  ! grep -q "s3cret" "$d/err"'
run "$d/out" "$d/err" http-upload "http://bob:hunter2@127.0.0.1:$P/redirect/307?to=/upload" "$d/mid.bin"
check "307: the body is sent again to the new location (same origin: auth kept)" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/mid.bin")" ] &&
  [ -n "$(jget "$d/out" "d[\"headers\"].get(\"Authorization\")")" ] &&
  grep -q "redirected (307)" "$d/err" && ! grep -q hunter2 "$d/err" || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "http://bob:hunter2@127.0.0.1:$P/redirect/308?to=http://localhost:$P/upload" "$d/mid.bin"
check "308 to another host: body replayed, credentials not forwarded" eval '[ $rc = 0 ] &&
  [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/mid.bin")" ] &&
  [ "$(jget "$d/out" "d[\"headers\"].get(\"Authorization\")")" = None ] || { fail_info; false; }'
run "$d/out" "$d/err" http-upload "$U/redirect/303?to=/health" "$d/one.bin"
check "303: followed with GET" eval '[ $rc = 0 ] && [ "$(cat "$d/out")" = ok ]'
run "$d/out" "$d/err" http-upload "$U/redirect/302?to=self" "$d/one.bin" --max-redirs 3
check "redirect loop: stopped after --max-redirs, exit 7" eval \
  '[ $rc = 7 ] && grep -q "too many HTTP redirects" "$d/err" || { fail_info; false; }'

# --- the big one: 3 GiB, sparse, through sendfile ---------------------------------------------------
# The poll-backend pass of scripts/test.sh skips it (same path, ~3-15 s).
if [ "${NETTOOL_BACKEND:-epoll}" != poll ] || [ "${NT_HTTP_BIG:-}" = 1 ]; then
  truncate -s 3G "$d/sparse.bin"
  start_ms=$(date +%s%3N)
  run "$d/out" "$d/err" http-upload "$FAST/upload" "$d/sparse.bin" -F "tag=big"
  ms=$(( $(date +%s%3N) - start_ms ))
  check "sparse 3 GiB file (size beyond 32 bits) arrives whole (${ms} ms)" eval '[ $rc = 0 ] &&
    [ "$(jget "$d/out" "d[\"files\"][1][\"size\"]")" = 3221225472 ] &&
    [ "$(jget "$d/out" "d[\"files\"][1][\"sha256\"]")" = 305b66a59d15b252092fbda9d09711230c429f351897cbd430e7b55a35fd3b97 ] &&
    [ "$(jget "$d/out" "d[\"complete\"]")" = True ] || { fail_info; false; }'
  rm -f "$d/sparse.bin"
else
  ok "sparse 3 GiB file # SKIP on the poll backend (NT_HTTP_BIG=1 runs it)"
fi

# --- a file that shrinks while it is sent (the slow receiver reads 2 MB/s) ----------------------------
truncate -s 20M "$d/shrinks.bin"
"$nt" http-upload "$SLOW/upload" "$d/shrinks.bin" >"$d/out" 2>"$d/err" &
up=$!
sleep 0.5
truncate -s 1M "$d/shrinks.bin"
if t_wait_exit "$up" 200; then wait "$up"; rc=$?; else kill "$up"; rc=timeout; fi
check "a file that changes size during the upload: exit 9, the reason given" eval \
  '[ "$rc" = 9 ] && grep -q "file changed size during the upload: .*shrinks.bin: size changed from 20971520 to 1048576" "$d/err" || { fail_info; false; }'

# --- a progress bar on a terminal (script(1) gives one) -----------------------------------------------
if command -v script >/dev/null; then
  head -c 1000000 /dev/zero >"$d/slow.bin"
  script -qec "'$nt' http-upload '$SLOW/upload' '$d/slow.bin' -o '$d/slow.json'" "$d/tty.log" >/dev/null 2>&1
  # 1 MB fits in the socket buffers at once: the bar may go straight to its
  # acknowledged percentage and "waiting for the server" (issue 12).
  check "progress bar on a terminal: bytes, percent, rate and ETA or waiting" eval \
    'grep -aq "%  .*/s  ETA\|%  waiting for the server" "$d/tty.log" && [ "$(jget "$d/slow.json" "d[\"files\"][0][\"size\"]")" = 1000000 ]'
  script -qec "'$nt' http-upload '$FAST/upload' '$d/slow.bin' -o '$d/slow.json' --quiet" "$d/tty.log" >/dev/null 2>&1
  check "--quiet: no bar, no status line" eval '! grep -aq "ETA\|HTTP/1.1" "$d/tty.log"'
fi

# --- https --------------------------------------------------------------------------------------------
if [ "$TLS" = 1 ] && ready "https://127.0.0.1:$PS"; then
  S=https://localhost:$PS
  run "$d/out" "$d/err" http-upload "$S/upload" "$d/ten.bin" --cacert "$d/certs/ca.crt" -F x=y
  check "https: 10 MiB with --cacert" eval '[ $rc = 0 ] &&
    [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/ten.bin")" ] || { fail_info; false; }'
  run "$d/out" "$d/err" http-upload "$S/upload" "$d/$odd" --cacert "$d/certs/ca.crt"
  check "https: odd filename" eval '[ $rc = 0 ] && [ "$(jget "$d/out" "d[\"files\"][0][\"filename\"]")" = "$odd" ]'
  run "$d/out" "$d/err" http-upload "$S/upload" "$d/one.bin"
  check "https: unknown CA: exit 6, the reason given" eval \
    '[ $rc = 6 ] && t_one_error_line "$d/err" && grep -q "TLS handshake with localhost port $PS failed: .*unknown CA" "$d/err"'
  run "$d/out" "$d/err" http-upload "$S/upload" "$d/one.bin" --insecure
  check "https: --insecure works and warns" eval '[ $rc = 0 ] && grep -q "warning: --insecure" "$d/err"'
  cat "$d/mid.bin" | "$nt" http-upload "$S/upload" - --cacert "$d/certs/ca.crt" >"$d/out" 2>"$d/err"
  rc=$?
  check "https: stdin, chunked" eval '[ $rc = 0 ] && [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/mid.bin")" ]'
  run "$d/out" "$d/err" http-get "$S/health" --cacert "$d/certs/ca.crt" -o "$d/h.txt"
  check "https: http-get" eval '[ $rc = 0 ] && [ "$(cat "$d/h.txt")" = ok ]'
else
  ok "https tests # SKIP no test certificates (tests/tls/make-certs.sh)"
fi

# --- busboy, a second strict parser -------------------------------------------------------------------
BB=
if command -v node >/dev/null && command -v npm >/dev/null && [ -n "$cache" ]; then
  # Installed once into the build tree; a failed install (no registry) is
  # not retried for an hour.
  if [ ! -d "$cache/node_modules/busboy" ] &&
     ! find "$cache/.npm-failed" -mmin -60 2>/dev/null | grep -q .; then
    mkdir -p "$cache"
    (cd "$cache" && timeout 30 npm install --no-audit --no-fund --silent busboy@1 >/dev/null 2>&1) ||
      touch "$cache/.npm-failed"
  fi
  [ -d "$cache/node_modules/busboy" ] && BB=1
fi
if [ -n "$BB" ]; then
  PB=$(free_port)
  NODE_PATH="$cache/node_modules" node "$here/http_multipart_busboy.js" "$PB" >"$d/busboy.log" 2>&1 &
  t_track $!
  for _ in $(seq 50); do grep -q listening "$d/busboy.log" && break; sleep 0.1; done
  B=http://127.0.0.1:$PB
  run "$d/out" "$d/err" http-upload "$B/upload" "$d/ten.bin" -F "title=été" -F "s=@$d/small.txt" -F "o=@$d/$odd2"
  check "busboy: 10 MiB, a field, quotes and UTF-8 in a filename" eval '[ $rc = 0 ] &&
    [ "$(jget "$d/out" "d[\"files\"][2][\"sha256\"]")" = "$(sha "$d/ten.bin")" ] &&
    [ "$(jget "$d/out" "d[\"files\"][1][\"filename\"]")" = "$odd2" ] &&
    [ "$(jget "$d/out" "d[\"fields\"][0][\"value\"]")" = été ] || { fail_info; false; }'
  run "$d/out" "$d/err" http-upload "$B/upload" "$d/empty.bin"
  check "busboy: 0-byte file" eval '[ $rc = 0 ] && [ "$(jget "$d/out" "d[\"files\"][0][\"size\"]")" = 0 ]'
  cat "$d/mid.bin" | "$nt" http-upload "$B/upload" - >"$d/out" 2>"$d/err"
  rc=$?
  check "busboy: stdin, chunked" eval '[ $rc = 0 ] && [ "$(jget "$d/out" "d[\"files\"][0][\"sha256\"]")" = "$(sha "$d/mid.bin")" ]'
else
  ok "busboy tests # SKIP node/npm or the busboy package not available"
fi

t_summary
