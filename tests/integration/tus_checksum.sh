#!/usr/bin/env bash
# The tus checksum extension against a real server: @uploadx/core 7 (npm,
# tests/integration/tus_uploadx.mjs), which offers Tus-Checksum-Algorithm
# md5,sha1,sha256 and answers 460 when a PATCH body does not match its
# Upload-Checksum (@tus/server, the reference server of tus.sh, has no
# checksum extension). Checked:
#   - every PATCH carries Upload-Checksum in the algorithm the server offers
#     (sha1 from the full list; sha256 or md5 when the server offers only
#     that), the upload completes, the server's file has the local SHA-256;
#   - the server corrupts one PATCH body (one byte flipped before its
#     checksum sees it, as a bad link would): 460, nettool asks the offset
#     and resends that piece (--retry); the file is right, one piece resent;
#   - the same without --retry: exit 7 with the 460 said, the journal kept,
#     the server holds only the good pieces; the same command again finishes;
#   - the control: with --checksum off the same corruption goes through and
#     the server's file differs (what the checksum is there for);
#   - SIGKILL mid-upload, then the same command: HEAD gives the offset, only
#     the rest is sent, the file is right.
#   tus_checksum.sh NETTOOL CACHE_DIR
set -u
nt=$1 cache=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
PY=/usr/bin/python3
d=$T_TMP

. "$here/tus_lib.sh"
tus_npm_install
cp "$here/tus_uploadx.mjs" "$cache/tus_uploadx.mjs"
echo "# @uploadx/core $(tus_version @uploadx/core)"

SPID= LOG=
# start_server STORE [env...]: a fresh server on a free port (sets U, LOG)
start_server() {
  local store=$1 port
  shift
  port=$(free_port)
  rm -rf "$store"
  mkdir -p "$store"
  LOG=$store.log
  env "$@" node "$cache/tus_uploadx.mjs" "$port" "$store" >"$LOG" 2>&1 &
  SPID=$!
  t_track $SPID
  U=http://127.0.0.1:$port/files
  tus_wait_options "$U"
}
stop_server() { t_stop "$SPID"; wait "$SPID" 2>/dev/null; SPID=; }
# the upload's data file in STORE (ID next to ID.META), or "" if not one
stored() {
  local m
  m=$(find "$1" -maxdepth 1 -name '*.META')
  [ "$(echo "$m" | grep -c .)" = 1 ] || { echo ""; return; }
  echo "${m%.META}"
}
fail_info() { echo "rc=$rc"; head -5 "$d/err" 2>/dev/null; tail -5 "$LOG"; }
patches() { grep -c '^REQ PATCH' "$LOG"; }
# PATCHes whose Upload-Checksum is not ALG:<base64>
patches_without() { grep '^REQ PATCH' "$LOG" | grep -vc "checksum=$1:[A-Za-z0-9+/=]\{8,\} "; }

head -c 5000000 /dev/urandom >"$d/a.bin"
MiB=1048576

# --- the algorithm the server offers --------------------------------------------
start_server "$d/s1" || { not_ok "the uploadx server starts" "$(tail -5 "$d/s1.log")"; t_summary; exit 1; }
opts=$(curl -s -i -X OPTIONS "$U" | tr -d '\r')
check "OPTIONS offers the checksum extension and md5,sha1,sha256" eval 'echo "$opts" |
  grep -qi "^Tus-Extension:.*checksum" && echo "$opts" | grep -qi "^Tus-Checksum-Algorithm: md5,sha1,sha256" ||
  { echo "$opts"; false; }'
run "$d/out" "$d/err" http-upload --resumable --chunk-size $MiB "$U" "$d/a.bin"
f=$(stored "$d/s1")
check "md5,sha1,sha256 offered: 5 PATCHes with Upload-Checksum sha1, exit 0, the server's file has the same SHA-256" \
  eval '[ $rc = 0 ] && [ "$(patches)" = 5 ] && [ "$(patches_without sha1)" = 0 ] && [ -n "$f" ] &&
  [ "$(sha "$f")" = "$(sha "$d/a.bin")" ] && grep -q "checksum sha1$" "$d/err" || { fail_info; false; }'
# the digests are the pieces': sha1 of each MiB, base64
want=$(for i in 0 1 2 3 4; do dd if="$d/a.bin" bs=$MiB skip=$i count=1 2>/dev/null |
  openssl dgst -sha1 -binary | base64; done)
got=$(grep '^REQ PATCH' "$LOG" | sed -n 's/.*checksum=sha1:\([^ ]*\) .*/\1/p')
check "sha1: each PATCH's Upload-Checksum is the digest of its piece" eval '[ "$want" = "$got" ] ||
  { echo "want $want"; echo "got $got"; false; }'
stop_server

for alg in sha256 md5; do
  start_server "$d/s-$alg" TUS_CHECKSUM_ALGS=$alg || not_ok "the uploadx server ($alg) starts"
  run "$d/out" "$d/err" http-upload --resumable --chunk-size $MiB "$U" "$d/a.bin"
  f=$(stored "$d/s-$alg")
  check "only $alg offered: every PATCH carries Upload-Checksum $alg, the file is right" \
    eval '[ $rc = 0 ] && [ "$(patches)" = 5 ] && [ "$(patches_without $alg)" = 0 ] && [ -n "$f" ] &&
    [ "$(sha "$f")" = "$(sha "$d/a.bin")" ] && grep -q "checksum $alg$" "$d/err" || { fail_info; false; }'
  stop_server
done

# --- one PATCH body corrupted on its way: 460, that piece again -------------------
start_server "$d/s2" CORRUPT_PATCH=2 || not_ok "the uploadx server (corrupting) starts"
run "$d/out" "$d/err" http-upload --resumable --chunk-size $MiB --retry 3 --retry-delay 0.1 "$U" "$d/a.bin"
f=$(stored "$d/s2")
p460=$(grep '^REQ PATCH' "$LOG" | grep -c 'status=460 offset=1048576 .*corrupted=1')
again=$(grep '^REQ PATCH' "$LOG" | grep -c 'status=204 offset=1048576 .*corrupted=0')
check "corrupted PATCH: the server answered 460, nettool resent that piece (offset 1 MiB) after HEAD, exit 0" \
  eval '[ $rc = 0 ] && [ "$p460" = 1 ] && [ "$again" = 1 ] && [ "$(patches)" = 6 ] &&
  grep -A1 "status=460" "$LOG" | grep -q "^REQ HEAD" && grep -q "460 (checksum mismatch); retrying" "$d/err" ||
  { fail_info; cat "$LOG"; false; }'
check "corrupted PATCH: the server's file has the local SHA-256; one piece resent" eval '[ -n "$f" ] &&
  [ "$(sha "$f")" = "$(sha "$d/a.bin")" ] && [ "$(sent "$d/err")" = $((5000000 + MiB)) ] || { fail_info; false; }'
stop_server

start_server "$d/s3" CORRUPT_PATCH=3 || not_ok "the uploadx server (corrupting) starts"
run "$d/out" "$d/err" http-upload --resumable --chunk-size $MiB "$U" "$d/a.bin"
f=$(stored "$d/s3")
check "corrupted PATCH without --retry: exit 7, the 460 said, the journal kept" eval '[ $rc = 7 ] &&
  grep -q "460 (checksum mismatch)" "$d/err" && [ -e "$d/a.bin.nettool-upload" ] || { fail_info; false; }'
check "corrupted PATCH without --retry: the server kept only the 2 good pieces" eval '[ -n "$f" ] &&
  [ "$(stat -c %s "$f")" = $((2 * MiB)) ] && cmp -s "$f" <(head -c $((2 * MiB)) "$d/a.bin") || { ls -la "$d/s3"; false; }'
run "$d/out" "$d/err" http-upload --resumable --chunk-size $MiB "$U" "$d/a.bin"
check "... the same command again: continues at 2 MiB, the file is right" eval '[ $rc = 0 ] &&
  [ "$(had "$d/err")" = $((2 * MiB)) ] && [ "$(sha "$f")" = "$(sha "$d/a.bin")" ] || { fail_info; false; }'
stop_server

start_server "$d/s4" CORRUPT_PATCH=2 || not_ok "the uploadx server (corrupting) starts"
run "$d/out" "$d/err" http-upload --resumable --chunk-size $MiB --checksum off "$U" "$d/a.bin"
f=$(stored "$d/s4")
check "control, --checksum off: no Upload-Checksum, the corruption is not noticed and the server's file differs" \
  eval '[ $rc = 0 ] && [ "$(grep "^REQ PATCH" "$LOG" | grep -c "checksum=- ")" = 5 ] && [ -n "$f" ] &&
  [ "$(sha "$f")" != "$(sha "$d/a.bin")" ] || { fail_info; false; }'
stop_server

# --- SIGKILL, then the same command --------------------------------------------------
head -c 33554432 /dev/urandom >"$d/big.bin"
size=33554432
CH=131072
start_server "$d/s5" || not_ok "the uploadx server starts"
kills=0 finished=0
for i in 1 2 3 4; do
  "$nt" http-upload --resumable --chunk-size $CH "$U" "$d/big.bin" >"$d/k.out" 2>"$d/k.err" &
  pid=$!
  # under way: the journal exists and the server holds bytes (at most 10 s)
  for _ in $(seq 200); do
    if [ -e "$d/big.bin.nettool-upload" ]; then
      for g in "$d/s5"/*; do
        case $g in *.META) continue ;; esac
        [ -s "$g" ] && break 2
      done
    fi
    t_alive $pid || break
    sleep 0.05
  done
  sleep "0.0$((RANDOM % 9 + 1))" # 10-90 ms more: a quiet machine sends 32 MiB in well under a second
  if ! t_alive $pid; then
    # On a quiet machine a resumed run may finish the upload before its
    # kill: then it is the "same command" whose result is checked (running
    # it once more would start a second upload: the journal is gone).
    wait $pid
    rc=$?
    finished=1
    cp "$d/k.out" "$d/out"
    cp "$d/k.err" "$d/err"
    break
  fi
  kill -KILL $pid
  wait $pid 2>/dev/null
  kills=$((kills + 1))
done
[ $finished = 1 ] || run "$d/out" "$d/err" http-upload --resumable --chunk-size $CH "$U" "$d/big.bin"
f=$d/s5/$(sed -n "s|^$U/||p" "$d/out")
n=$(find "$d/s5" -maxdepth 1 -name '*.META' | wc -l)
echo "# $kills kills; $n upload(s) on the server; last run: $(tail -1 "$d/err")"
check "kill -9 x$kills mid-upload, then the same command: HEAD offset, only the rest sent, same SHA-256" \
  eval '[ $rc = 0 ] && [ $kills -ge 1 ] && [ "$n" = 1 ] && [ -f "$f" ] && [ "$(sha "$f")" = "$(sha "$d/big.bin")" ] &&
  [ "$(had "$d/err")" -gt 0 ] && [ $(( $(had "$d/err") + $(sent "$d/err") )) = $size ] &&
  grep -q "^REQ HEAD" "$LOG" && [ "$(patches_without sha1)" = 0 ] || { fail_info; false; }'
stop_server

t_summary
