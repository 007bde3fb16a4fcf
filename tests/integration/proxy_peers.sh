# shellcheck shell=bash
# Real proxies on loopback for proxy.sh (sourced; needs lib.sh and root),
# adapted from the verified recipes in ../shared/PEERS.md sections 8 and 9:
#   proxy_dante_start DIR PORT      Dante (danted, Debian dante-server) as
#       two SOCKS5 proxies: 127.0.0.1:PORT without authentication,
#       PORT+1 RFC 1929 user/password only ($SOCKS_USER/$SOCKS_PASS).
#       Destinations: 127.0.0.0/8 only; 127.0.0.1 port 1 blocked by a rule
#       (reply 2). danted checks the SYSTEM passwd/shadow, so the auth
#       instance runs in a private mount namespace where DIR/passwd and
#       DIR/shadow are bind-mounted over /etc/passwd and /etc/shadow: only
#       danted sees the test user, /etc is untouched. (Gotcha: a rule on
#       one line is a syntax error; each keyword on its own line.)
#   proxy_tinyproxy_start DIR PORT  tinyproxy as two HTTP proxies with
#       CONNECT to any port (no ConnectPort line): PORT open, PORT+1 with
#       BasicAuth $PROXY_USER/$PROXY_PASS (a missing Proxy-Authorization
#       gives 407, a wrong one 401). Only 127.0.0.1 and localhost may be
#       reached (others: 403 "Filtered"). (Gotcha: the log directory must
#       belong to nobody: tinyproxy opens it after dropping privileges.)
# Every process started is tracked with t_track (lib.sh stops it by PID).

SOCKS_USER=${SOCKS_USER:-nt-sockstest}
SOCKS_PASS=${SOCKS_PASS:-nt-sockstest-pw}
PROXY_USER=${PROXY_USER:-nt-proxytest}
PROXY_PASS=${PROXY_PASS:-nt-proxytest-pw}

# proxy_wait_tcp PORT PID: up to 10 s for 127.0.0.1:PORT to accept.
proxy_wait_tcp() {
  local _
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "pid $2 exited" >&2; return 1; }
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

proxy_dante_conf() { # PORT METHOD LOG
  cat <<EOF
logoutput: $3
internal: 127.0.0.1 port = $1
external: 127.0.0.1
clientmethod: none
socksmethod: $2
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks block {
  from: 0.0.0.0/0 to: 127.0.0.1/32 port = 1
  log: connect error
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: connect
  log: connect disconnect error
}
socks block {
  from: 0.0.0.0/0 to: 0.0.0.0/0
  log: connect error
}
EOF
}

proxy_dante_start() {
  local dir=$1 port=$2 aport=$(($2 + 1)) pid
  command -v danted >/dev/null || { echo "danted is not installed (dante-server)" >&2; return 1; }
  mkdir -p "$dir"
  chmod 755 "$dir"
  proxy_dante_conf "$port" none "$dir/noauth.log" >"$dir/noauth.conf"
  proxy_dante_conf "$aport" username "$dir/auth.log" >"$dir/auth.conf"
  danted -V -f "$dir/noauth.conf" >&2 || return 1
  danted -f "$dir/noauth.conf" -p "$dir/noauth.pid" >"$dir/noauth.out" 2>&1 &
  pid=$!
  t_track "$pid"
  proxy_wait_tcp "$port" "$pid" || return 1
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n%s:x:65533:65534::/nonexistent:/usr/sbin/nologin\n' \
    "$SOCKS_USER" >"$dir/passwd"
  printf '%s:%s:19000:0:99999:7:::\n' "$SOCKS_USER" "$(openssl passwd -6 "$SOCKS_PASS")" >"$dir/shadow"
  chmod 644 "$dir/passwd"
  chmod 600 "$dir/shadow"
  # unshare without --fork and sh's exec keep $! = danted
  unshare -m --propagation private sh -c \
    'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && shift 2 && exec "$@"' \
    sh "$dir/passwd" "$dir/shadow" danted -f "$dir/auth.conf" -p "$dir/auth.pid" \
    >"$dir/auth.out" 2>&1 &
  pid=$!
  t_track "$pid"
  proxy_wait_tcp "$aport" "$pid" || { cat "$dir/auth.out" >&2; return 1; }
}

proxy_tinyproxy_conf() { # DIR NAME PORT [BasicAuth line]
  cat <<EOF
User nobody
Group nogroup
Port $3
Listen 127.0.0.1
Bind 127.0.0.1
Timeout 60
LogFile "$1/log/$2.log"
LogLevel Info
PidFile "$1/$2.pid"
MaxClients 50
Allow 127.0.0.1
Filter "$1/filter"
FilterType ere
FilterDefaultDeny Yes
${4:-}
EOF
}

proxy_tinyproxy_start() {
  local dir=$1 port=$2 pid
  command -v tinyproxy >/dev/null || { echo "tinyproxy is not installed" >&2; return 1; }
  mkdir -p "$dir/log"
  chmod 755 "$dir"
  chown nobody:nogroup "$dir/log"
  printf '%s\n' '^127\.0\.0\.1$' '^localhost$' >"$dir/filter"
  proxy_tinyproxy_conf "$dir" open "$port" >"$dir/open.conf"
  proxy_tinyproxy_conf "$dir" auth $((port + 1)) "BasicAuth $PROXY_USER $PROXY_PASS" >"$dir/auth.conf"
  tinyproxy -d -c "$dir/open.conf" >"$dir/open.out" 2>&1 &
  pid=$!
  t_track "$pid"
  proxy_wait_tcp "$port" "$pid" || return 1
  tinyproxy -d -c "$dir/auth.conf" >"$dir/auth.out" 2>&1 &
  pid=$!
  t_track "$pid"
  proxy_wait_tcp $((port + 1)) "$pid"
}
