#!/usr/bin/env bash
# Name resolution against a real dnsmasq on loopback: nettool resolve, the
# resolver's error mapping, TCP fallback, a silent server, bad names, and the
# happy-eyeballs fallback (itest_dns).
#   dns.sh NETTOOL ITEST_DNS
set -u
nt=$1 itest=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v dnsmasq >/dev/null || { echo "dnsmasq missing (scripts/install-deps.sh installs dnsmasq-base)"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d)
chmod 755 "$dir" # dnsmasq reads its hosts file as nobody
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT

read -r port pid < <("$here/dnsmasq.sh" "$dir/dns") || { echo "0 passed, 1 failed"; exit 1; }
pids+=("$pid")
srv="127.0.0.1:$port"
pass=0 fail=0 n=0
check() { # description, command...
  local d=$1; shift
  n=$((n + 1))
  if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}
res() { "$nt" resolve --server "$srv" "$@" >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"; }
rc() { [ "$(cat "$dir/rc")" = "$1" ]; }
out_is() { diff <(sort "$dir/out") <(printf "$1" | sort) >/dev/null || { echo "  got: $(cat "$dir/out" "$dir/err")"; return 1; }; }
err_has() { grep -q -- "$1" "$dir/err" || { echo "  stderr: $(cat "$dir/err")"; return 1; }; }
one_err_line() { [ "$(wc -l <"$dir/err")" = "$1" ]; }

res a.test
check "A records" eval 'rc 0 && out_is "a.test 127.0.0.1\na.test 192.0.2.1\n"'
res v6.test
check "AAAA record" eval 'rc 0 && out_is "v6.test ::1\n"'
res chain.test
check "CNAME chain is followed" eval 'rc 0 && out_is "chain.test 127.0.0.1\nchain.test 192.0.2.1\n"'
res dual.test --family 6
check "--family 6" eval 'rc 0 && out_is "dual.test ::1\n"'
res dual.test
check "both families, IPv6 first (RFC 6724)" eval 'rc 0 && [ "$(head -1 "$dir/out")" = "dual.test ::1" ] && [ "$(wc -l <"$dir/out")" = 2 ]'
res many.test
check "100 records: truncated over UDP, retried over TCP" eval 'rc 0 && [ "$(wc -l <"$dir/out")" = 100 ]'
res nope.test
check "NXDOMAIN: exit 5, one line naming the reason" eval 'rc 5 && err_has "nope.test: name does not exist (NXDOMAIN)" && one_err_line 1'
res v6.test --family 4
check "no address of the family: NODATA" eval 'rc 5 && err_has "(NODATA)"'
res example.org
check "refused by the server" eval 'rc 5 && err_has "(refused)"'
res a.test nope.test v6.test
check "several names: each answered, the failure named, exit 5" eval 'rc 5 && grep -q "a.test 192.0.2.1" "$dir/out" && grep -q "v6.test ::1" "$dir/out" && err_has "nope.test" && one_err_line 1'
names=$(for i in $(seq 1 200); do printf 'n%d.test ' "$i"; done)
res $names
check "200 names at once" eval 'rc 0 && [ "$(wc -l <"$dir/out")" = 200 ] && grep -q "^n200.test 127.0.1.201$" "$dir/out"'
"$nt" resolve --server "[::1]:$port" a.test >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
check "server given as [::1]:PORT" eval 'rc 0 && [ "$(wc -l <"$dir/out")" = 2 ]'

# A silent server: a UDP socket that never answers (and no TCP listener).
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$dir/silent" &
pids+=("$!")
for _ in $(seq 50); do [ -s "$dir/silent" ] && break; sleep 0.1; done
silent=$(cat "$dir/silent")
start=$(date +%s%N)
"$nt" resolve --server "127.0.0.1:$silent" --timeout 1 a.test >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "silent server: timeout after about 1 s (took ${ms} ms)" eval 'rc 5 && err_has "(timeout)" && [ "$ms" -lt 3000 ]'
# The command's deadline (--timeout + 0.5 s) passes before c-ares's own
# retries end (a process stopped past it, as on a loaded machine): the
# lookup it cancels is still reported as the timeout, not as a cancel
"$nt" resolve --server "127.0.0.1:$silent" --timeout 1 a.test >"$dir/out" 2>"$dir/err" &
bg=$!
sleep 0.2
kill -STOP $bg
sleep 2
kill -CONT $bg
wait $bg
echo $? >"$dir/rc"
check "silent server, the deadline passed while stopped: still the timeout" eval 'rc 5 && err_has "(timeout)" && one_err_line 1'
# SIGINT while a lookup is pending: exit 130 at once, one line. A
# background job of this script starts with SIGINT ignored, so a signal sent
# before nettool installs its handler would be lost (and the lookup run to
# its 20 s timeout: seen under ASan on a busy machine): wait for the handler
# (SigCgt), then time from the signal.
"$nt" resolve --server "127.0.0.1:$silent" --timeout 20 a.test >"$dir/out" 2>"$dir/err" &
rpid=$!
for _ in $(seq 100); do
  mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$rpid/status" 2>/dev/null)
  [ -n "$mask" ] && (((0x$mask >> 1) & 1)) && break
  sleep 0.1
done
sleep 0.3 # the query is out
start=$(date +%s%N)
kill -INT "$rpid"
wait "$rpid"; echo $? >"$dir/rc"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "SIGINT during a lookup: exit 130 at once (took ${ms} ms)" eval 'rc 130 && err_has "interrupted" && one_err_line 1 && [ "$ms" -lt 2000 ]'

# Bad names: refused before any packet goes out.
long_label=$(printf 'a%.0s' $(seq 64)).test
long_name=$(for i in $(seq 26); do printf 'abcdefghi.'; done)x
for bad in "" "$long_label" "$long_name" "bad name.test"; do
  "$nt" resolve --server "$srv" "$bad" >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
  check "bad name '${bad:0:20}': exit 2" eval 'rc 2 && err_has "bad NAME" && one_err_line 1'
done
check "no query was sent for the bad names" eval '! grep -q "aaaaaaaaaa\|abcdefghi\|bad name" "$dir/dns/dnsmasq.log"'
"$nt" ts-client localhost 70000 </dev/null >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
check "port out of range: exit 2" eval 'rc 2 && err_has "bad port"'

# ts-client by name (localhost comes from /etc/hosts).
"$nt" ts-server --tcp 0 --udp 0 --bind 127.0.0.1 >"$dir/ts" 2>&1 &
pids+=("$!")
for _ in $(seq 50); do grep -q udp "$dir/ts" && break; sleep 0.1; done
tport=$(sed -n 's/^listening on tcp .*:\([0-9]*\)$/\1/p' "$dir/ts")
uport=$(sed -n 's/^listening on udp .*:\([0-9]*\)$/\1/p' "$dir/ts")
echo byname | "$nt" ts-client localhost "$tport" >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
check "ts-client connects by name over TCP" eval 'rc 0 && grep -q "\]: byname$" "$dir/out"'
echo byname-udp | "$nt" ts-client localhost "$uport" --udp >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
check "ts-client connects by name over UDP" eval 'rc 0 && grep -q "\]: byname-udp$" "$dir/out"'
echo x | "$nt" ts-client no-such-host.invalid. "$tport" --timeout 3 >"$dir/out" 2>"$dir/err"; echo $? >"$dir/rc"
check "unknown host: exit 5 with 'resolve HOST:'" eval 'rc 5 && err_has "resolve no-such-host.invalid.:" && one_err_line 1'

# The C side: happy eyeballs falls back to IPv4 when ::1 never answers.
NT_TEST_DNS="$srv" "$itest" >"$dir/itest.log" 2>&1; echo $? >"$dir/rc"
check "itest_dns (happy eyeballs, resolver on the reactor)" eval 'rc 0 || { cat "$dir/itest.log"; false; }'
tail -3 "$dir/itest.log" | sed 's/^/  /'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
