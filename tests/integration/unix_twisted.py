#!/usr/bin/python3
"""Twisted's UNIX socket server and client, the peers of unix_peers.sh.

usage: /usr/bin/python3 unix_twisted.py MODE ARGS
  server PATH         timestamp server (listenUNIX): answers every chunk with
                      b"[ctime] data", as tsTservTW.py does over TCP; a PATH
                      starting with "@" is a Linux abstract name
  client PATH LINE    connectUNIX, sends LINE + "\\n", prints the reply, exits
  fdserver PATH       receives descriptors (IFileDescriptorReceiver): writes
                      "written by twisted\\n" into each, then answers
                      "fds N\\n" once the client half-closes
  fdclient PATH FILE  opens FILE for appending, sends its descriptor with
                      one byte (sendFileDescriptor), prints the server's reply
Every mode gives up after 15 s (a test never hangs on it).
"""
import os
import sys
from time import ctime

from zope.interface import implementer
from twisted.internet import protocol, reactor
from twisted.internet.interfaces import IFileDescriptorReceiver, IHalfCloseableProtocol

MODE, NAME = sys.argv[1], sys.argv[2]
ADDR = "\0" + NAME[1:] if NAME.startswith("@") else NAME
reactor.callLater(15, lambda: (print("timeout", flush=True), reactor.stop()))


class TSServ(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(b"[%s]: %s" % (ctime().encode(), data))


@implementer(IFileDescriptorReceiver, IHalfCloseableProtocol)
class FDServ(protocol.Protocol):
    def connectionMade(self):
        self.n = 0

    def fileDescriptorReceived(self, fd):
        os.write(fd, b"written by twisted\n")
        os.close(fd)
        self.n += 1

    def dataReceived(self, data):
        pass

    def readConnectionLost(self):
        self.transport.write(b"fds %d\n" % self.n)
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass


class Client(protocol.Protocol):
    def connectionMade(self):
        if MODE == "client":
            self.transport.write(sys.argv[3].encode() + b"\n")
        else:
            # Twisted sends the descriptor later, from doWrite: it must stay
            # open until the connection is gone.
            self.fd = os.open(sys.argv[3], os.O_WRONLY | os.O_APPEND)
            self.transport.sendFileDescriptor(self.fd)
            self.transport.write(b"F")
            reactor.callLater(0.2, self.transport.loseWriteConnection)
        self.buf = b""

    def dataReceived(self, data):
        self.buf += data
        if b"\n" in self.buf:
            print(self.buf.decode(errors="replace").rstrip("\n"), flush=True)
            self.transport.loseConnection()

    def connectionLost(self, reason):
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
        if reactor.running:
            reactor.stop()


class ClientFactory(protocol.ClientFactory):
    protocol = Client

    def clientConnectionFailed(self, connector, reason):
        print("failed:", reason.getErrorMessage(), flush=True)
        reactor.stop()


if MODE in ("server", "fdserver"):
    f = protocol.Factory()
    f.protocol = TSServ if MODE == "server" else FDServ
    # A server runs until the test stops it: no 15 s limit.
    for c in reactor.getDelayedCalls():
        c.cancel()
    reactor.listenUNIX(ADDR, f)
    print("ready", flush=True)
else:
    reactor.connectUNIX(ADDR, ClientFactory(), timeout=10)
reactor.run()
