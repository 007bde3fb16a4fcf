# shellcheck shell=bash
# Real FTP servers on loopback for the FTP tests (sourced by ftp.sh and
# tests/bench/ftp_bench.sh): vsftpd (Debian package) and pure-ftpd (run from
# its unpacked .deb, since the two packages conflict). Adapted from the
# verified recipes in ../shared/PEERS.md section 1.
#
# Layout per server, under DIR:
#   anon/pub/hello.txt, anon/pub/big.bin  anonymous, read-only
#   home/                                 the test user's, read-write
# The test user is $FTP_USER / $FTP_PASS. vsftpd needs a system account and
# a PAM service (pam_unix "nodelay", so a bad password costs no 2 s), both
# made here and removed by ftp_peers_cleanup; pure-ftpd uses a virtual user
# (PureDB) but its anonymous root is always the home of the system account
# "ftp", which is pointed at DIR/anon and restored afterwards.
#
# Rules: loopback only; every wait bounded; only processes started here are
# stopped, by PID. Everything here needs root (both servers start as root).

FTP_USER=${FTP_USER:-nt-ftptest}
FTP_PASS=${FTP_PASS:-nt-ftptest-pw}
FTP_PAM=/etc/pam.d/nettool-ftp-test
FTP_PEERS_CREATED_USER=0
FTP_PEERS_FTP_HOME=""    # the "ftp" account's home before we moved it
FTP_PEERS_CREATED_FTP=0
FTP_PEERS_PIDS=()

# ftp_lock: waits (up to 5 min) until no other user of these helpers runs:
# the test account, the PAM file and the "ftp" account's home are
# machine-wide. The lock is held by a small holder process (flock -o), not
# by a descriptor of this shell: servers started here would inherit such a
# descriptor, and one that outlives a killed test run (a daemon that forked
# away) kept every later FTP test waiting. The holder lets go when this
# shell is gone (checked twice a second) or at ftp_peers_cleanup.
FTP_LOCK_PID=""
ftp_lock() {
  local flag i
  flag=$(mktemp -u /tmp/nettool-ftp-lock.XXXXXX)
  flock -w 300 -o /tmp/nettool-ftp-itest.lock sh -c \
    ': >"$1"; while kill -0 "$2" 2>/dev/null; do sleep 0.5; done' sh "$flag" "$$" \
    </dev/null >/dev/null 2>&1 &
  FTP_LOCK_PID=$!
  for ((i = 0; i < 3100; i++)); do
    if [ -e "$flag" ]; then
      rm -f "$flag"
      return 0
    fi
    kill -0 "$FTP_LOCK_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill "$FTP_LOCK_PID" 2>/dev/null
  FTP_LOCK_PID=""
  rm -f "$flag"
  return 1
}

# ftp_wait_tcp PORT TENTHS [PID]: a TCP connect to 127.0.0.1:PORT succeeds
# (and PID, if given, is still alive while we wait).
ftp_wait_tcp() {
  local i=0
  while ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $i -ge "$2" ] && { echo "nothing listens on 127.0.0.1:$1 after $(($2 / 10)) s" >&2; return 1; }
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
      echo "the server (pid $3) exited" >&2
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
  return 0
}

# ftp_free_port: a TCP port nobody listens on, with 20 free ones after it
# (passive ports). Bounded: 200 tries.
ftp_free_port() {
  local i p k ok
  for i in $(seq 200); do
    p=$((20000 + (RANDOM % 20000)))
    ok=1
    for k in $(seq 0 20); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$((p + k))") 2>/dev/null; then ok=0; break; fi
    done
    [ $ok = 1 ] && { echo "$p"; return 0; }
  done
  echo "no free run of 21 ports found" >&2
  return 1
}

# The tree both servers serve (DIR must be traversable: 755).
ftp_tree() {
  local dir=$1 who=$2
  mkdir -p "$dir/anon/pub" "$dir/home" "$dir/empty"
  chmod 755 "$dir" "$dir/anon" "$dir/anon/pub"
  chmod 555 "$dir/empty"
  printf 'hello from %s\n' "$who" >"$dir/anon/pub/hello.txt"
  head -c $((6 * 1024 * 1024)) /dev/urandom >"$dir/anon/pub/big.bin"
  printf 'user file\n' >"$dir/home/userfile.txt"
}

ftp_users_setup() {
  if ! id "$FTP_USER" >/dev/null 2>&1; then
    useradd -M -d /nonexistent -s /usr/sbin/nologin "$FTP_USER" || return 1
    FTP_PEERS_CREATED_USER=1
  fi
  echo "$FTP_USER:$FTP_PASS" | chpasswd || return 1
  [ -f "$FTP_PAM" ] || printf '%s\n' 'auth required pam_unix.so nodelay' \
    'account required pam_unix.so' 'session required pam_permit.so' >"$FTP_PAM"
}

ftp_peers_cleanup() {
  local p
  for p in "${FTP_PEERS_PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null
      for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
  done
  FTP_PEERS_PIDS=()
  # Without the lock another run may be using the account and the PAM file.
  [ -n "$FTP_LOCK_PID" ] || return 0
  # the account is nettool's own (also one left by a run that was killed)
  if [ "$FTP_PEERS_CREATED_USER" = 1 ] || id "$FTP_USER" >/dev/null 2>&1; then
    userdel "$FTP_USER" 2>/dev/null
  fi
  FTP_PEERS_CREATED_USER=0
  rm -f "$FTP_PAM"
  if [ -n "$FTP_PEERS_FTP_HOME" ]; then
    usermod -d "$FTP_PEERS_FTP_HOME" ftp 2>/dev/null
    FTP_PEERS_FTP_HOME=""
  fi
  [ "$FTP_PEERS_CREATED_FTP" = 1 ] && userdel ftp 2>/dev/null
  FTP_PEERS_CREATED_FTP=0
  # let go of the lock (the holder's sh; flock itself then exits)
  pkill -P "$FTP_LOCK_PID" 2>/dev/null
  wait "$FTP_LOCK_PID" 2>/dev/null
  FTP_LOCK_PID=""
  return 0
}

# ftp_relay TARGET_PORT ARGS...: cut_relay.py in FTP mode in front of a
# server on 127.0.0.1 (its data connections through the relay too); ARGS
# are the relay's (--cut-at, --lie, --stall-226). Sets RPORT, RSTATS (the
# relay's JSON stats) and RPID (t_track'ed: lib.sh's cleanup stops it).
FTP_RELAY_N=0
ftp_relay() {
  local target=$1 here
  shift
  here=$(dirname "${BASH_SOURCE[0]}")
  FTP_RELAY_N=$((FTP_RELAY_N + 1))
  RSTATS=$T_TMP/relay$FTP_RELAY_N.json
  /usr/bin/python3 "$here/cut_relay.py" --ftp --listen-port-file "$T_TMP/relay$FTP_RELAY_N.port" \
    --target "127.0.0.1:$target" --stats "$RSTATS" "$@" 2>"$T_TMP/relay$FTP_RELAY_N.log" &
  RPID=$!
  t_track $RPID
  for _ in $(seq 50); do [ -s "$T_TMP/relay$FTP_RELAY_N.port" ] && break; sleep 0.1; done
  RPORT=$(cat "$T_TMP/relay$FTP_RELAY_N.port")
}

# vsftpd_start DIR PORT CERTDIR: plain and explicit FTPS on one port, with
# require_ssl_reuse=YES (data connections must resume the control session);
# VSFTPD_IMPLICIT=YES: implicit FTPS only (TLS from the first byte).
# Anonymous downloads are limited to $VSFTPD_ANON_RATE bytes/s (default 2 MB/s)
# so a transfer can be killed half-way; the user's are not, unless
# $VSFTPD_LOCAL_RATE (bytes/s, both ways) says so. Prints the PID.
vsftpd_start() {
  local dir=$1 port=$2 certs=$3
  command -v /usr/sbin/vsftpd >/dev/null || { echo "vsftpd is not installed" >&2; return 1; }
  ftp_tree "$dir" vsftpd
  chown root:root "$dir/anon" "$dir/empty"
  chown -R "$FTP_USER" "$dir/home"
  usermod -d "$dir/home" "$FTP_USER" || return 1
  cat >"$dir/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
seccomp_sandbox=NO
secure_chroot_dir=$dir/empty
anonymous_enable=YES
no_anon_password=YES
anon_root=$dir/anon
anon_max_rate=${VSFTPD_ANON_RATE:-2000000}
local_max_rate=${VSFTPD_LOCAL_RATE:-0}
ftp_username=ftp
local_enable=YES
write_enable=YES
local_umask=022
local_root=$dir/home
chroot_local_user=YES
allow_writeable_chroot=YES
pam_service_name=nettool-ftp-test
delay_failed_login=0
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=$((port + 1))
pasv_max_port=$((port + 20))
port_enable=YES
connect_from_port_20=NO
xferlog_enable=YES
log_ftp_protocol=YES
vsftpd_log_file=$dir/vsftpd.log
ssl_enable=YES
rsa_cert_file=$certs/server.crt
rsa_private_key_file=$certs/server.key
ssl_ciphers=HIGH
allow_anon_ssl=YES
force_local_logins_ssl=NO
force_local_data_ssl=NO
require_ssl_reuse=YES
implicit_ssl=${VSFTPD_IMPLICIT:-NO}
EOF
  /usr/sbin/vsftpd "$dir/vsftpd.conf" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  FTP_PEERS_PIDS+=("$pid")
  ftp_wait_tcp "$port" 150 "$pid" ||
    { cat "$dir/stdout.log" >&2; tail -3 "$dir/vsftpd.log" >&2 2>/dev/null; return 1; }
  echo "$pid"
}

# ftp_start vsftpd|pureftpd DIR CERTDIR: starts one on a free port, trying
# up to 3 ports (another program may take a port between the check and the
# bind). Sets FTP_START_PORT; diagnostics go to DIR.start.log. Runs in the
# current shell (no $(...)), so the cleanup knows what was started.
ftp_start() {
  local kind=$1 dir=$2 certs=$3 try port
  FTP_START_PORT=""
  for try in 1 2 3; do
    port=$(ftp_free_port 2>>"$dir.start.log") || continue
    rm -rf "$dir"
    if "${kind}_start" "$dir" "$port" "$certs" >/dev/null 2>>"$dir.start.log"; then
      FTP_START_PORT=$port
      return 0
    fi
    echo "(try $try on port $port failed)" >>"$dir.start.log"
  done
  return 1
}

# The pure-ftpd binaries: installed, or from the unpacked .deb in the cache
# (fetched with apt-get download the first time). Prints the prefix ("" when
# installed).
pureftpd_prefix() {
  if command -v pure-ftpd >/dev/null 2>&1 && command -v pure-pw >/dev/null 2>&1; then
    echo ""
    return 0
  fi
  local cache=${NT_PEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nettool}/pure-ftpd
  if [ ! -x "$cache/usr/sbin/pure-ftpd" ]; then
    mkdir -p "$cache.dl" || return 1
    (cd "$cache.dl" && timeout 60 apt-get download -qq pure-ftpd >/dev/null 2>&1) || return 1
    dpkg-deb -x "$cache.dl"/pure-ftpd_*.deb "$cache" || return 1
    rm -rf "$cache.dl"
  fi
  echo "$cache"
}

# pureftpd_start DIR PORT CERTDIR: anonymous read-only (~ftp = DIR/anon),
# virtual user with upload rights, explicit FTPS accepted. Prints the PID.
pureftpd_start() {
  local dir=$1 port=$2 certs=$3 pfx
  pfx=$(pureftpd_prefix) || { echo "pure-ftpd is not available (apt-get download failed)" >&2; return 1; }
  ftp_tree "$dir" pure-ftpd
  chown -R nobody:nogroup "$dir/home"
  if id ftp >/dev/null 2>&1; then
    [ -n "$FTP_PEERS_FTP_HOME" ] || FTP_PEERS_FTP_HOME=$(getent passwd ftp | cut -d: -f6)
    usermod -d "$dir/anon" ftp || return 1
  else
    useradd -r -M -d "$dir/anon" -s /usr/sbin/nologin ftp || return 1
    FTP_PEERS_CREATED_FTP=1
  fi
  # pure-pw hashes with argon2 (2.5 s of CPU per login): write the line with
  # a SHA-512 crypt hash ourselves and only index it.
  printf '%s:%s:65534:65534::%s/./::::::::::::\n' "$FTP_USER" \
    "$(openssl passwd -6 "$FTP_PASS")" "$dir/home" >"$dir/pureftpd.passwd"
  "$pfx/usr/bin/pure-pw" mkdb "$dir/pureftpd.pdb" -f "$dir/pureftpd.passwd" || return 1
  "$pfx/usr/sbin/pure-ftpd" -S "127.0.0.1,$port" -p "$((port + 1)):$((port + 20))" \
    -P 127.0.0.1 -H -A -f none -u 1 -l "puredb:$dir/pureftpd.pdb" -i -t 2000 \
    -Y 1 -J HIGH -2 "$certs/server.crt,$certs/server.key" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  FTP_PEERS_PIDS+=("$pid")
  ftp_wait_tcp "$port" 150 "$pid" || { cat "$dir/stdout.log" >&2; return 1; }
  echo "$pid"
}

# --- hostile peers ------------------------------------------------------------
# ftp_hostile_start MODE DIR [CERTDIR]: a scripted FTP server (python3) on a
# free loopback port that misbehaves the way MODE says; sets HOSTILE_PORT and
# remembers the PID for ftp_peers_cleanup. Needs no root. Modes:
#   silent         accepts, never says a word
#   full-backlog   never accepts, its backlog filled: a connect hangs
#   huge-greeting  a 1 MB greeting line
#   trickle        answers USER one byte a second
#   login-silent   greets, then never answers USER
#   login-refused  530 to PASS; every command it gets is logged in DIR/MODE.cmds
#   reset-550      resets the data connection, then refuses RETR/NLST with 550
#   esc-550        refuses RETR with ESC and C1 controls in the reply text
#   slow-retr      sends 5 bytes of an 11-byte file, then stalls
#   nlst-paths     NLST answers full paths with control characters in them
#   tls-picky      explicit TLS; a data connection with bytes waiting before
#                  RETR is dropped and the server waits (forever); else the
#                  data TLS handshake follows the 150, as vsftpd does it
#   tls-reset      explicit TLS; resets the data connection after the 150,
#                  during the handshake, then says nothing
ftp_hostile_start() {
  local mode=$1 dir=$2 certs=${3:-} i
  mkdir -p "$dir"
  HOSTILE_PORT=""
  cat >"$dir/ftp_hostile.py" <<'PY'
import select, socket, ssl, struct, sys, threading, time

mode, portfile = sys.argv[1], sys.argv[2]
certs = sys.argv[3] if len(sys.argv) > 3 else ""
tls = None
if certs:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certs + "/server.crt", certs + "/server.key")


class Ctl:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def readline(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(4096)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def send(self, text):
        self.sock.sendall(text.encode("latin-1") + b"\r\n")


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def session(conn):
    if mode == "silent":
        time.sleep(3600)
    if mode == "huge-greeting":
        conn.sendall(b"220 " + b"x" * (1 << 20) + b"\r\n")
        time.sleep(3600)
    ctl, data = Ctl(conn), None
    ctl.send("220 hostile peer (%s)" % mode)
    while True:
        line = ctl.readline()
        if line is None:
            return
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        with open(portfile.replace(".port", ".cmds"), "a") as log:
            log.write(verb + "\n")
        if verb == "USER":
            if mode == "login-silent":
                time.sleep(3600)
            if mode == "trickle":
                for b in b"331 Password required, one byte a second\r\n":
                    conn.sendall(bytes([b]))
                    time.sleep(1)
            ctl.send("331 Password required")
        elif verb == "PASS" and mode == "login-refused":
            ctl.send("530 Login incorrect.")
        elif verb == "PASS":
            ctl.send("230 Logged in")
        elif verb == "AUTH" and tls:
            ctl.send("234 Proceed")
            ctl.sock = tls.wrap_socket(ctl.sock, server_side=True)
        elif verb in ("PBSZ", "PROT", "TYPE", "OPTS"):
            ctl.send("200 OK")
        elif verb == "FEAT":
            ctl.send("211-Features:\r\n EPSV\r\n SIZE\r\n AUTH TLS\r\n211 End")
        elif verb == "SIZE":
            ctl.send("213 11")
        elif verb == "EPSV":
            ls = socket.socket()
            ls.bind(("127.0.0.1", 0))
            ls.listen(1)
            ctl.send("229 Entering Extended Passive Mode (|||%d|)" % ls.getsockname()[1])
            data = ls.accept()[0]
            ls.close()
        elif verb in ("RETR", "NLST", "MLSD", "LIST"):
            transfer(ctl, data)
            data = None
        elif verb == "QUIT":
            ctl.send("221 Bye")
            return
        else:
            ctl.send("502 Not here")


def transfer(ctl, data):
    if mode == "reset-550":
        reset(data)
        time.sleep(0.05)  # the reset is there first
        ctl.send("550 No such file here.")
    elif mode == "esc-550":
        ctl.sock.sendall(b"550-No \x1b[31msuch\xc2\x9b\r\n550 file\x1b]0;pwned\x07\r\n")
    elif mode == "slow-retr":
        ctl.send("150 Opening BINARY mode data connection (11 bytes)")
        data.sendall(b"hello")
        time.sleep(3600)
    elif mode == "nlst-paths":
        ctl.send("150 Here comes the listing")
        data.sendall(b"/pub/x\r\n/pub/esc\x1b]0;title\x07\r\n/pub/c1\xc2\x9bx\r\n"
                     b"/pub/raw\x9by\r\n/pub/dir/\r\n")
        data.close()
        ctl.send("226 Done")
    elif mode == "tls-picky":
        if select.select([data], [], [], 0.3)[0]:  # bytes before RETR
            reset(data)
            time.sleep(3600)
        ctl.send("150 Opening BINARY mode data connection (11 bytes)")
        d = tls.wrap_socket(data, server_side=True)
        d.sendall(b"hello world")
        try:
            d.unwrap()
        except (OSError, ssl.SSLError):
            pass
        d.close()
        ctl.send("226 Transfer complete")
    elif mode == "tls-reset":
        ctl.send("150 Opening BINARY mode data connection")
        reset(data)
        time.sleep(3600)


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(0 if mode == "full-backlog" else 8)
fill = []
if mode == "full-backlog":  # SYNs to a full accept queue are dropped
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(srv.getsockname())
        fill.append(c)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
if mode == "full-backlog":
    time.sleep(3600)
while True:
    c, _ = srv.accept()
    threading.Thread(target=session, args=(c,), daemon=True).start()
PY
  rm -f "$dir/$mode.port"
  python3 "$dir/ftp_hostile.py" "$mode" "$dir/$mode.port" $certs >"$dir/$mode.log" 2>&1 &
  FTP_PEERS_PIDS+=("$!")
  for i in $(seq 50); do
    [ -s "$dir/$mode.port" ] && { HOSTILE_PORT=$(cat "$dir/$mode.port"); return 0; }
    sleep 0.1
  done
  echo "the hostile peer ($mode) did not start: $(cat "$dir/$mode.log")" >&2
  return 1
}
