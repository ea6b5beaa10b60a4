"""http module, reverse proxy: 100 MiB through the proxy both ways, byte
for byte, with the proxy's peak RSS (VmHWM) far under the size: a download
from a static loomd read by a client that pauses before reading (the
proxy must stop reading the upstream), and uploads (Content-Length and
chunked) to a python upstream that pauses before reading the body (the
proxy must stop reading the client)."""

import hashlib
import os
import socket
import time
import unittest

import loomtest
from loomtest import own, WAIT
from httptest import (curl_fetch, HttpD, make_random_file, parse_response, sha256_file,
                      static_server)
import proxytest
from proxytest import (clear_peak_rss, json_body, peak_rss_kb, proxy_loc, proxy_server,
                       upstream_section)

MIB = 100
# The proxy's peak RSS over one transfer of MIB MiB: far under the size.
RSS_LIMIT_KB = 40 * 1024


def sink_respond(up, req):
    return (200, [("Content-Type", "application/json")],
            ('{"len": %d, "sha256": "%s", "chunked": %s, "content_length": %s}'
             % (req.body_len, req.body_sha256, "true" if req.chunked else "false",
                '"%s"' % req.get("content-length") if req.has("content-length") else "null"))
            .encode())


class Large(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = own(cls, HttpD(static_server(), tree={"www/hello.txt": b"hi\n"}))
        cls.sink = own(cls, proxytest.Upstream("sink", respond=sink_respond, keep_body=False,
                                               body_delay=1.0)).start()
        cls.path = cls.up.path("www/big.bin")
        cls.sha = make_random_file(cls.path, MIB)
        cls.size = MIB << 20
        cls.up.start()
        cls.d = own(cls, HttpD(proxy_server([proxy_loc("/p/", "back", proxy_prefix="/"),
                                             proxy_loc("/sink/", "sink", max_body="200M")]),
                               opts=upstream_section("back", [cls.up.port]) +
                               upstream_section("sink", [cls.sink.port]), tree={"www": None}))
        cls.d.start()

    def measure_start(self):
        # warm up (first connections, buffers), then reset the peak
        r = self.d.get("/p/hello.txt")
        self.assertEqual(r.status, 200, r)
        self.cleared = clear_peak_rss(self.d.pid)

    def check_peak(self, what):
        # without clear_refs this is the lifetime peak, which bounds this one's
        peak = peak_rss_kb(self.d.pid)
        print("# proxy loomd peak RSS over the %s: %d kB" % (what, peak), flush=True)
        if not loomtest.SANITIZED:
            self.assertLess(peak, RSS_LIMIT_KB, "proxy loomd peak RSS %d kB over the %s"
                            % (peak, what))

    def test_download_paused_client(self):
        self.measure_start()
        h = hashlib.sha256()
        n = 0
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=WAIT * 3) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /p/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "closed inside the head")
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            r, _ = parse_response(head + b"\r\n\r\n", head=True)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.get("content-length"), str(self.size), r)
            time.sleep(1.0)  # let the proxy run into a full client socket
            h.update(rest)
            n = len(rest)
            while n < self.size:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
        self.assertEqual(n, self.size)
        self.assertEqual(h.hexdigest(), self.sha)
        self.check_peak("download")

    def test_download_curl(self):
        out = self.d.path("download.bin")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        self.measure_start()
        r = curl_fetch(self.d.url("/p/big.bin"), out=out, timeout=600)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(os.path.getsize(out), self.size)
        self.assertEqual(sha256_file(out), self.sha)
        self.check_peak("curl download")

    def upload(self, extra, what):
        self.measure_start()
        r = curl_fetch(self.d.url("/sink/up"), ["-T", self.path, "-X", "POST",
                                                "-H", "Expect:"] + extra, timeout=600)
        self.assertEqual(r.status, 200, r)
        got = json_body(r)
        self.assertEqual(got["len"], self.size, got)
        self.assertEqual(got["sha256"], self.sha, got)
        self.check_peak(what)
        return got

    def test_upload_content_length(self):
        got = self.upload([], "upload")
        self.assertEqual(got["content_length"], str(self.size), got)
        self.assertFalse(got["chunked"], got)

    def test_upload_chunked(self):
        got = self.upload(["-H", "Transfer-Encoding: chunked"], "chunked upload")
        self.assertTrue(got["chunked"], got)


if __name__ == "__main__":
    loomtest.main()
