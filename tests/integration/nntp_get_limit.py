#!/usr/bin/python3
"""A news provider's connection limit in front of a real server, for
nntp_get.sh: listens on 127.0.0.1 (port 0: a free one, printed first),
relays the first LIMIT connections at a time to 127.0.0.1:UPSTREAM, and
answers any further one "400 too many connections" and closes it, as
providers do. Prints "attempts N" after each relayed connection ends.
  nntp_get_limit.py LIMIT UPSTREAM_PORT
"""
import socket
import sys
import threading

limit, upstream = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print(ls.getsockname()[1], flush=True)
live, attempts, lock = [0], [0], threading.Lock()


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(c):
    with lock:
        attempts[0] += 1
        ok = live[0] < limit
        if ok:
            live[0] += 1
    if not ok:
        c.sendall(b"400 too many connections\r\n")
        c.close()
        return
    u = socket.create_connection(("127.0.0.1", upstream))
    t = threading.Thread(target=pipe, args=(u, c))
    t.start()
    pipe(c, u)
    t.join()
    with lock:
        live[0] -= 1
        print("attempts", attempts[0], flush=True)


while True:
    conn, _ = ls.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
