#!/usr/bin/env python3
"""Scripted hostile HTTP peers for tests/integration/http_hostile.sh.

    http_hostile_peer.py PORTFILE MODE [CERT KEY]

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening) and
answers every connection the way MODE says, until it is killed:

  esc        404 whose reason phrase holds ESC, OSC, CSI and a UTF-8 C1
             control (llhttp refuses them in header values, not there)
  silent     reads the request, never answers (idle timeouts, retries)
  record     like silent, after printing the request's credential lines
             (Authorization, Proxy-Authorization, Cookie, X-Api-Token) and
             X-Trace to stdout (what the client sent while it waits)
  partial    200 with Content-Length 1000000, sends 5000 bytes, then stalls
             (SIGINT during a download)
  trickle    200 with Content-Length 100, one byte every 0.3 s
  redirect   302 to the path given after "/to/" (e.g. /to/http://h:p/x)
  tls-cut    TLS (CERT KEY): 200 with Content-Length 1000000, 5000 bytes,
             then the TCP connection is shut down without a close_notify
  tls-mute   accepts TCP, never answers the ClientHello
  tls-ok     TLS: 200 "ok" (a redirect's https target)

Every connection is handled in its own thread; nothing here reads the
client's body, it is the client that is under test.
"""
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def target_of(head):
    line = head.split("\r\n", 1)[0]
    parts = line.split(" ")
    return parts[1] if len(parts) > 1 else "/"


def hold(conn, seconds=60):
    """Keeps the connection open (the client is the one to give up)."""
    conn.settimeout(seconds)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def serve(conn, mode, tls_ctx):
    raw = conn
    try:
        if mode == "tls-mute":
            hold(conn)
            return
        if mode in ("tls-cut", "tls-ok"):
            conn = tls_ctx.wrap_socket(conn, server_side=True)
        head = read_head(conn)
        if head is None:
            return
        if mode == "esc":
            body = b"not found \x1b[2J here"
            conn.sendall(
                b"HTTP/1.1 404 Not \x1b]0;pwned\x07Fo\x1b[31mund\xc2\x9b1m\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"\r\n" + body)
            hold(conn, 5)
        elif mode == "silent":
            hold(conn)
        elif mode == "record":
            for line in head.split("\r\n"):
                if line.split(":", 1)[0].lower() in (
                        "authorization", "proxy-authorization", "cookie",
                        "x-api-token", "x-trace"):
                    print(line, flush=True)
            print("request", flush=True)
            hold(conn)
        elif mode == "partial":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
                         + b"p" * 5000)
            hold(conn)
        elif mode == "trickle":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                time.sleep(0.3)
                conn.sendall(b"t")
            hold(conn, 5)
        elif mode == "redirect":
            to = urllib.parse.unquote(target_of(head).split("/to/", 1)[-1])
            conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + to.encode() +
                         b"\r\nContent-Length: 0\r\n\r\n")
            hold(conn, 5)
        elif mode == "tls-cut":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
                         + b"c" * 5000)
            time.sleep(0.2)
            # The TCP connection ends under the TLS stream: no close_notify.
            raw.shutdown(socket.SHUT_RDWR)
        elif mode == "tls-ok":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                         b"Connection: close\r\n\r\nok")
            conn.unwrap()
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            raw.close()
        except OSError:
            pass


def main():
    portfile, mode = sys.argv[1], sys.argv[2]
    tls_ctx = None
    if mode in ("tls-cut", "tls-ok"):
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode, tls_ctx),
                         daemon=True).start()


if __name__ == "__main__":
    main()
