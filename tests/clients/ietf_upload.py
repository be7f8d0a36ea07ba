#!/usr/bin/env python3
"""Upload FILE with the IETF draft "Resumable Uploads for HTTP" over raw HTTP/1.1 sockets.

    python3 ietf_upload.py ENDPOINT FILE VERSION MODE [--expect-104]

VERSION is the interop version (9, 8 or 6). MODE:
  one     the whole file in one creation request (Upload-Complete: ?1)
  parts   a creation with the first part (?0), then appends sent with chunked
          transfer encoding, the last with ?1
  resume  a ?1 creation cut after 40% of the body, then offset retrieval and an
          append of the rest; with --expect-104 the upload URL comes from the 104,
          else from an empty ?0 creation made first (servers that cannot send 104)

With --expect-104 every creation must be answered by a 104 (Upload Resumption
Supported) echoing the interop version and carrying Location before the final
response (later progress 104s carry Upload-Offset instead); without it, none
may arrive. Prints the upload URL as the last stdout
line; diagnostics go to stderr. Exit code 0 on success. Standard library only.
"""

import socket
import sys
import time
import urllib.parse

TIMEOUT = 30.0
PART = 8 * 1024 * 1024
BLOCK = 1 << 20


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buf = b""
        self.host = f"{host}:{port}"

    def send_head(self, method, path, headers):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send_file(self, path, start, length, chunked=False):
        with open(path, "rb") as f:
            f.seek(start)
            left = length
            while left > 0:
                block = f.read(min(BLOCK, left))
                if not block:
                    fail("file ended early")
                if chunked:
                    self.sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                else:
                    self.sock.sendall(block)
                left -= len(block)
        if chunked:
            self.sock.sendall(b"0\r\n\r\n")

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed before a whole response")
        self.buf += data

    def read(self, is_head=False):
        """One response (interim or final): (status, {lower-name: value}, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = 0 if is_head or status < 200 else int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def read_final(self, is_head=False):
        interim = []
        for _ in range(10):
            status, headers, body = self.read(is_head)
            if 100 <= status < 200:
                interim.append((status, headers))
            else:
                return interim, (status, headers, body)
        fail("more than 10 interim responses")

    def close(self):
        self.sock.close()


def sf_bool(value):
    return "?1" if value else "?0"


def request(url, method, headers, body=b""):
    u = urllib.parse.urlsplit(url)
    c = Conn(u.hostname, u.port)
    try:
        headers = dict(headers)
        headers["Content-Length"] = str(len(body))
        c.send_head(method, u.path or "/", headers)
        if body:
            c.sock.sendall(body)
        return c.read_final(is_head=(method == "HEAD"))
    finally:
        c.close()


def check_104(interim, version, expect):
    if not expect:
        if interim:
            fail(f"no interim response expected, got {interim}")
        return None
    if not interim or any(status != 104 for status, _ in interim):
        fail(f"expected 104s before the final response, got {interim}")
    for index, (_, headers) in enumerate(interim):
        if headers.get("upload-draft-interop-version") != str(version):
            fail(f"a 104 does not echo interop version {version}: {headers}")
        # The first announces the upload; later ones report progress.
        if index == 0 and "location" not in headers:
            fail(f"the first 104 has no Location: {headers}")
        if index > 0 and ("location" in headers or "upload-offset" not in headers):
            fail(f"a progress 104 must carry Upload-Offset and no Location: {headers}")
    print(f"{len(interim)} 104 response(s), {len(interim) - 1} of them progress", file=sys.stderr)
    return interim[0][1]["location"]


def expect_final(final, complete, offset, what):
    status, headers, body = final
    if not 200 <= status < 300:
        fail(f"{what}: status {status}: {body[:300]!r}")
    if headers.get("upload-complete") != sf_bool(complete):
        fail(f"{what}: Upload-Complete {headers.get('upload-complete')}, want {sf_bool(complete)}")
    if headers.get("upload-offset") != str(offset):
        fail(f"{what}: Upload-Offset {headers.get('upload-offset')}, want {offset}")


def offset_of(url, version):
    prev = None
    for _ in range(100):
        _, (status, headers, _) = request(url, "HEAD", {"Upload-Draft-Interop-Version": version})
        if status not in (200, 204) or "upload-offset" not in headers:
            fail(f"offset retrieval of {url}: {status} {headers}")
        off = int(headers["upload-offset"])
        if off == prev:
            return off, headers
        prev = off
        time.sleep(0.1)
    fail(f"the offset of {url} did not settle")


def append(url, version, path, offset, length, complete, chunked=False):
    u = urllib.parse.urlsplit(url)
    c = Conn(u.hostname, u.port)
    try:
        headers = {
            "Upload-Draft-Interop-Version": version,
            "Content-Type": "application/partial-upload",
            "Upload-Offset": str(offset),
            "Upload-Complete": sf_bool(complete),
        }
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(length)
        c.send_head("PATCH", u.path, headers)
        c.send_file(path, offset, length, chunked)
        interim, final = c.read_final()
        if any(s != 104 for s, _ in interim):
            fail(f"append: unexpected interim responses {interim}")
        return final
    finally:
        c.close()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    expect = "--expect-104" in sys.argv
    if len(args) != 4:
        fail(__doc__)
    endpoint, path, version, mode = args
    import os

    size = os.path.getsize(path)
    u = urllib.parse.urlsplit(endpoint)
    base = {"Upload-Draft-Interop-Version": version}

    if mode == "one":
        c = Conn(u.hostname, u.port)
        c.send_head("POST", u.path, {**base, "Upload-Complete": "?1", "Upload-Length": str(size),
                                     "Content-Length": str(size)})
        c.send_file(path, 0, size)
        interim, final = c.read_final()
        c.close()
        location = check_104(interim, version, expect)
        expect_final(final, True, size, "one request")
        url = urllib.parse.urljoin(endpoint, final[1].get("location", ""))
        if location is not None and urllib.parse.urljoin(endpoint, location) != url:
            fail(f"the 104's Location {location} differs from the final one {url}")
    elif mode == "parts":
        first = min(PART, size)
        c = Conn(u.hostname, u.port)
        c.send_head("POST", u.path, {**base, "Upload-Complete": "?0", "Upload-Length": str(size),
                                     "Content-Length": str(first)})
        c.send_file(path, 0, first)
        interim, final = c.read_final()
        c.close()
        check_104(interim, version, expect)
        expect_final(final, False, first, "creation with the first part")
        url = urllib.parse.urljoin(endpoint, final[1]["location"])
        offset = first
        while offset < size:
            length = min(PART, size - offset)
            last = offset + length == size
            final = append(url, version, path, offset, length, last, chunked=True)
            expect_final(final, last, offset + length, f"append at {offset}")
            offset += length
    elif mode == "resume":
        cut = size * 2 // 5
        c = Conn(u.hostname, u.port)
        if expect:
            c.send_head("POST", u.path, {**base, "Upload-Complete": "?1", "Upload-Length": str(size),
                                         "Content-Length": str(size)})
            status, headers, _ = c.read()
            location = check_104([(status, headers)], version, True)
            url = urllib.parse.urljoin(endpoint, location)
        else:
            _, final = request(endpoint, "POST", {**base, "Upload-Complete": "?0", "Upload-Length": str(size)})
            expect_final(final, False, 0, "empty creation")
            url = urllib.parse.urljoin(endpoint, final[1]["location"])
            c.send_head("PATCH", urllib.parse.urlsplit(url).path, {
                **base, "Content-Type": "application/partial-upload", "Upload-Offset": "0",
                "Upload-Complete": "?1", "Content-Length": str(size)})
        c.send_file(path, 0, cut)
        c.close()  # the network goes away
        offset, headers = offset_of(url, version)
        if not 0 < offset <= cut:
            fail(f"offset after the cut at {cut} is {offset}")
        if headers.get("upload-complete") != "?0" or headers.get("upload-length") != str(size):
            fail(f"offset retrieval after the cut: {headers}")
        print(f"cut at {cut}, server kept {offset}; resuming", file=sys.stderr)
        final = append(url, version, path, offset, size - offset, True)
        expect_final(final, True, size, "resumed append")
    else:
        fail(f"unknown mode {mode}")
    print(url)


if __name__ == "__main__":
    main()
