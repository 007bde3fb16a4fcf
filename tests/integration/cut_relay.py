#!/usr/bin/python3
"""A TCP relay that cuts connections, for the retry/resume tests and the
resume benchmark.

    cut_relay.py --listen-port-file F --target HOST:PORT [--ftp]
                 [--cut-every BYTES | --cut-at B1,B2,...] [--cuts N]
                 [--stats FILE] [--lie] [--stall-226]

Every connection to the relay is forwarded to the target. Bytes carried
(both directions of the connections that carry data: every connection, or
with --ftp only the data connections) are counted in one running total;
when the total crosses the next cut point (every BYTES, or the listed
offsets), the connection that carried it is reset (RST, SO_LINGER 0) at
once, both sides. --cuts limits how many cuts are made, after which
everything passes. With --ftp the control connection's 227/229 replies are
rewritten so the data connections go through the relay too (each passive
port gets a relay listener of its own); --lie also changes every digest in
the server's 213/250 replies (a server that lies about its checksums);
--stall-226 passes nothing more to the client on a control connection once
the server says 226 (the transfer's final reply, and all after it, never
arrive: a server or NAT box that stalls after the data).

--stats FILE is rewritten after every connection ends: JSON with the bytes
carried each way, connections, cuts. The port the relay listens on (chosen
by the kernel) is written to --listen-port-file.
"""
import argparse
import asyncio
import json
import os
import re
import socket
import struct
import sys


class State:
    def __init__(self, args):
        self.args = args
        self.total = 0
        self.up = 0      # client -> server
        self.down = 0    # server -> client
        self.conns = 0
        self.cuts = 0
        if args.cut_at:
            self.points = sorted(int(x) for x in args.cut_at.split(","))
        else:
            self.points = None
        self.next_cut = self._point(0)

    def _point(self, i):
        if self.args.cuts is not None and i >= self.args.cuts:
            return None
        if self.points is not None:
            return self.points[i] if i < len(self.points) else None
        if self.args.cut_every:
            return self.args.cut_every * (i + 1)
        return None

    def carry(self, n):
        """Counts n bytes; returns how many may pass before a cut (n: all)."""
        if self.next_cut is None or self.total + n < self.next_cut:
            self.total += n
            return n
        allowed = max(0, self.next_cut - self.total)
        self.total += allowed
        self.cuts += 1
        self.next_cut = self._point(self.cuts)
        return allowed

    def save(self):
        if not self.args.stats:
            return
        tmp = self.args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"up": self.up, "down": self.down, "total": self.up + self.down,
                       "connections": self.conns, "cuts": self.cuts}, f)
        os.replace(tmp, self.args.stats)


def reset(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def pipe(st, reader, writer, other, counted, up, cut_event, rewrite=None):
    try:
        while not cut_event.is_set():
            data = await reader.read(256 * 1024)
            if not data:
                break
            if rewrite:
                data = await rewrite(data)
            n = len(data)
            if counted:
                allowed = st.carry(n)
            else:
                allowed = n
            if allowed:
                writer.write(data[:allowed])
                if up:
                    st.up += allowed
                else:
                    st.down += allowed
            if allowed < n:
                # the cut: both connections reset now
                try:
                    await asyncio.wait_for(writer.drain(), 2)
                except Exception:
                    pass
                cut_event.set()
                reset(writer)
                reset(other)
                return
            await writer.drain()
        if not cut_event.is_set():
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass
    except (ConnectionError, OSError, asyncio.CancelledError):
        cut_event.set()
        reset(writer)
        reset(other)


def small_sndbuf(writer):
    """Bytes counted as carried but still queued in the relay's socket when
    it cuts are lost (a reset drops them): a small send buffer keeps that
    loss, which no client can avoid, small next to what is measured."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 128 * 1024)
        except OSError:
            pass


async def relay(st, creader, cwriter, host, port, counted, rewrite=None):
    st.conns += 1
    try:
        sreader, swriter = await asyncio.open_connection(host, port)
    except OSError:
        reset(cwriter)
        return
    if counted:
        small_sndbuf(cwriter)
        small_sndbuf(swriter)
    cut = asyncio.Event()
    await asyncio.gather(
        pipe(st, creader, swriter, cwriter, counted, True, cut),
        pipe(st, sreader, cwriter, swriter, counted, False, cut, rewrite))
    for w in (cwriter, swriter):
        try:
            w.close()
        except Exception:
            pass
    st.save()


PASV = re.compile(rb"^227 ([^\r\n]*?)\(?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)?", re.M)
EPSV = re.compile(rb"^229 ([^\r\n]*?)\(\|\|\|(\d+)\|\)", re.M)


async def data_listener(st, host, port):
    """A relay listener for one passive port; returns its own port."""
    async def handle(r, w):
        await relay(st, r, w, host, port, True)
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server.sockets[0].getsockname()[1]


HEXWORD = re.compile(rb"(?<![0-9A-Za-z])([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|"
                     rb"[0-9a-fA-F]{64}|[0-9a-fA-F]{128})(?![0-9A-Za-z])")


def lie(data):
    """A server that lies about checksums: in 213/250 replies, every word
    that looks like a digest gets its first digit changed."""
    out = []
    for line in data.split(b"\n"):
        if line[:3] in (b"213", b"250") or (line[:1] not in (b"1", b"2", b"3", b"4", b"5")):
            line = HEXWORD.sub(lambda m: (b"0" if m.group(1)[:1] != b"0" else b"1") + m.group(1)[1:], line)
        out.append(line)
    return b"\n".join(out)


def make_rewrite(st, host):
    stalled = [False]

    async def rewrite(data):
        if stalled[0]:
            return b""
        if st.args.stall_226:
            m = re.search(rb"^226[ -]", data, re.M)
            if m:
                stalled[0] = True
                data = data[:m.start()]
        if st.args.lie:
            data = lie(data)
        m = EPSV.search(data)
        if m:
            p = await data_listener(st, host, int(m.group(2)))
            data = data[:m.start()] + b"229 %s(|||%d|)" % (m.group(1), p) + data[m.end():]
        m = PASV.search(data)
        if m:
            real = int(m.group(6)) * 256 + int(m.group(7))
            p = await data_listener(st, host, real)
            data = (data[:m.start()] + b"227 %s(127,0,0,1,%d,%d)" % (m.group(1), p // 256, p % 256)
                    + data[m.end():])
        return data
    return rewrite


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen-port-file", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--ftp", action="store_true")
    ap.add_argument("--cut-every", type=int)
    ap.add_argument("--cut-at")
    ap.add_argument("--cuts", type=int)
    ap.add_argument("--stats")
    ap.add_argument("--lie", action="store_true",
                    help="with --ftp: change the digests in 213/250 replies")
    ap.add_argument("--stall-226", action="store_true",
                    help="with --ftp: nothing more to the client from its 226 on")
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    port = int(port)
    st = State(args)
    st.save()

    async def handle(r, w):
        if args.ftp:
            await relay(st, r, w, host, port, False, make_rewrite(st, host))
        else:
            await relay(st, r, w, host, port, True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    tmp = args.listen_port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.sockets[0].getsockname()[1])
    os.replace(tmp, args.listen_port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
