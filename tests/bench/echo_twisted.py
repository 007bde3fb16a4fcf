#!/usr/bin/python3
"""Twisted echo server: benchmark anchor for nettool, over TCP (run.sh) or
a UNIX socket (unix_bench.sh).

The echo server from Twisted's documentation ("Writing Servers"): a Protocol
whose dataReceived writes the data back, served by a Factory on the default
reactor (epoll on Linux).

usage: echo_twisted.py PORT [ADDR]      (ADDR defaults to 127.0.0.1)
       echo_twisted.py --unix PATH      (listenUNIX)
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
    args = sys.argv[1:]
    if len(args) not in (1, 2) or (args[0] == "--unix" and len(args) != 2):
        sys.stderr.write("usage: echo_twisted.py PORT [ADDR] | "
                         "echo_twisted.py --unix PATH\n")
        return 64
    if args[0] == "--unix":
        reactor.listenUNIX(args[1], EchoFactory(), backlog=1024)
        where = "unix %s" % args[1]
    else:
        port = int(args[0])
        addr = args[1] if len(args) > 1 else "127.0.0.1"
        # A deep backlog, as the C servers use: the default of 50 drops SYNs
        # when a benchmark opens thousands of connections.
        reactor.listenTCP(port, EchoFactory(), backlog=1024, interface=addr)
        where = "tcp %s:%d" % (addr, port)
    print("listening on %s (%s)" % (where, type(reactor).__name__), flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
