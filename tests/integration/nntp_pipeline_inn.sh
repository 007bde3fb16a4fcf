#!/usr/bin/env bash
# nntp-read against a real INN 2.7 (nntp_inn.sh; COMPRESS DEFLATE is on in
# Debian's nnrpd, which lists it): the session compresses (COMPRESS DEFLATE
# then 206; over TLS after STARTTLS) and the overview rows come back
# identical with and without compression, with and without pipelining, over 1 and 4 connections;
# OVER commands go out pipelined (several before the first reply); --new
# keeps a .newsrc (tin/slrn format) across runs; --threads orders replies
# under their parents by References; --json is valid JSON with every row;
# against INN's authentication-required nnrpd every pool connection logs
# in; --connections N makes N connections in all (a counting relay in
# front of INN); and a scripted server that hangs up on pipelined commands
# (nntp_refuse_peer.py) gets them again one at a time (the client itself
# connects again).
#   nntp_pipeline_inn.sh NETTOOL
set -u
nt=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/lib/news/bin/innd ] || { echo "skipped: inn2 not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skipped: INN needs root"; exit 77; }
dir=$(mktemp -d /tmp/nt-nntp-pipe.XXXXXX)
chmod 755 "$dir" # INN runs as user news
inn=$dir/inn
cleanup() { bash "$here/nntp_inn.sh" stop "$inn" >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
unset NNTPSERVER

free_port() { # a port in 25000-25999 nobody listens on
  local p
  for p in $(shuf -i 25000-25999 -n 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}
port=$(free_port) || { echo "no free port"; exit 1; }
sh "$here/../tls/make-certs.sh" "$dir/certs" >/dev/null || { echo "no test certificates"; exit 1; }
aport=$(free_port) || { echo "no free port"; exit 1; }
[ "$aport" != "$port" ] || aport=$(free_port)
bash "$here/nntp_inn.sh" start "$inn" "$port" "$aport" "" "$dir/certs" >"$dir/inn.log" 2>&1 || {
  cat "$dir/inn.log"; exit 1; }
srv=127.0.0.1:$port

pass=0 fail=0 n=0
check() { # description, command...
  local d=$1; shift
  n=$((n + 1))
  if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}

# 150 articles in local.test over one connection: three threads of five
# (References chains), the rest plain; POST by POST, CRLF, dot-stuffed.
post_all() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  local l i refs
  read -r l <&3
  for i in $(seq 1 150); do
    printf 'POST\r\n' >&3
    read -r l <&3
    case $l in 340*) ;; *) echo "# POST: $l"; return 1 ;; esac
    refs=""
    if [ "$i" -le 15 ] && [ $(( (i - 1) % 5 )) -ne 0 ]; then
      refs="References: <p$(( (i - 1) / 5 * 5 + 1 ))@pipe.test> <p$((i - 1))@pipe.test>"$'\r\n'
    fi
    printf 'From: Poster %d <p%d@pipe.test>\r\nNewsgroups: local.test\r\nSubject: article %d\r\nMessage-ID: <p%d@pipe.test>\r\n%s\r\nbody of %d\r\n..dot line\r\n.\r\n' \
      "$i" "$i" "$i" "$i" "$refs" "$i" >&3
    read -r l <&3
    case $l in 240*) ;; *) echo "# posted: $l"; return 1 ;; esac
  done
  exec 3<&-
}
check "150 articles posted to INN" post_all

read_ok() { # OUTFILE args...: nntp-read, exit 0
  local out=$1; shift
  "$nt" nntp-read local.test --server "$srv" "$@" >"$out" 2>"$out.err" ||
    { echo "# exit $?: $(head -3 "$out.err")"; return 1; }
}
rows() { grep -cE '^ +[0-9]+  ' "$1"; }

t_compress() {
  read_ok "$dir/z" --overview 150 -v || return 1
  grep -q '^> COMPRESS DEFLATE' "$dir/z.err" && grep -q '^< 206' "$dir/z.err" ||
    { echo "# no COMPRESS in: $(head -12 "$dir/z.err")"; return 1; }
  [ "$(rows "$dir/z")" = 150 ] || { echo "# rows: $(rows "$dir/z")"; return 1; }
}
check "COMPRESS DEFLATE with INN: 150 overview rows" t_compress

# RFC 8054: COMPRESS after STARTTLS (and only then), on the same session
t_tls() {
  read_ok "$dir/tls" --overview 150 --tls --cacert "$dir/certs/ca.crt" -v || return 1
  awk '/^> STARTTLS/ {t = NR} /^> COMPRESS DEFLATE/ {c = NR} END {exit !(t && c > t)}' \
    "$dir/tls.err" || { echo "# order: $(grep -E '^> (STARTTLS|COMPRESS)' "$dir/tls.err")"; return 1; }
  cmp -s "$dir/z" "$dir/tls" || { diff "$dir/z" "$dir/tls" | head -5; return 1; }
}
check "STARTTLS, then COMPRESS over TLS: the same rows" t_tls

t_same() {
  read_ok "$dir/plain" --overview 150 --no-compress --no-pipelining -v || return 1
  ! grep -q 'COMPRESS' "$dir/plain.err" || { echo "# COMPRESS sent"; return 1; }
  read_ok "$dir/c4" --overview 150 --connections 4 || return 1
  cmp -s "$dir/z" "$dir/plain" && cmp -s "$dir/z" "$dir/c4" ||
    { diff "$dir/z" "$dir/plain" | head -5; diff "$dir/z" "$dir/c4" | head -5; return 1; }
}
check "the same rows uncompressed one at a time and over 4 connections" t_same

# the nnrpd that wants AUTHINFO: every pool connection logs in by itself
t_auth() {
  "$nt" nntp-read local.test --server "127.0.0.1:$aport" --overview 150 \
    >/dev/null 2>"$dir/noauth.err"
  [ $? = 8 ] || { echo "# without -u: $(cat "$dir/noauth.err")"; return 1; }
  "$nt" nntp-read local.test --server "127.0.0.1:$aport" -u reader:reader-pw \
    --overview 150 --connections 3 -v >"$dir/auth" 2>"$dir/auth.err" ||
    { echo "# $(grep -v '^[<>]' "$dir/auth.err" | head -3)"; return 1; }
  # three connections in all (the session's is the pool's first): each logs
  # in at set-up; the ones opened for the pool may be closed before theirs
  # ends when the session's connection did the work (two OVER chunks)
  local a
  a=$(grep -c '^> AUTHINFO PASS \*\*\*\*' "$dir/auth.err")
  [ "$a" -ge 1 ] && [ "$a" -le 3 ] || { echo "# AUTHINFO PASS: $a"; return 1; }
  ! grep -q '^< 480' "$dir/auth.err" || { echo "# a 480"; return 1; }
  ! grep -q 'reader-pw' "$dir/auth.err" || { echo "# the password was shown"; return 1; }
  cmp -s "$dir/z" "$dir/auth" || { diff "$dir/z" "$dir/auth" | head -3; return 1; }
}
check "authentication required: every pool connection logs in (3 at most); same rows" t_auth

# --connections N opens N connections in all, not N + 1: a relay in front
# of INN (nntp_count_relay.py) counts the ones it accepts
t_count() {
  /usr/bin/python3 "$here/nntp_count_relay.py" "$port" "$dir/accepts" >"$dir/relayport" &
  local pid=$! i rc=0 c
  for i in $(seq 50); do [ -s "$dir/relayport" ] && break; sleep 0.1; done
  for c in 1 2 4; do
    echo 0 >"$dir/accepts"
    "$nt" nntp-read local.test --server "127.0.0.1:$(cat "$dir/relayport")" --overview 150 \
      --connections "$c" >"$dir/count$c" 2>"$dir/count$c.err" || { echo "# $c: exit $?"; rc=1; break; }
    [ "$(cat "$dir/accepts")" = "$c" ] || { echo "# --connections $c: $(cat "$dir/accepts") connections"; rc=1; break; }
    cmp -s "$dir/z" "$dir/count$c" || { echo "# --connections $c: other rows"; rc=1; break; }
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  return $rc
}
check "--connections 1, 2, 4: exactly that many connections (counted by a relay); same rows" t_count

# every other article marked read: 75 unread runs, 75 OVER commands
t_pipelined() {
  local rc=$dir/newsrc-odd r=""
  for i in $(seq 2 2 150); do r="$r${r:+,}$i"; done
  printf 'local.test: %s\n' "$r" >"$rc"
  read_ok "$dir/odd" --new --newsrc "$rc" -v || return 1
  [ "$(rows "$dir/odd")" = 75 ] || { echo "# rows: $(rows "$dir/odd")"; return 1; }
  # commands sent before the first overview reply came back
  local before
  before=$(awk '/^< 224/ {exit} /^> OVER/ {n++} END {print n+0}' "$dir/odd.err")
  [ "$before" -ge 2 ] || { echo "# only $before OVER before the first reply"; return 1; }
  grep -qx 'local.test: 1-150' "$rc" || { echo "# newsrc: $(cat "$rc")"; return 1; }
}
check "pipelined OVER for 75 unread runs; the .newsrc becomes 1-150" t_pipelined

t_new() {
  local rc=$dir/newsrc
  printf 'options -r\nalt.test! 1-5\n' >"$rc" # tin/rn lines kept as they are
  read_ok "$dir/n1" --new --newsrc "$rc" || return 1
  [ "$(rows "$dir/n1")" = 150 ] || { echo "# first run rows: $(rows "$dir/n1")"; return 1; }
  read_ok "$dir/n2" --new --newsrc "$rc" || return 1
  grep -q 'nothing new' "$dir/n2" || { echo "# second run: $(cat "$dir/n2")"; return 1; }
  printf 'From: late <l@pipe.test>\nSubject: late one\n\nlate\n' |
    "$nt" nntp-post local.test - --server "$srv" >/dev/null || return 1
  read_ok "$dir/n3" --new --newsrc "$rc" || return 1
  [ "$(rows "$dir/n3")" = 1 ] && grep -q 'late one' "$dir/n3" || { cat "$dir/n3"; return 1; }
  [ "$(cat "$rc")" = $'options -r\nalt.test! 1-5\nlocal.test: 1-151' ] ||
    { echo "# newsrc: $(cat "$rc")"; return 1; }
}
check "--new: all, then nothing, then the one posted since; .newsrc kept" t_new

t_threads() {
  read_ok "$dir/t" --overview 500 --threads || return 1
  # thread 1: 1, 2 (reply to 1), 3 (to 2)... each one level deeper
  local want got
  want=$(printf '%s\n' 'article 1' '  article 2' '    article 3' '      article 4' \
    '        article 5' 'article 6')
  got=$(grep -E '^ +(1|2|3|4|5|6)  ' "$dir/t" | sed -E 's/^.{54}//' | head -6)
  [ "$got" = "$want" ] || { echo "# got:"; echo "$got" | sed 's/^/#   /'; return 1; }
}
check "--threads: replies indented under their parents" t_threads

t_json() {
  read_ok "$dir/j" --overview 500 --json --connections 2 || return 1
  /usr/bin/python3 - "$dir/j" <<'EOF' || return 1
import json, sys
d = json.load(open(sys.argv[1]))
a = d["articles"]
assert d["group"] == "local.test" and len(a) == 151, (d.get("group"), len(a))
assert [x["number"] for x in a] == sorted(x["number"] for x in a)
assert a[1]["message_id"] == "<p2@pipe.test>" and a[1]["references"].endswith("<p1@pipe.test>"), a[1]
EOF
  read_ok "$dir/ja" --article '<p3@pipe.test>' --json --all || return 1
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["subject"]=="article 3" and d["body"]==["body of 3",".dot line"], d' "$dir/ja" || return 1
  # a failure is a JSON object too: the exit code and the error line
  "$nt" nntp-read no.such.group --server "$srv" --json >"$dir/jf" 2>/dev/null
  local frc=$?
  /usr/bin/python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d["command"] == "nntp-read" and d["path"] == "no.such.group", d
assert d["exit_code"] == int(sys.argv[2]) != 0 and "no.such.group" in d["error"], d
' "$dir/jf" "$frc"
}
check "--json: the overview and an article parse, dot-stuffing undone; a failure is an object with exit_code and error" t_json

# the progress line: on a terminal (script(1) gives a pty), not with --json
# or -q, nor when stderr is a file
t_progress() {
  command -v script >/dev/null || { echo "# script(1) missing (bsdutils)"; return 1; }
  local c
  for c in 1 2; do
    script -q -e -c "$nt nntp-read local.test --server $srv --overview 150 --connections $c" \
      "$dir/tty$c.log" >/dev/null 2>&1 || { echo "# $c: exit $?"; return 1; }
    grep -aEq 'local\.test: articles [0-9]+/150  rows [0-9]+  [0-9.]+ [KMG]?i?B  [0-9.]+ [KMG]?i?B/s' "$dir/tty$c.log" ||
      { echo "# $c: no progress line: $(head -c 300 "$dir/tty$c.log")"; return 1; }
    grep -aq 'articles 0/150' "$dir/tty$c.log" ||
      { echo "# $c: no count"; return 1; }
    [ "$(grep -caE '^ +[0-9]+  ' "$dir/tty$c.log")" = 150 ] || { echo "# $c: rows"; return 1; }
  done
  script -q -e -c "$nt nntp-read local.test --server $srv --overview 150 --json" \
    "$dir/ttyj.log" >/dev/null 2>&1 || return 1
  script -q -e -c "$nt nntp-read local.test --server $srv --overview 150 -q" \
    "$dir/ttyq.log" >/dev/null 2>&1 || return 1
  ! grep -aq 'articles [0-9]*/' "$dir/ttyj.log" "$dir/ttyq.log" "$dir/z.err" ||
    { echo "# a progress line with --json, -q or no terminal"; return 1; }
}
check "on a terminal: a progress line (articles done of all, rows, bytes, rate); none with --json, -q or a file" t_progress

# a server that hangs up when a second command arrives before its answer:
# the overview is fetched again one command at a time on a new connection
# (after the session died, or in the pool of --connections 2), nothing lost
t_refuse() {
  /usr/bin/python3 "$here/nntp_refuse_peer.py" 3000 "$dir/hangups" >"$dir/rport" &
  local pid=$! i
  for i in $(seq 50); do [ -s "$dir/rport" ] && break; sleep 0.1; done
  local rc=0 c
  for c in 1 2; do # the session itself, and a pool of 2
    echo 0 >"$dir/hangups"
    "$nt" nntp-read local.test --server "127.0.0.1:$(cat "$dir/rport")" --overview 3000 \
      --connections "$c" >"$dir/refused" 2>"$dir/refused.err" || { rc=$?; break; }
    [ "$(rows "$dir/refused")" = 3000 ] || { echo "# $c: rows: $(rows "$dir/refused")"; rc=1; break; }
    # the session pipelines its overview chunks from the start, so the
    # server hangs up on it; whether a pool connection has a second command
    # out before an answer depends on timing: there the rows are what count
    [ "$c" = 2 ] || [ "$(cat "$dir/hangups")" -ge 1 ] ||
      { echo "# $c: the server never hung up"; rc=1; break; }
    [ ! -s "$dir/refused.err" ] || { echo "# $c: stderr: $(head -2 "$dir/refused.err")"; rc=1; break; }
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ "$rc" = 0 ] || { echo "# exit $rc: $(head -3 "$dir/refused.err")"; return 1; }
  # STARTTLS: the new connection is TLS again (two TLS sessions), same rows
  rm -f "$dir/rport" "$dir/hangups.tls"
  echo 0 >"$dir/hangups"
  /usr/bin/python3 "$here/nntp_refuse_peer.py" 3000 "$dir/hangups" "$dir/certs" >"$dir/rport" &
  pid=$!
  for i in $(seq 50); do [ -s "$dir/rport" ] && break; sleep 0.1; done
  "$nt" nntp-read local.test --server "127.0.0.1:$(cat "$dir/rport")" --overview 3000 \
    --tls --cacert "$dir/certs/ca.crt" >"$dir/refused" 2>"$dir/refused.err" || rc=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ "$rc" = 0 ] && [ "$(rows "$dir/refused")" = 3000 ] && [ "$(cat "$dir/hangups")" -ge 1 ] &&
    [ "$(cat "$dir/hangups.tls" 2>/dev/null)" = 2 ] ||
    { echo "# TLS: exit $rc, rows $(rows "$dir/refused"), hang-ups $(cat "$dir/hangups"), TLS sessions $(cat "$dir/hangups.tls" 2>/dev/null)"; return 1; }
}
check "a server that refuses pipelining: one command at a time, all 3000 rows (plain, pool of 2, STARTTLS again on the new connection)" t_refuse

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
