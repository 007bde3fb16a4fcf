#!/usr/bin/env python3
"""A TCP relay on 127.0.0.1 that counts the connections it accepts, in
front of a real server (nntp_pipeline_inn.sh puts it before INN to count
the connections of nntp-read --connections N).

    nntp_count_relay.py TARGET_PORT COUNT_FILE

Prints its own port (one line), then relays every connection to
127.0.0.1:TARGET_PORT byte for byte, both ways, and rewrites COUNT_FILE
with the number accepted so far (the test resets it by writing 0). Runs
until killed, at most 10 minutes."""
import socket
import sys
import threading
import time

target = int(sys.argv[1])
count_file = sys.argv[2]
lock = threading.Lock()


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def relay(c):
    try:
        s = socket.create_connection(("127.0.0.1", target), timeout=10)
    except OSError:
        c.close()
        return
    s.settimeout(None)
    t = threading.Thread(target=pump, args=(s, c), daemon=True)
    t.start()
    pump(c, s)
    t.join(60)
    c.close()
    s.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
srv.settimeout(1)
print(srv.getsockname()[1], flush=True)
deadline = time.time() + 600
while time.time() < deadline:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    with lock:
        try:
            n = int(open(count_file).read().strip() or 0)
        except (OSError, ValueError):
            n = 0
        with open(count_file, "w") as f:
            f.write("%d\n" % (n + 1))
    threading.Thread(target=relay, args=(c,), daemon=True).start()
