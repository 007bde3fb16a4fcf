#!/usr/bin/env python3
"""Scripted peers on 127.0.0.1 for cli_flags.sh (the CLI's shared options).

    cli_flags_peer.py MODE PORTFILE DIR

Writes its port to PORTFILE and serves connections (each in a thread) for
at most 60 s, then exits: a test never leaves it behind.

Modes:
  ftp   a small FTP server: USER/PASS (any), FEAT, PWD, TYPE, EPSV/PASV,
        SIZE, RETR and STOR of files in DIR (RETR esc: a 550 with ESC, OSC
        and a C1 CSI in it), QUIT
  http  GET/HEAD /f (DIR/f.txt, with a header holding ESC), /redir (302 to
        /f); the header holds a C1 CSI (UTF-8), llhttp refuses ESC
  nntp  a reader server: LIST ACTIVE answers 480 until AUTHINFO USER/PASS
        (any), QUIT
"""
import os
import socket
import sys
import threading
import time

mode, portfile, root = sys.argv[1], sys.argv[2], sys.argv[3]
DEADLINE = time.time() + 60


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


def ftp_session(conn):
    c = Ctl(conn)
    c.send("220 cli_flags test server")
    data = None
    while True:
        line = c.readline()
        if line is None:
            return
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "USER":
            c.send("331 password please")
        elif verb == "PASS":
            c.send("230 logged in")
        elif verb == "FEAT":
            c.send("211-Features:\r\n SIZE\r\n EPSV\r\n211 End")
        elif verb == "PWD":
            c.send('257 "/" is the directory')
        elif verb in ("TYPE", "MODE", "STRU", "OPTS"):
            c.send("200 ok")
        elif verb in ("EPSV", "PASV"):
            data = socket.socket()
            data.bind(("127.0.0.1", 0))
            data.listen(1)
            p = data.getsockname()[1]
            if verb == "EPSV":
                c.send("229 Entering Extended Passive Mode (|||%d|)" % p)
            else:
                c.send("227 Entering Passive Mode (127,0,0,1,%d,%d)" % (p >> 8, p & 255))
        elif verb == "SIZE":
            path = os.path.join(root, os.path.basename(arg))
            if os.path.isfile(path):
                c.send("213 %d" % os.path.getsize(path))
            else:
                c.send("550 no such file")
        elif verb == "RETR" and arg == "esc":
            c.send("550 no \x1b]0;pwned\x07 \xc2\x9b31mfile")
        elif verb == "RETR":
            path = os.path.join(root, os.path.basename(arg))
            if not os.path.isfile(path) or data is None:
                c.send("550 no such file")
                continue
            c.send("150 sending %s" % arg)
            d, _ = data.accept()
            with open(path, "rb") as f:
                d.sendall(f.read())
            d.close()
            data.close()
            data = None
            c.send("226 done")
        elif verb == "STOR":
            if data is None:
                c.send("425 no data connection")
                continue
            c.send("150 receiving %s" % arg)
            d, _ = data.accept()
            with open(os.path.join(root, "up-" + os.path.basename(arg)), "wb") as f:
                while True:
                    b = d.recv(65536)
                    if not b:
                        break
                    f.write(b)
            d.close()
            data.close()
            data = None
            c.send("226 stored")
        elif verb == "QUIT":
            c.send("221 bye")
            return
        else:
            c.send("502 not implemented")


def nntp_session(conn):
    c = Ctl(conn)
    c.send("200 cli_flags news server")
    authed = False
    while True:
        line = c.readline()
        if line is None:
            return
        w = line.split()
        verb = w[0].upper() if w else ""
        if verb == "CAPABILITIES":
            c.send("101 Capability list:\r\nVERSION 2\r\nREADER\r\nAUTHINFO USER\r\nLIST ACTIVE\r\n.")
        elif verb == "AUTHINFO" and len(w) > 1 and w[1].upper() == "USER":
            c.send("381 password please")
        elif verb == "AUTHINFO":
            authed = True
            c.send("281 welcome")
        elif verb == "LIST" and not authed:
            c.send("480 authentication required")
        elif verb == "LIST":
            c.send("215 list follows\r\nlocal.test 0000000012 0000000003 y\r\n.")
        elif verb == "QUIT":
            c.send("205 bye")
            return
        else:
            c.send("500 what?")


def http_session(conn):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(4096)
        if not d:
            return
        buf += d
    raw, body = buf.split(b"\r\n\r\n", 1)
    head = raw.decode("latin-1").split("\r\n")
    method, target = head[0].split(" ")[:2]
    # An upload's body is read whole before answering: answering and closing
    # first would be a reset the client may meet while still sending.
    length = 0
    for h in head[1:]:
        name, _, value = h.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        d = conn.recv(65536)
        if not d:
            return
        body += d
    if target == "/redir":
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /f\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n")
        return
    with open(os.path.join(root, "f.txt"), "rb") as f:
        body = f.read()
    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Esc: a\xc2\x9b31mb\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    conn.sendall(resp + (b"" if method == "HEAD" else body))


def serve(handler):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    srv.settimeout(1)
    while time.time() < DEADLINE:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        conn.settimeout(30)

        def run(cn=conn):
            try:
                handler(cn)
            except OSError:
                pass
            finally:
                cn.close()

        threading.Thread(target=run, daemon=True).start()


serve({"ftp": ftp_session, "http": http_session, "nntp": nntp_session}[mode])
