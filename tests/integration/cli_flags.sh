#!/usr/bin/env bash
# The CLI's shared options (apps/nettool/cli_opts.c): each flag is accepted
# and means the same in every command that has it (--timeout parsed once,
# the same usage error and exit 2; -k without TLS refused the same way; -q
# and -v accepted everywhere), -v shows the dialogue with passwords masked,
# --json prints one valid JSON object per transfer, http-get -i / -D /
# --head, and -V. Against scripted peers (cli_flags_peer.py) on 127.0.0.1.
#   cli_flags.sh NETTOOL
set -u
nt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
trap t_cleanup EXIT
W=$T_TMP/work
mkdir -p "$W"
PY=/usr/bin/python3

run() { (cd "$W" && "$nt" "$@" >"$W/out" 2>"$W/err"); echo $? >"$W/rc"; }
rc_is() { [ "$(cat "$W/rc")" = "$1" ] || { echo "rc $(cat "$W/rc"), want $1: $(head -c 300 "$W/err")"; return 1; }; }
err_is_one_line() {
  [ "$(wc -l <"$W/err")" = 1 ] && grep -Eq -- "$1" "$W/err" ||
    { echo "stderr: $(head -c 400 "$W/err")"; return 1; }
}
err_has() { grep -Fq -- "$1" "$W/err" || { echo "stderr lacks '$1': $(head -c 600 "$W/err")"; return 1; }; }
err_lacks() { ! grep -Fq -- "$1" "$W/err" || { echo "stderr has '$1'"; return 1; }; }
c() {
  local _desc=$1 _out
  shift
  if _out=$("$@" 2>&1); then ok "$_desc"; else not_ok "$_desc" "$_out"; fi
}
# json_check PYTHON-EXPR: stdout is exactly one JSON object (o) and EXPR holds
json_check() {
  "$PY" -c '
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").splitlines()
assert len(lines) == 1, "want one line, got %d" % len(lines)
o = json.loads(lines[0])
assert isinstance(o, dict), "not an object"
ok = eval(sys.argv[2])
assert ok, "failed: %s on %r" % (sys.argv[2], o)
' "$W/out" "$1"
}

# peer MODE: starts cli_flags_peer.py, PORT
peer() {
  local pf=$T_TMP/$1.port i
  rm -f "$pf"
  "$PY" "$here/cli_flags_peer.py" "$1" "$pf" "$W/srv" >/dev/null 2>&1 &
  t_track $!
  for i in $(seq 50); do [ -s "$pf" ] && break; sleep 0.1; done
  PORT=$(cat "$pf" 2>/dev/null)
  [ -n "$PORT" ]
}

# --- the same flag, the same meaning, in every command ----------------------
# Each command with its minimal operands (nothing is contacted: the bad
# option stops it first).
declare -A ARGS=(
  [ts-client]="127.0.0.1 9" [resolve]="localhost" [nntp-read]="g"
  [nntp-list]="" [nntp-post]="g" [http-get]="http://127.0.0.1:9/"
  [http-upload]="http://127.0.0.1:9/ /dev/null" [ftp-get]="127.0.0.1 f"
  [ftp-put]="127.0.0.1 /dev/null f" [ftp-ls]="127.0.0.1"
)
all="ts-client resolve nntp-read nntp-list nntp-post http-get http-upload ftp-get ftp-put ftp-ls"
clients="ts-client nntp-read nntp-list nntp-post http-get http-upload ftp-get ftp-put ftp-ls"
for cmd in $all; do
  # shellcheck disable=SC2086
  run $cmd ${ARGS[$cmd]} --timeout 1x
  c "$cmd --timeout 1x: exit 2, the one message" eval \
    'rc_is 2 && err_is_one_line "^nettool: $cmd: bad --timeout '"'"'1x'"'"': expected seconds > 0 \(see '"'"'nettool $cmd --help'"'"'\)$"'
  # -q is accepted (getopt reads left to right: the error is the next one's)
  # shellcheck disable=SC2086
  run $cmd ${ARGS[$cmd]} -q --timeout 0
  c "$cmd -q: accepted" eval 'rc_is 2 && err_is_one_line "bad --timeout '"'"'0'"'"'"'
done
for cmd in $clients; do
  for o in --connect-timeout --max-time; do
    # shellcheck disable=SC2086
    run $cmd ${ARGS[$cmd]} $o -1
    c "$cmd $o -1: exit 2, the one message" eval \
      'rc_is 2 && err_is_one_line "^nettool: $cmd: bad $o '"'"'-1'"'"': expected seconds > 0"'
  done
done
# -k / --insecure and --cacert without TLS: the one rule, the one message.
for cmd in ts-client nntp-list ftp-ls ftp-get; do
  for o in -k --insecure "--cacert /dev/null"; do
    # shellcheck disable=SC2086
    run $cmd ${ARGS[$cmd]} $o
    [ "$cmd" = nntp-list ] && run $cmd --server 127.0.0.1:9 $o
    c "$cmd $o without TLS: exit 2, '--cacert and --insecure need TLS'" eval \
      'rc_is 2 && err_is_one_line "^nettool: $cmd: --cacert and --insecure need TLS \(.*--tls.*\)"'
  done
done
# -k with TLS: the same one warning in every command (printed before the
# connection, which then fails: port 9 on 127.0.0.1 has no server here).
warn="warning: --insecure: the server's TLS certificate is not verified; anyone on the path can read and change this session"
for t in "ts-client 127.0.0.1 9 --tls" "http-get https://127.0.0.1:9/" "ftp-ls ftps://127.0.0.1:9/" \
         "nntp-list --server 127.0.0.1:9 --tls" "nntp-read nntps://127.0.0.1:9/g"; do
  # shellcheck disable=SC2086
  run $t -k --connect-timeout 2
  cmd=${t%% *}
  c "$cmd -k with TLS: the one warning, once" eval \
    '[ "$(grep -c "warning: --insecure" "$W/err")" = 1 ] && grep -qx "nettool: $cmd: $warn" "$W/err" || { cat "$W/err"; false; }'
done
# -v is accepted by the commands that talk a protocol.
for cmd in nntp-read nntp-list http-get http-upload ftp-get ftp-put ftp-ls; do
  # shellcheck disable=SC2086
  run $cmd ${ARGS[$cmd]} -v --max-time x
  c "$cmd -v: accepted" eval 'rc_is 2 && err_is_one_line "bad --max-time"'
done
run ftp-ls 127.0.0.1 --port 0
c "--port 0: exit 2" eval 'rc_is 2 && err_is_one_line "^nettool: ftp-ls: bad --port '"'"'0'"'"': expected a number from 1 to 65535"'
run nntp-list --server 127.0.0.1 --port 70000
c "nntp-list --port 70000: exit 2, the same message" eval 'rc_is 2 && err_is_one_line "bad --port '"'"'70000'"'"': expected a number from 1 to 65535"'
run http-get http://127.0.0.1:9/ --sha256
c "--sha256 without --json: exit 2" eval 'rc_is 2 && err_is_one_line "--sha256 goes with --json"'
run http-get --help
c "http-get --help: the shared options from the table, exit 0" eval \
  'rc_is 0 && grep -q "^Common options" "$W/out" && grep -q "^  -k, --insecure" "$W/out" && grep -q "^  --json" "$W/out"'

# --- -V ------------------------------------------------------------------------
for v in -V --version; do
  run $v
  c "nettool $v: versions of nettool, OpenSSL, c-ares, llhttp" eval \
    'rc_is 0 && grep -Eq "^nettool [0-9]+\.[0-9]+\.[0-9]+ .*OpenSSL [0-9].* c-ares/[0-9.]+ llhttp/[0-9.]+$" "$W/out"'
done

# --- HTTP: -v, -i, -D, --head, --json ---------------------------------------
mkdir -p "$W/srv"
printf 'hello\n' >"$W/srv/f.txt"
if peer http; then
  U=http://127.0.0.1:$PORT
  run http-get "$U/f" -v -u alice:S3cret-pw -H 'X-Test: 1'
  c "http-get -v: the request and the response head on stderr, Authorization masked" eval \
    'rc_is 0 && err_has "> GET /f HTTP/1.1" && err_has "> Authorization: Basic ****" &&
     err_has "> X-Test: 1" && err_has "< HTTP/1.1 200 OK" && err_has "< Content-Length: 6" &&
     err_lacks "S3cret" && [ "$(cat "$W/out")" = hello ]'
  c "... the server's header reaches the terminal escaped" eval 'err_has "< X-Esc: a?31mb"'
  run http-get "$U/redir" -v -q -o body.txt -H 'Authorization: Bearer t0ken-xyz' -H 'Cookie: sid=c00kie'
  c "http-get -v: the heads as sent (the library's), each hop of a redirect, credentials masked" eval \
    'rc_is 0 && err_has "> GET /redir HTTP/1.1" && err_has "> User-Agent: nettool/" &&
     err_has "< HTTP 302, following Location: $U/f" && err_has "> GET /f HTTP/1.1" &&
     err_has "> Authorization: Bearer ****" && err_has "> Cookie: ****" &&
     err_lacks "t0ken" && err_lacks "c00kie"'
  run http-get "$U/f" -i -q
  c "http-get -i: the head, an empty line, the body on stdout" eval \
    'rc_is 0 && [ "$(head -n1 "$W/out")" = "$(printf "HTTP/1.1 200 OK\r")" ] &&
     grep -q "^Content-Length: 6" "$W/out" && [ "$(tail -n1 "$W/out")" = hello ] &&
     grep -q "^$(printf "\r")$" "$W/out"'
  run http-get "$U/f" -D "$W/head.txt" -q
  c "http-get -D FILE: the head in FILE, the body alone on stdout" eval \
    'rc_is 0 && [ "$(cat "$W/out")" = hello ] && grep -q "^HTTP/1.1 200 OK" "$W/head.txt" &&
     grep -q "^Content-Type: text/plain" "$W/head.txt"'
  run http-get --head "$U/f" -q
  c "http-get --head: status and headers on stdout, no body" eval \
    'rc_is 0 && grep -q "^HTTP/1.1 200 OK" "$W/out" && grep -q "^Content-Length: 6" "$W/out" && ! grep -q hello "$W/out"'
  run http-get "$U/redir" --json --sha256 -q -o body.txt
  sum=$(printf 'hello\n' | sha256sum | cut -d" " -f1)
  c "http-get --json --sha256: one object, status, bytes, final URL after the redirect, sha256" eval \
    'rc_is 0 && json_check "o[\"command\"]==\"http-get\" and o[\"url\"]==\"$U/redir\" and o[\"status\"]==200 and o[\"bytes\"]==6 and o[\"final_url\"]==\"$U/f\" and o[\"sha256\"]==\"$sum\" and o[\"exit_code\"]==0 and o[\"seconds\"]>=0 and \"bytes_per_second\" in o and o[\"file\"]==\"body.txt\""'
  # A file name that needs escaping: quote, backslash, a control character.
  name=$'q"b\\s\001.txt'
  run http-get "$U/f" --json -q -o "$name"
  c "--json escapes strings (a file name with \", \\ and ^A parses back equal)" eval \
    'rc_is 0 && json_check "o[\"file\"]==\"q\\\"b\\\\s\\x01.txt\""'
  run http-upload "$U/f" "$W/srv/f.txt" --json -q -o /dev/null
  c "http-upload --json: the object, bytes sent" eval \
    'rc_is 0 && json_check "o[\"command\"]==\"http-upload\" and o[\"status\"]==200 and o[\"bytes\"]>6"'
  run http-get "$U/redir" --max-redirs 0 --json -q -o /dev/null
  c "--json on an answer that is not 2xx: exit 8, status and the error line" eval \
    'rc_is 8 && json_check "o[\"exit_code\"]==8 and o[\"status\"]==302 and \"answered 302\" in o[\"error\"]"'
  run http-get "http://127.0.0.1:9/" --json -q
  c "--json on a failure: exit code and the error line in the object" eval \
    'rc_is 4 && json_check "o[\"exit_code\"]==4 and \"refused\" in o[\"error\"] and \"sha256\" not in o"'
else
  not_ok "starting the HTTP peer"
fi

# --- FTP: -v, --json ----------------------------------------------------------
if peer ftp; then
  run ftp-get 127.0.0.1 f.txt --port "$PORT" -o got.txt -v -u bob:Pa55-word
  c "ftp-get -v: the dialogue on stderr ('> RETR', '< 150'), PASS masked" eval \
    'rc_is 0 && err_has "> USER bob" && err_has "> PASS ****" && err_has "> RETR f.txt" &&
     err_has "< 150 sending f.txt" && err_has "< 226 done" && err_lacks "Pa55" &&
     [ "$(cat "$W/got.txt")" = hello ]'
  run ftp-get 127.0.0.1 f.txt --port "$PORT" -o got2.txt --json --sha256 -q
  c "ftp-get --json --sha256: host, path, bytes, file, sha256, status 226" eval \
    'rc_is 0 && json_check "o[\"command\"]==\"ftp-get\" and o[\"host\"]==\"127.0.0.1\" and o[\"port\"]==$PORT and o[\"path\"]==\"f.txt\" and o[\"bytes\"]==6 and o[\"file\"]==\"got2.txt\" and o[\"sha256\"]==\"$sum\" and o[\"status\"]==226"'
  run ftp-put 127.0.0.1 "$W/srv/f.txt" g.txt --port "$PORT" --json -q
  c "ftp-put --json: bytes sent, the local file" eval \
    'rc_is 0 && json_check "o[\"command\"]==\"ftp-put\" and o[\"bytes\"]==6 and o[\"path\"]==\"g.txt\" and o[\"file\"].endswith(\"f.txt\")" &&
     [ "$(cat "$W/srv/up-g.txt")" = hello ]'
  run ftp-get 127.0.0.1 esc --port "$PORT" -v -q
  c "ftp-get -v: the server's words in the dialogue reach the terminal escaped" eval \
    'rc_is 8 && err_has "< 550 no ?]0;pwned? ?31mfile" && ! grep -q "$(printf "\033")" "$W/err"'
  run ftp-get 127.0.0.1 nope --port "$PORT" --json -q
  c "ftp-get --json on a 550: exit 8, the object says so" eval \
    'rc_is 8 && json_check "o[\"exit_code\"]==8 and o[\"error\"]==\"550 no such file\" and \"sha256\" not in o"'
else
  not_ok "starting the FTP peer"
fi

# --- NNTP: --port, -k, -v -------------------------------------------------------
if peer nntp; then
  run nntp-list --server 127.0.0.1 --port "$PORT" -v -u carol:N3ws-pw
  c "nntp-list --port and -v: the dialogue, AUTHINFO PASS masked" eval \
    'rc_is 0 && grep -q "^local.test" "$W/out" && err_has "> AUTHINFO USER carol" &&
     err_has "> AUTHINFO PASS ****" && err_has "< 281 welcome" && err_lacks "N3ws"'
else
  not_ok "starting the NNTP peer"
fi

t_summary
