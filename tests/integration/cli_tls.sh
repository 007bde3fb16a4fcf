#!/usr/bin/env bash
# cli_tls.sh NETTOOL MAKE_CERTS -- `nettool ts-server --tls` against the
# `openssl s_client` command: TLS 1.3 and 1.2, IPv4 and IPv6, certificate
# and host name verified by s_client, renegotiation refused (and the server
# goes on), a plaintext client, workers, clean SIGTERM, and the exit codes
# and one-line messages of bad TLS options. Prints ok/not ok per check and
# "N passed, N failed" last; exits non-zero if anything failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NETTOOL=${1:?usage: cli_tls.sh NETTOOL MAKE_CERTS}
MAKE_CERTS=${2:?usage: cli_tls.sh NETTOOL MAKE_CERTS}
C=$T_TMP/certs
if ! sh "$MAKE_CERTS" "$C" >/dev/null; then
  not_ok "test certificates made" "make-certs.sh failed"
  t_summary
  exit 1
fi
CT=10 # every s_client run is bounded by this many seconds

# start_tls NAME ARGS... : nettool ts-server --tls ... in the background;
# waits for "listening on tls ADDR"; sets SRV_PID and SRV_PORT.
start_tls() {
  local name=$1
  shift
  "$NETTOOL" ts-server --tls --cert "$C/server.crt" --key "$C/server.key" "$@" \
    >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
  SRV_PID=$!
  t_track "$SRV_PID"
  t_wait_line "$T_TMP/$name.out" '^listening on tls ' 50 || return 1
  SRV_PORT=$(sed -n 's/^listening on tls .*:\([0-9][0-9]*\)$/\1/p' "$T_TMP/$name.out")
  [ -n "$SRV_PORT" ]
}

# sclient NAME CONNECT ARGS... : sends two lines through openssl s_client
# (stdin held open a moment so the replies can come back); RC, NAME.out/.err.
sclient() {
  local name=$1 connect=$2
  shift 2
  { printf 'hello tls\nsecond line\n'; sleep 0.7; } |
    timeout "$CT" openssl s_client -connect "$connect" -CAfile "$C/ca.crt" \
      -verify_return_error -quiet -no_ign_eof "$@" \
      >"$T_TMP/$name.out" 2>"$T_TMP/$name.err"
  RC=${PIPESTATUS[1]}
}

# The server answers per read, so the two lines may come back as one reply
# or two; either way every line carries the timestamp prefix.
replies_ok() {
  local f=$1
  grep -Eq "${TS_RE_BASE}: hello tls\$" "$f" && grep -q 'second line$' "$f"
}

if start_tls s1 --tcp 0 --bind 127.0.0.1; then
  ok "ts-server --tls starts and says 'listening on tls 127.0.0.1:PORT'"
else
  not_ok "ts-server --tls starts" "$(cat "$T_TMP/s1.err" 2>/dev/null)"
  t_summary
  exit 1
fi

sclient c13 "127.0.0.1:$SRV_PORT" -tls1_3 -verify_hostname localhost
if [ "$RC" -eq 0 ] && replies_ok "$T_TMP/c13.out"; then
  ok "s_client TLS 1.3, verifying the name localhost: replies"
else
  not_ok "s_client TLS 1.3" "rc=$RC" "$(cat "$T_TMP/c13.out" "$T_TMP/c13.err")"
fi

sclient c12 "127.0.0.1:$SRV_PORT" -tls1_2 -verify_ip 127.0.0.1
if [ "$RC" -eq 0 ] && replies_ok "$T_TMP/c12.out"; then
  ok "s_client TLS 1.2, verifying the IP 127.0.0.1: replies"
else
  not_ok "s_client TLS 1.2" "rc=$RC" "$(cat "$T_TMP/c12.out" "$T_TMP/c12.err")"
fi

# s_client shows the protocol and the verification result without -quiet.
echo | timeout "$CT" openssl s_client -connect "127.0.0.1:$SRV_PORT" \
  -CAfile "$C/ca.crt" -verify_hostname localhost -no_ign_eof \
  >"$T_TMP/info.out" 2>&1
if grep -q 'New, TLSv1.3, Cipher is' "$T_TMP/info.out" &&
  grep -q 'Verify return code: 0 (ok)' "$T_TMP/info.out"; then
  ok "s_client sees TLSv1.3 and a verified chain"
else
  not_ok "s_client session info" "$(tail -n 20 "$T_TMP/info.out")"
fi

# A client that renegotiates ("R" on s_client's stdin, TLS 1.2) is refused.
{ printf 'R\n'; sleep 1; } |
  timeout "$CT" openssl s_client -connect "127.0.0.1:$SRV_PORT" -tls1_2 \
    -CAfile "$C/ca.crt" -no_ign_eof >"$T_TMP/reneg.out" 2>&1
if grep -q 'RENEGOTIATING' "$T_TMP/reneg.out" &&
  grep -qi 'no renegotiation' "$T_TMP/reneg.out"; then
  ok "renegotiation refused (s_client: no renegotiation)"
else
  not_ok "renegotiation refused" "$(tail -n 10 "$T_TMP/reneg.out")"
fi

# Plain TCP to the TLS port: no reply, and the server is not hurt.
if exec 7<>"/dev/tcp/127.0.0.1/$SRV_PORT"; then
  printf 'GET / HTTP/1.0\r\n\r\n' >&7
  timeout 3 cat <&7 >"$T_TMP/plain.out"
  exec 7>&-
  if ! grep -q 'GET' "$T_TMP/plain.out"; then
    ok "a plaintext client gets no echo from the TLS port"
  else
    not_ok "plaintext client" "$(od -c "$T_TMP/plain.out" | head -n 5)"
  fi
else
  not_ok "plaintext connect to the TLS port"
fi

sclient again "127.0.0.1:$SRV_PORT" -verify_hostname localhost
if [ "$RC" -eq 0 ] && replies_ok "$T_TMP/again.out" && t_alive "$SRV_PID"; then
  ok "the server still serves after the refused and plaintext clients"
else
  not_ok "server after bad clients" "rc=$RC" "$(cat "$T_TMP/again.err" "$T_TMP/s1.err")"
fi

# A client that trusts another CA refuses our certificate: s_client says why.
timeout "$CT" openssl s_client -connect "127.0.0.1:$SRV_PORT" \
  -CAfile "$C/otherca.crt" -verify_return_error </dev/null >"$T_TMP/unknown.out" 2>&1
if grep -q 'unable to get local issuer certificate' "$T_TMP/unknown.out"; then
  ok "s_client with another CA: unable to get local issuer certificate"
else
  not_ok "s_client with another CA" "$(tail -n 10 "$T_TMP/unknown.out")"
fi

t_stop "$SRV_PID"
if wait "$SRV_PID"; then
  ok "SIGTERM stops the TLS server cleanly (exit 0)"
else
  not_ok "SIGTERM exit status" "$(cat "$T_TMP/s1.err")"
fi

if t_have_ipv6 && start_tls s6 --tcp 0 --bind ::1 --workers 2; then
  sclient c6 "[::1]:$SRV_PORT" -verify_ip ::1
  if [ "$RC" -eq 0 ] && replies_ok "$T_TMP/c6.out"; then
    ok "IPv6 ::1 with 2 workers, verifying the IP ::1: replies"
  else
    not_ok "IPv6 TLS" "rc=$RC" "$(cat "$T_TMP/c6.out" "$T_TMP/c6.err")"
  fi
  t_stop "$SRV_PID"
  wait "$SRV_PID"
elif t_have_ipv6; then
  not_ok "ts-server --tls on ::1" "$(cat "$T_TMP/s6.err")"
else
  ok "# SKIP no IPv6 loopback"
fi

# bad_opts DESC CODE MESSAGE_RE ARGS... : exit CODE, one error line.
bad_opts() {
  local desc=$1 code=$2 re=$3
  shift 3
  timeout 5 "$NETTOOL" ts-server "$@" >"$T_TMP/bad.out" 2>"$T_TMP/bad.err"
  local rc=$?
  if [ "$rc" -eq "$code" ] && t_one_error_line "$T_TMP/bad.err" &&
    grep -Eq "$re" "$T_TMP/bad.err"; then
    ok "$desc (exit $code)"
  else
    not_ok "$desc" "rc=$rc, want $code" "$(cat "$T_TMP/bad.err")"
  fi
}
bad_opts "--tls without --cert" 2 'needs --cert' --tls --tcp 0
bad_opts "--cert without --tls" 2 'go with --tls' --cert "$C/server.crt" --tcp 0
bad_opts "--tls with --udp" 2 'TCP only' --tls --cert "$C/server.crt" --udp 0
bad_opts "missing certificate file" 9 "cannot read certificate file '/nonexistent/x.crt'" \
  --tls --cert /nonexistent/x.crt --tcp 0
bad_opts "key not matching the certificate" 6 'does not match' \
  --tls --cert "$C/server.crt" --key "$C/expired.key" --tcp 0
bad_opts "not a certificate" 6 'cannot load certificate' \
  --tls --cert "$C/ca.db/index.txt" --key "$C/server.key" --tcp 0

t_summary
