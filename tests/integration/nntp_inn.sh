#!/usr/bin/env bash
# A private INN 2.7 (Debian's inn2) on 127.0.0.1, everything under DIR
# (config, spool, overview, history, logs), chosen through INNCONF; /etc/news
# is only copied. Adapted from the shared peers recipe (nntp-inn2.sh).
#
#   nntp_inn.sh start DIR PORT [AUTHPORT [NNTPSPORT [CERTDIR]]]
#       innd on PORT: readers (nnrpd) may read and post without logging in,
#       AUTHINFO USER/PASS ($NNTP_USER/$NNTP_PASS, default nntptest /
#       nntptest-pw) works too, STARTTLS when CERTDIR is given.
#       AUTHPORT: a standalone nnrpd that answers 480 until AUTHINFO;
#       user "reader" (password reader-pw) may read there but not post.
#       NNTPSPORT: a standalone nnrpd speaking TLS from the first byte.
#       Groups: local.test, local.empty, local.general (all empty).
#   nntp_inn.sh stop DIR      stops what start started (by PID) and removes DIR
#
# Needs root (innd runs as user news; DIR is chowned to it) and inn2.
# Gotchas kept from the recipe: incoming.conf is emptied (else 127.0.0.1 is
# a feeding peer and gets innd's transit mode), artcutoff 0 and
# checkincludedtext false (quoted test articles are accepted).
set -u
cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 start|stop DIR ..." >&2; exit 2; }
bin=/usr/lib/news/bin
export INNCONF=$dir/etc/inn.conf

stop_pid() { # pid: TERM, wait up to 5 s, then KILL
  local p=$1 i
  kill -0 "$p" 2>/dev/null || return 0
  kill "$p" 2>/dev/null
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
}

if [ "$cmd" = stop ]; then
  [ -f "$dir/innd.pid.started" ] && "$bin/ctlinnd" -t 5 shutdown "test over" >/dev/null 2>&1
  for f in "$dir"/run/nnrpd-*.pid "$dir/innd.pid.started"; do
    [ -s "$f" ] && stop_pid "$(cat "$f")"
  done
  rm -rf "$dir"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR ..." >&2; exit 2; }
port=$3; authport=${4:-}; nntpsport=${5:-}; certs=${6:-}
user=${NNTP_USER:-nntptest}; pass=${NNTP_PASS:-nntptest-pw}
[ -x "$bin/innd" ] || { echo "inn2 is not installed (scripts/install-deps.sh test)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "INN needs root (it runs as user news)" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"/{db,log,run,tmp,spool/{articles,overview,outgoing,archive,incoming/tmp}}
cp -a /etc/news "$dir/etc"
chmod 755 "$dir"
set_conf() { # key value, in the inn.conf given as $3 (default $INNCONF)
  local f=${3:-$INNCONF}
  if grep -q "^#* *$1:" "$f"; then sed -i "s|^#* *$1:.*|$1: $2|" "$f"; else echo "$1: $2" >>"$f"; fi
}
set_conf domain localdomain; set_conf pathhost nntp.test; set_conf port "$port"
set_conf bindaddress 127.0.0.1; set_conf organization '"nettool tests"'
set_conf pathetc "$dir/etc"; set_conf pathdb "$dir/db"; set_conf pathlog "$dir/log"
set_conf pathrun "$dir/run"; set_conf pathspool "$dir/spool"
set_conf patharticles "$dir/spool/articles"; set_conf pathoverview "$dir/spool/overview"
set_conf pathoutgoing "$dir/spool/outgoing"; set_conf patharchive "$dir/spool/archive"
set_conf pathincoming "$dir/spool/incoming"; set_conf pathtmp "$dir/tmp"
set_conf pathfilter "$dir/etc/filter"; set_conf pathhttp "$dir/tmp"
set_conf artcutoff 0; set_conf checkincludedtext false
set_conf doinnwatch false; set_conf htmlstatus false
set_conf localmaxartsize 2000000; set_conf allownewnews true
# readers are refused ("400 load at N, try later") above this load average
# (default 16): a busy test machine is not a busy news server
set_conf nnrpdloadlimit 0
printf 'ME:!*/!local::\n' >"$dir/etc/newsfeeds"
printf 'streaming: true\n' >"$dir/etc/incoming.conf"
cat >"$dir/db/active" <<'EOF'
control 0000000000 0000000001 n
control.cancel 0000000000 0000000001 n
junk 0000000000 0000000001 n
local.general 0000000000 0000000001 y
local.test 0000000000 0000000001 y
local.empty 0000000000 0000000001 y
local.bench 0000000000 0000000001 y
EOF
printf 'local.general\tLocal general group.\nlocal.test\tTest group for the client tests.\nlocal.empty\tAlways empty.\nlocal.bench\tBenchmark group.\n' >"$dir/db/newsgroups"
: >"$dir/db/active.times"; : >"$dir/db/history"
{ printf '%s:%s\n' "$user" "$(openssl passwd -6 "$pass")"
  printf 'reader:%s\n' "$(openssl passwd -6 reader-pw)"; } >"$dir/etc/nntp.passwd"
readers() { # optional|required
  if [ "$1" = optional ]; then
    printf 'auth "local" {\n  hosts: "127.0.0.1, ::1, localhost, stdin"\n  default: "<anon>"\n}\n'
  fi
  printf 'auth "pw" {\n  hosts: "127.0.0.1, ::1, localhost, stdin"\n  auth: "ckpasswd -f %s/etc/nntp.passwd"\n}\n' "$dir"
  if [ "$1" = optional ]; then
    printf 'access "anon" {\n  users: "<anon>"\n  newsgroups: "*"\n  access: RPAN\n}\n'
  fi
  printf 'access "authed" {\n  users: "%s"\n  newsgroups: "*"\n  access: RPAN\n}\n' "$user"
  printf 'access "readonly" {\n  users: "reader"\n  newsgroups: "*"\n  access: R\n}\n'
}
readers optional >"$dir/etc/readers.conf"
if [ -n "$certs" ]; then
  mkdir -p "$dir/etc/tls"
  cp "$certs/server.crt" "$certs/server.key" "$certs/ca.crt" "$dir/etc/tls/"
  set_conf tlscertfile "$dir/etc/tls/server.crt"; set_conf tlskeyfile "$dir/etc/tls/server.key"
  set_conf tlscafile "$dir/etc/tls/ca.crt"
fi
# The authentication-required nnrpd reads its own copy of the configuration
# (same spool and databases, another readers.conf).
if [ -n "$authport" ]; then
  cp -a "$dir/etc" "$dir/etc-auth"
  set_conf pathetc "$dir/etc-auth" "$dir/etc-auth/inn.conf"
  readers required >"$dir/etc-auth/readers.conf"
fi
chown -R news:news "$dir"; chmod 640 "$dir/etc/nntp.passwd"
runnews() { setpriv --reuid=news --regid=news --init-groups env "$@"; }
(cd "$dir/db" && runnews INNCONF="$INNCONF" "$bin/makedbz" -i -o) || exit 1
# (setpriv and env exec, so $! is innd itself)
setpriv --reuid=news --regid=news --init-groups env INNCONF="$INNCONF" \
  "$bin/innd" -f -u >"$dir/log/innd.stdout" 2>&1 &
echo $! >"$dir/innd.pid.started"
wait_port() { # port: up to 10 s
  local i
  for i in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$(cat "$dir/innd.pid.started")" 2>/dev/null || break
    sleep 0.1
  done
  echo "INN did not start on 127.0.0.1:$1" >&2
  tail -n 5 "$dir/log/innd.stdout" "$dir/log/news.err" 2>/dev/null >&2
  return 1
}
wait_port "$port" || exit 1
# standalone nnrpd daemons (-D detaches; pid in run/nnrpd-PORT.pid)
if [ -n "$authport" ]; then
  runnews INNCONF="$dir/etc-auth/inn.conf" "$bin/nnrpd" -D -b 127.0.0.1 -p "$authport" || exit 1
  wait_port "$authport" || exit 1
fi
if [ -n "$nntpsport" ]; then
  runnews INNCONF="$INNCONF" "$bin/nnrpd" -D -S -b 127.0.0.1 -p "$nntpsport" || exit 1
  wait_port "$nntpsport" || exit 1
fi
echo "innd pid $(cat "$dir/innd.pid.started") on 127.0.0.1:$port"
