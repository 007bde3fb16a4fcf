#!/bin/bash
# ftp-get / ftp-put --keepalive against a real vsftpd on loopback, its
# transfers slowed by its own rate limits (anon_max_rate, local_max_rate) so
# that they last seconds: with --keepalive 0.5 NOOPs go out on the control
# connection while the data flows, vsftpd logs them (it reads the control
# connection only after the transfer, so its 200s come after the 226 and
# must be taken in order: the command ends with exit 0, and the file's
# sha256 matches); --keepalive 0 sends none. A 226 that never comes
# (through cut_relay.py --stall-226): the wait ends at --timeout (exit 10)
# or at Ctrl-C (130), the data kept in OUT.part.
# usage: ftp_keepalive.sh NETTOOL
set -u
NETTOOL=$1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
# shellcheck source=ftp_peers.sh
. "$HERE/ftp_peers.sh"
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then
  echo "# the FTP servers need root"
  exit 77
fi
ftp_lock
trap 'ftp_peers_cleanup; t_cleanup' EXIT
ftp_users_setup || { not_ok "the test user $FTP_USER"; t_summary; exit 1; }

chmod 755 "$T_TMP" # the server runs as nobody
certs=$T_TMP/certs
sh "$HERE/../tls/make-certs.sh" "$certs" >/dev/null && chmod 755 "$certs" ||
  { not_ok "making the test certificates"; t_summary; exit 1; }
W=$T_TMP/w
mkdir -p "$W"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$W/up.bin"
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }
noops_sent() { grep -c '^> NOOP' "$1"; }
# NOOPs vsftpd logged for this client's session (its log has one line per
# command: '... FTP command: Client "127.0.0.1", "NOOP"')
noops_logged() { grep -c '"NOOP"' "$vdir/vsftpd.log"; }

vdir=$T_TMP/vsftpd
# 6 MiB at 2 MB/s (anonymous) and 3 MiB at 1 MB/s (the user): about 3 s each
if ! VSFTPD_ANON_RATE=2000000 VSFTPD_LOCAL_RATE=1000000 ftp_start vsftpd "$vdir" "$certs"; then
  not_ok "vsftpd started" "$(cat "$vdir.start.log" 2>/dev/null)"
  t_summary
  exit 1
fi
VPORT=$FTP_START_PORT
ok "vsftpd started on 127.0.0.1:$VPORT"

# download: NOOPs every 0.5 s, their 200s after the 226
before=$(noops_logged)
timeout 60 "$NETTOOL" ftp-get -v 127.0.0.1 pub/big.bin -o "$W/get.bin" --port "$VPORT" \
  --keepalive 0.5 2>"$W/e1"
rc=$?
sent=$(noops_sent "$W/e1")
logged=$(($(noops_logged) - before))
if [ $rc -eq 0 ] && [ "$(sha_of "$W/get.bin")" = "$(sha_of "$vdir/anon/pub/big.bin")" ] &&
  [ "$sent" -ge 3 ] && [ "$logged" -eq "$sent" ] && [ "$(grep -c '^< 200' "$W/e1")" -ge "$sent" ]; then
  ok "ftp-get --keepalive 0.5: $sent NOOPs sent and logged by vsftpd, sha256 matches"
else
  not_ok "ftp-get --keepalive 0.5" "exit $rc, sent $sent, logged $logged" "$(grep -v '^<' "$W/e1" | tail -n 8)"
fi

# the same through --retry (nt_ftp_transfer carries the session options)
before=$(noops_logged)
timeout 60 "$NETTOOL" ftp-get -v 127.0.0.1 pub/big.bin -o "$W/get2.bin" --port "$VPORT" \
  --keepalive 0.5 --retry 1 2>"$W/e2"
rc=$?
sent=$(noops_sent "$W/e2")
logged=$(($(noops_logged) - before))
if [ $rc -eq 0 ] && [ "$(sha_of "$W/get2.bin")" = "$(sha_of "$vdir/anon/pub/big.bin")" ] &&
  [ "$sent" -ge 3 ] && [ "$logged" -eq "$sent" ]; then
  ok "ftp-get --retry 1 --keepalive 0.5: $sent NOOPs, sha256 matches"
else
  not_ok "ftp-get --retry --keepalive" "exit $rc, sent $sent, logged $logged" "$(grep -v '^<' "$W/e2" | tail -n 8)"
fi

# upload: the same while the file goes up; SIZE after it still matched
before=$(noops_logged)
timeout 60 "$NETTOOL" ftp-put -v -u "$FTP_USER:$FTP_PASS" 127.0.0.1 "$W/up.bin" up.bin \
  --port "$VPORT" --keepalive 0.5 2>"$W/e3"
rc=$?
sent=$(noops_sent "$W/e3")
logged=$(($(noops_logged) - before))
if [ $rc -eq 0 ] && [ "$(sha_of "$vdir/home/up.bin")" = "$(sha_of "$W/up.bin")" ] &&
  [ "$sent" -ge 3 ] && [ "$logged" -eq "$sent" ] && grep -q '^> SIZE up.bin' "$W/e3"; then
  ok "ftp-put --keepalive 0.5: $sent NOOPs sent and logged, sha256 matches, SIZE checked"
else
  not_ok "ftp-put --keepalive 0.5" "exit $rc, sent $sent, logged $logged" "$(grep -v '^<' "$W/e3" | tail -n 8)"
fi

# off
before=$(noops_logged)
timeout 60 "$NETTOOL" ftp-get -v 127.0.0.1 pub/big.bin -o "$W/get3.bin" --port "$VPORT" \
  --keepalive 0 2>"$W/e4"
rc=$?
sent=$(noops_sent "$W/e4")
logged=$(($(noops_logged) - before))
if [ $rc -eq 0 ] && [ "$sent" -eq 0 ] && [ "$logged" -eq 0 ] &&
  [ "$(sha_of "$W/get3.bin")" = "$(sha_of "$vdir/anon/pub/big.bin")" ]; then
  ok "ftp-get --keepalive 0: no NOOP"
else
  not_ok "ftp-get --keepalive 0" "exit $rc, sent $sent, logged $logged" "$(tail -n 5 "$W/e4")"
fi

# --- the final reply that never comes (a server, or a NAT box that dropped
# the idle control connection, stalling after the data): cut_relay.py
# --stall-226 passes nothing from the 226 on. The wait for it is bounded by
# --timeout; the data stays in OUT.part and an existing OUT is untouched.
head -c 262144 /dev/urandom >"$vdir/anon/pub/fin.bin"
head -c 65536 /dev/urandom >"$W/fin-up.bin"
now() { date +%s.%N; }
took() { $PY -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
between() { $PY -c "import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) <= float(sys.argv[3]) else 1)" "$@"; }
echo old >"$W/fin.bin"
ftp_relay "$VPORT" --stall-226
t0=$(now)
timeout 60 "$NETTOOL" ftp-get 127.0.0.1 pub/fin.bin -o "$W/fin.bin" --port "$RPORT" --timeout 2 2>"$W/f1"
rc=$?
el=$(took "$t0" "$(now)")
if [ $rc -eq 10 ] && between "$el" 2 10 && [ "$(cat "$W/fin.bin")" = old ] &&
  [ "$(stat -c %s "$W/fin.bin.part" 2>/dev/null)" = 262144 ] && [ "$(wc -l <"$W/f1")" = 1 ]; then
  ok "ftp-get, no 226 after the data: exit 10 after ${el} s (--timeout 2), one line, the data in .part, OUT untouched"
else
  not_ok "ftp-get, no 226" "exit $rc after $el s, .part $(stat -c %s "$W/fin.bin.part" 2>&1)" "$(cat "$W/f1")"
fi
kill "$RPID" 2>/dev/null

# Ctrl-C while it waits for the 226: out at once (130), the same files kept
rm -f "$W/fin.bin.part" "$W/fin.bin.part.state"
ftp_relay "$VPORT" --stall-226
timeout 60 "$NETTOOL" ftp-get 127.0.0.1 pub/fin.bin -o "$W/fin.bin" --port "$RPORT" --timeout 30 2>"$W/f2" &
pid=$!
for _ in $(seq 100); do
  [ "$(stat -c %s "$W/fin.bin.part" 2>/dev/null)" = 262144 ] && break
  sleep 0.1
done
sleep 0.5 # the data is in: now it waits for the 226
t0=$(now)
kill -INT $pid
wait $pid
rc=$?
el=$(took "$t0" "$(now)")
if [ $rc -eq 130 ] && between "$el" 0 2 && [ "$(cat "$W/fin.bin")" = old ] &&
  [ "$(stat -c %s "$W/fin.bin.part" 2>/dev/null)" = 262144 ] && grep -q interrupted "$W/f2"; then
  ok "ftp-get, Ctrl-C while waiting for the 226: exit 130 in ${el} s, .part kept, OUT untouched"
else
  not_ok "ftp-get, Ctrl-C while waiting for the 226" "exit $rc after $el s" "$(cat "$W/f2")"
fi
kill "$RPID" 2>/dev/null

# the same on the way up: the file has gone, the 226 does not come
ftp_relay "$VPORT" --stall-226
t0=$(now)
timeout 60 "$NETTOOL" ftp-put -u "$FTP_USER:$FTP_PASS" 127.0.0.1 "$W/fin-up.bin" fin-up.bin \
  --port "$RPORT" --timeout 2 2>"$W/f3"
rc=$?
el=$(took "$t0" "$(now)")
if [ $rc -eq 10 ] && between "$el" 2 10 && [ "$(wc -l <"$W/f3")" = 1 ] &&
  [ "$(sha_of "$vdir/home/fin-up.bin")" = "$(sha_of "$W/fin-up.bin")" ]; then
  ok "ftp-put, no 226 after the data: exit 10 after ${el} s (--timeout 2), one line"
else
  not_ok "ftp-put, no 226" "exit $rc after $el s" "$(cat "$W/f3")"
fi
kill "$RPID" 2>/dev/null

# a bad value: usage error (2), one line
timeout 10 "$NETTOOL" ftp-get 127.0.0.1 pub/big.bin --port "$VPORT" --keepalive -1 >/dev/null 2>"$W/e5"
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$W/e5")" = 1 ] && grep -q 'bad --keepalive' "$W/e5"; then
  ok "ftp-get --keepalive -1: exit 2, one line"
else
  not_ok "ftp-get --keepalive -1" "exit $rc" "$(cat "$W/e5")"
fi
t_summary
