#!/usr/bin/python3
"""Twisted timestamp server: benchmark anchor for `nettool ts-server`.

For every chunk received it replies b"[%s]: %s" % (ctime(), data), as the
timestamp protocol specifies, with a plain Twisted Protocol and Factory on the
default reactor (epoll on Linux).

usage: ts_twisted.py PORT [ADDR]        (ADDR defaults to 127.0.0.1)
Run it with the system interpreter (/usr/bin/python3, python3-twisted).
"""
import sys
from time import ctime

from twisted.internet import protocol, reactor


class Timestamp(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(b"[%s]: %s" % (ctime().encode(), data))


class TimestampFactory(protocol.Factory):
    protocol = Timestamp
    noisy = False


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: ts_twisted.py PORT [ADDR]\n")
        return 64
    port = int(sys.argv[1])
    addr = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    reactor.listenTCP(port, TimestampFactory(), backlog=1024, interface=addr)
    print("listening on tcp %s:%d (%s)" % (addr, port, type(reactor).__name__),
          flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
