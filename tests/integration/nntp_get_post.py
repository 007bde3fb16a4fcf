#!/usr/bin/python3
"""Article surgery for nntp_get.sh, over plain NNTP on 127.0.0.1 (stdlib
sockets only; bytes kept as they are, yEnc is 8-bit):

  copy SRC_PORT DST_PORT MSGID [NEWID]   ARTICLE MSGID from SRC, POST it to
                                        DST (as NEWID when given)
  forge SRC_PORT DST_PORT MSGID NEWID    the same with one data byte of the
                                        yEnc body changed: its CRC32 fails
  zero PORT GROUP MSGID NAME             a single-part yEnc article of a
                                        0-byte file (Nyuu skips those)
  post PORT GROUP FILE PART NZB          FILE as yEnc 1.3 multi-part
                                        articles of PART bytes, and the NZB
                                        listing them (for tests without
                                        Nyuu: proxy.sh)
"""
import os
import socket
import sys
import zlib

KEEP = (b"from", b"newsgroups", b"subject", b"date", b"organization")


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
        self.f = self.s.makefile("rb")
        self.expect(b"20")

    def line(self):
        ln = self.f.readline()
        if not ln:
            raise SystemExit("server closed")
        return ln.rstrip(b"\r\n")

    def expect(self, prefix):
        ln = self.line()
        if not ln.startswith(prefix):
            raise SystemExit("unexpected reply: %r" % ln)
        return ln

    def cmd(self, text, prefix):
        self.s.sendall(text + b"\r\n")
        return self.expect(prefix)

    def article(self, msgid):
        self.cmd(b"ARTICLE " + msgid, b"220")
        lines = []
        while True:
            ln = self.line()
            if ln == b".":
                return lines
            lines.append(ln[1:] if ln.startswith(b"..") else ln)

    def post(self, lines):
        self.cmd(b"POST", b"340")
        out = b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)
        self.s.sendall(out + b".\r\n")
        self.expect(b"240")

    def close(self):
        try:
            self.cmd(b"QUIT", b"205")
        except SystemExit:
            pass
        self.s.close()


def rebuilt(lines, newid):
    """Headers we may post (From, Newsgroups, Subject, Date...), the new
    Message-ID, then the body as it was."""
    sep = lines.index(b"")
    heads = [h for h in lines[:sep] if h.split(b":", 1)[0].strip().lower() in KEEP]
    return heads + [b"Message-ID: " + newid, b""] + lines[sep + 1:]


def corrupt(lines):
    """One byte of the first data line after =ypart, where changing it
    neither makes nor breaks an escape."""
    body = lines.index(b"") + 1
    for i in range(body, len(lines)):
        if lines[i].startswith(b"=ypart"):
            ln = bytearray(lines[i + 1])
            for j in range(1, len(ln)):
                c = ln[j] ^ 0x01
                if ln[j] != 0x3D and ln[j - 1] != 0x3D and c not in (0, 10, 13, 0x3D):
                    ln[j] = c
                    lines[i + 1] = bytes(ln)
                    return lines
    raise SystemExit("no yEnc data line to change")


def yenc_lines(data, width=128):
    """yEnc 1.3 data lines: every byte + 42; NUL, LF, CR, '=' escaped, and
    TAB, space and '.' too (allowed anywhere, needed at the line ends)."""
    out, cur = [], bytearray()
    for b in data:
        c = (b + 42) & 0xFF
        if c in (0, 9, 10, 13, 32, 0x2E, 0x3D):
            cur += bytes((0x3D, (c + 64) & 0xFF))
        else:
            cur.append(c)
        if len(cur) >= width:
            out.append(bytes(cur))
            cur = bytearray()
    if cur:
        out.append(bytes(cur))
    return out


def post_file(port, group, path, part, nzb):
    data = open(path, "rb").read()
    name = os.path.basename(path).encode()
    total = max(1, (len(data) + part - 1) // part)
    crc = zlib.crc32(data)
    segs = []
    d = Conn(port)
    for p in range(1, total + 1):
        chunk = data[(p - 1) * part:p * part]
        msgid = b"<%s-%d-%d@post.test>" % (name, p, os.getpid())
        body = [b"=ybegin part=%d total=%d line=128 size=%d name=%s" % (p, total, len(data), name),
                b"=ypart begin=%d end=%d" % ((p - 1) * part + 1, (p - 1) * part + len(chunk))]
        body += yenc_lines(chunk)
        body.append(b"=yend size=%d part=%d pcrc32=%08x crc32=%08x" %
                    (len(chunk), p, zlib.crc32(chunk), crc))
        d.post([b"From: Poster <poster@post.test>", b"Newsgroups: " + group,
                b'Subject: "%s" yEnc (%d/%d)' % (name, p, total), b"Message-ID: " + msgid, b""]
               + body)
        segs.append((p, sum(len(x) + 2 for x in body), msgid[1:-1]))
    d.close()
    with open(nzb, "wb") as f:
        f.write(b'<?xml version="1.0" encoding="utf-8"?>\n'
                b'<nzb xmlns="http://www.newzbin.com/DTD/2003/nzb">\n'
                b'<file poster="Poster" date="1" subject="&quot;%s&quot; yEnc (1/%d)">'
                b"<groups><group>%s</group></groups><segments>\n" % (name, total, group))
        for p, size, mid in segs:
            f.write(b'<segment bytes="%d" number="%d">%s</segment>\n' % (size, p, mid))
        f.write(b"</segments></file>\n</nzb>\n")


def main():
    a = [x.encode() for x in sys.argv[1:]]
    if a and a[0] in (b"copy", b"forge"):
        src, dst, msgid = a[1], a[2], a[3]
        newid = a[4] if len(a) > 4 else msgid
        c = Conn(src)
        lines = c.article(msgid)
        c.close()
        lines = rebuilt(lines, newid)
        if a[0] == b"forge":
            lines = corrupt(lines)
        d = Conn(dst)
        d.post(lines)
        d.close()
    elif a and a[0] == b"zero":
        port, group, msgid, name = a[1], a[2], a[3], a[4]
        d = Conn(port)
        d.post([b"From: Nyuu <nyuu@nntp.test>", b"Newsgroups: " + group,
                b'Subject: [1/1] - "' + name + b'" yEnc (1/1) 0', b"Message-ID: " + msgid, b"",
                b"=ybegin part=1 total=1 line=128 size=0 name=" + name,
                b"=ypart begin=1 end=0",
                b"=yend size=0 part=1 pcrc32=00000000 crc32=00000000"])
        d.close()
    elif a and a[0] == b"post":
        post_file(a[1], a[2], sys.argv[4], int(a[4]), sys.argv[6])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
