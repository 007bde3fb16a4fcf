"""Fills GROUP on a local news server with N articles (20-60 body lines,
some quoted, every 10th with an encoded-word subject), posting over W
connections at once. Not part of the suite: tests/bench/nntp_bench.sh.
    python3 nntp_fill.py HOST PORT GROUP N W"""
import socket
import sys
from multiprocessing import Pool

host, port, group = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n, w = int(sys.argv[4]), int(sys.argv[5])


def post_range(args):
    start, stop = args
    s = socket.create_connection((host, port))
    f = s.makefile("rb")
    f.readline()
    for i in range(start, stop):
        s.sendall(b"POST\r\n")
        line = f.readline()
        if not line.startswith(b"340"):
            raise SystemExit("POST refused: %r" % line)
        subj = b"=?UTF-8?B?R3LDvMOfZQ==?= %d" % i if i % 10 == 0 else b"bench article %d" % i
        body = []
        if i % 3 == 0:
            body.append(b"In article <b%d@bench.test>, someone wrote:" % (i - 1))
            body += [b"> quoted line %d" % k for k in range(5)]
        body += [b"line %d of article %d, some words to make it look like text" % (k, i)
                 for k in range(20 + i % 40)]
        art = (b"From: Bench %d <bench@nntp.test>\r\nNewsgroups: %s\r\nSubject: %s\r\n"
               b"Message-ID: <b%d@bench.test>\r\n\r\n" % (i % 50, group.encode(), subj, i))
        s.sendall(art + b"\r\n".join(body) + b"\r\n.\r\n")
        line = f.readline()
        if not line.startswith(b"240"):
            raise SystemExit("post failed: %r" % line)
    s.sendall(b"QUIT\r\n")
    s.close()
    return stop - start


step = (n + w - 1) // w
with Pool(w) as p:
    done = sum(p.map(post_range, [(k, min(k + step, n)) for k in range(0, n, step)]))
print("posted", done)
