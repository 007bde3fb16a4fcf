#!/usr/bin/python3
"""A fast multipart/form-data receiver for big uploads (http_upload.sh).

Werkzeug spools every file part to disk and parses at ~160 MB/s, so a 3 GiB
upload takes ~20 s there; this one parses the stream as it arrives (raw
sockets, bytes.find, hashlib) and reports, per part, its name, filename,
content type, size and SHA-256, as JSON. It is a second, independent
parser: none of nettool's code.

usage: /usr/bin/python3 http_fast_receiver.py PORTFILE [--rate BYTES_PER_S]
  Binds 127.0.0.1 on a free port and writes it to PORTFILE. One connection
  at a time; any method; "Expect: 100-continue" is answered. --rate reads
  slowly (for progress-bar tests). Stops on SIGTERM.
"""
import hashlib
import json
import re
import socket
import sys
import time

CHUNK = 1 << 20


def unquote(v):
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = re.sub(r'\\(.)', r'\1', v[1:-1])
    return v


def disposition(header_block):
    name = filename = None
    ctype = None
    for line in header_block.split(b"\r\n"):
        k, _, v = line.decode("utf-8", "replace").partition(":")
        k = k.strip().lower()
        v = v.strip()
        if k == "content-type":
            ctype = v
        elif k == "content-disposition":
            for m in re.finditer(r';\s*([A-Za-z*]+)=("(?:[^"\\]|\\.)*"|[^;]*)', v):
                if m.group(1).lower() == "name":
                    name = unquote(m.group(2))
                elif m.group(1).lower() == "filename":
                    filename = unquote(m.group(2))
    return name, filename, ctype


class Parser:
    """Streaming RFC 2046 parser: feed() bytes, then parts."""

    def __init__(self, boundary):
        self.delim = b"\r\n--" + boundary
        self.buf = bytearray(b"\r\n")  # the first delimiter has no CRLF
        self.state = "preamble"
        self.parts = []
        self.cur = None
        self.h = None

    def feed_buf(self, rb, n):
        """feed(rb[:n]) without copying in the common case: inside a part,
        no delimiter in sight, at most len(delim) - 1 bytes held back."""
        L = len(self.delim)
        if self.state != "data" or len(self.buf) >= L or n < L:
            return self.feed(bytes(rb[:n]))
        edge = bytes(self.buf) + bytes(rb[: L - 1])
        if edge.find(self.delim) >= 0 or rb.find(self.delim, 0, n) >= 0:
            return self.feed(bytes(rb[:n]))  # a part ends here: the slow way
        self.h.update(self.buf)
        self.h.update(memoryview(rb)[: n - (L - 1)])
        self.cur["size"] += len(self.buf) + n - (L - 1)
        self.buf = bytearray(rb[n - (L - 1): n])

    def feed(self, data):
        self.buf += data
        while True:
            if self.state in ("preamble", "data"):
                i = self.buf.find(self.delim)
                if i < 0:
                    keep = len(self.delim) - 1
                    n = len(self.buf) - keep
                    if n > 0:
                        if self.state == "data":
                            self.h.update(memoryview(self.buf)[:n])
                            self.cur["size"] += n
                        del self.buf[:n]
                    return
                if self.state == "data":
                    self.h.update(memoryview(self.buf)[:i])
                    self.cur["size"] += i
                    self.cur["sha256"] = self.h.hexdigest()
                    self.parts.append(self.cur)
                del self.buf[: i + len(self.delim)]
                self.state = "after"
            if self.state == "after":
                if len(self.buf) < 2:
                    return
                if self.buf[:2] == b"--":
                    self.state = "epilogue"
                    self.buf.clear()
                    return
                if self.buf[:2] != b"\r\n":
                    raise ValueError("bad delimiter line")
                del self.buf[:2]
                self.state = "headers"
            if self.state == "headers":
                i = self.buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(self.buf) > 65536:
                        raise ValueError("part headers too long")
                    return
                name, filename, ctype = disposition(bytes(self.buf[:i]))
                del self.buf[: i + 4]
                self.cur = {"name": name, "filename": filename,
                            "content_type": ctype, "size": 0}
                self.h = hashlib.sha256()
                self.state = "data"
            if self.state == "epilogue":
                self.buf.clear()
                return


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 65536:
            raise ValueError("head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return (lines[0], headers), rest


def body_chunks(conn, headers, rest, rate):
    """Yields the body, de-chunked if needed."""
    def recv():
        if rate:
            time.sleep(min(CHUNK, rate) / rate)
            return conn.recv(min(CHUNK, rate))
        return conn.recv(CHUNK)

    if headers.get("transfer-encoding", "").lower() == "chunked":
        buf = bytearray(rest)
        while True:
            while b"\r\n" not in buf:
                buf += recv()
            line, _, tail = bytes(buf).partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            buf = bytearray(tail)
            if size == 0:
                return
            while len(buf) < size + 2:
                more = recv()
                if not more:
                    raise ValueError("truncated chunk")
                buf += more
            yield bytes(buf[:size])
            del buf[: size + 2]
    left = int(headers.get("content-length", "0"))
    if rest:
        yield rest[:left]
        left -= len(rest[:left])
    while left > 0:
        chunk = recv()
        if not chunk:
            raise ValueError("truncated body")
        chunk = chunk[:left]
        left -= len(chunk)
        yield chunk


def serve(conn, rate):
    (line, headers), rest = read_head(conn)
    if line is None:
        return
    if headers.get("expect", "").lower() == "100-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    m = re.search(r'boundary="?([^";]+)"?', headers.get("content-type", ""))
    report = {"request": line, "content_length": headers.get("content-length"),
              "transfer_encoding": headers.get("transfer-encoding"),
              "authorization": "authorization" in headers}
    total = 0
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    if m and not chunked:
        p = Parser(m.group(1).encode())
        left = int(headers.get("content-length", "0"))
        first = rest[:left]
        p.feed(first)
        total = len(first)
        left -= len(first)
        rb = bytearray(CHUNK)
        while left > 0:
            want = min(CHUNK, left, rate or CHUNK)
            if rate:
                time.sleep(want / rate)
            n = conn.recv_into(rb, want)
            if n <= 0:
                raise ValueError("truncated body")
            total += n
            left -= n
            p.feed_buf(rb, n)
        report["complete"] = p.state == "epilogue"
        report["files"] = p.parts
    elif m:
        p = Parser(m.group(1).encode())
        for chunk in body_chunks(conn, headers, rest, rate):
            total += len(chunk)
            p.feed(chunk)
        report["complete"] = p.state == "epilogue"
        report["files"] = p.parts
    else:
        h = hashlib.sha256()
        for chunk in body_chunks(conn, headers, rest, rate):
            total += len(chunk)
            h.update(chunk)
        report["raw_sha256"] = h.hexdigest()
    report["received"] = total
    body = (json.dumps(report, indent=1) + "\n").encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def main():
    portfile = sys.argv[1]
    rate = int(sys.argv[sys.argv.index("--rate") + 1]) if "--rate" in sys.argv else 0
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = s.accept()
        conn.settimeout(60)
        try:
            serve(conn, rate)
        except Exception as e:  # report, keep serving
            try:
                msg = ("error: %s\n" % e).encode()
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(msg) + msg)
            except OSError:
                pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
