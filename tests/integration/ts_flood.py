#!/usr/bin/env python3
"""A timestamp client that sends and never reads, against a running
ts-server (plain TCP, or TLS with --cafile), to check its backpressure.

    ts_flood.py --pid PID --port PORT [--mb N] [--cafile CA] -- CMD...

Sends up to N MB (default 200) in 64 KiB pieces without reading a byte,
until the server stops taking them (no progress for --stall seconds).
Meanwhile it samples the server's VmRSS from /proc/PID/status. With the
flooding connection still open, it runs CMD (e.g. nettool ts-client ...)
with "second client\\n" on stdin, which must get its reply. Prints one line:

    sent=BYTES rss_before=KB rss_peak=KB growth=KB second_rc=RC second_out=...

and exits 0; the shell script judges the numbers. Bounded in time: the
flood stops after --max-seconds whatever happens.
"""
import argparse
import socket
import ssl
import subprocess
import sys
import time


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--cafile")
    ap.add_argument("--stall", type=float, default=1.5)
    ap.add_argument("--max-seconds", type=float, default=12.0)
    ap.add_argument("cmd", nargs="*")
    a = ap.parse_args()

    before = rss_kb(a.pid)
    peak = before
    raw = socket.create_connection((a.host, a.port), timeout=5)
    s = raw
    if a.cafile:
        ctx = ssl.create_default_context(cafile=a.cafile)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    # A small receive buffer: this client never reads, and a big one would
    # only hide how much the server holds.
    s.settimeout(0.2)
    piece = (b"x" * 1023 + b"\n") * 64
    total = a.mb * 1024 * 1024
    sent = 0
    start = last = time.monotonic()
    samples = 0
    while sent < total:
        now = time.monotonic()
        if now - last > a.stall or now - start > a.max_seconds:
            break
        try:
            n = s.send(piece[: min(len(piece), total - sent)])
        except (socket.timeout, ssl.SSLWantWriteError):
            n = 0
        if n > 0:
            sent += n
            last = time.monotonic()
        samples += 1
        if samples % 16 == 0 or n == 0:
            peak = max(peak, rss_kb(a.pid))
    # The server had time to read (and answer) whatever it was going to.
    time.sleep(0.3)
    peak = max(peak, rss_kb(a.pid))

    rc, out = "none", ""
    if a.cmd:
        try:
            p = subprocess.run(a.cmd, input=b"second client\n",
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=10)
            rc, out = p.returncode, p.stdout.decode(errors="replace").strip()
        except subprocess.TimeoutExpired:
            rc, out = "timeout", ""
    peak = max(peak, rss_kb(a.pid))
    raw.close()
    print("sent=%d rss_before=%d rss_peak=%d growth=%d second_rc=%s second_out=%s"
          % (sent, before, peak, peak - before, rc, out.replace("\n", "|")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
