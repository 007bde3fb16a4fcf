#!/usr/bin/env python3
"""http-upload's and ftp-put's progress bars count acknowledged bytes
(issue 12).

usage: upload_acked.py NETTOOL WORKDIR

A slow receiver on 127.0.0.1 (port 0; small receive buffer) reads the
request body 64 KiB every 30 ms, then waits 1.5 s before it answers.
nettool runs on a terminal (script(1)); every progress line it draws is
read while the upload runs and compared with what the receiver has read
*by then* (it can only have read more since the line was drawn):

  shown bytes <= bytes read + SLACK

SLACK covers the receiver's socket buffer and the bar's rounding; the
sender's socket buffer (megabytes on loopback once autotuned) is not in
it, so a bar that counted bytes handed to the kernel fails. Then the
"waiting for the server" phase must be seen while the answer is delayed,
and with -q nothing is drawn. The same for ftp-put against a scripted FTP
server (USER/PASS/TYPE/EPSV/PASV/STOR/SIZE/QUIT, 502 to the rest) whose
data connection reads as slowly and whose 226 comes 1.5 s late. Bounded: every wait has a deadline."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

NT = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="upload_acked.", dir=sys.argv[2])
SIZE = 8 * 1024 * 1024
RCVBUF = 64 * 1024  # the kernel doubles it
SLACK = 768 * 1024
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}

failures = []
passes = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    (passes if ok else failures).append(what)


class Receiver:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.lsock.settimeout(20)
        self.port = self.lsock.getsockname()[1]
        self.nread = 0  # body bytes read; only grows
        self.lock = threading.Lock()
        self.error = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def read_count(self):
        with self.lock:
            return self.nread

    def serve(self):
        try:
            c, _ = self.lsock.accept()
            c.settimeout(20)
            head = b""
            while b"\r\n\r\n" not in head:
                d = c.recv(1)  # byte by byte: the body stays in the socket
                if not d:
                    raise RuntimeError("EOF in the request head")
                head += d
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if not m:
                raise RuntimeError("no Content-Length: %r" % head[:300])
            left = int(m.group(1))
            if re.search(rb"(?i)\r\nexpect:\s*100-continue", head):
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            while left > 0:
                d = c.recv(min(left, 64 * 1024))
                if not d:
                    raise RuntimeError("EOF in the body")
                left -= len(d)
                with self.lock:
                    self.nread += len(d)
                time.sleep(0.03)
            time.sleep(1.5)  # the server "works" on it
            body = b'{"ok": true}\n'
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                      % (len(body), body))
            c.close()
        except Exception as e:  # reported by the main thread
            self.error = repr(e)


class FtpReceiver(Receiver):
    """The control connection on lsock; one passive data listener."""

    def serve(self):
        try:
            c, _ = self.lsock.accept()
            c.settimeout(20)
            f = c.makefile("rb")
            c.sendall(b"220 slow test server\r\n")
            data_l, size = None, None
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode().strip().split(" ", 1)
                verb = cmd[0].upper()
                if verb == "USER":
                    c.sendall(b"331 password\r\n")
                elif verb == "PASS":
                    c.sendall(b"230 logged in\r\n")
                elif verb == "TYPE":
                    c.sendall(b"200 ok\r\n")
                elif verb in ("EPSV", "PASV"):
                    data_l = socket.socket()
                    data_l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                      RCVBUF)
                    data_l.bind(("127.0.0.1", 0))
                    data_l.listen(1)
                    data_l.settimeout(20)
                    port = data_l.getsockname()[1]
                    if verb == "EPSV":
                        c.sendall(b"229 passive (|||%d|)\r\n" % port)
                    else:
                        c.sendall(b"227 passive (127,0,0,1,%d,%d)\r\n"
                                  % (port >> 8, port & 255))
                elif verb in ("STOR", "APPE") and data_l:
                    c.sendall(b"150 go\r\n")
                    d, _ = data_l.accept()
                    data_l.close()
                    data_l = None
                    d.settimeout(20)
                    size = 0
                    while True:
                        b = d.recv(64 * 1024)
                        if not b:
                            break
                        size += len(b)
                        with self.lock:
                            self.nread += len(b)
                        time.sleep(0.03)
                    d.close()
                    time.sleep(1.5)  # the server "works" on it
                    c.sendall(b"226 stored\r\n")
                elif verb == "SIZE" and size is not None:
                    c.sendall(b"213 %d\r\n" % size)
                elif verb == "QUIT":
                    c.sendall(b"221 bye\r\n")
                    c.close()
                    return
                else:
                    c.sendall(b"502 not here\r\n")
        except Exception as e:  # reported by the main thread
            self.error = repr(e)


def run(extra, ftp=False):
    rx = FtpReceiver() if ftp else Receiver()
    path = os.path.join(WORK, "acked.bin")
    with open(path, "wb") as f:
        f.write(b"\0" * SIZE)
    out = os.path.join(WORK, "acked.out")
    if ftp:
        cmd = "'%s' ftp-put ftp://u:p@127.0.0.1:%d/up.bin '%s' %s" % (
            NT, rx.port, path, extra)
    else:
        cmd = "'%s' http-upload http://127.0.0.1:%d/up '%s' -o '%s' %s" % (
            NT, rx.port, path, out, extra)
    p = subprocess.Popen(["script", "-q", "-e", "-c", cmd, "/dev/null"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    text, worst, lines, deadline = "", None, 0, time.time() + 60
    pat = re.compile(r"([\d.]+) (B|KiB|MiB|GiB) / [\d.]+ \w+ +(\d+)%")
    while time.time() < deadline:
        try:
            chunk = p.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk:
            got = rx.read_count()  # read after the lines were drawn
            new = chunk.decode("utf-8", "replace")
            text += new
            for m in pat.finditer(new):
                shown = float(m.group(1)) * UNITS[m.group(2)]
                lines += 1
                over = shown - got
                if worst is None or over > worst:
                    worst = over
        elif p.poll() is not None:
            break
        else:
            time.sleep(0.02)
    if p.poll() is None:
        p.kill()
        check(False, "nettool finished within 60 s")
    rx.thread.join(5)
    return p.wait(), text, worst, lines, rx


for ftp in (False, True):
    what = "ftp-put" if ftp else "http-upload"
    rc, text, worst, lines, rx = run("", ftp)
    check(rx.error is None, "%s: the receiver saw it all (%s)"
          % (what, rx.error))
    check(rc == 0, "%s: exit 0 (got %s; %r)" % (what, rc, text[-300:]))
    check(lines >= 3, "%s: progress lines drawn while uploading (%d)"
          % (what, lines))
    check(worst is not None and worst <= SLACK,
          "%s: shown bytes never more than %d KiB ahead of what the receiver"
          " read (worst: %s KiB)" % (what, SLACK // 1024,
                                     None if worst is None
                                     else int(worst // 1024)))
    check("waiting for the server" in text,
          "%s: a 'waiting for the server' phase while the answer is delayed"
          % what)

    rc, text, worst, lines, rx = run("-q", ftp)
    check(rc == 0, "%s -q: exit 0 (got %s)" % (what, rc))
    check("waiting" not in text and "%" not in text,
          "%s -q: no bar, no waiting line (%r)" % (what, text[-200:]))

shutil.rmtree(WORK, ignore_errors=True)
print("%d passed, %d failed" % (len(passes), len(failures)))
sys.exit(1 if failures else 0)
