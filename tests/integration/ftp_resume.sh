#!/bin/bash
# ftp-get / ftp-put --retry and --verify against real servers on loopback:
# ProFTPD with mod_digest (HASH, XSHA256/XSHA1/XMD5/XCRC; run from its
# unpacked .deb, since proftpd-core conflicts with vsftpd) and vsftpd (no
# checksum command). The data connections go through cut_relay.py, which
# resets them at random byte counts: every retry continues (REST from the
# part file; uploads ask SIZE and continue with APPE), the file arrives
# whole (sha256), at most 10 % of it is sent twice, and the server's HASH
# confirms it. cut_relay.py --lie changes the server's digests: exit 12,
# the part file kept. The plain commands (no --retry, no --verify) check
# too: a lie is exit 12 without any flag, the part file kept and an
# existing target untouched; --no-verify asks nothing. vsftpd: the fallback
# without a checksum command (silent), and --verify refusing it.
# usage: ftp_resume.sh NETTOOL
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

# The ProFTPD binaries and modules: installed, or from the unpacked .debs in
# the cache (apt-get download the first time). Prints the prefix.
proftpd_prefix() {
  if [ -x /usr/sbin/proftpd ] && [ -e /usr/lib/proftpd/mod_digest.so ]; then
    echo ""
    return 0
  fi
  local cache=${NT_PEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nettool}/proftpd
  if [ ! -x "$cache/usr/sbin/proftpd" ] || [ ! -e "$cache/usr/lib/proftpd/mod_digest.so" ]; then
    rm -rf "$cache.dl" "$cache"
    mkdir -p "$cache.dl" || return 1
    chown _apt "$cache.dl" 2>/dev/null
    (cd "$cache.dl" && timeout 120 apt-get download -qq proftpd-core >/dev/null 2>&1) || return 1
    dpkg-deb -x "$cache.dl"/proftpd-core_*.deb "$cache" || return 1
    rm -rf "$cache.dl"
  fi
  echo "$cache"
}

# proftpd_start DIR PORT CERTDIR: user $FTP_USER (from a file, uid nobody)
# with its home DIR/home, mod_digest on, continuing uploads allowed
# (AllowStoreRestart: APPE and REST + STOR). Prints the PID.
proftpd_start() {
  local dir=$1 port=$2 pfx
  pfx=$(proftpd_prefix) || { echo "proftpd is not available (apt-get download failed)" >&2; return 1; }
  ftp_tree "$dir" proftpd
  chown -R nobody:nogroup "$dir/home"
  printf '%s:%s:65534:65534::%s:/bin/false\n' "$FTP_USER" "$(openssl passwd -6 "$FTP_PASS")" \
    "$dir/home" >"$dir/ftpd.passwd"
  printf 'nogroup:x:65534:\n' >"$dir/ftpd.group"
  chmod 600 "$dir/ftpd.passwd" "$dir/ftpd.group"
  cat >"$dir/proftpd.conf" <<EOF
ServerName            "nettool-test"
ServerType            standalone
UseIPv6               off
DefaultAddress        127.0.0.1
SocketBindTight       on
Port                  $port
User                  nobody
Group                 nogroup
PidFile               $dir/proftpd.pid
ScoreboardFile        $dir/proftpd.scoreboard
DelayTable            none
WtmpLog               off
UseReverseDNS         off
SystemLog             $dir/proftpd.log
AuthOrder             mod_auth_file.c
AuthUserFile          $dir/ftpd.passwd
AuthGroupFile         $dir/ftpd.group
RequireValidShell     off
DefaultRoot           ~
Umask                 022
AllowOverwrite        on
AllowStoreRestart     on
PassivePorts          $((port + 1)) $((port + 20))
MasqueradeAddress     127.0.0.1
ModulePath            $pfx/usr/lib/proftpd
LoadModule            mod_digest.c
DigestEngine          on
DigestAlgorithms      all
DigestMaxSize         1 GB
EOF
  "$pfx/usr/sbin/proftpd" -t -c "$dir/proftpd.conf" >"$dir/configtest.log" 2>&1 ||
    { cat "$dir/configtest.log" >&2; return 1; }
  "$pfx/usr/sbin/proftpd" -n -q -c "$dir/proftpd.conf" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  FTP_PEERS_PIDS+=("$pid")
  ftp_wait_tcp "$port" 150 "$pid" || { cat "$dir/stdout.log" >&2; return 1; }
  echo "$pid"
}

stat_of() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$RSTATS" "$1"; }
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }
# three distinct random cut points inside SIZE (sorted, comma-separated)
cuts_in() {
  local size=$1
  $PY -c "import random,sys; s=int(sys.argv[1]); print(','.join(str(x) for x in sorted(random.sample(range(s//20, s - s//20), 3))))" "$size"
}

chmod 755 "$T_TMP" # the servers run as nobody
certs=$T_TMP/certs
sh "$HERE/../tls/make-certs.sh" "$certs" >/dev/null && chmod 755 "$certs" ||
  { not_ok "making the test certificates"; t_summary; exit 1; }
W=$T_TMP/w
mkdir -p "$W"
SIZE=$((16 * 1024 * 1024))
head -c $SIZE /dev/urandom >"$W/up.bin"
SHA=$(sha_of "$W/up.bin")

pdir=$T_TMP/proftpd
if ftp_start proftpd "$pdir" ""; then
  PPORT=$FTP_START_PORT
  ok "proftpd with mod_digest started on 127.0.0.1:$PPORT"
  cp "$W/up.bin" "$pdir/home/get.bin"
  chown nobody:nogroup "$pdir/home/get.bin"
  U=(-u "$FTP_USER:$FTP_PASS")

  # 1. ftp-get, three cuts at random points of the data
  cuts=$(cuts_in $SIZE)
  ftp_relay "$PPORT" --cut-at "$cuts"
  "$NETTOOL" ftp-get -v "${U[@]}" 127.0.0.1 get.bin -o "$W/got.bin" --port "$RPORT" \
    --retry 5 --retry-delay 0.1 2>"$T_TMP/e1"
  rc=$?
  down=$(stat_of down)
  if [ $rc -eq 0 ] && [ "$(sha_of "$W/got.bin")" = "$SHA" ] && [ ! -e "$W/got.bin.part" ] &&
    [ ! -e "$W/got.bin.part.state" ]; then
    ok "ftp-get --retry: data cut at $cuts, exit 0, same sha256"
  else
    not_ok "ftp-get --retry through cuts at $cuts" "exit $rc" "$(grep -v '^[<>]' "$T_TMP/e1" | tail -n 8)"
  fi
  n=$(grep -c 'continuing at byte' "$T_TMP/e1")
  nrest=$(grep -c '^> REST [1-9]' "$T_TMP/e1")
  if [ "$n" = 3 ] && [ "$nrest" = 3 ] && [ "$down" -le $((SIZE + SIZE / 10)) ]; then
    ok "each of the 3 retries continued with REST; $down bytes for $SIZE (<= 1.1x)"
  else
    not_ok "ftp-get retries continue" "continuing: $n, REST: $nrest, bytes $down"
  fi
  if grep -q '^> HASH get.bin' "$T_TMP/e1" && grep -q '^verified: HASH SHA-256' "$T_TMP/e1"; then
    ok "ftp-get: checked with HASH SHA-256 (on by default, FEAT offers it)"
  else
    not_ok "ftp-get HASH" "$(grep -E 'HASH|verified' "$T_TMP/e1")"
  fi
  t_stop $RPID

  # 2. ftp-put, three cuts: SIZE of the partial file, then APPE
  cuts=$(cuts_in $SIZE)
  ftp_relay "$PPORT" --cut-at "$cuts"
  "$NETTOOL" ftp-put -v "${U[@]}" 127.0.0.1 "$W/up.bin" put.bin --port "$RPORT" \
    --retry 5 --retry-delay 0.1 2>"$T_TMP/e2"
  rc=$?
  up=$(stat_of up)
  if [ $rc -eq 0 ] && [ "$(sha_of "$pdir/home/put.bin")" = "$SHA" ]; then
    ok "ftp-put --retry: data cut at $cuts, exit 0, the server's file has the same sha256"
  else
    not_ok "ftp-put --retry through cuts at $cuts" "exit $rc" "$(grep -v '^[<>]' "$T_TMP/e2" | tail -n 8)"
  fi
  nsize=$(grep -c '^> SIZE put.bin' "$T_TMP/e2")
  nappe=$(grep -c '^> APPE put.bin' "$T_TMP/e2")
  if [ "$nsize" -ge 3 ] && [ "$nappe" = 3 ] && [ "$up" -le $((SIZE + SIZE / 10)) ] &&
    grep -q '^verified: HASH SHA-256' "$T_TMP/e2"; then
    ok "each upload retry asked SIZE and continued with APPE; $up bytes for $SIZE; HASH checked"
  else
    not_ok "ftp-put retries continue" "SIZE: $nsize, APPE: $nappe, bytes $up" \
      "$(grep -E 'SIZE|APPE|STOR|verified|retrying' "$T_TMP/e2")"
  fi
  t_stop $RPID

  # 3. a server that lies about the checksum (the relay changes the digest)
  ftp_relay "$PPORT" --lie
  "$NETTOOL" ftp-get -q "${U[@]}" 127.0.0.1 get.bin -o "$W/lie.bin" --port "$RPORT" \
    --retry 2 2>"$T_TMP/e3"
  rc=$?
  if [ $rc -eq 12 ] && [ ! -e "$W/lie.bin" ] && [ -s "$W/lie.bin.part" ] &&
    grep -q 'checksum mismatch' "$T_TMP/e3" && ! grep -q retrying "$T_TMP/e3"; then
    ok "ftp-get, lying HASH: exit 12, LOCAL.part kept, not retried"
  else
    not_ok "ftp-get, lying HASH" "exit $rc" "$(cat "$T_TMP/e3")"
  fi
  "$NETTOOL" ftp-put -q "${U[@]}" 127.0.0.1 "$W/up.bin" lie.bin --port "$RPORT" \
    --verify 2>"$T_TMP/e4"
  rc=$?
  if [ $rc -eq 12 ] && grep -q 'checksum mismatch' "$T_TMP/e4"; then
    ok "ftp-put --verify, lying HASH: exit 12"
  else
    not_ok "ftp-put, lying HASH" "exit $rc" "$(cat "$T_TMP/e4")"
  fi
  t_stop $RPID
  # --no-verify: the lie is not looked at
  ftp_relay "$PPORT" --lie
  if "$NETTOOL" ftp-get -q "${U[@]}" 127.0.0.1 get.bin -o "$W/nv.bin" --port "$RPORT" \
    --retry 1 --no-verify 2>"$T_TMP/e5" && [ "$(sha_of "$W/nv.bin")" = "$SHA" ]; then
    ok "ftp-get --retry --no-verify: no checksum asked"
  else
    not_ok "--no-verify" "$(cat "$T_TMP/e5")"
  fi
  t_stop $RPID

  # 4. the plain commands verify by default (no --retry, no --verify)
  "$NETTOOL" ftp-get -v "${U[@]}" 127.0.0.1 get.bin -o "$W/plain.bin" --port "$PPORT" 2>"$T_TMP/p1"
  rc=$?
  if [ $rc -eq 0 ] && [ "$(sha_of "$W/plain.bin")" = "$SHA" ] && grep -q '^> HASH get.bin' "$T_TMP/p1" &&
    grep -q '^verified: HASH SHA-256' "$T_TMP/p1" && [ ! -e "$W/plain.bin.part" ] &&
    [ ! -e "$W/plain.bin.part.state" ]; then
    ok "plain ftp-get: checked with HASH SHA-256 by default (-v shows it)"
  else
    not_ok "plain ftp-get verifies" "exit $rc" "$(grep -v '^[<>]' "$T_TMP/p1" | tail -n 5)" \
      "$(grep -E 'HASH|verified' "$T_TMP/p1")"
  fi
  "$NETTOOL" ftp-put -v "${U[@]}" 127.0.0.1 "$W/up.bin" plain-put.bin --port "$PPORT" 2>"$T_TMP/p2"
  rc=$?
  if [ $rc -eq 0 ] && [ "$(sha_of "$pdir/home/plain-put.bin")" = "$SHA" ] &&
    grep -q '^> HASH plain-put.bin' "$T_TMP/p2" && grep -q '^verified: HASH SHA-256' "$T_TMP/p2" &&
    grep -q '^> SIZE plain-put.bin' "$T_TMP/p2"; then
    ok "plain ftp-put: SIZE and HASH SHA-256 checked by default"
  else
    not_ok "plain ftp-put verifies" "exit $rc" "$(grep -E 'SIZE|HASH|verified|nettool' "$T_TMP/p2")"
  fi
  ftp_relay "$PPORT" --lie
  printf 'OLD\n' >"$W/keep.bin"
  "$NETTOOL" ftp-get -q "${U[@]}" 127.0.0.1 get.bin -o "$W/keep.bin" --port "$RPORT" 2>"$T_TMP/p3"
  rc=$?
  if [ $rc -eq 12 ] && [ "$(cat "$W/keep.bin")" = OLD ] && [ "$(sha_of "$W/keep.bin.part")" = "$SHA" ] &&
    grep -q 'checksum mismatch.*kept in .*keep\.bin\.part' "$T_TMP/p3" && [ "$(wc -l <"$T_TMP/p3")" = 1 ]; then
    ok "plain ftp-get, lying HASH: exit 12, one line, the existing file untouched, the part file kept"
  else
    not_ok "plain ftp-get, lying HASH" "exit $rc, keep.bin: $(head -c 20 "$W/keep.bin")" "$(cat "$T_TMP/p3")"
  fi
  "$NETTOOL" ftp-put -q "${U[@]}" 127.0.0.1 "$W/up.bin" lie-plain.bin --port "$RPORT" 2>"$T_TMP/p4"
  rc=$?
  if [ $rc -eq 12 ] && grep -q 'checksum mismatch' "$T_TMP/p4"; then
    ok "plain ftp-put, lying HASH: exit 12"
  else
    not_ok "plain ftp-put, lying HASH" "exit $rc" "$(cat "$T_TMP/p4")"
  fi
  rm -f "$W/nv2.bin"
  "$NETTOOL" ftp-get -v "${U[@]}" 127.0.0.1 get.bin -o "$W/nv2.bin" --port "$RPORT" --no-verify \
    2>"$T_TMP/p5"
  rc=$?
  if [ $rc -eq 0 ] && [ "$(sha_of "$W/nv2.bin")" = "$SHA" ] && ! grep -qE '^> (HASH|OPTS HASH|X[A-Z0-9]+) ' "$T_TMP/p5" &&
    ! grep -q '^verified:' "$T_TMP/p5"; then
    ok "plain ftp-get --no-verify: no checksum asked, the lie not seen, exit 0"
  else
    not_ok "plain --no-verify" "exit $rc" "$(grep -E 'HASH|verified|nettool' "$T_TMP/p5")"
  fi
  t_stop $RPID

  # 5. 550 is not retried
  "$NETTOOL" ftp-get "${U[@]}" 127.0.0.1 nope.bin -o "$W/nope.bin" --port "$PPORT" \
    --retry 3 2>"$T_TMP/e6"
  rc=$?
  if [ $rc -eq 8 ] && ! grep -q retrying "$T_TMP/e6" && [ ! -e "$W/nope.bin.part" ]; then
    ok "550: exit 8 at once, not retried, no part file"
  else
    not_ok "550 not retried" "exit $rc" "$(cat "$T_TMP/e6")"
  fi
else
  not_ok "proftpd started" "$(cat "$pdir.start.log" 2>/dev/null)"
fi

vdir=$T_TMP/vsftpd
if ftp_start vsftpd "$vdir" "$certs"; then
  VPORT=$FTP_START_PORT
  ok "vsftpd (no checksum command) started on 127.0.0.1:$VPORT"
  ftp_relay "$VPORT" --cut-at 2000000
  "$NETTOOL" ftp-get -v 127.0.0.1 pub/big.bin -o "$W/v.bin" --port "$RPORT" --retry 3 \
    --retry-delay 0.1 2>"$T_TMP/e7"
  rc=$?
  if [ $rc -eq 0 ] && [ "$(sha_of "$W/v.bin")" = "$(sha_of "$vdir/anon/pub/big.bin")" ] &&
    grep -q 'continuing at byte' "$T_TMP/e7" && ! grep -qE '^> (HASH|X[A-Z0-9]+) ' "$T_TMP/e7"; then
    ok "vsftpd: ftp-get --retry continues; no checksum command asked (none in FEAT)"
  else
    not_ok "vsftpd fallback" "exit $rc" "$(grep -v '^[<>]' "$T_TMP/e7" | tail -n 5)"
  fi
  t_stop $RPID
  # killed (SIGKILL) half-way (vsftpd sends anonymous downloads at 2 MB/s),
  # then the same command again: it continues from LOCAL.part (its state
  # names this server, path, SIZE and MDTM)
  "$NETTOOL" ftp-get -q 127.0.0.1 pub/big.bin -o "$W/k.bin" --port "$VPORT" --retry 1 2>"$T_TMP/e9" &
  kpid=$!
  t_track $kpid
  for _ in $(seq 100); do
    [ "$(stat -c %s "$W/k.bin.part" 2>/dev/null || echo 0)" -gt 1500000 ] && break
    sleep 0.1
  done
  kill -KILL $kpid
  wait $kpid 2>/dev/null
  kept=$(stat -c %s "$W/k.bin.part" 2>/dev/null || echo 0)
  "$NETTOOL" ftp-get -v 127.0.0.1 pub/big.bin -o "$W/k.bin" --port "$VPORT" --retry 1 2>"$T_TMP/e10"
  rc=$?
  if [ "$kept" -gt 0 ] && [ $rc -eq 0 ] && grep -q "^> REST $kept\$" "$T_TMP/e10" &&
    [ "$(sha_of "$W/k.bin")" = "$(sha_of "$vdir/anon/pub/big.bin")" ] && [ ! -e "$W/k.bin.part.state" ]; then
    ok "vsftpd: SIGKILL at $kept bytes, the same command continued with REST $kept"
  else
    not_ok "vsftpd: continue after SIGKILL" "exit $rc, kept $kept" "$(grep -E '^> (REST|RETR)' "$T_TMP/e10")"
  fi
  # the plain commands without a checksum command: silent, no checksum asked
  "$NETTOOL" ftp-get 127.0.0.1 pub/big.bin -o "$W/vp.bin" --port "$VPORT" 2>"$T_TMP/v1"
  rc=$?
  NETTOOL_LOG=debug "$NETTOOL" ftp-put -u "$FTP_USER:$FTP_PASS" 127.0.0.1 "$W/up.bin" vput.bin \
    --port "$VPORT" 2>"$T_TMP/v2"
  rc2=$?
  if [ $rc -eq 0 ] && [ ! -s "$T_TMP/v1" ] && [ "$(sha_of "$W/vp.bin")" = "$(sha_of "$vdir/anon/pub/big.bin")" ] &&
    [ $rc2 -eq 0 ] && [ "$(sha_of "$vdir/home/vput.bin")" = "$SHA" ] &&
    ! grep -qE '> (HASH|X[A-Z0-9]+) ' "$T_TMP/v2" && ! grep -q '^nettool: ' "$T_TMP/v2"; then
    ok "vsftpd: plain ftp-get and ftp-put work silently, no checksum command asked"
  else
    not_ok "vsftpd plain" "exit $rc / $rc2" "$(cat "$T_TMP/v1")" "$(grep -E 'HASH|nettool' "$T_TMP/v2" | tail -n 3)"
  fi
  "$NETTOOL" ftp-get 127.0.0.1 pub/hello.txt -o "$W/vh.txt" --port "$VPORT" --verify 2>"$T_TMP/e8"
  rc=$?
  if [ $rc -eq 8 ] && grep -q 'offers no checksum command' "$T_TMP/e8" && [ ! -e "$W/vh.txt" ]; then
    ok "vsftpd: --verify without a checksum command: exit 8, says so"
  else
    not_ok "vsftpd --verify" "exit $rc" "$(cat "$T_TMP/e8")"
  fi
else
  not_ok "vsftpd started" "$(cat "$vdir.start.log" 2>/dev/null)"
fi

t_summary
