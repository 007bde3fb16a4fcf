#!/usr/bin/env bash
# nettool ftp-get / ftp-put / ftp-ls against two real servers started here
# on free loopback ports: vsftpd (Debian package; explicit FTPS with
# require_ssl_reuse=YES, so data connections must resume the control TLS
# session) and pure-ftpd (run from its unpacked .deb: it conflicts with
# vsftpd as a package). Each has an anonymous read-only area and a user with
# upload rights. Passive and active, download, upload, append, list, resume
# after a killed transfer, 550 paths, refused logins, ~/.netrc, FTPS.
#   ftp.sh NETTOOL
set -u
nt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=ftp_peers.sh
. "$here/ftp_peers.sh"
trap 'ftp_peers_cleanup; t_cleanup' EXIT

if [ "$(id -u)" -ne 0 ]; then
  ok "# SKIP the FTP servers need root (vsftpd switches to the login user)"
  t_summary
  exit 0
fi
# The test user and the "ftp" account's home are machine-wide: one run at a
# time (another suite may be running on this machine).
ftp_lock || { not_ok "waiting for another FTP test run (lock)"; t_summary; exit 1; }

chmod 755 "$T_TMP"
certs=$T_TMP/certs
sh "$here/../tls/make-certs.sh" "$certs" >/dev/null && chmod 755 "$certs" ||
  { not_ok "making the test certificates"; t_summary; exit 1; }
ftp_users_setup || { not_ok "creating the test user"; t_summary; exit 1; }

U="$FTP_USER:$FTP_PASS"
W=$T_TMP/work
mkdir -p "$W"

# run CMD...: runs nettool in $W; rc, out, err files.
run() { (cd "$W" && "$nt" "$@" >"$W/out" 2>"$W/err"); echo $? >"$W/rc"; }
rc_is() { [ "$(cat "$W/rc")" = "$1" ] || { echo "rc $(cat "$W/rc"), want $1: $(head -c 300 "$W/err")"; return 1; }; }
err_is_one_line() { # REGEX: exactly one stderr line, matching
  [ "$(wc -l <"$W/err")" = 1 ] && grep -Eq "$1" "$W/err" ||
    { echo "stderr: $(head -c 400 "$W/err")"; return 1; }
}
same() { cmp -s "$1" "$2" || { echo "$1 and $2 differ"; return 1; }; }
c() { # DESC CHECK...: one test line, the check's output as diagnostics
  local _desc=$1 _out
  shift
  if _out=$("$@" 2>&1); then ok "$_desc"; else not_ok "$_desc" "$_out"; fi
}

# suite NAME PORT DIR TLS_NOTE: every check against one server.
suite() {
  local n=$1 p=$2 d=$3 pid
  rm -rf "${W:?}"/*
  local hello=$d/anon/pub/hello.txt

  run ftp-ls 127.0.0.1 --port "$p"
  c "$n: ftp-ls lists the anonymous root" eval 'rc_is 0 && [ "$(cat "$W/out")" = pub ]'
  run ftp-ls 127.0.0.1 pub --long --port "$p"
  c "$n: ftp-ls --long shows sizes" eval 'rc_is 0 && grep -Eq "(^| )$(stat -c %s "$hello") .*hello.txt$" "$W/out"'
  run ftp-get 127.0.0.1 pub/hello.txt --port "$p"
  c "$n: passive download" eval 'rc_is 0 && same "$W/hello.txt" "$hello" && [ ! -e "$W/hello.txt.part" ]'
  rm -f "$W/hello.txt"
  run ftp-get 127.0.0.1 pub/hello.txt --port "$p" --active
  c "$n: active download (EPRT)" eval 'rc_is 0 && same "$W/hello.txt" "$hello"'
  run ftp-get "ftp://127.0.0.1:$p/pub/hello.txt" -o -
  c "$n: ftp:// URL to stdout" eval 'rc_is 0 && same "$W/out" "$hello"'
  run ftp-get 127.0.0.1 pub/missing --port "$p"
  c "$n: missing file: exit 8, the server's 550 in one line" \
    eval 'rc_is 8 && err_is_one_line "^nettool: ftp-get: 550 " && [ ! -e "$W/missing.part" ]'
  echo OLD >"$W/keep"
  run ftp-get 127.0.0.1 pub/missing -o keep --port "$p"
  c "$n: a failed download leaves an existing file alone" \
    eval 'rc_is 8 && [ "$(cat "$W/keep")" = OLD ] && [ ! -e "$W/keep.part" ]'
  head -c 100000 /dev/urandom >"$W/up.bin"
  run ftp-put 127.0.0.1 up.bin up.bin --port "$p"
  c "$n: anonymous upload refused: exit 8 with the server's words" \
    eval 'rc_is 8 && err_is_one_line "^nettool: ftp-put: 5[0-9][0-9] "'
  run ftp-put 127.0.0.1 up.bin up.bin --port "$p" -u "$U"
  c "$n: upload as the user (passive, sendfile)" eval 'rc_is 0 && same "$W/up.bin" "$d/home/up.bin"'
  run ftp-get 127.0.0.1 up.bin -o back.bin --port "$p" -u "$U"
  c "$n: download it back as the user" eval 'rc_is 0 && same "$W/back.bin" "$W/up.bin"'
  run ftp-put 127.0.0.1 up.bin sub-active.bin --port "$p" -u "$U" --active
  c "$n: upload in active mode" eval 'rc_is 0 && same "$W/up.bin" "$d/home/sub-active.bin"'
  printf 'more\n' >"$W/more.txt"
  run ftp-put 127.0.0.1 more.txt up.bin --port "$p" -u "$U" --append
  c "$n: --append (APPE)" eval 'rc_is 0 && [ "$(stat -c %s "$d/home/up.bin")" = 100005 ]'
  run ftp-put "ftp://$FTP_USER:$FTP_PASS@127.0.0.1:$p/" more.txt
  c "$n: URL with user and password, REMOTE named after LOCAL" eval 'rc_is 0 && same "$W/more.txt" "$d/home/more.txt"'
  run ftp-ls 127.0.0.1 --port "$p" -u "$U"
  c "$n: ftp-ls as the user lists the uploads" \
    eval 'rc_is 0 && grep -qx up.bin "$W/out" && grep -qx more.txt "$W/out" && ! grep -qx "\.\.\?" "$W/out"'
  run ftp-ls 127.0.0.1 --long --port "$p" -u "$U"
  c "$n: ftp-ls --long as the user" eval 'rc_is 0 && grep -Eq "100005 .*up\.bin$" "$W/out"'
  run ftp-get 127.0.0.1 up.bin --port "$p" -u "$FTP_USER:wrong-pw"
  c "$n: wrong password: exit 8 with the 530" eval 'rc_is 8 && err_is_one_line "^nettool: ftp-get: 530 "'
  NETTOOL_LOG=debug "$nt" ftp-ls 127.0.0.1 --port "$p" -u "$U" >"$W/out" 2>"$W/err"
  echo $? >"$W/rc"
  c "$n: the password is never printed (NETTOOL_LOG=debug)" \
    eval 'rc_is 0 && grep -q "> PASS \*\*\*\*" "$W/err" && ! grep -q -- "$FTP_PASS" "$W/err"'
  mkdir -p "$W/home"
  printf 'machine 127.0.0.1\n  login %s\n  password %s\n' "$FTP_USER" "$FTP_PASS" >"$W/home/.netrc"
  chmod 600 "$W/home/.netrc"
  (cd "$W" && HOME=$W/home "$nt" ftp-put 127.0.0.1 more.txt netrc.txt --port "$p" >"$W/out" 2>"$W/err"); echo $? >"$W/rc"
  c "$n: credentials from ~/.netrc" eval 'rc_is 0 && same "$W/more.txt" "$d/home/netrc.txt"'

  # resume: a transfer killed half-way (anonymous downloads are throttled
  # to about 2 MB/s), then --resume
  local big=$d/anon/pub/big.bin size i
  (cd "$W" && exec "$nt" ftp-get 127.0.0.1 pub/big.bin --port "$p" -q) 2>/dev/null &
  pid=$!
  for i in $(seq 100); do
    size=$(stat -c %s "$W/big.bin.part" 2>/dev/null || echo 0)
    [ "$size" -ge 500000 ] && break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  size=$(stat -c %s "$W/big.bin.part" 2>/dev/null || echo 0)
  c "$n: killed half-way: the part file stays, no big.bin" \
    eval '[ "$size" -gt 0 ] && [ "$size" -lt "$(stat -c %s "$big")" ] && [ ! -e "$W/big.bin" ]'
  run ftp-get 127.0.0.1 pub/big.bin --port "$p" --resume -q
  c "$n: --resume completes it (REST $size)" \
    eval 'rc_is 0 && same "$W/big.bin" "$big" && [ ! -e "$W/big.bin.part" ]'

  # explicit FTPS (AUTH TLS, PROT P) with the test CA
  rm -f "$W/hello.txt"
  run ftp-get localhost pub/hello.txt --port "$p" --tls --cacert "$certs/ca.crt"
  c "$n: FTPS download (AUTH TLS, PROT P${4:+, $4})" eval 'rc_is 0 && same "$W/hello.txt" "$hello"'
  run ftp-put 127.0.0.1 up.bin tls.bin --port "$p" --tls --cacert "$certs/ca.crt" -u "$U"
  c "$n: FTPS upload as the user" eval 'rc_is 0 && same "$W/up.bin" "$d/home/tls.bin"'
  run ftp-ls 127.0.0.1 --port "$p" --tls --cacert "$certs/ca.crt" -u "$U" --active
  c "$n: FTPS listing in active mode" eval 'rc_is 0 && grep -qx tls.bin "$W/out"'
  run ftp-get 127.0.0.1 pub/hello.txt --port "$p" --tls
  c "$n: FTPS with an untrusted certificate: exit 6, says why" \
    eval 'rc_is 6 && err_is_one_line "^nettool: ftp-get: TLS with 127.0.0.1 port $p failed: .*(unknown CA|issuer)"'
}

vdir=$T_TMP/vsftpd
if ftp_start vsftpd "$vdir" "$certs"; then
  vport=$FTP_START_PORT
  ok "vsftpd started on 127.0.0.1:$vport"
  suite vsftpd "$vport" "$vdir" "require_ssl_reuse=YES"
  printf 'a\nb\n' >"$W/lf.txt"
  run ftp-put 127.0.0.1 lf.txt lf.txt --port "$vport" -u "$U" --ascii
  c "vsftpd: --ascii upload sends CRLF line ends" eval 'rc_is 0 && [ "$(od -An -c "$vdir/home/lf.txt" | tr -d " ")" = "a\r\nb\r\n" ]'
  run ftp-get 127.0.0.1 lf.txt -o lf2.txt --port "$vport" -u "$U" --ascii
  c "vsftpd: --ascii download gives LF back" eval 'rc_is 0 && same "$W/lf.txt" "$W/lf2.txt"'
  NETTOOL_LOG=debug "$nt" ftp-ls localhost --port "$vport" --tls --cacert "$certs/ca.crt" >"$W/out" 2>"$W/err"
  echo $? >"$W/rc"
  c "vsftpd: FTPS data connections resume the control session" \
    eval 'rc_is 0 && grep -q "data connection TLS up, .*session reused: yes" "$W/err"'
else
  not_ok "vsftpd started" "$(cat "$vdir.start.log" 2>/dev/null)"
fi
idir=$T_TMP/vsftpd-implicit
if VSFTPD_IMPLICIT=YES ftp_start vsftpd "$idir" "$certs"; then
  iport=$FTP_START_PORT
  rm -f "$W/hello.txt"
  run ftp-get "ftps://localhost:$iport/pub/hello.txt" --cacert "$certs/ca.crt"
  c "vsftpd: implicit FTPS (ftps:// URL) download" eval 'rc_is 0 && same "$W/hello.txt" "$idir/anon/pub/hello.txt"'
  run ftp-put "ftps://$FTP_USER:$FTP_PASS@localhost:$iport/implicit.bin" up.bin --cacert "$certs/ca.crt" --active
  c "vsftpd: implicit FTPS upload in active mode" eval 'rc_is 0 && same "$W/up.bin" "$idir/home/implicit.bin"'
  run ftp-ls "ftp://127.0.0.1:$iport/" --timeout 2
  c "vsftpd: plain FTP to an implicit-TLS port: exit 10, says so" \
    eval 'rc_is 10 && err_is_one_line "^nettool: ftp-ls: 127.0.0.1 port $iport: connected, but no greeting within 2 s \(an implicit-TLS port"'
else
  not_ok "vsftpd (implicit FTPS) started" "$(cat "$idir.start.log" 2>/dev/null)"
fi

pdir=$T_TMP/pure-ftpd
if ! pureftpd_prefix >/dev/null 2>&1; then
  ok "# SKIP pure-ftpd: not installed and 'apt-get download pure-ftpd' failed (offline?)"
elif ftp_start pureftpd "$pdir" "$certs"; then
  pport=$FTP_START_PORT
  ok "pure-ftpd started on 127.0.0.1:$pport"
  suite pure-ftpd "$pport" "$pdir" ""
  run ftp-ls 127.0.0.1 pub --port "$pport"
  c "pure-ftpd: listed with MLSD (FEAT has MLST)" eval 'rc_is 0 && [ "$(sort "$W/out" | tr "\n" " ")" = "big.bin hello.txt " ]'
else
  not_ok "pure-ftpd started" "$(cat "$pdir.start.log" 2>/dev/null)"
fi

# No server at all: a port nobody listens on.
if cport=$(ftp_free_port); then
  run ftp-get 127.0.0.1 x --port "$cport"
  c "connection refused: exit 4" eval 'rc_is 4 && err_is_one_line "^nettool: ftp-get: connect to 127.0.0.1 port $cport: connection refused"'
fi
run ftp-get 127.0.0.1
c "usage error: exit 2" eval 'rc_is 2 && err_is_one_line "^nettool: ftp-get: expected HOST and PATH"'
run ftp-get "ftp://127.0.0.1/a%0d%0aDELE x"
c "CR/LF in a URL is refused before connecting: exit 2" eval 'rc_is 2 && err_is_one_line "bad URL"'
run ftp-put 127.0.0.1 /nonexistent/file x
c "a missing LOCAL: exit 9 before connecting" eval 'rc_is 9 && err_is_one_line "/nonexistent/file: No such file"'
run ftp-get 127.0.0.1 pub/hello.txt -o /nonexistent/dir/out
c "OUT in a missing directory: exit 9 before connecting" eval 'rc_is 9 && err_is_one_line "/nonexistent/dir/out.part: No such file"'

t_summary
