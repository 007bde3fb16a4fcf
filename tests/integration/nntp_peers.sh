#!/usr/bin/env bash
# The NNTP commands against scripted hostile servers (nntp_peer.py, python3,
# 127.0.0.1 only; no root needed): greetings that are not NNTP or refuse
# (quoted, exit 7 / 8, escape sequences never reach the terminal), a server
# trickling one byte a second (exit 10 by --timeout), --connect-timeout and
# --max-time, Ctrl-C during the greeting and during a command (exit 130 at
# once), the newest article found past a run of missing ones, MIME articles
# decoded, 70 KB header lines, --overview with double-width text, aliases
# in nntp-list, the password of -u USER:PASS wiped from the process list.
#   nntp_peers.sh NETTOOL
set -u
nt=$1
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || { echo "skipped: no python3"; echo "0 passed, 0 failed"; exit 77; }
dir=$(mktemp -d /tmp/nt-nntp-peers.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
unset NNTPSERVER

pass=0 fail=0 n=0
check() { # description, command...
  local d=$1; shift
  n=$((n + 1))
  if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}
rc() { [ "$(cat "$dir/rc")" = "$1" ] || { echo "#   rc $(cat "$dir/rc"), stderr: $(head -3 "$dir/err")"; return 1; }; }
has() { grep -qF -- "$1" "$dir/out" || { echo "#   no '$1' in: $(head -c 600 "$dir/out")"; return 1; }; }
hasnt() { ! grep -qF -- "$1" "$dir/out" || { echo "#   '$1' should not be there"; return 1; }; }
err_has() { grep -qF -- "$1" "$dir/err" || { echo "#   stderr: $(cat "$dir/err")"; return 1; }; }
one_err_line() { [ "$(wc -l <"$dir/err")" = 1 ] || { echo "#   stderr: $(cat "$dir/err")"; return 1; }; }
no_escape() { ! grep -q $'\x1b' "$dir/out" "$dir/err" || { echo "#   ESC reached the terminal"; return 1; }; }

peer() { # MODE [ARG]: starts a peer, sets $port
  rm -f "$dir/port"
  "$py" "$here/nntp_peer.py" "$@" >"$dir/port" &
  pids+=("$!")
  local i
  for i in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
  port=$(cat "$dir/port")
}
run() { # runs nettool, records rc and the time it took (ms)
  local start
  start=$(date +%s%N)
  "$nt" "$@" >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
}
interrupt() { # SIGNAL AFTER_S nettool args: sends SIGNAL after AFTER_S, sets ms (signal -> exit)
  local sig=$1 after=$2; shift 2
  "$nt" "$@" >"$dir/out" 2>"$dir/err" &
  local p=$! t0
  sleep "$after"
  t0=$(date +%s%N)
  kill "-$sig" "$p"
  local i
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p"
  wait "$p"; echo $? >"$dir/rc"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# --- greetings ---------------------------------------------------------------------
peer greet "999 hi"
run nntp-read g --server "127.0.0.1:$port"
check "greeting '999 hi': exit 7, the server's words quoted" eval \
  'rc 7 && err_has "not an NNTP server" && err_has "999 hi" && one_err_line'
peer greet "500 go away"
run nntp-read g --server "127.0.0.1:$port"
check "greeting 500: exit 8 with the server's words" eval 'rc 8 && err_has "500 go away" && one_err_line'
peer greet "100 hello there"
run nntp-list --server "127.0.0.1:$port"
check "greeting 100 (not NNTP's): exit 7, quoted" eval 'rc 7 && err_has "not an NNTP greeting: 100 hello there"'
peer greet $'502 \e]0;pwned\a\e[31mred'
run nntp-read g --server "127.0.0.1:$port"
check "escape sequences in a greeting are shown as ?" eval 'rc 8 && no_escape && err_has "?]0;pwned??[31mred"'

# --- time limits ---------------------------------------------------------------------
peer trickle
run nntp-read g --server "127.0.0.1:$port" --timeout 2
check "a server trickling one byte a second: exit 10 by --timeout 2 (${ms} ms)" eval \
  'rc 10 && [ "$ms" -ge 1900 ] && [ "$ms" -lt 3500 ] && err_has "within 2 s (--timeout)"'
peer mute
run nntp-read g --server "127.0.0.1:$port" --timeout 1.5
check "no answer to GROUP: exit 10, the limit as given (1.5 s) (${ms} ms)" eval \
  'rc 10 && err_has "group g: no answer from 127.0.0.1 port $port within 1.5 s (--timeout)" && one_err_line'
peer stall
run nntp-read g --server "127.0.0.1:$port" --timeout 1
check "an article that stops half way: exit 10, said as such (${ms} ms)" eval \
  'rc 10 && err_has "article 1: 127.0.0.1 port $port stopped sending: no line for 1 s (--timeout)" && has "first line"'
peer mute
run nntp-read g --server "127.0.0.1:$port" --timeout 30 --max-time 1
check "--max-time 1 with --timeout 30: exit 10 after 1 s (${ms} ms)" eval \
  'rc 10 && [ "$ms" -lt 2500 ] && err_has "within 1 s (--max-time)" && one_err_line'
peer silent
run nntp-read "nntps://127.0.0.1:$port/g" --connect-timeout 1 --timeout 30 --insecure
check "a TLS handshake that never ends: exit 10 by --connect-timeout 1 (${ms} ms)" eval \
  'rc 10 && [ "$ms" -lt 2500 ] && err_has "(--connect-timeout)"'

# --- Ctrl-C ------------------------------------------------------------------------------
peer silent
interrupt INT 1 nntp-read g --server "127.0.0.1:$port" --timeout 30
check "SIGINT while waiting for the greeting: exit 130 at once (${ms} ms), one message" eval \
  'rc 130 && [ "$ms" -lt 1000 ] && err_has "interrupted" && one_err_line'
# --- the password of -u USER:PASS leaves the process list -----------------------------
peer silent
"$nt" nntp-read g --server "127.0.0.1:$port" -u "reader:pw-on-the-line" --timeout 5 \
  >"$dir/out" 2>"$dir/err" &
pw_pid=$!
pids+=("$pw_pid")
sleep 0.5 # long past reading its options: it waits for the greeting now
pw_alive=0
kill -0 "$pw_pid" 2>/dev/null && pw_alive=1
tr '\0' ' ' <"/proc/$pw_pid/cmdline" >"$dir/cmdline" 2>/dev/null
kill "$pw_pid" 2>/dev/null; wait "$pw_pid" 2>/dev/null
check "-u USER:PASS: the password is gone from /proc/PID/cmdline, the user stays" eval \
  '[ "$pw_alive" = 1 ] && ! grep -q "pw-on-the-line" "$dir/cmdline" \
   && grep -q "reader:xxxxxxxxxxxxxx " "$dir/cmdline" && grep -q "nntp-read" "$dir/cmdline"'

peer mute
interrupt INT 1 nntp-read g --server "127.0.0.1:$port" --timeout 30
check "SIGINT while GROUP is pending: exit 130 at once (${ms} ms), one message" eval \
  'rc 130 && [ "$ms" -lt 1000 ] && err_has "interrupted" && one_err_line'
peer mute
interrupt TERM 1 nntp-list --server "127.0.0.1:$port" --timeout 30
check "SIGTERM while LIST is pending: exit 130 at once (${ms} ms)" eval 'rc 130 && [ "$ms" -lt 1000 ]'

# --- the newest article past missing ones ------------------------------------------------------
ARTICLES=1,2,3,40 peer group 100
run nntp-read g --server "127.0.0.1:$port"
check "60 missing numbers at the top: the newest existing article (40) is shown" eval \
  'rc 0 && has "Subject: article 40" && has "body of 40"'
ARTICLES=7 peer group 5000
run nntp-read g --server "127.0.0.1:$port"
check "4993 missing numbers: still found (${ms} ms)" eval 'rc 0 && has "Subject: article 7"'
NO_OVER=1 ARTICLES=2,5,9 peer group 300
run nntp-read g --server "127.0.0.1:$port"
check "a server without an overview: LISTGROUP ranges find it (9)" eval 'rc 0 && has "Subject: article 9"'
ARTICLES= peer group 80
run nntp-read g --server "127.0.0.1:$port"
check "a group whose articles are all gone: exit 8, no such article" eval 'rc 8 && err_has "423"'

# --- what an article shows ----------------------------------------------------------------------
printf 'From: M <m@x>\r\nSubject: mime\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\nThis is a multi-part message in MIME format.\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html part</p>\r\n--inner--\r\n--outer\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--outer--\r\n' \
  "$(printf 'Gr\xfc\xdfe aus K\xf6ln,\nzweite Zeile.\n' | base64 -w 0)" >"$dir/mime"
peer article "$dir/mime"
run nntp-read g --server "127.0.0.1:$port"
check "MIME: the first text/plain part, base64 and ISO-8859-1 decoded" eval \
  'rc 0 && has "Grüße aus Köln," && has "zweite Zeile." && hasnt "html part" && hasnt "AAECAwQ=" && hasnt "multi-part message" && hasnt "Content-Type"'
printf 'From: Q <q@x>\r\nSubject: qp\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 =80 and a soft=\r\n break.\r\n' >"$dir/qp"
peer article "$dir/qp"
run nntp-read g --server "127.0.0.1:$port"
check "quoted-printable with a windows-1252 charset" eval 'rc 0 && has "Café € and a soft break."'
printf 'From: L <l@x>\r\nSubject: latin1\r\n\r\nna\xefve caf\xe9\r\n' >"$dir/raw8"
peer article "$dir/raw8"
run nntp-read g --server "127.0.0.1:$port"
check "an 8-bit body without a charset falls back to ISO-8859-1, as headers do" eval 'rc 0 && has "naïve café"'
{ printf 'From: B <b@x>\r\nSubject: big header\r\nX-Long: '; head -c 71680 /dev/zero | tr '\0' 'x'; printf '\r\n\r\nafter the long header\r\n'; } >"$dir/long"
peer article "$dir/long"
run nntp-read g --server "127.0.0.1:$port"
check "a 70 KB header line does not fail the read" eval 'rc 0 && has "after the long header"'
printf 'From: E <e@x>\r\nSubject: esc\r\n\r\nred \033[31m text \033]0;title\a\r\n' >"$dir/esc"
peer article "$dir/esc"
run nntp-read g --server "127.0.0.1:$port"
check "escape sequences in an article are shown as ?" eval 'rc 0 && no_escape && has "red ?[31m text ?]0;title?"'

# --- the overview table and the group list ------------------------------------------------------
ARTICLES=1,2 FROM_1='漢字の名前 <k@x>' SUBJ_1='wide' FROM_2='Plain Name <p@x>' SUBJ_2='narrow' peer group 2
run nntp-read g --server "127.0.0.1:$port" --overview 2
check "--overview: columns align with double-width names" eval \
  'rc 0 && [ "$(grep "wide" "$dir/out" | awk -F"漢字の名前" "{print length(\$1)}")" -gt 0 ] &&
   "$py" -c "
import sys, unicodedata
rows = [l for l in open(sys.argv[1], encoding=\"utf-8\").read().splitlines() if l.lstrip()[:1].isdigit()]
def cols(s): return sum(2 if unicodedata.east_asian_width(c) in \"WF\" else 1 for c in s)
pos = [cols(r[:r.index(w)]) for r, w in zip(rows, (\"wide\", \"narrow\"))]
sys.exit(0 if len(rows) == 2 and pos[0] == pos[1] else 1)" "$dir/out"'
peer list
run nntp-list --server "127.0.0.1:$port"
check "nntp-list: an alias shows its target" eval 'rc 0 && has "local.old 0 1-0 alias of local.test" && has "local.test 10 3-12 posting"'

# --- nntp-post arguments -----------------------------------------------------------------------
printf 'x\n' >"$dir/x"
run nntp-post 'local.test,' "$dir/x" --server 127.0.0.1:1 --from a@b --subject s
check "nntp-post 'group,': exit 2" eval 'rc 2 && err_has "bad GROUP"'
run nntp-post 'a,,b' "$dir/x" --server 127.0.0.1:1 --from a@b --subject s
check "nntp-post 'a,,b': exit 2" eval 'rc 2'
printf 'From: a@b\nSubject: s\n\n\n  \n' >"$dir/empty"
run nntp-post local.test "$dir/empty" --server 127.0.0.1:1
check "nntp-post with an empty body: exit 11 before connecting" eval 'rc 11 && err_has "no body"'
printf 'From: a@b\nSubject: s\n' >"$dir/onlyhdr"
run nntp-post local.test "$dir/onlyhdr" --server 127.0.0.1:1
check "header lines without an empty line are the body: no From, and why (exit 2)" eval \
  'rc 2 && err_has "no From" && err_has "so all of it is the body"'
printf 'From: Zo\xc3\xab <a@b>\nSubject: s\nMessage-ID: <\xc3\xa9@x>\n\nbody\n' >"$dir/8bitid"
run nntp-post local.test "$dir/8bitid" --server 127.0.0.1:1
check "8-bit text in Message-ID: exit 11 before connecting" eval 'rc 11 && err_has "Message-ID"'
printf 'From: Zo\xe9 <a@b>\nSubject: s\n\nbody\n' >"$dir/latin1hdr"
run nntp-post local.test "$dir/latin1hdr" --server 127.0.0.1:1
check "8-bit header text that is not UTF-8: exit 11" eval 'rc 11 && err_has "not UTF-8"'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
