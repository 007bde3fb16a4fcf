#!/usr/bin/env python3
"""A scripted NNTP server for retry.sh (nntp-read --retry), on 127.0.0.1.

    nntp_retry_peer.py MODE LOG

Prints its port (one line), then serves up to 3 connections one after the
other (exits after 30 s whatever happens). Group "g" has articles 1..30.
Every command received is appended to LOG as "CONN-NUMBER COMMAND".

Modes:
  over     the first connection is cut after 10 rows of an OVER reply
  article  the first connection is cut after 3 body lines of an ARTICLE
  nogroup  GROUP answers 411 (a refusal: never worth a retry)
  silent   every connection: set-up and GROUP are answered, then nothing
           (OVER and ARTICLE wait for ever: the client's --timeout ends it)
"""
import socket
import sys
import time

mode, log = sys.argv[1], sys.argv[2]
HIGH = 30
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(4)
print(srv.getsockname()[1], flush=True)
deadline = time.time() + 30


def row(n):
    return ("%d\tarticle %d\tA <a@x>\tMon, 23 Nov 2026 12:00:00 +0000\t<a%d@x>\t\t100\t3\r\n"
            % (n, n, n)).encode()


def article(n):
    body = "".join("line %d of %d\r\n" % (i, n) for i in range(1, 9))
    return ("220 %d <a%d@x>\r\nFrom: A <a@x>\r\nSubject: article %d\r\n"
            "Message-ID: <a%d@x>\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\n%s"
            % (n, n, n, n, body)).encode()


def serve(conn, k):
    conn.settimeout(10)
    conn.sendall(b"200 retry test server\r\n")
    buf = b""
    while time.time() < deadline:
        try:
            d = conn.recv(4096)
        except (socket.timeout, ConnectionError):
            return
        if not d:
            return
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.rstrip(b"\r").decode("latin-1")
            with open(log, "a") as f:
                f.write("%d %s\n" % (k, cmd))
            w = cmd.split()
            verb = w[0].upper() if w else ""
            if verb == "CAPABILITIES":
                conn.sendall(b"101 Capability list:\r\nVERSION 2\r\nREADER\r\nOVER\r\n.\r\n")
            elif verb == "GROUP" and mode == "nogroup":
                conn.sendall(b"411 No such newsgroup\r\n")
            elif verb == "GROUP":
                conn.sendall(b"211 %d 1 %d g\r\n" % (HIGH, HIGH))
            elif verb in ("OVER", "XOVER", "ARTICLE") and mode == "silent":
                pass  # stops answering; the client hangs up
            elif verb in ("OVER", "XOVER"):
                a, b = (int(x) for x in w[1].split("-"))
                rows = [row(n) for n in range(max(a, 1), min(b, HIGH) + 1)]
                if mode == "over" and k == 1:
                    conn.sendall(b"224 Overview follows\r\n" + b"".join(rows[:10]))
                    return  # cut mid-reply
                conn.sendall(b"224 Overview follows\r\n" + b"".join(rows) + b".\r\n")
            elif verb == "ARTICLE":
                n = int(w[1])
                data = article(n)
                if mode == "article" and k == 1:
                    conn.sendall(b"\r\n".join(data.split(b"\r\n")[:9]) + b"\r\n")
                    return  # cut after 3 body lines
                conn.sendall(data + b".\r\n")
            elif verb == "QUIT":
                conn.sendall(b"205 bye\r\n")
                return
            else:
                conn.sendall(b"500 What?\r\n")


srv.settimeout(30)
for k in (1, 2, 3):
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        break
    try:
        serve(conn, k)
    finally:
        conn.close()
