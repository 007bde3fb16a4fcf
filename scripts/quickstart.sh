#!/usr/bin/env bash
# Quick start: installs what is missing, builds nettool, and runs the main
# job on loopback: a timestamp server, and a client talking to it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNT_BUILD_TESTS=OFF >/dev/null
ninja -C build/release >/dev/null
nt=build/release/nettool
echo "built $nt"

out=$(mktemp)
"$nt" ts-server --tcp 0 --udp 0 --bind 127.0.0.1 >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q udp "$out" && break; sleep 0.1; done
cat "$out"
tcp=$(sed -n 's/^listening on tcp .*:\([0-9]*\)$/\1/p' "$out")
udp=$(sed -n 's/^listening on udp .*:\([0-9]*\)$/\1/p' "$out")

echo "\$ printf 'hello\\nnettool\\n' | nettool ts-client 127.0.0.1 $tcp"
printf 'hello\nnettool\n' | "$nt" ts-client 127.0.0.1 "$tcp"
echo "\$ echo 'over udp' | nettool ts-client 127.0.0.1 $udp --udp"
echo 'over udp' | "$nt" ts-client 127.0.0.1 "$udp" --udp

# HTTP: http-upload sending a file to the local multipart receiver the tests
# use (tests/integration/http_multipart.py, Flask; without python3-flask the
# tests' stdlib receiver http_fast_receiver.py), then what the receiver got.
(
  PY=/usr/bin/python3
  up=$(mktemp -d /tmp/nt-quickstart-http.XXXXXX)
  hpid=
  trap '{ [ -n "$hpid" ] && kill "$hpid"; } 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$up"' EXIT
  printf 'Hello from the quick start.\n' >"$up/hello.txt"
  if $PY -c 'import flask' 2>/dev/null; then
    hport=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    $PY tests/integration/http_multipart.py "$hport" >"$up/log" 2>&1 &
    hpid=$!
  else
    $PY tests/integration/http_fast_receiver.py "$up/port" >"$up/log" 2>&1 &
    hpid=$!
    for _ in $(seq 50); do [ -s "$up/port" ] && break; sleep 0.1; done
    hport=$(cat "$up/port")
  fi
  for _ in $(seq 100); do
    "$nt" http-get -q --timeout 1 "http://127.0.0.1:$hport/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "\$ nettool http-upload http://127.0.0.1:$hport/upload hello.txt -F 'note=quick start' -o report.json"
  (cd "$up" && "$root/$nt" http-upload "http://127.0.0.1:$hport/upload" hello.txt -F 'note=quick start' -o report.json)
  $PY - "$up/report.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for f in d.get("fields", []):
    print("the receiver got field %r = %r" % (f["name"], f["value"]))
for f in d.get("files", []):
    if f.get("filename") is None:  # the stdlib receiver lists fields here
        print("the receiver got field %r (%d bytes)" % (f["name"], f["size"]))
        continue
    print("the receiver got file %r in field %r: %s, %d bytes, sha256 %s" % (
        f["filename"], f.get("field", f.get("name")), f["content_type"], f["size"], f["sha256"][:16] + "..."))
PYEOF
)

# NNTP: nntp-read reading the test group from the local news server the
# tests use (INN 2, started privately on a free loopback port; INN needs
# root, so this part is skipped otherwise).
if [ "$(id -u)" != 0 ]; then
  echo "(nntp-read demo skipped: the local INN news server needs root)"
else
  scripts/install-deps.sh test
  news=$(mktemp -d /tmp/nt-quickstart-news.XXXXXX)
  chmod 755 "$news"
  trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -f "$out"; bash tests/integration/nntp_inn.sh stop "$news/inn" || true; rm -rf "$news"' EXIT
  nport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  bash tests/integration/nntp_inn.sh start "$news/inn" "$nport" >/dev/null
  export NNTPSERVER=127.0.0.1:$nport
  printf 'Hello from the quick start.\n\nIn article <x@y>, someone wrote:\n> quoted, not shown\n\nThe end.\n' |
    "$nt" nntp-post local.test - --from 'Quick Start <qs@nntp.test>' --subject 'Grüße from nettool' >/dev/null
  echo "\$ NNTPSERVER=127.0.0.1:$nport nettool nntp-read local.test"
  "$nt" nntp-read local.test
fi

# FTP: ftp-get fetching a file from the local FTP server the tests use
# (vsftpd, started privately on a free loopback port with its own test
# user; it must start as root, so this part is skipped otherwise).
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/vsftpd ]; then
  echo "(ftp-get demo skipped: the local vsftpd needs root and scripts/install-deps.sh test)"
  exit 0
fi
(
  . tests/integration/ftp_peers.sh
  ftp_lock
  ftpdir=$(mktemp -d /tmp/nt-quickstart-ftp.XXXXXX)
  chmod 755 "$ftpdir"
  trap 'ftp_peers_cleanup || true; rm -rf "$ftpdir"' EXIT
  sh tests/tls/make-certs.sh "$ftpdir/certs" >/dev/null
  chmod 755 "$ftpdir/certs"
  ftp_users_setup
  fport=$(ftp_free_port)
  vsftpd_start "$ftpdir/srv" "$fport" "$ftpdir/certs" >/dev/null
  cd "$ftpdir"
  echo "\$ nettool ftp-ls 127.0.0.1 pub --port $fport --long"
  "$root/$nt" ftp-ls 127.0.0.1 pub --port "$fport" --long
  echo "\$ nettool ftp-get 127.0.0.1 pub/hello.txt --port $fport --tls --cacert certs/ca.crt && cat hello.txt"
  "$root/$nt" ftp-get 127.0.0.1 pub/hello.txt --port "$fport" --tls --cacert certs/ca.crt -q
  cat hello.txt
)
