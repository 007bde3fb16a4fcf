#!/usr/bin/python3
"""Twisted echo server: benchmark anchor for nettool.

The echo server from Twisted's documentation ("Writing Servers"): a Protocol
whose dataReceived writes the data back, served by a Factory on the default
reactor (epoll on Linux).

usage: echo_twisted.py PORT [ADDR]      (ADDR defaults to 127.0.0.1)
Run it with the system interpreter (/usr/bin/python3, python3-twisted).
"""
import sys

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class EchoFactory(protocol.Factory):
    protocol = Echo
    noisy = False


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: echo_twisted.py PORT [ADDR]\n")
        return 64
    port = int(sys.argv[1])
    addr = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    # A deep backlog, as the C servers use: the default of 50 drops SYNs
    # when a benchmark opens thousands of connections.
    reactor.listenTCP(port, EchoFactory(), backlog=1024, interface=addr)
    print("listening on tcp %s:%d (%s)" % (addr, port, type(reactor).__name__),
          flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
