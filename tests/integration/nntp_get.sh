#!/usr/bin/env bash
# nntp-get against two real INN 2 servers on loopback (nntp_inn.sh) holding
# binaries posted by the real Usenet poster Nyuu (npm "nyuu", installed by
# scripts/install-nyuu.sh into a local folder): files of 1 B, 700 KB and
# 50 MB as multi-part yEnc articles of 256 KiB with Nyuu's NZB, plus a 0-byte file
# (Nyuu does not post empty files: that one article is posted here, in
# Nyuu's format). Checked: every file restored bit for bit (sha256); an
# article cancelled on the server (430 listed, the rest saved, exit 13);
# the second server asked for it (exit 0); a forged part whose CRC32 fails
# (damaged, exit 13; a good copy on the second server: exit 0); SIGKILL in
# the middle of the 50 MB file, then a resume that fetches only the rest;
# PAR2 repair through Debian's par2 (--par2); bad input (exit 11, 9, 3);
# a server that is down (its work moves on; alone: exit 4; Ctrl-C during
# the reconnect wait: exit 130 at once); a provider's
# connection limit (400 to the connections over it: the others carry on,
# no reconnect storm, no segment sent to the next server for it, three
# runs); connections cut mid-download by cut_relay.py (new ones after the
# backoff wait, only what was not done fetched again, --retry 0: none);
# the progress line on a terminal.
#   nntp_get.sh NETTOOL
set -u
nt=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
skip() { echo "skipped: $1"; echo "0 passed, 0 failed"; exit 77; }
[ "$(id -u)" = 0 ] && [ -x /usr/lib/news/bin/innd ] || skip "INN needs root and inn2 (scripts/install-deps.sh test)"
[ -x "$py" ] || skip "no /usr/bin/python3"
command -v node >/dev/null && command -v npm >/dev/null || skip "no node/npm for Nyuu"
nyuu=$("$root/scripts/install-nyuu.sh" 2>/tmp/nt-nyuu-install.log) ||
  skip "Nyuu could not be installed (offline?): $(tail -1 /tmp/nt-nyuu-install.log)"

dir=$(mktemp -d /tmp/nt-nntp-get.XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  bash "$here/nntp_inn.sh" stop "$dir/inn1"
  bash "$here/nntp_inn.sh" stop "$dir/inn2"
  rm -rf "$dir"
}
trap cleanup EXIT

free_ports() {
  "$py" -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
start_inn() { # NAME -> sets port_NAME
  local p
  for _ in 1 2 3; do
    p=$(free_ports 1)
    if bash "$here/nntp_inn.sh" start "$dir/$1" "$p" >"$dir/$1.log" 2>&1; then
      printf -v "port_$1" %s "$p"; return 0
    fi
    bash "$here/nntp_inn.sh" stop "$dir/$1"
  done
  cat "$dir/$1.log"; echo "0 passed, 1 failed"; exit 1
}
start_inn inn1
start_inn inn2
# shellcheck disable=SC2154 # set by start_inn through printf -v
s1=127.0.0.1:$port_inn1 s2=127.0.0.1:$port_inn2
unset NNTPSERVER

pass=0 fail=0 n=0
check() {
  local d=$1; shift
  n=$((n + 1))
  if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}
run() { "$nt" "$@" >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"; }
rc() { [ "$(cat "$dir/rc")" = "$1" ] || { echo "#   rc $(cat "$dir/rc"), stderr: $(head -5 "$dir/err")"; return 1; }; }
has() { grep -qF -- "$1" "$dir/out" || { echo "#   no '$1' in: $(head -c 600 "$dir/out")"; return 1; }; }
err_has() { grep -qF -- "$1" "$dir/err" || { echo "#   stderr: $(head -c 800 "$dir/err")"; return 1; }; }
err_lines() { [ "$(grep -c "$1" "$dir/err")" = "$2" ] || { echo "#   want $2 '$1' lines: $(cat "$dir/err")"; return 1; }; }
same() { # FILE ORIGINAL
  [ -f "$1" ] && [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ] ||
    { echo "#   $1 differs from $2 ($(stat -c %s "$1" 2>&1) bytes)"; return 1; }
}
inn_cancel() { # SERVERDIR MSGID: the article is gone (430 from then on)
  setpriv --reuid=news --regid=news --init-groups env INNCONF="$dir/$1/etc/inn.conf" \
    /usr/lib/news/bin/ctlinnd -t 10 cancel "$2" >/dev/null
}
seg_id() { # NZB FILENAME NUMBER -> the segment's Message-ID with brackets
  "$py" - "$@" <<'EOF'
import sys, xml.etree.ElementTree as ET
ns = {"n": "http://www.newzbin.com/DTD/2003/nzb"}
for f in ET.parse(sys.argv[1]).getroot().findall("n:file", ns):
    if '"%s"' % sys.argv[2] in f.get("subject"):
        for s in f.findall("n:segments/n:segment", ns):
            if s.get("number") == sys.argv[3]:
                print("<%s>" % s.text.strip())
EOF
}
nzb_swap() { # NZB OUT OLDID NEWID: the NZB with one Message-ID replaced
  local o=${3#<} nw=${4#<}; o=${o%>}; nw=${nw%>}
  sed "s|>$o<|>$nw<|" "$1" >"$2"
}

# --- the post: Nyuu on inn1 ------------------------------------------------------------
src=$dir/src
mkdir -p "$src"
head -c 1 /dev/urandom >"$src/one.bin"
head -c 700000 /dev/urandom >"$src/mid.bin"
head -c 50M /dev/urandom >"$src/big.bin"
for _ in 1 2; do # once more if Nyuu gave up (it did once on a machine at load 20)
  (cd "$src" && node "$nyuu" -h 127.0.0.1 -P "$port_inn1" -n 4 -a 256K -g local.test \
     -f 'Nyuu Tester <nyuu@nntp.test>' -o "$dir/post.nzb" -O one.bin mid.bin big.bin) >"$dir/nyuu.log" 2>&1 &&
    [ "$(grep -c "<segment " "$dir/post.nzb")" = 204 ] && break
done
check "Nyuu posted 1 B, 700 KB, 50 MB as yEnc multi-part articles with an NZB" \
  eval '[ -s "$dir/post.nzb" ] && [ "$(grep -c "<segment " "$dir/post.nzb")" = 204 ] || { tail -3 "$dir/nyuu.log"; false; }'
# the 0-byte file, in Nyuu's format, added to the NZB
: >"$src/empty.bin"
"$py" "$here/nntp_get_post.py" zero "$port_inn1" local.test '<empty-0@nntp.test>' empty.bin
"$py" - "$dir/post.nzb" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
f = ('\t<file poster="Nyuu Tester &lt;nyuu@nntp.test&gt;" date="1796448214" '
     'subject="[4/4] - &quot;empty.bin&quot; yEnc (1/1) 0">\n\t\t<groups><group>local.test</group>'
     '</groups>\n\t\t<segments><segment bytes="120" number="1">empty-0@nntp.test</segment>'
     '</segments>\n\t</file>\n</nzb>')
open(p, "w").write(s.replace("</nzb>", f))
EOF

# --- everything back, bit for bit --------------------------------------------------------
mkdir "$dir/o1"
run nntp-get "$dir/post.nzb" -o "$dir/o1" --server "$s1" --connections 4
check "nntp-get: exit 0, every file ok" eval 'rc 0 && has "o1/big.bin: ok" && has "4/4 files, 205 segments fetched, 0 resumed, 0 failed"'
check "0 B, 1 B, 700 KB, 50 MB identical (sha256)" eval \
  'same "$dir/o1/empty.bin" "$src/empty.bin" && same "$dir/o1/one.bin" "$src/one.bin" &&
   same "$dir/o1/mid.bin" "$src/mid.bin" && same "$dir/o1/big.bin" "$src/big.bin"'
check "no .part or state file left" eval '[ -z "$(ls "$dir/o1" | grep -E "\.part|\.state")" ]'
run nntp-get "$dir/post.nzb" -o "$dir/o1" --server "$s1"
check "run again: nothing fetched (files complete)" eval 'rc 0 && has "0 segments fetched, 205 resumed"'
# --json: one object on stdout instead of the lines (counts, results, exit_code)
jcheck() { # PYTHON-EXPR on the one object o
  "$py" -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert eval(sys.argv[2]), o
' "$dir/out" "$1"
}
mkdir "$dir/oj"
run nntp-get "$dir/post.nzb" -o "$dir/oj" --server "$s1" --json
check "--json: one object, 4/4 files, 205 fetched, every result ok, exit_code 0" eval \
  'rc 0 && jcheck "o[\"command\"] == \"nntp-get\" and o[\"files\"] == 4 and o[\"files_done\"] == 4 and o[\"segments_fetched\"] == 205 and o[\"exit_code\"] == 0 and len(o[\"results\"]) == 4 and all(r[\"status\"] == \"ok\" for r in o[\"results\"]) and o[\"bytes\"] > 50000000" && same "$dir/oj/big.bin" "$src/big.bin"'

# --- SIGKILL, then resume ------------------------------------------------------------------
mkdir "$dir/o5"
"$nt" nntp-get "$dir/post.nzb" -o "$dir/o5" --server "$s1" --connections 1 --window 1 >"$dir/k.out" 2>&1 &
kp=$!; pids+=("$kp")
# shellcheck disable=SC2034 # read inside check's eval
killed=''
for _ in $(seq 1000); do # until big.bin's state lists a segment (at most 20 s; the
  # first one is written at once, the next ones at most every 250 ms)
  if [ "$(grep -c '^seg ' "$dir/o5/big.bin.part.state" 2>/dev/null)" -ge 1 ] 2>/dev/null; then
    kill -KILL "$kp"
    # shellcheck disable=SC2034 # read inside check's eval
    killed=1
    break
  fi
  kill -0 "$kp" 2>/dev/null || break
  sleep 0.02
done
wait "$kp" 2>/dev/null
check "SIGKILL in the middle: big.bin.part and its state are there, no big.bin" eval \
  '[ -n "$killed" ] && [ -f "$dir/o5/big.bin.part" ] && [ ! -e "$dir/o5/big.bin" ] && head -1 "$dir/o5/big.bin.part.state" | grep -q "nettool-nzb-state 1"'
before=$(grep -c '^seg ' "$dir/o5/big.bin.part.state" 2>/dev/null || echo 0)
run nntp-get "$dir/post.nzb" -o "$dir/o5" --server "$s1"
check "resume: exit 0, identical, the $before segments of the state not fetched again" eval \
  'rc 0 && same "$dir/o5/big.bin" "$src/big.bin" && same "$dir/o5/mid.bin" "$src/mid.bin" &&
   n_res=$(sed -n "s/.* fetched, \([0-9]*\) resumed.*/\1/p" "$dir/out") && [ "$n_res" -ge "$before" ] &&
   [ ! -e "$dir/o5/big.bin.part.state" ]'

# --- a cancelled article: 430 listed, the rest saved ----------------------------------
gone=$(seg_id "$dir/post.nzb" big.bin 3)
cp "$dir/post.nzb" "$dir/gone.nzb"
# inn2 gets a copy of it first (same Message-ID), for the two-server case
"$py" "$here/nntp_get_post.py" copy "$port_inn1" "$port_inn2" "$gone"
inn_cancel inn1 "$gone"
mkdir "$dir/o2"
run nntp-get "$dir/gone.nzb" -o "$dir/o2" --server "$s1"
check "430: exit 13, exactly that segment listed" eval \
  'rc 13 && err_has "missing: big.bin segment 3 $gone: 430 no such article (server $s1)" && err_lines "missing:" 1'
mkdir "$dir/o2j"
run nntp-get "$dir/gone.nzb" -o "$dir/o2j" --server "$s1" --json
check "430 with --json: exit_code 13, big.bin.part's result failed (error \"incomplete\", the words in message), the others ok" eval \
  'rc 13 && jcheck "o[\"exit_code\"] == 13 and o[\"segments_failed\"] == 1 and [(r[\"status\"], r[\"error\"], r[\"message\"]) for r in o[\"results\"] if r[\"file\"].endswith(\"big.bin.part\")] == [(\"failed\", \"incomplete\", \"incomplete (see the segments above)\")] and sum(r[\"status\"] == \"ok\" for r in o[\"results\"]) == 3 and \"error\" in o"'
check "430: the other files complete, big.bin.part kept with its state" eval \
  'same "$dir/o2/mid.bin" "$src/mid.bin" && [ -f "$dir/o2/big.bin.part" ] && [ -f "$dir/o2/big.bin.part.state" ] && [ ! -e "$dir/o2/big.bin" ]'
check "430: every other byte of big.bin in place, the hole zero" eval '"$py" - "$dir/o2/big.bin.part" "$src/big.bin" <<EOF
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
s, e = 2 * 262144, 3 * 262144
sys.exit(0 if len(a) == len(b) and a[:s] == b[:s] and a[e:] == b[e:] and a[s:e] == bytes(e - s) else 1)
EOF'

# --- two servers: the second one has it -----------------------------------------------
run nntp-get "$dir/gone.nzb" -o "$dir/o2" --server "$s1" --server "$s2"
check "second server: exit 0, big.bin complete, only the missing segment fetched" eval \
  'rc 0 && same "$dir/o2/big.bin" "$src/big.bin" && has "1 segments fetched, 204 resumed" && [ ! -e "$dir/o2/big.bin.part.state" ]'
mkdir "$dir/o3"
run nntp-get "$dir/gone.nzb" -o "$dir/o3" --server "$s1" --server "$s2" --connections 2
check "second server from scratch: all files, nothing reported" eval \
  'rc 0 && same "$dir/o3/big.bin" "$src/big.bin" && ! grep -q missing "$dir/err"'

# --- a forged part: CRC32 mismatch ----------------------------------------------------
orig=$(seg_id "$dir/post.nzb" mid.bin 2)
"$py" "$here/nntp_get_post.py" forge "$port_inn1" "$port_inn1" "$orig" '<forged-2@nntp.test>'
nzb_swap "$dir/post.nzb" "$dir/forged.nzb" "$orig" '<forged-2@nntp.test>'
mkdir "$dir/o4"
run nntp-get "$dir/forged.nzb" -o "$dir/o4" --server "$s1"
check "forged part: exit 13, listed as damaged (CRC32)" eval \
  'rc 13 && err_has "damaged: mid.bin segment 2 <forged-2@nntp.test>: yEnc CRC32 mismatch" && err_lines "damaged:" 1 && [ -f "$dir/o4/mid.bin.part" ] && [ ! -e "$dir/o4/mid.bin" ]'
"$py" "$here/nntp_get_post.py" copy "$port_inn1" "$port_inn2" "$orig" '<forged-2@nntp.test>'
run nntp-get "$dir/forged.nzb" -o "$dir/o4" --server "$s1" --server "$s2"
check "forged part: a good copy on the second server -> exit 0, identical" eval \
  'rc 0 && same "$dir/o4/mid.bin" "$src/mid.bin"'

# --- PAR2 ----------------------------------------------------------------------------------
if command -v par2 >/dev/null; then
  mkdir "$dir/p"
  head -c 2000000 /dev/urandom >"$dir/p/data.bin"
  (cd "$dir/p" && par2 create -q -q -r30 -n1 data.bin >/dev/null)
  for _ in 1 2; do # once more if Nyuu gave up (seen on a loaded machine: a truncated NZB)
    (cd "$dir/p" && node "$nyuu" -h 127.0.0.1 -P "$port_inn1" -n 2 -a 300K -g local.test \
       -f 'Nyuu Tester <nyuu@nntp.test>' -o "$dir/par.nzb" -O data.bin *.par2) >"$dir/nyuu2.log" 2>&1 &&
      grep -q "</nzb>" "$dir/par.nzb" && break
  done
  inn_cancel inn1 "$(seg_id "$dir/par.nzb" data.bin 4)"
  mkdir "$dir/o6" "$dir/o7"
  run nntp-get "$dir/par.nzb" -o "$dir/o6" --server "$s1"
  check "without --par2: the missing segment -> exit 13" eval 'rc 13 && [ -f "$dir/o6/data.bin.part" ]'
  run nntp-get "$dir/par.nzb" -o "$dir/o7" --server "$s1" --par2
  check "--par2: par2 repairs the file from the recovery blocks -> exit 0, identical" eval \
    'rc 0 && has "par2: repaired" && same "$dir/o7/data.bin" "$dir/p/data.bin" && [ ! -e "$dir/o7/data.bin.part" ]'
  run nntp-get "$dir/par.nzb" -o "$dir/o7" --server "$s1" --par2
  check "--par2 on complete files: verified" eval 'rc 0 && has "par2: data.bin.par2 verified"'
else
  echo "ok $((n += 1)) - # SKIP par2 not installed (scripts/install-deps.sh test)"; pass=$((pass + 1))
fi

# --- bad input -----------------------------------------------------------------------------
printf '<nzb><file subject="x"><segments><segment number="1">a@b</segment></segments></fil></nzb>' >"$dir/bad.nzb"
run nntp-get "$dir/bad.nzb" --server "$s1" -o "$dir"
check "malformed NZB: exit 11, expat's words and the line" eval 'rc 11 && err_has "not a usable NZB: mismatched tag (line 1)"'
run nntp-get "$dir/nope.nzb" --server "$s1" -o "$dir"
check "missing NZB file: exit 9" eval 'rc 9 && err_has "nope.nzb"'
run nntp-get "$dir/post.nzb" --server "$s1" -o "$dir/no/such/dir"
check "-o not a folder: exit 3" eval 'rc 3'
run nntp-get "$dir/post.nzb" --server "$s1" --connections 0
check "--connections 0: usage, exit 2" eval 'rc 2'

# --- a server that is down -------------------------------------------------------------
dead=127.0.0.1:$(free_ports 1) # bound and closed again: nothing listens there
mkdir "$dir/o9" "$dir/o10"
run nntp-get "$dir/post.nzb" -o "$dir/o9" --server "$dead" --server "$s1" --server "$s2" --retry-delay 0.1
check "first server down: its work moves to the next ones (after 3 reconnect waits, said on stderr), exit 0" eval \
  'rc 0 && same "$dir/o9/big.bin" "$src/big.bin" && same "$dir/o9/empty.bin" "$src/empty.bin" &&
   err_lines "connection refused; a new connection in .* ms ([123] of 3)" 3 && err_has "connection refused; giving up on this server"'
NETTOOL_LOG=info run nntp-get "$dir/post.nzb" -o "$dir/o10" --server "$dead" --retry-delay 0.1
check "the only server down: 3 waits, exit 4 (connect), each segment listed as failed" eval \
  'rc 4 && err_lines "failed: .* connection refused" 205 && err_lines "a new connection in" 3'
rm -rf "$dir/o10"; mkdir "$dir/o10"
run nntp-get "$dir/post.nzb" -o "$dir/o10" --server "$dead" --retry 0
check "--retry 0: no reconnect, exit 4" eval \
  'rc 4 && err_lines "failed: .* connection refused" 205 && err_lines "a new connection in" 0'
rm -rf "$dir/o10"; mkdir "$dir/o10"
run nntp-get "$dir/post.nzb" -o "$dir/o10" --server "$dead" --retry-delay 0.1 -q
check "-q: the waits not shown" eval 'rc 4 && err_lines "a new connection in" 0'

# Ctrl-C while a reconnect waits (a 10 s backoff): out at once, 130
rm -rf "$dir/o10"; mkdir "$dir/o10"
"$nt" nntp-get "$dir/post.nzb" -o "$dir/o10" --server "$dead" --retry-delay 10 >"$dir/out" 2>"$dir/err" &
bg=$!
for _ in $(seq 100); do grep -q "a new connection in" "$dir/err" && break; sleep 0.05; done
t0=$(date +%s%N)
kill -INT $bg
wait $bg
echo $? >"$dir/rc"
ms=$((($(date +%s%N) - t0) / 1000000))
check "Ctrl-C during the reconnect wait: exit 130 at once ($ms ms), said once" eval \
  'rc 130 && [ $ms -lt 2000 ] && err_lines "interrupted" 1 && err_lines "a new connection in" 1'

# --- a provider's connection limit: 2 of the 4 connections get "400 too many connections"
"$py" "$here/nntp_get_limit.py" 2 "$port_inn1" >"$dir/limit.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do [ -s "$dir/limit.log" ] && break; sleep 0.05; done
lim=127.0.0.1:$(head -1 "$dir/limit.log")
# (three runs: which connections get the 400, and whether before or after
# the others are ready, varies; a refusal never counts against a segment,
# so none goes to s2, which has almost nothing)
for round in 1 2 3; do
  mkdir "$dir/o11-$round"
  start_lines=$(wc -l <"$dir/limit.log")
  run nntp-get "$dir/post.nzb" -o "$dir/o11-$round" --server "$lim" --server "$s2" --connections 4
  check "connection limit (400 to 2 of 4), run $round: the 2 carry on, exit 0, identical, nothing listed, no reconnect storm" eval \
    'rc 0 && same "$dir/o11-$round/mid.bin" "$src/mid.bin" && same "$dir/o11-$round/big.bin" "$src/big.bin" &&
     ! grep -qE "missing|failed|damaged" "$dir/err" &&
     a=$(tail -n +$((start_lines + 1)) "$dir/limit.log" | tail -1 | sed -n "s/attempts //p") && [ "${a:-99}" -le $((12 * round)) ] ||
     { echo "#   attempts: $(tail -1 "$dir/limit.log")"; false; }'
  rm -rf "$dir/o11-$round"
done

# --- connections cut in the middle: reconnect after a wait, resume ----------------------------
"$py" "$here/cut_relay.py" --listen-port-file "$dir/cut.port" --target "127.0.0.1:$port_inn1" \
  --cut-every 12000000 --cuts 3 --stats "$dir/cut.json" 2>"$dir/cut.log" &
pids+=("$!")
for _ in $(seq 100); do [ -s "$dir/cut.port" ] && break; sleep 0.05; done
mkdir "$dir/o12"
# (s2 second: big.bin's segment 3 was cancelled on inn1 above. A cut may
# also be taken by the NNTP client's own fall-back from pipelining, which
# reconnects by itself when a reset leaves a pipelined command unanswered)
NETTOOL_LOG=info run nntp-get "$dir/post.nzb" -o "$dir/o12" --server "127.0.0.1:$(cat "$dir/cut.port")" \
  --server "$s2" --connections 2 --retry 5 --retry-delay 0.2
stat_of() { "$py" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$dir/cut.json" "$1"; }
check "3 connections cut: new ones (after the backoff wait), exit 0, identical, little fetched twice" eval \
  'rc 0 && same "$dir/o12/big.bin" "$src/big.bin" && same "$dir/o12/mid.bin" "$src/mid.bin" &&
   [ "$(stat_of cuts)" = 3 ] && [ "$(grep -cE "a new connection in|connecting again" "$dir/err")" -ge 1 ] &&
   down=$(stat_of down) && [ "$down" -le $((53000000 * 11 / 10)) ] ||
   { echo "#   relay: $(cat "$dir/cut.json"); $(grep -c "a new connection" "$dir/err") waits"; false; }'

# --- the progress line on a terminal ---------------------------------------------------------
if command -v script >/dev/null; then
  mkdir "$dir/o8"
  script -q -e -c "$nt nntp-get $dir/post.nzb -o $dir/o8 --server $s1 --server $s2 --connections 1 --window 1" "$dir/tty.log" >/dev/null 2>&1
  check "on a terminal: a progress line with files, segments and the rate" eval \
    'grep -aq "files [0-9]/4  segments [0-9]*/205" "$dir/tty.log" && grep -aq "/s" "$dir/tty.log" && same "$dir/o8/big.bin" "$src/big.bin"'
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
