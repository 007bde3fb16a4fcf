#!/usr/bin/env bash
# Every client through REAL proxies started here on loopback: Dante
# (dante-server) as SOCKS5 and tinyproxy as HTTP CONNECT proxy, each with
# and without authentication (proxy_peers.sh). Through each of the four:
# http-get over http and https (nginx; TLS verifies the origin's name
# through the tunnel), ftp-get and ftp-put in passive mode (vsftpd as
# ftp.sh runs it: control AND data connections go through the proxy, seen
# in its log), nntp-list (INN as nntp.sh runs it), ts-client (nettool
# ts-server). Failures: no or wrong credentials (exit 16, 407 and
# tinyproxy's 401), a ruleset/filter refusal (15), a refused destination
# and a dead proxy (4), a bad URL (2), a certificate for another name
# through the tunnel (6). The environment as curl reads it: http_proxy,
# HTTPS_PROXY, HTTP_PROXY ignored, all_proxy, nntp_proxy, no_proxy with
# names and CIDR, --proxy '' over the environment. -v masks the password.
# nntp-get (a yEnc post made by nntp_get_post.py) through each proxy, with
# all_proxy, and a wrong proxy password (exit 16, no retries).
#   proxy.sh NETTOOL
# shellcheck disable=SC2034 # before, ms: read inside the eval'ed checks
set -u
nt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=ftp_peers.sh
. "$here/ftp_peers.sh"
# shellcheck source=proxy_peers.sh
. "$here/proxy_peers.sh"
inn=$T_TMP/inn
cleanup() {
  [ -d "$inn" ] && bash "$here/nntp_inn.sh" stop "$inn"
  [ -s "$T_TMP/ngx/nginx.pid" ] && t_stop "$(cat "$T_TMP/ngx/nginx.pid")" QUIT
  ftp_peers_cleanup
  t_cleanup
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
  echo "# SKIP: the peers need root (danted's users, vsftpd, INN)"
  exit 77
fi
missing=""
for b in danted tinyproxy nginx /usr/sbin/vsftpd /usr/lib/news/bin/innd; do
  command -v "$b" >/dev/null || missing="$missing $b"
done
if [ -n "$missing" ]; then
  echo "# SKIP: not installed:$missing (scripts/install-deps.sh test installs them)"
  exit 77
fi
chmod 755 "$T_TMP"
unset http_proxy https_proxy HTTPS_PROXY HTTP_PROXY ftp_proxy FTP_PROXY all_proxy \
  ALL_PROXY no_proxy NO_PROXY nntp_proxy NNTP_PROXY ts_proxy TS_PROXY
certs=$T_TMP/certs
sh "$here/../tls/make-certs.sh" "$certs" >/dev/null && chmod -R a+rX "$certs" ||
  { not_ok "making the test certificates"; t_summary; exit 1; }
W=$T_TMP/work
mkdir -p "$W"

# run CMD...: nettool in $W; rc, out, err files.
run() { (cd "$W" && "$nt" "$@" >"$W/out" 2>"$W/err" </dev/null); echo $? >"$W/rc"; }
rc_is() { [ "$(cat "$W/rc")" = "$1" ] || { echo "rc $(cat "$W/rc"), want $1: $(head -c 400 "$W/err")"; return 1; }; }
err_has() { grep -Eq -- "$1" "$W/err" || { echo "stderr: $(head -c 400 "$W/err")"; return 1; }; }
same() { cmp -s "$1" "$2" || { echo "$1 and $2 differ"; return 1; }; }
c() { # DESC COMMAND...: ok when it succeeds, its output as diagnostics
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
lines() { cat "$@" 2>/dev/null | wc -l; }

# N consecutive free ports in this test's range (26000-26999).
free_run() {
  local p k n=$1 good
  for p in $(seq 26200 7 26900); do
    good=1
    for k in $(seq 0 $((n - 1))); do
      (exec 3<>"/dev/tcp/127.0.0.1/$((p + k))") 2>/dev/null && { good=0; break; }
    done
    [ $good = 1 ] && { echo "$p"; return 0; }
  done
  return 1
}

# --- the peers ------------------------------------------------------------------------
base=$(free_run 10) || { not_ok "free ports"; t_summary; exit 1; }
SP=$base        # Dante: SP open, SP+1 user/password
HP=$((base + 2)) # tinyproxy: HP open, HP+1 BasicAuth
WP=$((base + 4)) # nginx: WP http, WP+1 https, WP+2 https with a wrong-name certificate
TP=$((base + 7)) # nettool ts-server
dead=$((base + 8)) # nothing listens there
silent=$((base + 9)) # a "proxy" that accepts and never answers
# vsftpd first: its set-up changes /etc/passwd and /etc/shadow, and
# replacing them detaches the private copies bind-mounted for danted.
ftp_lock || { not_ok "waiting for another FTP test run (lock)"; t_summary; exit 1; }
ftp_users_setup || { not_ok "creating the FTP test user"; t_summary; exit 1; }
vdir=$T_TMP/vsftpd
ftp_start vsftpd "$vdir" "$certs" || { not_ok "vsftpd started" "$(cat "$vdir.start.log")"; t_summary; exit 1; }
VP=$FTP_START_PORT
ok "vsftpd on 127.0.0.1:$VP (passive ports $((VP + 1))-$((VP + 20)))"
pasv_re="127\.0\.0\.1[.:]($(seq -s'|' $((VP + 1)) $((VP + 20))))([^0-9]|$)"
dante=$T_TMP/dante tiny=$T_TMP/tiny
if ! proxy_dante_start "$dante" "$SP" 2>"$T_TMP/dante.err"; then
  not_ok "Dante started" "$(cat "$T_TMP/dante.err" "$dante"/*.out "$dante"/*.log 2>/dev/null)"
  t_summary; exit 1
fi
ok "Dante on 127.0.0.1:$SP (no auth) and :$((SP + 1)) (user/password)"
if ! proxy_tinyproxy_start "$tiny" "$HP" 2>"$T_TMP/tiny.err"; then
  not_ok "tinyproxy started" "$(cat "$T_TMP/tiny.err" "$tiny"/*.out 2>/dev/null)"
  t_summary; exit 1
fi
ok "tinyproxy on 127.0.0.1:$HP (open) and :$((HP + 1)) (basic auth)"

www=$T_TMP/www
mkdir -p "$www" "$T_TMP/ngx/tmp"
head -c $((1024 * 1024 + 17)) /dev/urandom >"$www/file.bin"
echo "hello through the proxy" >"$www/hello.txt"
chmod -R a+rX "$www"
cat >"$T_TMP/ngx/nginx.conf" <<EOF
user root root;
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
  server { listen 127.0.0.1:$WP; root $www; }
  server {
    listen 127.0.0.1:$((WP + 1)) ssl;
    ssl_certificate $certs/server.crt;
    ssl_certificate_key $certs/server.key;
    root $www;
  }
  server {
    listen 127.0.0.1:$((WP + 2)) ssl;
    ssl_certificate $certs/wronghost.crt;
    ssl_certificate_key $certs/wronghost.key;
    root $www;
  }
}
EOF
nginx -p "$T_TMP/ngx" -e "$T_TMP/ngx/error.log" -c "$T_TMP/ngx/nginx.conf" 2>"$T_TMP/ngx.err"
up=0
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$((WP + 2))") 2>/dev/null && [ -s "$T_TMP/ngx/nginx.pid" ] && { up=1; break; }
  sleep 0.1
done
if [ $up = 0 ]; then
  not_ok "nginx started" "$(cat "$T_TMP/ngx.err" "$T_TMP/ngx/error.log")"
  t_summary; exit 1
fi
ok "nginx on 127.0.0.1:$WP (http), :$((WP + 1)) (https), :$((WP + 2)) (https, wrong name)"

"$nt" ts-server --tcp "$TP" --bind 127.0.0.1 >"$T_TMP/ts.log" 2>&1 &
t_track $!
proxy_wait_tcp "$TP" $! 2>/dev/null || { not_ok "ts-server started" "$(cat "$T_TMP/ts.log")"; t_summary; exit 1; }


NP=""
for _ in 1 2 3; do
  NP=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  bash "$here/nntp_inn.sh" start "$inn" "$NP" >"$T_TMP/inn.log" 2>&1 && break
  bash "$here/nntp_inn.sh" stop "$inn"
  NP=""
done
[ -n "$NP" ] || { not_ok "INN started" "$(cat "$T_TMP/inn.log")"; t_summary; exit 1; }
ok "INN on 127.0.0.1:$NP"
# a yEnc post for nntp-get: 3 articles of 100 KB and their NZB
head -c 250000 /dev/urandom >"$W/post.bin"
if /usr/bin/python3 "$here/nntp_get_post.py" post "$NP" local.test "$W/post.bin" 100000 "$W/post.nzb"; then
  ok "a 250 KB file posted to INN as 3 yEnc articles, with its NZB"
else
  not_ok "posting the yEnc articles"
fi

# --- every client through every proxy -------------------------------------------------------
S0="socks5://127.0.0.1:$SP"
S1="socks5h://$SOCKS_USER:$SOCKS_PASS@127.0.0.1:$((SP + 1))"
H0="http://127.0.0.1:$HP"
H1="http://$PROXY_USER:$PROXY_PASS@127.0.0.1:$((HP + 1))"
log_of() { # the log a proxy URL writes to
  case $1 in
  "$S0") echo "$dante/noauth.log" ;; "$S1") echo "$dante/auth.log" ;;
  "$H0") echo "$tiny/log/open.log" ;; "$H1") echo "$tiny/log/auth.log" ;;
  esac
}
head -c 300000 /dev/urandom >"$W/up.bin"
n=0
for px in "$S0" "$S1" "$H0" "$H1"; do
  n=$((n + 1))
  name=${px%%://*}${n}
  plog=$(log_of "$px")

  before=$(lines "$plog")
  run http-get -x "$px" "http://127.0.0.1:$WP/file.bin" -o "$W/f.bin" -q
  c "$name: http-get http:// through the proxy (and the proxy saw it)" \
    eval 'rc_is 0 && same "$www/file.bin" "$W/f.bin" && [ "$(lines "$plog")" -gt "$before" ]'
  rm -f "$W/f.bin"

  run http-get -x "$px" "https://localhost:$((WP + 1))/file.bin" --cacert "$certs/ca.crt" -o "$W/f.bin" -q
  c "$name: http-get https://localhost through the tunnel (TLS end to end, name verified)" \
    eval 'rc_is 0 && same "$www/file.bin" "$W/f.bin"'
  rm -f "$W/f.bin"

  before=$(grep -cE "$pasv_re" "$plog")
  run ftp-get -x "$px" "ftp://127.0.0.1:$VP/pub/hello.txt" -o "$W/hello.txt" -q
  c "$name: ftp-get, passive: control and data connections through the proxy" \
    eval 'rc_is 0 && same "$vdir/anon/pub/hello.txt" "$W/hello.txt" &&
          [ "$(grep -cE "$pasv_re" "$plog")" -gt "$before" ] || { echo "no data port in $plog"; false; }'
  rm -f "$W/hello.txt"

  run ftp-get -x "$px" --tls --cacert "$certs/ca.crt" "ftp://127.0.0.1:$VP/pub/hello.txt" -o "$W/hello.txt" -q
  c "$name: explicit FTPS through the proxy (TLS data connection resumes the session)" \
    eval 'rc_is 0 && same "$vdir/anon/pub/hello.txt" "$W/hello.txt"'
  rm -f "$W/hello.txt"

  run ftp-put -x "$px" -u "$FTP_USER:$FTP_PASS" 127.0.0.1 "$W/up.bin" "up-$n.bin" --port "$VP" -q
  c "$name: ftp-put through the proxy (passive upload)" \
    eval 'rc_is 0 && same "$W/up.bin" "$vdir/home/up-$n.bin"'

  run nntp-list -x "$px" --server "127.0.0.1:$NP"
  c "$name: nntp-list through the proxy" eval 'rc_is 0 && grep -q "local.test" "$W/out"'

  before=$(lines "$plog")
  mkdir -p "$W/g$n"
  run nntp-get -x "$px" "$W/post.nzb" -o "$W/g$n" --server "127.0.0.1:$NP" --connections 2
  c "$name: nntp-get through the proxy (2 connections; the proxy saw them)" \
    eval 'rc_is 0 && same "$W/post.bin" "$W/g$n/post.bin" && [ "$(lines "$plog")" -ge $((before + 2)) ]'

  (cd "$W" && printf 'via proxy %s\n' "$n" | "$nt" ts-client -x "$px" 127.0.0.1 "$TP" >"$W/out" 2>"$W/err"; echo $? >"$W/rc")
  c "$name: ts-client through the proxy" eval 'rc_is 0 && grep -q "\]: via proxy $n" "$W/out"'
done

# --- failures ---------------------------------------------------------------------------
url="http://127.0.0.1:$WP/hello.txt"
run http-get -x "socks5://127.0.0.1:$((SP + 1))" "$url" -o -
c "SOCKS5 without credentials where they are required: exit 16, says so" \
  eval 'rc_is 16 && err_has "proxy authentication failed.*authentication required"'
run http-get -x "socks5://$SOCKS_USER:wrong@127.0.0.1:$((SP + 1))" "$url" -o -
c "SOCKS5 with a wrong password: exit 16" \
  eval 'rc_is 16 && err_has "rejected" && ! grep -q wrong "$W/err"'
run http-get -x "http://127.0.0.1:$((HP + 1))" "$url" -o -
c "CONNECT without credentials: exit 16 (407)" eval 'rc_is 16 && err_has "407"'
run http-get -x "http://$PROXY_USER:wrong@127.0.0.1:$((HP + 1))" "$url" -o -
c "CONNECT with a wrong password: exit 16 (tinyproxy's 401)" eval 'rc_is 16 && err_has "401"'
run http-get -x "$S0" "http://127.0.0.1:1/" -o -
c "SOCKS5 ruleset refusal: exit 15 (reply 2)" eval 'rc_is 15 && err_has "not allowed by ruleset \(reply 2\)"'
run http-get -x "$H0" "http://127.0.0.2:$WP/" -o -
c "CONNECT refused by the proxy's filter: exit 15 (403)" eval 'rc_is 15 && err_has "403"'
run http-get -x "$S0" "http://127.0.0.1:$dead/" -o -
c "the destination refuses behind SOCKS5: exit 4 (reply 5)" eval 'rc_is 4 && err_has "connection refused \(reply 5\)"'
run http-get -x "$H0" "http://127.0.0.1:$dead/" -o -
c "the destination refuses behind CONNECT: exit 4" eval 'rc_is 4 && err_has "could not connect to the destination"'
run http-get -x "socks5://127.0.0.1:$dead" "$url" -o -
c "a dead proxy: exit 4, names the proxy" eval 'rc_is 4 && err_has "cannot connect to the proxy: SOCKS5 proxy 127.0.0.1:$dead"'
run ftp-get -x "http://127.0.0.1:$dead" "ftp://127.0.0.1:$VP/pub/hello.txt" -o "$W/x"
c "ftp-get with a dead proxy: exit 4" eval 'rc_is 4 && err_has "cannot connect to the proxy"'
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
s.settimeout(1)
held, end = [], time.time() + 120
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass' "$silent" &
t_track $!
proxy_wait_tcp "$silent" $! 2>/dev/null
start=$(date +%s%N)
run http-get -x "socks5h://127.0.0.1:$silent" --connect-timeout 1 "$url" -o -
ms=$((($(date +%s%N) - start) / 1000000))
c "a proxy that never answers: exit 10 after --connect-timeout (which covers the handshake)" \
  eval 'rc_is 10 && err_has "connect-timeout" && [ "$ms" -lt 5000 ]'
run ftp-get -x "http://127.0.0.1:$silent" --connect-timeout 1 "ftp://127.0.0.1:$VP/pub/hello.txt" -o "$W/x"
c "ftp-get, a silent CONNECT proxy: exit 10" eval 'rc_is 10 && err_has "connect-timeout"'
run http-get -x "socks4://127.0.0.1:$SP" "$url" -o -
c "an unsupported proxy scheme: exit 2" eval 'rc_is 2 && err_has "bad --proxy"'
run ftp-get -x "$S0" --active "ftp://127.0.0.1:$VP/pub/hello.txt" -o "$W/x"
c "--active through a proxy: exit 2" eval 'rc_is 2 && err_has "active"'
run http-get -x "$S1" "https://localhost:$((WP + 2))/hello.txt" --cacert "$certs/ca.crt" -o -
c "a certificate for another name through the tunnel: exit 6 (the origin's name is checked)" \
  eval 'rc_is 6'

# --- the environment -----------------------------------------------------------------------
tlog=$tiny/log/open.log dlog=$dante/noauth.log dalog=$dante/auth.log
envrun() { (cd "$W" && env "$@" >"$W/out" 2>"$W/err" </dev/null); echo $? >"$W/rc"; }
before=$(lines "$tlog")
envrun http_proxy="$H0" "$nt" http-get "$url" -o -
c "http_proxy is used for http://" eval 'rc_is 0 && [ "$(lines "$tlog")" -gt "$before" ]'
before=$(lines "$tlog")
envrun HTTP_PROXY="http://127.0.0.1:$dead" "$nt" http-get "$url" -o -
c "HTTP_PROXY is ignored (as curl does: httpoxy)" eval 'rc_is 0 && [ "$(lines "$tlog")" -eq "$before" ]'
before=$(lines "$dlog")
envrun HTTPS_PROXY="$S0" "$nt" http-get "https://localhost:$((WP + 1))/hello.txt" --cacert "$certs/ca.crt" -o -
c "HTTPS_PROXY (upper case) is used for https://" eval 'rc_is 0 && [ "$(lines "$dlog")" -gt "$before" ]'
before=$(lines "$dalog")
envrun all_proxy="$S1" "$nt" ftp-get "ftp://127.0.0.1:$VP/pub/hello.txt" -o "$W/e.txt"
c "all_proxy for ftp (user/password SOCKS5)" eval 'rc_is 0 && same "$vdir/anon/pub/hello.txt" "$W/e.txt" && [ "$(lines "$dalog")" -gt "$before" ]'
rm -f "$W/e.txt"
before=$(lines "$tiny/log/auth.log")
envrun nntp_proxy="$H1" "$nt" nntp-list --server "127.0.0.1:$NP"
c "nntp_proxy for nntp-list" eval 'rc_is 0 && [ "$(lines "$tiny/log/auth.log")" -gt "$before" ]'
before=$(lines "$dalog")
mkdir -p "$W/ge"
envrun all_proxy="$S1" "$nt" nntp-get "$W/post.nzb" -o "$W/ge" --server "127.0.0.1:$NP"
c "all_proxy for nntp-get (user/password SOCKS5)" \
  eval 'rc_is 0 && same "$W/post.bin" "$W/ge/post.bin" && [ "$(lines "$dalog")" -gt "$before" ]'
mkdir -p "$W/gw"
run nntp-get -x "socks5://$SOCKS_USER:wrong@127.0.0.1:$((SP + 1))" "$W/post.nzb" -o "$W/gw" \
  --server "127.0.0.1:$NP" --retry 3
c "nntp-get, wrong proxy password: exit 16 at once (no retry), each segment listed, no password shown" \
  eval 'rc_is 16 && [ "$(grep -c "failed: post.bin segment" "$W/err")" = 3 ] && err_has "proxy authentication failed" && ! grep -q wrong "$W/err"'
envrun all_proxy="socks5://127.0.0.1:$dead" no_proxy="example.com, 127.0.0.1" "$nt" http-get "$url" -o -
c "no_proxy lists the host: direct" eval 'rc_is 0'
envrun ALL_PROXY="socks5://127.0.0.1:$dead" NO_PROXY="127.0.0.0/8" "$nt" http-get "$url" -o -
c "NO_PROXY with a CIDR network: direct" eval 'rc_is 0'
envrun all_proxy="socks5://127.0.0.1:$dead" no_proxy="*" "$nt" ftp-get "ftp://127.0.0.1:$VP/pub/hello.txt" -o -
c "no_proxy='*': direct" eval 'rc_is 0'
envrun all_proxy="socks5://127.0.0.1:$dead" "$nt" http-get "$url" -o -
c "all_proxy naming a dead proxy is used (exit 4)" eval 'rc_is 4'
envrun all_proxy="socks5://127.0.0.1:$dead" "$nt" http-get -x '' "$url" -o -
c "--proxy '' wins over the environment: direct" eval 'rc_is 0'
envrun all_proxy="socks4://127.0.0.1:$SP" "$nt" http-get "$url" -o -
c "a malformed proxy variable: exit 2" eval 'rc_is 2 && err_has "bad proxy in the environment"'
envrun no_proxy=127.0.0.1 "$nt" http-get -x "socks5://127.0.0.1:$dead" "$url" -o -
c "no_proxy applies to --proxy too (as in curl)" eval 'rc_is 0'

# --- credentials never shown ------------------------------------------------------------------
run http-get -v -x "$S1" "$url" -o -
c "-v names the proxy, the password masked, and shows the SOCKS5 dialogue" \
  eval 'rc_is 0 && err_has "proxy socks5h://$SOCKS_USER:\*\*\*\*@127.0.0.1:$((SP + 1))" &&
        err_has "> SOCKS5 user/password: $SOCKS_USER \*\*\*\*" && ! grep -q "$SOCKS_PASS" "$W/err"'
run http-get -v -x "$H1" "$url" -o -
c "-v with CONNECT: Proxy-Authorization masked" \
  eval 'rc_is 0 && err_has "> Proxy-Authorization: Basic \*\*\*\*" && ! grep -q "$PROXY_PASS" "$W/err" &&
        ! grep -q "$(printf %s "$PROXY_USER:$PROXY_PASS" | base64)" "$W/err"'

t_summary
