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

chmod 755 "$T_TMP"
certs=$T_TMP/certs
sh "$here/../tls/make-certs.sh" "$certs" >/dev/null && chmod 755 "$certs" ||
  { not_ok "making the test certificates"; t_summary; exit 1; }
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

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# timed CMD...: run, and ELAPSED in ms
timed() { local t0; t0=$(now_ms); run "$@"; ELAPSED=$(($(now_ms) - t0)); }
# bg CMD...: nettool in the background in $W; BG_PID
bg() { (cd "$W" && exec "$nt" "$@" >"$W/out" 2>"$W/err") & BG_PID=$!; }
# sig_exit SIG: signals BG_PID, waits for it (3 s at most): rc file, ELAPSED
sig_exit() {
  local t0
  t0=$(now_ms)
  kill "-$1" "$BG_PID"
  if t_wait_exit "$BG_PID" 30; then
    wait "$BG_PID"
    echo $? >"$W/rc"
  else
    kill -KILL "$BG_PID"
    wait "$BG_PID" 2>/dev/null
    echo "still running" >"$W/rc"
  fi
  ELAPSED=$(($(now_ms) - t0))
}
fast() { [ "$ELAPSED" -lt "$1" ] || { echo "took $ELAPSED ms, want < $1"; return 1; }; }
# wait_size FILE BYTES: FILE has at least BYTES (5 s at most)
wait_size() {
  local i
  for i in $(seq 50); do
    [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- before connecting, and hostile peers (python3; no root needed) ----------------
H=$T_TMP/hostile
printf 'x\n' >"$W/up.txt"
run ftp-ls 127.0.0.1 --port 9 -u $'evil\r\nDELE x:pw'
c "CR/LF in the -u user: exit 2 before connecting" \
  eval 'rc_is 2 && err_is_one_line "^nettool: ftp-ls: bad --user: a CR or LF in the user name or password"'
run ftp-get 127.0.0.1 f --port 9 -u $'user:pw\r\nDELE x'
c "CR/LF in the -u password: exit 2 before connecting" eval 'rc_is 2 && err_is_one_line "bad --user: a CR or LF"'
run ftp-get 127.0.0.1 $'a\r\nDELE x' -o out.bin --port 9
c "CR/LF in PATH: exit 2 before connecting" eval 'rc_is 2 && err_is_one_line "^nettool: ftp-get: bad PATH: a CR or LF in it"'
run ftp-ls 127.0.0.1 $'pub\nDELE x' --port 9
c "CR/LF in an ftp-ls PATH: exit 2 before connecting" eval 'rc_is 2 && err_is_one_line "bad PATH: a CR or LF"'
run ftp-put 127.0.0.1 up.txt $'r\r\nDELE x' --port 9
c "CR/LF in REMOTE: exit 2 before connecting, LOCAL not blamed" \
  eval 'rc_is 2 && err_is_one_line "^nettool: ftp-put: bad REMOTE: a CR or LF in it" && ! grep -q up.txt "$W/err"'

if ! command -v python3 >/dev/null; then
  ok "# SKIP hostile peers: no python3"
else
  if ftp_hostile_start huge-greeting "$H"; then
    run ftp-ls 127.0.0.1 --port "$HOSTILE_PORT"
    c "a 1 MB greeting line: protocol error, exit 7" \
      eval 'rc_is 7 && err_is_one_line "^nettool: ftp-ls: 127.0.0.1 port $HOSTILE_PORT: the server sent a reply line over 8 KiB$"'
  fi
  if ftp_hostile_start full-backlog "$H"; then
    timed ftp-ls 127.0.0.1 --port "$HOSTILE_PORT" --connect-timeout 1 --timeout 30
    c "a connect that hangs: exit 10 after --connect-timeout 1" \
      eval 'rc_is 10 && fast 2500 && err_is_one_line "^nettool: ftp-ls: connect to 127.0.0.1 port $HOSTILE_PORT: timed out: no connection within 1 s \(--connect-timeout\)$"'
    timed ftp-ls 127.0.0.1 --port "$HOSTILE_PORT" --timeout 1.5
    c "... by default --timeout" \
      eval 'rc_is 10 && fast 3000 && err_is_one_line "no connection within 1\.5 s \(--connect-timeout, by default --timeout\)$"'
  fi
  if ftp_hostile_start trickle "$H"; then
    timed ftp-ls 127.0.0.1 --port "$HOSTILE_PORT" --timeout 1.5
    c "a reply trickled a byte a second: exit 10 after --timeout 1.5, shown as 1.5 s" \
      eval 'rc_is 10 && fast 3500 && err_is_one_line "port $HOSTILE_PORT: timed out: no complete reply within 1\.5 s \(--timeout\)$"'
  fi
  if ftp_hostile_start reset-550 "$H"; then
    for i in 1 2 3 4 5; do
      run ftp-get 127.0.0.1 pub/x --port "$HOSTILE_PORT"
      rc_is 8 >/dev/null && err_is_one_line "^nettool: ftp-get: 550 No such file here\.$" >/dev/null || break
    done
    c "data connection reset, then 550: exit 8 with the server's words, 5 times of 5 (run $i)" \
      eval 'rc_is 8 && err_is_one_line "^nettool: ftp-get: 550 No such file here\.$" && [ ! -e "$W/x.part" ]'
    run ftp-ls 127.0.0.1 pub --port "$HOSTILE_PORT"
    c "the same for a listing (NLST): exit 8" eval 'rc_is 8 && err_is_one_line "^nettool: ftp-ls: 550 No such file here\.$"'
  fi
  if ftp_hostile_start esc-550 "$H"; then
    run ftp-get 127.0.0.1 f --port "$HOSTILE_PORT"
    c "the server's words reach the terminal escaped (ESC, C1), on one line" \
      eval 'rc_is 8 && err_is_one_line "^nettool: ftp-get: 550 No \?\[31msuch\? file\?\]0;pwned\?$"'
  fi
  if ftp_hostile_start nlst-paths "$H"; then
    run ftp-ls 127.0.0.1 pub --port "$HOSTILE_PORT"
    c "ftp-ls: bare names from NLST paths, ESC and C1 (raw or UTF-8) shown as ?" \
      eval 'rc_is 0 && [ "$(cat "$W/out")" = "$(printf "x\nesc?]0;title?\nc1?x\nraw?y\ndir")" ]'
  fi
  if ftp_hostile_start silent "$H"; then
    hp=$HOSTILE_PORT
    bg ftp-get 127.0.0.1 f --port "$hp" -q
    # Not a fixed sleep: a signal sent before nettool's handler is in place
    # is lost or kills it (seen under ASan on a busy machine).
    t_wait_handler "$BG_PID" 2 100
    sleep 0.2
    sig_exit INT
    c "SIGINT while waiting for the greeting: exit 130 at once, one line" \
      eval 'rc_is 130 && fast 1000 && err_is_one_line "^nettool: ftp-get: interrupted$"'
    bg ftp-ls 127.0.0.1 --port "$hp"
    t_wait_handler "$BG_PID" 15 100
    sleep 0.2
    sig_exit TERM
    c "SIGTERM too: exit 130 at once" eval 'rc_is 130 && fast 1000 && err_is_one_line "interrupted$"'
    # Secrets on the command line leave the process list: /proc/PID/cmdline
    # is read while ftp-get waits for the greeting; it must show the 'x'
    # filler (polled up to 3 s, so a slow start is not taken for a leak)
    # and never the password.
    for how in "-u" "url"; do
      if [ "$how" = -u ]; then
        bg ftp-get 127.0.0.1 f --port "$hp" -q -u nt-user:Secret-U-pw
        want='nt-user:xxxxxxxxxxx' secret='Secret-U-pw'
      else
        bg ftp-get "ftp://nt-user:Secret%2DURL@127.0.0.1:$hp/f" -q
        want='ftp://nt-user:xxxxxxxxxxxx@127' secret='Secret'
      fi
      cmdline=""
      for _ in $(seq 30); do
        cmdline=$(tr '\0' ' ' <"/proc/$BG_PID/cmdline" 2>/dev/null)
        case $cmdline in *"$want"*) break ;; esac
        sleep 0.1
      done
      sig_exit INT
      c "the password given with $how is gone from /proc/PID/cmdline while it runs" \
        eval 'case $cmdline in *"$secret"*) echo "visible: $cmdline"; false ;; *"$want"*) true ;; *) echo "not wiped: $cmdline"; false ;; esac'
    done
    timed ftp-get 127.0.0.1 f --port "$hp" --max-time 1 --timeout 30
    c "--max-time 1 against a silent server: exit 10 after 1 s" \
      eval 'rc_is 10 && fast 2500 && [ "$ELAPSED" -ge 950 ] && err_is_one_line "^nettool: ftp-get: timed out: gave up after 1 s \(--max-time\)$"'
    timed ftp-ls "ftps://127.0.0.1:$hp/" --connect-timeout 1 --timeout 30
    c "implicit TLS, no handshake: exit 10 after --connect-timeout 1" \
      eval 'rc_is 10 && fast 2500 && err_is_one_line "^nettool: ftp-ls: TLS with 127.0.0.1 port $hp: timed out: no handshake within 1 s \(--connect-timeout\)$"'
  fi
  if ftp_hostile_start login-refused "$H"; then
    run ftp-get 127.0.0.1 f --port "$HOSTILE_PORT" -u user:bad
    c "a refused login: exit 8 with the 530, and no command after it but QUIT" \
      eval 'rc_is 8 && err_is_one_line "^nettool: ftp-get: 530 Login incorrect\.$" &&
            [ "$(tr "\n" " " <"$H/login-refused.cmds")" = "USER PASS QUIT " ]'
  fi
  if ftp_hostile_start login-silent "$H"; then
    bg ftp-get 127.0.0.1 f --port "$HOSTILE_PORT" -q
    sleep 0.5
    sig_exit INT
    c "SIGINT while logging in: exit 130 at once, one line" \
      eval 'rc_is 130 && fast 1000 && err_is_one_line "^nettool: ftp-get: interrupted$"'
  fi
  if ftp_hostile_start slow-retr "$H"; then
    hp=$HOSTILE_PORT
    rm -f "$W/f.part"
    bg ftp-get 127.0.0.1 f --port "$hp" -q
    wait_size "$W/f.part" 5
    sig_exit INT
    c "SIGINT during a transfer: exit 130 at once, the part file kept" \
      eval 'rc_is 130 && fast 1000 && [ "$(cat "$W/f.part")" = hello ] &&
            err_is_one_line "^nettool: ftp-get: interrupted; partial file kept in f\.part \(use --resume\)$"'
    rm -f "$W/f.part"
    timed ftp-get 127.0.0.1 f --port "$hp" -q --timeout 1
    c "a stalled transfer: exit 10 after --timeout 1 without progress" \
      eval 'rc_is 10 && fast 2500 && err_is_one_line "^nettool: ftp-get: f: data connection: timed out: no progress for 1 s \(--timeout\); partial file kept in f\.part"'
    rm -f "$W/f.part"
    timed ftp-get 127.0.0.1 f --port "$hp" -q --max-time 1.5
    c "--max-time 1.5 during a transfer: exit 10, the part file kept" \
      eval 'rc_is 10 && fast 3000 && [ -e "$W/f.part" ] && err_is_one_line "gave up after 1\.5 s \(--max-time\); partial file kept in f\.part"'
    rm -f "$W/f.part"
  fi
  if ftp_hostile_start tls-picky "$H" "$certs"; then
    rm -f "$W/picky.txt"
    run ftp-get localhost f -o picky.txt --port "$HOSTILE_PORT" --tls --cacert "$certs/ca.crt" --timeout 5
    c "FTPS: the data handshake waits for the 150 (a server that drops early bytes)" \
      eval 'rc_is 0 && [ "$(cat "$W/picky.txt")" = "hello world" ]'
  fi
  if ftp_hostile_start tls-reset "$H" "$certs"; then
    # the reset is seen by the read (epoll, poll) or by the ClientHello's
    # write (io_uring completes the write first): either word, same exit
    timed ftp-get localhost f --port "$HOSTILE_PORT" --tls --cacert "$certs/ca.crt" --timeout 30
    c "FTPS: data connection reset during its handshake: exit 7 at once, says so" \
      eval 'rc_is 7 && fast 3000 && err_is_one_line "^nettool: ftp-get: f: data connection: (connection reset by peer|broken pipe) \(during its TLS handshake\)$"'
  fi
fi

if [ "$(id -u)" -ne 0 ]; then
  ok "# SKIP the FTP servers need root (vsftpd switches to the login user)"
  t_summary
  exit 0
fi
# The test user and the "ftp" account's home are machine-wide: one run at a
# time (another suite may be running on this machine).
ftp_lock || { not_ok "waiting for another FTP test run (lock)"; t_summary; exit 1; }
ftp_users_setup || { not_ok "creating the test user"; t_summary; exit 1; }
U="$FTP_USER:$FTP_PASS"

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
  rm -f "$W/big.bin"
  bg ftp-get 127.0.0.1 pub/big.bin --port "$p" -q
  wait_size "$W/big.bin.part" 200000
  sig_exit INT
  c "$n: SIGINT mid-transfer: exit 130 at once, one line, the part file kept" \
    eval 'rc_is 130 && fast 1000 && [ -s "$W/big.bin.part" ] && [ ! -e "$W/big.bin" ] &&
          err_is_one_line "^nettool: ftp-get: interrupted; partial file kept in big\.bin\.part \(use --resume\)$"'
  rm -f "$W/big.bin.part"
  # a part file larger than the server's file: --resume cannot help
  head -c 1000 /dev/zero >"$W/hello.txt.part"
  run ftp-get 127.0.0.1 pub/hello.txt --port "$p" --resume
  c "$n: a part file larger than the file: exit 7, no --resume advice" \
    eval 'rc_is 7 && err_is_one_line "size mismatch: .* larger than the server.s file, remove it" &&
          ! grep -q -- "use --resume" "$W/err" && [ "$(stat -c %s "$W/hello.txt.part")" = 1000 ]'
  rm -f "$W/hello.txt.part"

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
