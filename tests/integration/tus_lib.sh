# What tus.sh and tus_checksum.sh share (sourced after lib.sh; both set nt,
# cache, here, d, PY): the npm servers, and helpers on nettool's runs.

# tus_npm_install: the pinned npm servers into $cache (tus_npm.sh); exits
# 77 (skip) where node >= 20.19 cannot be had, 1 if npm fails
tus_npm_install() {
  bash "$here/tus_npm.sh" "$cache" 2>"$d/npm.err"
  case $? in
  0) ;;
  77)
    echo "# $(cat "$d/npm.err")"
    echo "0 passed, 0 failed"
    exit 77
    ;;
  *)
    not_ok "npm install of the tus servers (tus_npm.sh)" "$(tail -5 "$d/npm.err")"
    t_summary
    exit 1
    ;;
  esac
}

# tus_version PACKAGE: the installed version of an npm package
tus_version() { (cd "$cache" && node -p "require('./node_modules/$1/package.json').version"); }

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# tus_wait_options URL: waits (<= 10 s) until OPTIONS URL answers 204
tus_wait_options() {
  local i
  for i in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$1" 2>/dev/null)" = 204 ] && return 0
    sleep 0.1
  done
  return 1
}

# run OUT ERR ARGS...: nettool with stdout/stderr captured; rc in $rc
run() {
  local out=$1 err=$2
  shift 2
  "$nt" "$@" >"$out" 2>"$err"
  rc=$?
}
# from nettool's summary line: what the server had at the start, what was sent
had() { sed -n 's/.*the server had \([0-9]*\) at the start.*/\1/p' "$1"; }
sent() { sed -n 's/.*at the start; \([0-9]*\) sent.*/\1/p' "$1"; }
