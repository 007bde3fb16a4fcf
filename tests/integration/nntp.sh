#!/usr/bin/env bash
# The NNTP client against a real INN 2 on loopback (nntp_inn.sh): the test
# group is filled by posting THROUGH nettool nntp-post (plain and quoted
# text, attribution lines, a UTF-8 encoded-word subject, a long body with
# dot lines), then read back by number and message-id, as an overview and a
# group list; errors in the server's words with their exit codes;
# authentication (480 -> AUTHINFO, 481), STARTTLS and NNTPS with the test
# CA; finally the library's other commands (nntp_itest).
#   nntp.sh NETTOOL NNTP_ITEST
set -u
nt=$1 itest=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ] || [ ! -x /usr/lib/news/bin/innd ]; then
  echo "skipped: INN needs root and inn2 (scripts/install-deps.sh test)"
  echo "0 passed, 0 failed"
  exit 77
fi
dir=$(mktemp -d /tmp/nt-nntp.XXXXXX)
chmod 755 "$dir" # innd runs as user news
inn=$dir/inn
pids=()
cleanup() {
  bash "$here/nntp_inn.sh" stop "$inn"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT

free_ports() { # N free loopback ports
  /usr/bin/python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
sh "$here/../tls/make-certs.sh" "$dir/certs" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
started=
for _ in 1 2 3; do # a port taken between the pick and the bind: pick again
  read -r port aport sport < <(free_ports 3)
  if bash "$here/nntp_inn.sh" start "$inn" "$port" "$aport" "$sport" "$dir/certs" >"$dir/inn.log" 2>&1; then
    started=1; break
  fi
  bash "$here/nntp_inn.sh" stop "$inn"
done
[ -n "$started" ] || { cat "$dir/inn.log"; echo "0 passed, 1 failed"; exit 1; }
export NNTPSERVER=127.0.0.1:$port
ca=$dir/certs/ca.crt

pass=0 fail=0 n=0
check() { # description, command...
  local d=$1; shift
  n=$((n + 1))
  if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}
run() { "$nt" "$@" >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"; }
rc() { [ "$(cat "$dir/rc")" = "$1" ] || { echo "#   rc $(cat "$dir/rc"), stderr: $(head -3 "$dir/err")"; return 1; }; }
has() { grep -qF -- "$1" "$dir/out" || { echo "#   no '$1' in: $(head -c 600 "$dir/out")"; return 1; }; }
hasnt() { ! grep -qF -- "$1" "$dir/out" || { echo "#   '$1' should not be there"; return 1; }; }
err_has() { grep -qF -- "$1" "$dir/err" || { echo "#   stderr: $(cat "$dir/err")"; return 1; }; }
one_err_line() { [ "$(wc -l <"$dir/err")" = 1 ] || { echo "#   stderr: $(cat "$dir/err")"; return 1; }; }

# --- filling the group through the client ----------------------------------------
cat >"$dir/a1" <<'EOF'
From: Alice Example <alice@nntp.test>
Subject: A plain article
Message-ID: <plain@nntp.test>

Plain text, two lines.
The second line.
EOF
run nntp-post local.test "$dir/a1"
check "post a plain article (240)" eval 'rc 0 && has "posted to local.test: 240"'

cat >"$dir/a2" <<'EOF'
Message-ID: <quoted@nntp.test>
References: <plain@nntp.test>

In article <plain@nntp.test>, Alice Example <alice@nntp.test> wrote:
> Plain text, two lines.
> The second line.
| a bar-quoted line
Bob Example writes:


I agree with that.
>>> print("a prompt line stays")
And a last word.
EOF
run nntp-post local.test "$dir/a2" --from 'Bob Example <bob@nntp.test>' --subject 'Re: A plain article'
check "post a reply with quotes and attributions, headers from options" eval 'rc 0 && has "240"'

printf 'Message-ID: <utf8@nntp.test>\n\nGrüße, ünïcödé body ✓\n' >"$dir/a3"
run nntp-post local.test "$dir/a3" --from 'Zoë Ünicode <zoe@nntp.test>' --subject 'Grüße aus Köln — ✓'
check "post a UTF-8 subject and body (RFC 2047 encoded word)" eval 'rc 0'

{ printf 'From: Carol <carol@nntp.test>\nSubject: Long article\nMessage-ID: <long@nntp.test>\n\n'
  for i in $(seq 1 300); do echo "line $i of a longer body"; done
  printf '.starts with a dot\n.\n..two dots\nlast\n'; } >"$dir/a4"
run nntp-post local.test - <"$dir/a4"
check "post a long body with dot lines from stdin" eval 'rc 0'
check "the server stored the encoded word, not raw UTF-8" \
  grep -rqF 'Subject: =?UTF-8?B?' "$inn/spool/articles"

# --- reading back --------------------------------------------------------------------
run nntp-read local.test
check "default: count and range, latest article's From/Subject/Date" eval \
  'rc 0 && has "local.test: 4 articles, 1-4" && has "From: Carol <carol@nntp.test>" && has "Subject: Long article" && has "Date: "'
check "default: the first 20 meaningful lines only" eval \
  'has "line 20 of a longer body" && hasnt "line 21 of"'
run nntp-read local.test --article 1
check "by number: --article 1" eval 'rc 0 && has "Subject: A plain article" && has "Plain text, two lines." && has "The second line."'
run nntp-read local.test --article '<quoted@nntp.test>'
check "by message-id: quotes, attributions and blank runs left out, >>> kept" eval \
  'rc 0 && has "I agree with that." && has ">>> print(\"a prompt line stays\")" && has "And a last word." && hasnt "> Plain text" && hasnt "| a bar" && hasnt "wrote:" && hasnt "writes:"'
check "  exactly: the body is 3 lines" eval '[ "$(sed -n "/^$/,\$p" "$dir/out" | grep -c .)" = 3 ]'
run nntp-read local.test --article '<utf8@nntp.test>'
check "encoded-word subject decoded to UTF-8" eval 'rc 0 && has "Subject: Grüße aus Köln — ✓" && has "From: Zoë Ünicode <zoe@nntp.test>" && has "Grüße, ünïcödé body ✓"'
run nntp-read local.test --article 4 --all
check "--all: the whole body, dot-unstuffed" eval \
  'rc 0 && has "line 300 of a longer body" && has ".starts with a dot" && grep -qx "\." "$dir/out" && grep -qx "\.\.two dots" "$dir/out"'
run nntp-read local.test --article 4 --lines 3
check "--lines 3" eval 'rc 0 && has "line 3 of" && hasnt "line 4 of"'
run nntp-read local.test --overview 10
check "--overview: a row per article, subjects decoded" eval \
  'rc 0 && [ "$(grep -cE "^ +[0-9]+  [0-9]{4}-" "$dir/out")" = 4 ] && has "Grüße aus Köln" && has "Re: A plain article" && grep -qE "^ +4  .*Carol .*Long article" "$dir/out"'
run nntp-read local.test --overview 2
check "--overview 2: the last two" eval 'rc 0 && [ "$(grep -cE "^ +[0-9]+  [0-9]{4}-" "$dir/out")" = 2 ]'
run nntp-read local.empty
check "an empty group" eval 'rc 0 && has "local.empty: no articles"'
run nntp-list
check "nntp-list: every group with its count" eval 'rc 0 && has "local.test 4 1-4 posting" && has "local.empty 0"'
run nntp-list 'local.t*'
check "nntp-list PATTERN" eval 'rc 0 && [ "$(wc -l <"$dir/out")" = 1 ] && has "local.test"'
NNTPSERVER= run nntp-read "news://127.0.0.1:$port/local.test" --lines 1
check "news:// URL" eval 'rc 0 && has "local.test: 4 articles"'
NNTPSERVER= run nntp-read "nntp://127.0.0.1:$port/local.test/1"
check "nntp://HOST:PORT/GROUP/N URL" eval 'rc 0 && has "Subject: A plain article"'

# --- errors in the server's words ---------------------------------------------------------
run nntp-read local.nope
check "411: exit 8, the server's words, one line" eval 'rc 8 && err_has "group local.nope: 411" && one_err_line'
run nntp-read local.test --article 99
check "423: exit 8" eval 'rc 8 && err_has "article 99: 423"'
run nntp-read local.test --article '<nope@nntp.test>'
check "430: exit 8" eval 'rc 8 && err_has "article <nope@nntp.test>: 430"'
run nntp-read local.test --server "127.0.0.1:$aport"
check "480 without credentials: exit 8 and a hint" eval 'rc 8 && err_has ": 480" && err_has "-u USER"'
NETTOOL_LOG=debug run nntp-read local.test --server "127.0.0.1:$aport" -u nntptest:nntptest-pw --lines 1
check "AUTHINFO USER/PASS with -u USER:PASS" eval 'rc 0 && has "local.test: 4 articles"'
check "the password is never printed (debug log masks it)" eval \
  '! grep -q "nntptest-pw" "$dir/out" "$dir/err" && grep -qF "AUTHINFO PASS ****" "$dir/err"'
NNTPPASS=nntptest-pw run nntp-read local.test --server "127.0.0.1:$aport" -u nntptest --lines 1
check "password from NNTPPASS" eval 'rc 0'
run nntp-read local.test --server "127.0.0.1:$aport" -u nntptest:wrong
check "481: exit 8 with the server's words" eval 'rc 8 && err_has "481" && ! grep -q wrong "$dir/err"'
run nntp-post local.test "$dir/a1" --server "127.0.0.1:$aport" -u reader:reader-pw
check "440 posting not allowed: exit 8" eval 'rc 8 && err_has "440"'
printf 'From: x@nntp.test\nSubject: dup\nMessage-ID: <plain@nntp.test>\n\nagain\n' >"$dir/dup"
run nntp-post local.test "$dir/dup"
check "441 posting failed (duplicate message-id): exit 8" eval 'rc 8 && err_has "441"'
printf 'no headers here\n' >"$dir/nohdr"
run nntp-post local.test "$dir/nohdr"
check "post without From/Subject: exit 2" eval 'rc 2 && err_has "no From"'
printf 'From: a@b\nSubject: x\n\nnul \0 byte\n' >"$dir/nul"
run nntp-post local.test "$dir/nul"
check "post with a NUL byte: exit 11" eval 'rc 11 && err_has "NUL"'
run nntp-read local.test --server "127.0.0.1:1"
check "connection refused: exit 4" eval 'rc 4 && err_has "connect to 127.0.0.1 port 1"'
run nntp-read local.test --server "bad host:1"
check "bad --server: exit 2" eval 'rc 2'
NNTPSERVER= run nntp-read local.test
check "no server at all: exit 2" eval 'rc 2 && err_has "NNTPSERVER"'
/usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); time.sleep(20)' >"$dir/silent" &
pids+=("$!")
for _ in $(seq 50); do [ -s "$dir/silent" ] && break; sleep 0.1; done
start=$(date +%s%N)
run nntp-read local.test --server "127.0.0.1:$(cat "$dir/silent")" --timeout 1
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a server that never greets: exit 10 after about 1 s (${ms} ms)" eval 'rc 10 && [ "$ms" -lt 3000 ]'

# --- TLS -----------------------------------------------------------------------------------
NETTOOL_LOG=debug run nntp-read local.test --tls --cacert "$ca" --lines 1
check "STARTTLS (382, handshake, CAPABILITIES again) with the test CA" eval \
  'rc 0 && has "local.test: 4 articles" && err_has "[STARTTLS] -> [TLS_HANDSHAKE]" && err_has "[TLS_HANDSHAKE] -> [CAPABILITIES]"'
run nntp-read local.test --tls
check "STARTTLS without the CA: exit 6, why" eval 'rc 6 && err_has "TLS with 127.0.0.1" && one_err_line'
run nntp-post local.test "$dir/a1" --tls --cacert "$ca" --server "127.0.0.1:$port"
check "posting over STARTTLS reaches the server (441 duplicate)" eval 'rc 8 && err_has "441"'
NNTPSERVER= run nntp-read "nntps://127.0.0.1:$sport/local.test" --cacert "$ca" --lines 1
check "NNTPS (nntps:// URL, TLS from the first byte)" eval 'rc 0 && has "local.test: 4 articles"'

# --- the library's other commands ---------------------------------------------------------
NT_TEST_NNTP=127.0.0.1:$port "$itest" >"$dir/itest.log" 2>&1; echo $? >"$dir/rc"
check "nntp_itest (LISTGROUP, STAT/NEXT/LAST, HEAD/BODY, OVER, HDR, LIST, DATE, NEW*)" eval \
  'rc 0 || { sed "s/^/#   /" "$dir/itest.log" | tail -20; false; }'

# --- nntp-post: what the user wrote is what is posted (issue 10 items 15, 16) ---------------
printf 'http://example.org/x is down\nsince this morning.\n' >"$dir/url"
run nntp-post local.general "$dir/url" --from 'U <u@nntp.test>' --subject 'url first'
check "a body whose first line looks like 'Name:' is posted whole" eval 'rc 0'
run nntp-read local.general --all
check "  read back: the URL line and the next are the body" eval \
  'rc 0 && has "Subject: url first" && has "http://example.org/x is down" && has "since this morning."'
long=$(printf 'Ünïcödé %.0s' $(seq 1 12))
printf 'From: Zoë Ünicode <zoe2@nntp.test>\nSubject: Grüße aus der Datei ✓ %s\nOrganization: Café\n  Zürich\nMessage-ID: <hdr8@nntp.test>\n\nbody\n' "$long" >"$dir/hdr8"
run nntp-post local.general "$dir/hdr8"
check "non-ASCII header values from the file are posted" eval 'rc 0'
check "  the server stored encoded words, not raw 8-bit, in From, Subject, Organization" eval \
  '! LC_ALL=C grep -rqaE "^(From|Subject|Organization): .*"$'"'"'[\x80-\xff]'"'"' "$inn/spool/articles/local/general" && grep -rqaF "Subject: =?UTF-8?B?" "$inn/spool/articles/local/general"'
run nntp-read local.general --article '<hdr8@nntp.test>'
check "  read back decoded, the long subject whole" eval \
  'rc 0 && has "From: Zoë Ünicode <zoe2@nntp.test>" && has "Subject: Grüße aus der Datei ✓ $long"'
printf 'Note: the server is down\n' >"$dir/note"
run nntp-post local.general "$dir/note" --from 'N <n@nntp.test>' --subject 'one line'
run nntp-read local.general --all
check "a one-line body 'Note: ...' (no empty line after it) is the body" eval \
  'rc 0 && has "Subject: one line" && has "Note: the server is down"'
printf 'From: a@nntp.test\nSubject: empty\n\n\n' >"$dir/empty"
run nntp-post local.general "$dir/empty"
check "a post with an empty body is refused (exit 11), nothing sent" eval 'rc 11 && err_has "no body"'

# --- nntp-read past cancelled articles (issue 10 item 17) ---------------------------------------
for i in $(seq 1 60); do
  printf 'From: B <b@nntp.test>\nSubject: bench %d\nMessage-ID: <b%d@nntp.test>\n\nbody %d\n' "$i" "$i" "$i" |
    "$nt" nntp-post local.bench - >/dev/null 2>&1 || break
done
for i in $(seq 6 60); do
  INNCONF=$inn/etc/inn.conf /usr/lib/news/bin/ctlinnd -t 5 cancel "<b$i@nntp.test>" >/dev/null 2>&1
done
run nntp-read local.bench
check "55 cancelled articles at the top of the group: the newest that is left (5) is shown" eval \
  'rc 0 && has "Subject: bench 5" && has "body 5"'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
