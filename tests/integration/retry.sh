#!/usr/bin/env bash
# --retry N / --retry-delay S, one shared option (apps/nettool/cli_opts.c):
# listed by every transfer command's --help, parsed the same everywhere (a
# bad value: the same usage error and exit 2), refused by a command without
# it; nntp-read --retry against a scripted server (nntp_retry_peer.py,
# 127.0.0.1) that cuts the first connection mid-overview or mid-article:
# reconnect, the rest fetched, every row and line exactly once, exit 0;
# without --retry the documented exit 7; a refusal (411) is never retried;
# a server that stops answering: timeout, backoff, retry, and exit 10 in
# the expected time; Ctrl-C while a backoff timer is pending: exit 130 at
# once, with nothing left live.
#   retry.sh NETTOOL
set -u
nt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
trap t_cleanup EXIT
W=$T_TMP/work
mkdir -p "$W"
PY=/usr/bin/python3

run() { (cd "$W" && "$nt" "$@" >"$W/out" 2>"$W/err"); echo $? >"$W/rc"; }
rc_is() { [ "$(cat "$W/rc")" = "$1" ] || { echo "rc $(cat "$W/rc"), want $1: $(head -c 300 "$W/err")"; return 1; }; }
c() {
  local _desc=$1 _out
  shift
  if _out=$("$@" 2>&1); then ok "$_desc"; else not_ok "$_desc" "$_out"; fi
}

# --- one option, one meaning ---------------------------------------------------
declare -A operands=(
  [http-get]="http://127.0.0.1:1/x"
  [http-upload]="http://127.0.0.1:1/x $W/f"
  [ftp-get]="ftp://127.0.0.1:1/x"
  [ftp-put]="ftp://127.0.0.1:1/x $W/f"
  [nntp-read]="nntp://127.0.0.1:1/g"
)
: >"$W/f"
for cmd in http-get http-upload ftp-get ftp-put nntp-read; do
  run "$cmd" --help
  c "$cmd --help lists --retry N and --retry-delay S" \
    sh -c "grep -Eq '^  --retry N ' '$W/out' && grep -Eq '^  --retry-delay S ' '$W/out'"
  # shellcheck disable=SC2086
  run "$cmd" ${operands[$cmd]} --retry x
  c "$cmd --retry x: usage error, exit 2" sh -c "
    [ \$(cat '$W/rc') = 2 ] &&
    grep -Fxq \"nettool: $cmd: bad --retry 'x': expected a number from 0 to 1000 (see 'nettool $cmd --help')\" '$W/err'"
  # shellcheck disable=SC2086
  run "$cmd" ${operands[$cmd]} --retry 1001
  c "$cmd --retry 1001: exit 2" rc_is 2
  # shellcheck disable=SC2086
  run "$cmd" ${operands[$cmd]} --retry-delay 0
  c "$cmd --retry-delay 0: usage error, exit 2" sh -c "
    [ \$(cat '$W/rc') = 2 ] &&
    grep -Fxq \"nettool: $cmd: bad --retry-delay '0': expected seconds > 0 (see 'nettool $cmd --help')\" '$W/err'"
done
run ftp-ls ftp://127.0.0.1:1/ --retry 2
c "ftp-ls (no transfer to resume) refuses --retry: exit 2" rc_is 2

# --- nntp-read --retry ------------------------------------------------------------
if [ ! -x "$PY" ]; then
  not_ok "python3 for the NNTP peer"
  t_summary
  exit
fi
peer() { # MODE: starts nntp_retry_peer.py, sets $port
  rm -f "$W/port" "$W/log"
  "$PY" "$here/nntp_retry_peer.py" "$1" "$W/log" >"$W/port" &
  t_track $!
  PEER=$!
  local i
  for i in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
  port=$(cat "$W/port")
}
conns() { grep -c ' CAPABILITIES$' "$W/log"; }

peer over
run nntp-read g --server "127.0.0.1:$port" --overview 30 --retry 2 --retry-delay 0.1
t_wait_exit "$PEER" 50
c "overview cut after 10 rows, --retry 2: exit 0" rc_is 0
c "... every row 1-30 exactly once, in order" sh -c "
  awk 'NR > 2 { print \$1 }' '$W/out' | tr '\n' ' ' | grep -Fxq '$(seq -s ' ' 1 30) '"
c "... the group line once" sh -c "[ \$(grep -c '^g: 30 articles' '$W/out') = 1 ]"
c "... it said it retries" grep -q 'retrying in .* (1 of 2)' "$W/err"
c "... two connections, OVER sent again on the second" sh -c "
  [ \$(grep -c ' CAPABILITIES\$' '$W/log') = 2 ] && grep -q '^2 OVER 1-30\$' '$W/log'"

peer over
run nntp-read g --server "127.0.0.1:$port" --overview 30
t_wait_exit "$PEER" 50
c "the same without --retry: exit 7 (protocol), no table" sh -c "
  [ \$(cat '$W/rc') = 7 ] && ! grep -q 'article 1\$' '$W/out'"

peer article
run nntp-read g --server "127.0.0.1:$port" --all --retry 1 --retry-delay 0.1
t_wait_exit "$PEER" 50
c "article cut after 3 body lines, --retry 1: exit 0" rc_is 0
c "... body lines 1-8 each exactly once, headers once" sh -c "
  [ \"\$(grep '^line ' '$W/out' | tr '\n' ,)\" = '$(for i in $(seq 8); do printf 'line %d of 30,' "$i"; done)' ] &&
  [ \$(grep -c '^Subject: article 30\$' '$W/out') = 1 ]"

peer nogroup
run nntp-read g --server "127.0.0.1:$port" --retry 3 --retry-delay 0.1
t_wait_exit "$PEER" 50
c "411 no such group with --retry 3: exit 8 at once, one connection" sh -c "
  [ \$(cat '$W/rc') = 8 ] && [ \$(grep -c ' CAPABILITIES\$' '$W/log') = 1 ] &&
  ! grep -q retrying '$W/err'"

# --- the backoff timer: a server that stops answering ------------------------------
# Every connection gets its set-up and GROUP answered, then silence: each try
# ends with the reply timeout (0.5 s), a backoff follows (--retry-delay 0.2:
# 0.1-0.2 s, then 0.2-0.4 s), and after the third try the command gives up
# with exit 10 (timeout), three connections made, in 1.5 s to 3 tries'
# worth plus slack (8 s).
for what in article overview; do
  peer silent
  args=()
  [ "$what" = overview ] && args=(--overview 30)
  t0=$(date +%s%N)
  run nntp-read g --server "127.0.0.1:$port" "${args[@]}" --timeout 0.5 --retry 2 --retry-delay 0.2
  ms=$((($(date +%s%N) - t0) / 1000000))
  t_wait_exit "$PEER" 50
  c "$what: silence after GROUP, --timeout 0.5 --retry 2: exit 10 (timeout)" rc_is 10
  c "... three connections, the command sent on each" sh -c "
    [ \$(grep -c ' CAPABILITIES\$' '$W/log') = 3 ] && [ \$(grep -cE '^[123] (OVER|ARTICLE) ' '$W/log') = 3 ]"
  c "... two retries said, then the timeout" sh -c "
    grep -q 'retrying in .* (1 of 2)' '$W/err' && grep -q 'retrying in .* (2 of 2)' '$W/err' &&
    ! grep -q '(3 of' '$W/err' && tail -1 '$W/err' | grep -Eq 'timeout|within'"
  c "... inside the expected time (1.5 s <= $ms ms <= 8 s)" test "$ms" -ge 1500 -a "$ms" -le 8000
done

# --connections 2: the pool retries on its own; when it gives up, the command
# says why and ends with that failure's code (timeout 10, or 4 once the peer
# stops taking connections), not a silent exit 7
peer silent
run nntp-read g --server "127.0.0.1:$port" --overview 30 --connections 2 --timeout 0.5 \
  --retry 2 --retry-delay 0.2
t_wait_exit "$PEER" 50
c "--connections 2, a silent server: exit 10 or 4, the overview's failure said" sh -c "
  rc=\$(cat '$W/rc'); { [ \$rc = 10 ] || [ \$rc = 4 ]; } && grep -q '^nettool: nntp-read: overview 1-30: ' '$W/err'"

# --- Ctrl-C while a backoff timer is pending ----------------------------------------
# The first connection is cut (mode over/article); the retry waits 30 s; SIGINT
# during the wait: exit 130 at once, "interrupted", and nothing left behind (no
# timer or connection still live when the reactor is freed: its warning).
for mode in article over; do
  peer "$mode"
  args=()
  [ "$mode" = over ] && args=(--overview 30)
  (cd "$W" && exec "$nt" nntp-read g --server "127.0.0.1:$port" "${args[@]}" --retry 3 \
    --retry-delay 30 >"$W/out" 2>"$W/err") &
  pid=$!
  t_track "$pid"
  for i in $(seq 100); do grep -q 'retrying in' "$W/err" 2>/dev/null && break; sleep 0.05; done
  t0=$(date +%s%N)
  kill -INT "$pid"
  t_wait_exit "$pid" 30
  wait "$pid"
  echo $? >"$W/rc"
  ms=$((($(date +%s%N) - t0) / 1000000))
  c "$mode: Ctrl-C during the 15-30 s backoff: exit 130" rc_is 130
  c "... within 2 s ($ms ms)" test "$ms" -le 2000
  c "... it said so, and nothing was left live" sh -c "
    grep -q 'retrying in' '$W/err' && grep -q 'interrupted' '$W/err' && ! grep -q 'still live' '$W/err'"
  kill "$PEER" 2>/dev/null
  wait "$PEER" 2>/dev/null
done

t_summary
