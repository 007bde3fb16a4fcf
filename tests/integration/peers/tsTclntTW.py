#!/usr/bin/python3
# Copied unchanged (but for these two lines) from the shared peer kit, /work/shared/peers/tsTclntTW.py
# (PEERS.md section 6); run by tests/integration/twisted_interop.sh with /usr/bin/python3.
"""Twisted timestamp client (Core Python Programming tsTclntTW.py, ported to Python 3).
usage: /usr/bin/python3 tsTclntTW.py [PORT [HOST]]   (default 21567 localhost)
Reads lines from stdin ('> ' prompt), sends each, prints the reply; empty line or EOF closes.
Works non-interactively:  printf 'hi\\nthere\\n' | tsTclntTW.py 21567
"""
import sys
from twisted.internet import protocol, reactor

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 21567
HOST = sys.argv[2] if len(sys.argv) > 2 else "localhost"


class TSClntProtocol(protocol.Protocol):
    def sendData(self):
        try:
            data = input("> ")
        except EOFError:
            data = ""
        if data:
            print("...sending %s..." % data, flush=True)
            self.transport.write(data.encode())
        else:
            self.transport.loseConnection()

    def connectionMade(self):
        self.sendData()

    def dataReceived(self, data):
        print(data.decode(errors="replace"), flush=True)
        self.sendData()


class TSClntFactory(protocol.ClientFactory):
    protocol = TSClntProtocol
    failed = False
    clientConnectionLost = lambda self, connector, reason: reactor.stop()

    def clientConnectionFailed(self, connector, reason):
        print("connection failed:", reason.getErrorMessage(), file=sys.stderr)
        TSClntFactory.failed = True
        reactor.stop()


reactor.connectTCP(HOST, PORT, TSClntFactory())
reactor.run()
sys.exit(1 if TSClntFactory.failed else 0)
