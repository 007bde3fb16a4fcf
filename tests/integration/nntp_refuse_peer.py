"""A news server that cannot pipeline (RFC 3977 3.5 lets a server not
support it): it reads one command, answers it, and hangs up when a second
command had already arrived before its answer went out. Group local.test
holds articles 1..N (overview only). Listens on 127.0.0.1 (port 0: any),
prints the port, serves until killed; counts the hang-ups in FILE. With
CERTDIR (tests/tls/make-certs.sh: server.crt, server.key) it offers
STARTTLS (RFC 4642) and counts the TLS sessions in FILE.tls.
    python3 nntp_refuse_peer.py N FILE [CERTDIR]"""
import socket
import ssl
import sys
import threading
import time

n = int(sys.argv[1])
count_file = sys.argv[2]
tls_ctx = None
if len(sys.argv) > 3:
    tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ctx.load_cert_chain(sys.argv[3] + "/server.crt", sys.argv[3] + "/server.key")
hangups = 0
lock = threading.Lock()


def over(lo, hi):
    rows = []
    for k in range(max(lo, 1), min(hi, n) + 1):
        rows.append("%d\tsubject %d\tp%d@x.test\tSat, 5 Dec 2026 06:00:00 +0000\t<r%d@x.test>\t\t100\t3"
                    % (k, k, k, k))
    return rows


def bump(path):
    with lock:
        try:
            k = int(open(path).read() or 0) + 1
        except (OSError, ValueError):
            k = 1
        open(path, "w").write(str(k))


def serve(conn):
    global hangups
    f = conn.makefile("rb")
    tls = False
    conn.sendall(b"200 refusing.test ready\r\n")
    try:
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode("ascii", "replace").strip()
            # a second command already here: this server cannot do that
            # (it takes 50 ms to start answering, as a busy server would: a
            # pipelining client has sent the next commands by then, even a
            # slow one, and even as separate TLS records)
            time.sleep(0.05)
            conn.setblocking(False)
            try:
                pending = f.peek(1) if hasattr(f, "peek") else b""
            except (BlockingIOError, OSError):
                pending = b""
            conn.setblocking(True)
            if pending:
                with lock:
                    try:
                        hangups = int(open(count_file).read() or 0) + 1
                    except (OSError, ValueError):
                        hangups = 1
                    open(count_file, "w").write(str(hangups))
                return
            word = cmd.split(" ")[0].upper()
            if word == "CAPABILITIES":
                starttls = "STARTTLS\r\n" if tls_ctx and not tls else ""
                out = "101 caps\r\nVERSION 2\r\nREADER\r\nOVER\r\n%s.\r\n" % starttls
            elif word == "STARTTLS" and tls_ctx and not tls:
                conn.sendall(b"382 go ahead\r\n")
                conn = tls_ctx.wrap_socket(conn, server_side=True)
                f = conn.makefile("rb")
                tls = True
                bump(count_file + ".tls")
                continue
            elif word == "GROUP":
                out = "211 %d 1 %d local.test\r\n" % (n, n)
            elif word == "OVER":
                a = cmd.split(" ")[1]
                lo, _, hi = a.partition("-")
                rows = over(int(lo), int(hi or lo))
                out = "224 overview\r\n" + "".join(r + "\r\n" for r in rows) + ".\r\n"
            elif word == "QUIT":
                conn.sendall(b"205 bye\r\n")
                return
            else:
                out = "500 what?\r\n"
            conn.sendall(out.encode())
    finally:
        conn.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
