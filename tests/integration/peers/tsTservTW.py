#!/usr/bin/python3
# Copied unchanged (but for these two lines) from the shared peer kit, /work/shared/peers/tsTservTW.py
# (PEERS.md section 6); run by tests/integration/twisted_interop.sh with /usr/bin/python3.
"""Twisted timestamp server (Core Python Programming tsTservTW.py, ported to Python 3).
usage: /usr/bin/python3 tsTservTW.py [PORT [HOST]]   (default 21567 127.0.0.1)
Replies to every chunk received with b'[%s] %s' % (ctime(), data)  -- per TCP read, not per line.
"""
import sys
from time import ctime
from twisted.internet import protocol, reactor

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 21567
HOST = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"


class TSServProtocol(protocol.Protocol):
    def connectionMade(self):
        self.clnt = self.transport.getPeer().host
        print("...connected from:", self.clnt, flush=True)

    def dataReceived(self, data):
        self.transport.write(b"[%s] %s" % (ctime().encode(), data))


factory = protocol.Factory()
factory.protocol = TSServProtocol
print("waiting for connection...", flush=True)
reactor.listenTCP(PORT, factory, interface=HOST)
reactor.run()
