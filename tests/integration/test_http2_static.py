"""HTTP/2 requests through the http module's handlers: static files over
h2 give the answers HTTP/1.1 gives (200, HEAD, Range 206/416, conditional
304/412, If-Range, 404, the directory 301, gzip_static with Vary, the
virtual host by :authority or host), request bodies streamed to the echo
handler at and around the flow-control window sizes (with and without
content-length, more than the connection window on one connection),
max_body giving 413, many concurrent streams on one connection, and a
100 MiB download over h2c and over TLS (sha256 checked, loomd's peak RSS
bounded)."""

import gzip
import hashlib
import os
import unittest

import loomtest
from loomtest import own, WAIT
from httptest import (case, etag_of, http_date, HttpD, location, make_random_file, rss_kb,
                      RssSampler, sha256_file, static_server)
from h2test import (assert_h2_response_headers, assert_no_sanitizer_report, curl_h2, H2Client,
                    NO_ERROR, RawH2, vmhwm_kb)

MTIME = 1700000000
HELLO = b"Hello, world\n"
INDEX = b"<html><body>index</body></html>\n"
B1M = os.urandom(1 << 20)
B300K = os.urandom(300 * 1024 + 11)
B64K = os.urandom(65536)
RSS_LIMIT_KB = 64 * 1024


def sha(b):
    return hashlib.sha256(bytes(b)).hexdigest()


def tree():
    return {"www/hello.txt": HELLO, "www/index.html": INDEX,
            "www/dir/index.html": b"<p>dir index</p>\n",
            "www/b1m.bin": B1M, "www/b300k.bin": B300K, "www/b64k.bin": B64K,
            "www/gz/hello.txt": HELLO, "www/gz/hello.txt.gz": gzip.compress(HELLO, mtime=0),
            "www/gz/plain.txt": b"no gz sibling\n"}


# headers whose values HTTP/1.1 and HTTP/2 answers must share
SAME = ("content-type", "content-length", "content-range", "etag", "last-modified",
        "content-encoding", "vary", "location", "allow", "accept-ranges")


class Static2(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        locs = (location("/echo", {"handler": '"echo"', "max_body": '"8M"'}) +
                location("/small", {"handler": '"echo"', "max_body": '"1K"'}))
        body = (static_server("main", ["localhost"], extra_locations=locs) +
                static_server("gz", ["gz.test"], loc_opts="gzip_static = yes"))
        cls.d = HttpD(body, tls=True, tree=tree())
        own(cls, cls.d)
        for root, _, files in os.walk(cls.d.path("www")):
            for n in files:
                os.utime(os.path.join(root, n), (MTIME, MTIME))
        cls.d.start()

    def setUp(self):
        self.c = H2Client(self.d.port, window=1 << 20, conn_window=16 << 20)
        self.addCleanup(self.c.close)

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def both(self, method, path, headers=(), host="localhost"):
        """The same request over HTTP/1.1 and HTTP/2 (h2c); the answers'
        status, body and SAME headers must agree.  Returns (h1, h2)."""
        r1 = self.d.request(method, path, headers, host=host)
        r2 = self.c.request(method, path, headers=[(k.lower(), v) for k, v in headers],
                            authority=host)
        self.assertTrue(r2.ended and r2.reset is None, r2)
        assert_h2_response_headers(self, r2.headers)
        self.assertEqual(r2.status, r1.status, (r1, r2))
        self.assertEqual(bytes(r2.body), r1.body, "bodies differ: %r %r" % (r1, r2))
        for name in SAME:
            v1 = r1.get(name)
            if name == "location" and v1:   # the same target, whatever the scheme and host
                v1 = v1.split("://", 1)[-1].partition("/")[2] if "://" in v1 else v1.lstrip("/")
                v2 = r2.get(name) or ""
                v2 = v2.split("://", 1)[-1].partition("/")[2] if "://" in v2 else v2.lstrip("/")
                self.assertEqual(v2, v1, (r1, r2))
                continue
            self.assertEqual(r2.get(name), v1, "%s: %r vs %r" % (name, r1, r2))
        return r1, r2

    # ---- static --------------------------------------------------------------------

    def test_files_same_as_http11(self):
        for path, want in (("/hello.txt", HELLO), ("/", INDEX), ("/dir/", b"<p>dir index</p>\n"),
                           ("/b1m.bin", B1M), ("/b300k.bin", B300K), ("/b64k.bin", B64K)):
            with case(path=path):
                _, r = self.both("GET", path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(sha(r.body), sha(want))
                self.assertEqual(r.get("content-length"), str(len(want)), r)

    def test_same_over_tls(self):
        with H2Client(self.d.tls_port, tls=True, window=1 << 20, conn_window=16 << 20) as c:
            r = c.get("/b1m.bin")
            self.assertEqual((r.status, sha(r.body)), (200, sha(B1M)), r)
            r = c.get("/b300k.bin", headers=[("range", "bytes=1000-1999")])
            self.assertEqual((r.status, bytes(r.body)), (206, B300K[1000:2000]), r)

    def test_head(self):
        r1, r2 = self.both("HEAD", "/b300k.bin")
        self.assertEqual((r2.status, bytes(r2.body)), (200, b""), r2)
        self.assertEqual(r2.get("content-length"), str(len(B300K)), r2)
        # on the wire: HEADERS with END_STREAM, no DATA
        with RawH2(self.d.port) as c:
            st = c.get(1, "/hello.txt", method="HEAD")
            self.assertEqual((st.status, st.ended), (200, True), st)
            self.assertEqual(st.get("content-length"), str(len(HELLO)), st)
            self.assertEqual([f for f in c.frames if f.stream == 1 and f.type == 0], [],
                             c.summary())

    def test_reused_streams_longer_paths(self):
        # a connection reuses its closed streams with their buffers: a path
        # longer than any before on the connection, and short ones after it,
        # are normalised whole ("x/../" segments cancel out)
        with RawH2(self.d.port) as c:
            sid = 1
            for n in (0, 600, 1, 1500, 2, 0):
                for _ in range(20):  # more streams than are kept for reuse
                    st = c.get(sid, "/" + "x/../" * n + "hello.txt")
                    self.assertEqual((st.status, bytes(st.body)), (200, HELLO), (n, st))
                    sid += 2

    def test_range(self):
        for rng, want in (("bytes=0-4", HELLO[0:5]), ("bytes=-6", HELLO[-6:]),
                          ("bytes=7-", HELLO[7:])):
            with case(range=rng):
                _, r = self.both("GET", "/hello.txt", [("Range", rng)])
                self.assertEqual((r.status, bytes(r.body)), (206, want), r)
        _, r = self.both("GET", "/b1m.bin", [("Range", "bytes=100000-299999")])
        self.assertEqual((r.status, sha(r.body)), (206, sha(B1M[100000:300000])), r)
        self.assertEqual(r.get("content-range"), "bytes 100000-299999/%d" % len(B1M), r)

    def test_range_416(self):
        _, r = self.both("GET", "/hello.txt", [("Range", "bytes=100-200")])
        self.assertEqual(r.status, 416, r)
        self.assertEqual(r.get("content-range"), "bytes */%d" % len(HELLO), r)

    def test_conditionals(self):
        etag = etag_of(self.d.path("www/hello.txt"))
        lm = http_date(MTIME)
        for headers, status in (([("If-None-Match", etag)], 304),
                                ([("If-None-Match", '"other"')], 200),
                                ([("If-Modified-Since", lm)], 304),
                                ([("If-Modified-Since", http_date(MTIME - 10))], 200),
                                ([("If-Match", '"nope"')], 412),
                                ([("If-Match", etag)], 200),
                                ([("If-Unmodified-Since", http_date(MTIME - 3600))], 412),
                                ([("Range", "bytes=0-4"), ("If-Range", etag)], 206),
                                ([("Range", "bytes=0-4"), ("If-Range", '"old"')], 200)):
            with case(headers=headers):
                _, r = self.both("GET", "/hello.txt", headers)
                self.assertEqual(r.status, status, r)
                if status == 304:
                    self.assertEqual(bytes(r.body), b"", r)
                    self.assertEqual(r.get("etag"), etag, r)
                if status == 200:
                    self.assertEqual(bytes(r.body), HELLO, r)

    def test_304_has_no_data_frame(self):
        etag = etag_of(self.d.path("www/hello.txt"))
        with RawH2(self.d.port) as c:
            st = c.get(1, "/hello.txt", extra=[("if-none-match", etag)])
            self.assertEqual((st.status, st.ended, bytes(st.body)), (304, True, b""), st)
            self.assertEqual([f for f in c.frames if f.stream == 1 and f.type == 0], [],
                             c.summary())

    def test_204_has_no_data_and_no_length(self):
        _, r = self.both("OPTIONS", "/hello.txt")
        self.assertEqual((r.status, bytes(r.body)), (204, b""), r)
        allow = {t.strip().lower() for t in (r.get("allow") or "").split(",")}
        self.assertTrue({"get", "head"} <= allow, r)
        with RawH2(self.d.port) as c:
            st = c.get(1, "/hello.txt", method="OPTIONS")
            self.assertEqual((st.status, st.ended), (204, True), st)
            self.assertIsNone(st.get("content-length"), st)   # RFC 9110 8.6
            self.assertEqual([f for f in c.frames if f.stream == 1 and f.type == 0], [],
                             c.summary())

    def test_errors_and_redirect(self):
        _, r = self.both("GET", "/nope.txt")
        self.assertEqual(r.status, 404, r)
        self.assertIn(b"404", bytes(r.body))
        _, r = self.both("GET", "/dir?q=1")
        self.assertEqual(r.status, 301, r)
        self.assertTrue((r.get("location") or "").endswith("/dir/?q=1"), r)
        _, r = self.both("POST", "/hello.txt")
        self.assertEqual(r.status, 405, r)

    def test_gzip_static(self):
        gz = gzip.compress(HELLO, mtime=0)
        _, r = self.both("GET", "/gz/hello.txt", [("Accept-Encoding", "gzip")], host="gz.test")
        self.assertEqual((r.status, bytes(r.body)), (200, gz), r)
        self.assertEqual(r.get("content-encoding"), "gzip", r)
        self.assertIn("accept-encoding",
                      [t.strip().lower() for t in (r.get("vary") or "").split(",")], r)
        _, r = self.both("GET", "/gz/hello.txt", host="gz.test")
        self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)
        self.assertIsNone(r.get("content-encoding"), r)
        self.assertIn("accept-encoding", (r.get("vary") or "").lower(), r)
        _, r = self.both("GET", "/gz/hello.txt", [("Accept-Encoding", "gzip")])  # not gz.test
        self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)

    def test_host_field_picks_vhost_without_authority(self):
        gz = gzip.compress(HELLO, mtime=0)
        with RawH2(self.d.port) as c:
            st = c.get(1, headers=[(":method", "GET"), (":scheme", "http"),
                                   (":path", "/gz/hello.txt"), ("host", "gz.test"),
                                   ("accept-encoding", "gzip")])
            self.assertEqual((st.status, bytes(st.body)), (200, gz), st)
            st = c.get(3, headers=[(":method", "GET"), (":scheme", "http"),
                                   (":path", "/gz/hello.txt"), ("host", "localhost"),
                                   ("accept-encoding", "gzip")])
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)

    # ---- request bodies -------------------------------------------------------------

    SIZES = (1, 16383, 16384, 16385, 65535, 65536, 65537, 262143, 262144, 262145, 1 << 20)

    def post(self, c, size, with_length, path="/echo"):
        data = os.urandom(size)
        headers = [("content-type", "application/x-test")]
        if with_length:
            headers.append(("content-length", str(size)))
        sid = c.send_request("POST", path, headers, body=data)
        return data, c.response(sid, timeout=WAIT * 3)

    def test_post_with_content_length(self):
        for size in self.SIZES:
            with case(size=size):
                data, r = self.post(self.c, size, True)
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.ended, r)
                self.assertEqual(len(r.body), size)
                self.assertEqual(sha(r.body), sha(data))
                self.assertEqual(r.get("content-length"), str(size), r)
                self.assertEqual(r.get("content-type"), "application/x-test", r)

    def test_post_without_content_length(self):
        for size in (1, 65535, 65536, 262145, 1 << 20):
            with case(size=size):
                data, r = self.post(self.c, size, False)
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.ended, r)
                self.assertEqual(sha(r.body), sha(data))
                self.assertIsNone(r.get("content-length"), r)

    def test_post_end_stream_on_headers(self):
        r = self.c.request("POST", "/echo")
        self.assertEqual((r.status, bytes(r.body), r.ended), (200, b"", True), r)
        self.assertEqual(r.get("content-length"), "0", r)

    def test_bodies_beyond_connection_window(self):
        """6 MiB of bodies on one connection (the connection window is
        4M): loom must reopen it as the echo takes the data in."""
        with H2Client(self.d.port, window=1 << 20, conn_window=16 << 20) as c:
            for i in range(6):
                with case(i=i, with_length=bool(i % 2)):
                    data, r = self.post(c, 1 << 20, bool(i % 2))
                    self.assertEqual((r.status, r.ended), (200, True), r)
                    self.assertEqual(sha(r.body), sha(data))

    def test_bodies_with_tls(self):
        with H2Client(self.d.tls_port, tls=True, window=1 << 20, conn_window=16 << 20) as c:
            for size in (65535, 262145, 1 << 20):
                with case(size=size):
                    data, r = self.post(c, size, True)
                    self.assertEqual((r.status, sha(r.body)), (200, sha(data)), r)

    def test_413_content_length(self):
        sid = self.c.send_request("POST", "/small", [("content-length", "5000")],
                                  end_stream=False)
        r = self.c.response(sid)
        self.assertEqual(r.status, 413, r)
        self.assertIn(r.reset, (None, NO_ERROR), r)
        # the connection goes on
        r = self.c.get("/hello.txt")
        self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)

    def test_413_content_length_with_body(self):
        sid = self.c.send_request("POST", "/small", [("content-length", "5000")],
                                  body=b"q" * 5000)
        r = self.c.response(sid)
        self.assertEqual(r.status, 413, r)
        self.assertNotIn(b"q" * 100, bytes(r.body))
        r = self.c.get("/hello.txt")
        self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)

    def test_at_limit_accepted(self):
        data, r = self.post(self.c, 1024, True, "/small")
        self.assertEqual((r.status, bytes(r.body)), (200, data), r)
        data, r = self.post(self.c, 1024, False, "/small")
        self.assertEqual((r.status, bytes(r.body)), (200, data), r)

    def test_over_limit_without_content_length(self):
        """No content-length: the body passes max_body (1K) as it arrives:
        413 if the answer has not started, else the stream is reset (the
        echo may have begun its answer without any of it reaching the
        client); the bytes past the limit are never echoed, the connection
        goes on."""
        sid = self.c.send_request("POST", "/small", end_stream=False)
        self.c.send_body(sid, b"a" * 600, end_stream=False)
        self.c.send_body(sid, b"b" * 600, end_stream=True)
        r = self.c.response(sid)
        print("# over max_body without content-length: %r" % r, flush=True)
        self.assertNotIn(b"b" * 600, bytes(r.body))
        if r.status == 413:
            self.assertIn(r.reset, (None, NO_ERROR), r)
        else:
            # the echo had started: reset, with or without its head out
            self.assertIn(r.status, (None, 200), r)
            self.assertIsNotNone(r.reset, "an echo over max_body completed: %r" % r)
        r = self.c.get("/hello.txt")
        self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)

    # ---- multiplexing -----------------------------------------------------------------

    def test_many_concurrent_streams(self):
        """100 streams opened at once on one connection (h2_max_streams is
        128): files of several sizes, ranges, 404s, HEADs and echoes."""
        want = {}
        c = self.c
        posts = {}
        for i in range(100):
            kind = i % 10
            if kind in (0, 1):
                sid = c.send_request("GET", "/hello.txt")
                want[sid] = (200, HELLO)
            elif kind == 2:
                sid = c.send_request("GET", "/b1m.bin")
                want[sid] = (200, B1M)
            elif kind == 3:
                sid = c.send_request("GET", "/b300k.bin")
                want[sid] = (200, B300K)
            elif kind == 4:
                sid = c.send_request("GET", "/b64k.bin")
                want[sid] = (200, B64K)
            elif kind == 5:
                a = i * 1000
                sid = c.send_request("GET", "/b300k.bin",
                                     [("range", "bytes=%d-%d" % (a, a + 9999))])
                want[sid] = (206, B300K[a:a + 10000])
            elif kind == 6:
                sid = c.send_request("GET", "/missing-%d" % i)
                want[sid] = (404, None)
            elif kind == 7:
                sid = c.send_request("HEAD", "/b1m.bin")
                want[sid] = (200, b"")
            else:
                data = os.urandom(1000 + i * 100)
                sid = c.send_request("POST", "/echo", [("content-length", str(len(data)))],
                                     end_stream=False)
                posts[sid] = data
                want[sid] = (200, data)
        self.assertEqual(len(want), 100)
        for sid, data in posts.items():   # bodies after all the streams are open
            self.assertTrue(c.send_body(sid, data), c.streams[sid])
        c.wait(lambda: all(c.streams[s].done for s in want), timeout=WAIT * 3,
               what="100 streams to end")
        for sid, (status, body) in sorted(want.items()):
            r = c.streams[sid]
            with case(stream=sid):
                self.assertTrue(r.ended and r.reset is None, r)
                self.assertEqual(r.status, status, r)
                if body is not None:
                    self.assertEqual(sha(r.body), sha(body), r)
        self.assertIsNone(c.terminated)


class LargeFile2(unittest.TestCase):
    """A 100 MiB file over h2c and TLS h2: loomd sends it in bounded pieces
    under flow control (peak RSS bounded)."""

    MIB = 100

    @classmethod
    def setUpClass(cls):
        cls.d = HttpD(static_server(), tls=True, tree={"www/hello.txt": HELLO})
        own(cls, cls.d)
        cls.sha = make_random_file(cls.d.path("www/big.bin"), cls.MIB)
        cls.size = cls.MIB << 20
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def download(self, tls):
        out = self.d.path("download.bin")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        sampler = RssSampler(self.d.pid).start()
        try:
            if tls:
                r = curl_h2(self.d.url("/big.bin", tls=True), ["-k", "--http2"], out=out,
                            timeout=600)
            else:
                r = curl_h2(self.d.url("/big.bin"), ["--http2-prior-knowledge"], out=out,
                            timeout=600)
        finally:
            peak = sampler.stop()
        peak = max(peak, rss_kb(self.d.pid))
        hwm = vmhwm_kb(self.d.pid)
        print("# loomd over the %s h2 download: peak VmRSS %d kB, VmHWM %d kB"
              % ("TLS" if tls else "h2c", peak, hwm), flush=True)
        self.assertEqual((r.version, r.status), ("2", 200), r)
        self.assertEqual(r.get("content-length"), str(self.size), r)
        self.assertEqual(os.path.getsize(out), self.size)
        self.assertEqual(sha256_file(out), self.sha)
        self.assertGreater(sampler.samples, 0)
        if not loomtest.SANITIZED:
            self.assertLess(hwm, RSS_LIMIT_KB, "loomd VmHWM reached %d kB" % hwm)

    def test_h2c(self):
        self.download(tls=False)

    def test_tls(self):
        self.download(tls=True)


if __name__ == "__main__":
    loomtest.main()
