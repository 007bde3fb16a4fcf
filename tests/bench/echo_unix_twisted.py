#!/usr/bin/python3
"""Twisted UNIX-socket echo server: the Twisted anchor of unix_bench.sh.

echo_twisted.py's Echo protocol (dataReceived writes the data back) served
by listenUNIX on the default reactor (epoll on Linux).

usage: echo_unix_twisted.py PATH     (run with /usr/bin/python3)
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
    if len(sys.argv) != 2:
        sys.stderr.write("usage: echo_unix_twisted.py PATH\n")
        return 64
    reactor.listenUNIX(sys.argv[1], EchoFactory(), backlog=1024)
    print("listening on unix %s (%s)" % (sys.argv[1], type(reactor).__name__),
          flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
