#!/usr/bin/env python3
"""Scripted hostile NNTP servers for nntp_peers.sh, on 127.0.0.1.

    nntp_peer.py MODE [ARG]

Prints the port it listens on (one line), serves ONE connection, then exits
(after at most 30 s whatever happens: a test never leaves it behind).

Modes:
  greet TEXT     sends TEXT + CRLF as the greeting, then waits for the close
  trickle        "200 ok" for the greeting, then answers every command one
                 byte per second (a reply that never completes in time)
  silent         accepts and never says anything
  mute           greets and answers CAPABILITIES, then never answers again
  group N        a reader server whose group "g" has articles 1..N, of which
                 only those listed in ARTICLES exist (env, comma-separated);
                 ARTICLE/STAT/HEAD/OVER/XOVER/LISTGROUP/LAST behave as RFC
                 3977 says, so the client must search for the newest one
  article FILE   a group "g" with one article (1), FILE's bytes as it is
  list           LIST ACTIVE with a group and an alias (=local.test)
  stall          an article that stops after its first body line
FROM_n / SUBJ_n (env) set article n's From / Subject in group mode; NO_OVER=1
makes OVER and XOVER answer 503 (a server without an overview database).
"""
import os
import socket
import sys
import time

mode = sys.argv[1]
arg = sys.argv[2] if len(sys.argv) > 2 else ""

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
srv.settimeout(30)
deadline = time.time() + 30
try:
    conn, _ = srv.accept()
except socket.timeout:
    sys.exit(0)
conn.settimeout(30)


def send(b):
    if isinstance(b, str):
        b = b.encode()
    conn.sendall(b)


def lines():
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
            yield line.rstrip(b"\r").decode("latin-1")


def wait_close():
    for _ in lines():
        pass


if mode == "greet":
    send(arg + "\r\n")
    wait_close()
elif mode == "silent":
    wait_close()
elif mode == "trickle":
    send("200 ok\r\n")
    for cmd in lines():
        for ch in b"101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n":
            try:
                send(bytes([ch]))
            except OSError:
                sys.exit(0)
            time.sleep(1)
            if time.time() > deadline:
                sys.exit(0)
elif mode == "mute":
    send("200 ok\r\n")
    for cmd in lines():
        if cmd.upper().startswith("CAPABILITIES"):
            send("101 Capability list:\r\nVERSION 2\r\nREADER\r\nOVER\r\n.\r\n")
        # anything else: no answer, ever
elif mode == "stall":
    send("200 ok\r\n")
    for cmd in lines():
        verb = cmd.split()[0].upper() if cmd.split() else ""
        if verb == "CAPABILITIES":
            send("101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n")
        elif verb == "GROUP":
            send("211 1 1 1 g\r\n")
        elif verb == "ARTICLE":
            send("220 1 <s@x>\r\nFrom: S <s@x>\r\nSubject: stall\r\n\r\nfirst line\r\n")
            # ...and nothing more, ever
elif mode == "list":
    send("200 ok\r\n")
    for cmd in lines():
        if cmd.upper().startswith("CAPABILITIES"):
            send("101 Capability list:\r\nVERSION 2\r\nREADER\r\nLIST ACTIVE\r\n.\r\n")
        elif cmd.upper().startswith("LIST"):
            send("215 list follows\r\nlocal.test 0000000012 0000000003 y\r\n"
                 "local.old 0000000000 0000000001 =local.test\r\n.\r\n")
        elif cmd.upper().startswith("QUIT"):
            send("205 bye\r\n")
            break
elif mode in ("group", "article"):
    if mode == "group":
        high = int(arg)
        have = sorted(int(x) for x in os.environ.get("ARTICLES", "").split(",") if x)
    else:
        high = 1
        have = [1]
        with open(arg, "rb") as f:
            body = f.read()
    low = have[0] if have else 1
    cur = None

    def art(n):
        if mode == "article":
            return body
        return ("From: %s\r\nSubject: article %d\r\nMessage-ID: <a%d@x>\r\n"
                "Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\nbody of %d\r\n"
                % (frm(n), n, n, n)).encode()

    def frm(n):
        return os.environ.get("FROM_%d" % n, "A <a@x>")

    def dot(data):
        """CRLF lines, dot-stuffed, each ending in CRLF."""
        data = data.replace(b"\r\n", b"\n")
        if data.endswith(b"\n"):
            data = data[:-1]
        return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n"
                        for ln in data.split(b"\n"))

    def rng(spec):
        if "-" in spec:
            a, b = spec.split("-", 1)
            return int(a), int(b) if b else high
        return int(spec), int(spec)

    send("200 test server\r\n")
    for cmd in lines():
        w = cmd.split()
        verb = w[0].upper() if w else ""
        if verb == "CAPABILITIES":
            send("101 Capability list:\r\nVERSION 2\r\nREADER\r\nOVER\r\n.\r\n")
        elif verb == "GROUP":
            cur = low if have else None
            send("211 %d %d %d g\r\n" % (high - low + 1, low, high))  # an estimate, as servers give
        elif verb in ("ARTICLE", "HEAD", "BODY", "STAT"):
            n = int(w[1]) if len(w) > 1 else cur
            if n is None or n not in have:
                send("423 No article with that number\r\n")
                continue
            cur = n
            code = {"ARTICLE": 220, "HEAD": 221, "BODY": 222, "STAT": 223}[verb]
            send("%d %d <a%d@x>\r\n" % (code, n, n))
            if verb == "STAT":
                continue
            data = art(n)
            head, _, bd = data.partition(b"\r\n\r\n")
            part = {"ARTICLE": data, "HEAD": head + b"\r\n", "BODY": bd}[verb]
            send(dot(part) + b".\r\n")
        elif verb == "LAST":
            prev = [n for n in have if cur is not None and n < cur]
            if cur is None:
                send("420 No current article\r\n")
            elif not prev:
                send("422 No previous article\r\n")
            else:
                cur = prev[-1]
                send("223 %d <a%d@x>\r\n" % (cur, cur))
        elif verb in ("OVER", "XOVER") and os.environ.get("NO_OVER"):
            send("503 Overview not available\r\n")
        elif verb in ("OVER", "XOVER"):
            a, b = rng(w[1])
            got = [n for n in have if a <= n <= b]
            if not got:
                send("423 No articles in that range\r\n")
                continue
            send("224 Overview information follows\r\n")
            for n in got:
                send(("%d\t%s\t%s\tMon, 23 Nov 2026 12:00:00 +0000\t<a%d@x>\t\t100\t3\r\n"
                      % (n, os.environ.get("SUBJ_%d" % n, "article %d" % n), frm(n), n)).encode())
            send(".\r\n")
        elif verb == "LISTGROUP":
            a, b = rng(w[2]) if len(w) > 2 else (low, high)
            send("211 %d %d %d g list follows\r\n" % (len(have), low, high))
            for n in have:
                if a <= n <= b:
                    send("%d\r\n" % n)
            send(".\r\n")
        elif verb == "QUIT":
            send("205 bye\r\n")
            break
        else:
            send("500 What?\r\n")
conn.close()
