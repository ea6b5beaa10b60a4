"""http module: connection management and message framing over raw sockets.

Pipelined requests (GET, HEAD, 404, after a POST body) answered in order;
request bodies with Content-Length in many small writes and chunked with
extensions and trailers, echoed exactly; Expect: 100-continue; Connection:
close; HTTP/1.0 with and without keep-alive; OPTIONS *; absolute-form
targets choosing the virtual host; a missing Host; an HTTP/2.0 request
line; Date and Server on every response; keepalive_requests.

Where the behaviour spec is silent the tests expect what nginx does; each
such place says so.

Run by hand:  LOOMD=src/loomd /usr/bin/python3 tests/integration/test_http_pipeline.py
"""

import os
import time
import unittest

import loomtest
from loomtest import Loomd, free_port, own
from h1raw import (connect, log_entries, parse_all, read_responses,
                   read_until_close, wait_log_entries)

FILES = {
    "www/hello.txt": "Hello, world\n",
    "www/a.txt": "alpha\n",
    "www/b.txt": "bravo bravo\n",
    "www/c.txt": "charlie!\n",
    "www/index.html": "<p>index</p>\n",
}

CONF = '''
http "web" {
    listen = {"tcp:%(port)d:interface=127.0.0.1"}
    access_log = "{dir}/access.log"
%(extra)s
    server "main" {
        names = {"localhost"}
        location "/" {
            handler = "static"
            root = "{dir}/www"
        }
        location "/echo" {
            handler = "echo"
        }
        location "= /ret" {
            handler = "return"
            status = 200
            body = "main vhost\\n"
            content_type = "text/plain"
        }
    }
    server "other" {
        names = {"other.test"}
        location "/" {
            handler = "return"
            status = 200
            body = "other vhost\\n"
            content_type = "text/plain"
        }
    }
}
'''


def req(method, path, host=b"localhost", extra=b"", body=b"", version=b"HTTP/1.1"):
    if isinstance(method, str):
        method = method.encode()
    if isinstance(path, str):
        path = path.encode()
    head = method + b" " + path + b" " + version + b"\r\n"
    if host is not None:
        head += b"Host: " + host + b"\r\n"
    return head + extra + b"\r\n" + body


def get(path, **kw):
    return req("GET", path, **kw)


class HttpCase(unittest.TestCase):
    EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = Loomd(CONF % {"port": cls.port, "extra": cls.EXTRA}, files=FILES)
        own(cls, cls.d)
        cls.log_path = os.path.join(cls.d.dir, "access.log")
        cls.d.start()

    def tearDown(self):
        self.assertIsNone(self.d.proc.poll(), "loomd exited:\n" + self.d.log())

    def conn(self):
        return connect(self.port)

    def common(self, r):
        """What every response carries (spec: Date and Server)."""
        self.assertIsNotNone(r.get("Date"), "no Date: %r" % r.raw[:500])
        self.assertRegex(r.get("Date"), r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
        self.assertIsNotNone(r.get("Server"), "no Server: %r" % r.raw[:500])
        self.assertEqual(r.get("Server"), "loom/0.1.0")
        for name in ("Date", "Server"):
            self.assertEqual(len(r.all(name)), 1, r)
        for name in ("Content-Type", "Content-Length", "Transfer-Encoding", "Connection"):
            self.assertLessEqual(len(r.all(name)), 1, "several %s fields: %r" % (name, r.raw))

    def roundtrip(self, s, data, count=1, heads=()):
        s.sendall(data)
        rs, rest = read_responses(s, count, heads)
        self.assertEqual(rest, b"", "bytes after the responses: %r" % rest)
        for r in rs:
            if r.status >= 200:
                self.common(r)
        return rs

    def assert_closed(self, s):
        self.assertEqual(read_until_close(s), b"", "more bytes instead of a close")

    def assert_open(self, s):
        """The connection still serves a request."""
        (r,) = self.roundtrip(s, get("/hello.txt"))
        self.assertEqual((r.status, r.body), (200, b"Hello, world\n"))


class Pipelining(HttpCase):
    def test_three_gets_in_one_write(self):
        with self.conn() as s:
            rs = self.roundtrip(s, get("/a.txt") + get("/b.txt") + get("/c.txt") + get("/a.txt"), 4)
            self.assertEqual([(r.status, r.body) for r in rs],
                             [(200, b"alpha\n"), (200, b"bravo bravo\n"), (200, b"charlie!\n"),
                              (200, b"alpha\n")])
            for r in rs:
                self.assertNotIn("close", (r.get("Connection") or "").lower(), r)
            self.assert_open(s)

    def test_get_head_404_mixed(self):
        with self.conn() as s:
            rs = self.roundtrip(s, get("/a.txt") + req("HEAD", "/b.txt") + get("/missing.txt")
                                + req("HEAD", "/missing.txt") + get("/c.txt"), 5, heads=(1, 3))
            self.assertEqual([r.status for r in rs], [200, 200, 404, 404, 200])
            self.assertEqual(rs[0].body, b"alpha\n")
            # HEAD: the GET's headers, Content-Length included, no body
            self.assertEqual(rs[1].body, b"")
            self.assertEqual(rs[1].get("Content-Length"), str(len(b"bravo bravo\n")))
            self.assertIn(b"404", rs[2].body)
            self.assertEqual(rs[3].body, b"")
            self.assertEqual(rs[3].get("Content-Length"), rs[2].get("Content-Length"))
            self.assertEqual(rs[4].body, b"charlie!\n")
            self.assert_open(s)

    def test_pipelined_after_post_body(self):
        with self.conn() as s:
            body = b"GET /c.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"   # data, not a request
            rs = self.roundtrip(s, req("POST", "/echo", extra=b"Content-Length: %d\r\n" % len(body),
                                       body=body) + get("/a.txt") + get("/b.txt"), 3)
            self.assertEqual([(r.status, r.body) for r in rs],
                             [(200, body), (200, b"alpha\n"), (200, b"bravo bravo\n")])
            self.assertEqual(rs[0].get("Content-Length"), str(len(body)))
            self.assert_open(s)

    def test_one_byte_writes(self):
        data = get("/a.txt") + req("HEAD", "/b.txt") + get("/c.txt")
        with self.conn() as s:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
            rs, rest = read_responses(s, 3, heads=(1,))
            self.assertEqual(rest, b"")
            self.assertEqual([(r.status, r.body) for r in rs],
                             [(200, b"alpha\n"), (200, b""), (200, b"charlie!\n")])


class Bodies(HttpCase):
    def test_chunked_body_echoed(self):
        chunked = (b"5;ext=1\r\nhello\r\n"
                   b"6;a=\"b c\";flag\r\n world\r\n"
                   b"1\r\n\n\r\n"
                   b"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n")
        with self.conn() as s:
            rs = self.roundtrip(s, req("POST", "/echo", extra=b"Transfer-Encoding: chunked\r\n"
                                       b"Content-Type: text/x-test\r\n", body=chunked)
                                + get("/a.txt"), 2)
            r = rs[0]
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"hello world\n")
            # spec: chunked when the request was chunked; the request's type
            self.assertIn("chunked", (r.get("Transfer-Encoding") or "").lower(), r)
            self.assertIsNone(r.get("Content-Length"), r)
            self.assertTrue((r.get("Content-Type") or "").startswith("text/x-test"), r)
            self.assertEqual((rs[1].status, rs[1].body), (200, b"alpha\n"))

    def test_chunked_body_bytes_exact(self):
        payload = bytes(range(256)) * 40 + b"\r\n0\r\n\r\n"
        pieces = [payload[i:i + 1000] for i in range(0, len(payload), 1000)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        with self.conn() as s:
            (r,) = self.roundtrip(s, req("POST", "/echo", extra=b"Transfer-Encoding: chunked\r\n",
                                         body=body))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, payload)
            # spec: no request type -> application/octet-stream
            self.assertTrue((r.get("Content-Type") or "").startswith("application/octet-stream"), r)

    def test_content_length_body_in_small_writes(self):
        body = os.urandom(3000)
        with self.conn() as s:
            s.sendall(req("POST", "/echo", extra=b"Content-Length: %d\r\n" % len(body)))
            for i in range(0, len(body), 37):
                s.sendall(body[i:i + 37])
                if i % (37 * 8) == 0:
                    time.sleep(0.002)   # let some pieces travel alone
            rs, rest = read_responses(s, 1)
            self.assertEqual(rest, b"")
            self.assertEqual(rs[0].status, 200)
            self.assertEqual(rs[0].get("Content-Length"), str(len(body)))
            self.assertEqual(rs[0].body, body)
            self.assert_open(s)

    def test_get_without_body_to_echo(self):
        with self.conn() as s:
            (r,) = self.roundtrip(s, get("/echo"))
            self.assertEqual((r.status, r.body), (200, b""))

    def test_expect_100_continue(self):
        with self.conn() as s:
            s.sendall(req("POST", "/echo", extra=b"Content-Length: 5\r\nExpect: 100-continue\r\n"))
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "closed before 100 Continue: %r" % data)
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 100 Continue\r\n"), data)
            interim, _, rest = data.partition(b"\r\n\r\n")
            self.assertEqual(rest, b"", "a final response before the body was sent: %r" % data)
            s.sendall(b"hello")
            rs, rest = read_responses(s, 1)
            self.assertEqual(rest, b"")
            self.assertEqual((rs[0].status, rs[0].body), (200, b"hello"))
            self.common(rs[0])
            self.assert_open(s)

    def test_expect_other_417(self):
        # spec: other Expect values -> 417.  Whether the connection stays
        # open is not said; if it does, the refused request's body must not
        # be read as the next request.
        with self.conn() as s:
            s.sendall(req("POST", "/echo", extra=b"Content-Length: 5\r\nExpect: something-else\r\n",
                          body=b"hello") + get("/a.txt", extra=b"Connection: close\r\n"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(rs[0].status, 417, rs[0])
        self.common(rs[0])
        if len(rs) > 1 or "close" not in (rs[0].get("Connection") or "").lower():
            self.assertEqual([(r.status, r.body) for r in rs[1:]], [(200, b"alpha\n")], data)


class ConnectionHandling(HttpCase):
    def test_connection_close_honoured(self):
        with self.conn() as s:
            s.sendall(get("/a.txt", extra=b"Connection: close\r\n") + get("/b.txt"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1, "a response after Connection: close: %r" % data)
        self.assertEqual((rs[0].status, rs[0].body), (200, b"alpha\n"))
        self.assertIn("close", (rs[0].get("Connection") or "").lower())
        self.common(rs[0])

    def test_connection_close_token_in_list(self):
        with self.conn() as s:
            s.sendall(get("/a.txt", extra=b"Connection: TE, Close\r\nTE: trailers\r\n"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1)
        self.assertIn("close", (rs[0].get("Connection") or "").lower())

    def test_http10_without_keepalive_closes(self):
        with self.conn() as s:
            s.sendall(get("/a.txt", version=b"HTTP/1.0") + get("/b.txt", version=b"HTTP/1.0"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1, data)
        self.assertEqual((rs[0].status, rs[0].body), (200, b"alpha\n"))
        self.common(rs[0])
        # spec silent; nginx says "Connection: close" to an HTTP/1.0 client
        self.assertIn("close", (rs[0].get("Connection") or "").lower(), rs[0])
        self.assertNotIn("keep-alive", (rs[0].get("Connection") or "").lower())

    def test_http10_without_host(self):
        # Host is required by HTTP/1.1 only
        with self.conn() as s:
            s.sendall(get("/a.txt", version=b"HTTP/1.0", host=None))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual((rs[0].status, rs[0].body), (200, b"alpha\n"))

    def test_http10_keepalive(self):
        with self.conn() as s:
            rs = self.roundtrip(s, get("/a.txt", version=b"HTTP/1.0",
                                       extra=b"Connection: keep-alive\r\n"))
            self.assertEqual((rs[0].status, rs[0].body), (200, b"alpha\n"))
            self.assertEqual((rs[0].get("Connection") or "").lower(), "keep-alive")
            # a 1.0 keep-alive response needs a length to be delimited
            self.assertEqual(rs[0].get("Content-Length"), "6")
            rs = self.roundtrip(s, get("/b.txt", version=b"HTTP/1.0",
                                       extra=b"Connection: keep-alive\r\n"))
            self.assertEqual((rs[0].status, rs[0].body), (200, b"bravo bravo\n"))
            # the next 1.0 request without keep-alive ends the connection
            s.sendall(get("/c.txt", version=b"HTTP/1.0"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1)
        self.assertEqual(rs[0].body, b"charlie!\n")

    def test_http11_keepalive_default(self):
        with self.conn() as s:
            for name, body in (("/a.txt", b"alpha\n"), ("/b.txt", b"bravo bravo\n"),
                               ("/c.txt", b"charlie!\n")):
                (r,) = self.roundtrip(s, get(name))
                self.assertEqual(r.body, body)
                self.assertNotIn("close", (r.get("Connection") or "").lower())

    def test_options_star(self):
        with self.conn() as s:
            (r,) = self.roundtrip(s, req("OPTIONS", "*"))
            self.assertEqual(r.status, 204, r)
            self.assertEqual(r.body, b"")
            allow = [m.strip() for m in (r.get("Allow") or "").split(",")]
            self.assertEqual(sorted(allow), sorted(["GET", "HEAD", "POST", "OPTIONS"]), r)
            self.assert_open(s)

    def test_absolute_form_selects_vhost(self):
        with self.conn() as s:
            (r,) = self.roundtrip(s, get("http://other.test/anything", host=b"localhost"))
            self.assertEqual((r.status, r.body), (200, b"other vhost\n"))
            (r,) = self.roundtrip(s, get("http://localhost/a.txt", host=b"other.test"))
            self.assertEqual((r.status, r.body), (200, b"alpha\n"))
            (r,) = self.roundtrip(s, get("http://localhost:%d/ret" % self.port, host=b"other.test"))
            self.assertEqual((r.status, r.body), (200, b"main vhost\n"))
            # and the Host field alone
            (r,) = self.roundtrip(s, get("/ret", host=b"other.test"))
            self.assertEqual((r.status, r.body), (200, b"other vhost\n"))

    def test_http11_without_host_400(self):
        with self.conn() as s:
            s.sendall(get("/a.txt", host=None) + get("/b.txt"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1, data)
        self.assertEqual(rs[0].status, 400)
        self.assertIn("close", (rs[0].get("Connection") or "").lower())
        self.common(rs[0])

    def test_two_host_fields_400(self):
        with self.conn() as s:
            s.sendall(get("/a.txt", extra=b"Host: other.test\r\n"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1, data)
        self.assertEqual(rs[0].status, 400)

    def version_refused(self, version):
        with self.conn() as s:
            s.sendall(get("/a.txt", version=version) + get("/b.txt"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1, data)
        self.assertEqual(rs[0].status, 505, rs[0])
        self.assertIn("close", (rs[0].get("Connection") or "").lower())
        self.common(rs[0])
        self.assertNotIn(b"alpha", data)

    def test_http20_request_line_505(self):
        self.version_refused(b"HTTP/2.0")

    def test_http12_request_line_505(self):
        self.version_refused(b"HTTP/1.2")

    def test_date_and_server_everywhere(self):
        # 200, 301, 404, 405, 204 (OPTIONS), 400 - each carries Date and Server
        with self.conn() as s:
            rs = self.roundtrip(s, get("/a.txt") + get("/missing") + req("DELETE", "/a.txt")
                                + req("OPTIONS", "/a.txt") + req("HEAD", "/a.txt") + get("/ret")
                                + get("/echo"), 7, heads=(4,))
            self.assertEqual([r.status for r in rs], [200, 404, 405, 204, 200, 200, 200])
            self.assertEqual(rs[2].get("Allow").replace(" ", ""), "GET,HEAD")
        with self.conn() as s:
            s.sendall(b"BROKEN\r\n\r\n")
            rs = parse_all(read_until_close(s))
            self.assertEqual(rs[0].status, 400)
            self.common(rs[0])

    def test_access_log_one_line_per_request(self):
        before = len(log_entries(self.log_path))
        with self.conn() as s:
            self.roundtrip(s, get("/a.txt") + get("/b.txt", extra=b"User-Agent: pipe/1\r\n")
                           + get("/nope"), 3)
        entries = wait_log_entries(self.log_path, before, 3)
        self.assertEqual([e[0] for e in entries[:3]],
                         ["GET /a.txt HTTP/1.1", "GET /b.txt HTTP/1.1", "GET /nope HTTP/1.1"])
        self.assertEqual([e[1] for e in entries[:3]], [200, 200, 404])


class KeepaliveRequests(HttpCase):
    EXTRA = "    keepalive_requests = 3"

    def test_third_response_closes(self):
        with self.conn() as s:
            for i, (name, body) in enumerate((("/a.txt", b"alpha\n"), ("/b.txt", b"bravo bravo\n"))):
                (r,) = self.roundtrip(s, get(name))
                self.assertEqual(r.body, body)
                self.assertNotIn("close", (r.get("Connection") or "").lower(), "response %d" % (i + 1))
            s.sendall(get("/c.txt"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual(len(rs), 1)
        self.assertEqual((rs[0].status, rs[0].body), (200, b"charlie!\n"))
        self.assertIn("close", (rs[0].get("Connection") or "").lower(), rs[0])
        self.common(rs[0])

    def test_pipelined_fourth_not_answered(self):
        with self.conn() as s:
            s.sendall(get("/a.txt") + get("/b.txt") + get("/c.txt") + get("/hello.txt"))
            data = read_until_close(s)
        rs = parse_all(data)
        self.assertEqual([(r.status, r.body) for r in rs],
                         [(200, b"alpha\n"), (200, b"bravo bravo\n"), (200, b"charlie!\n")], data)
        self.assertNotIn("close", (rs[1].get("Connection") or "").lower())
        self.assertIn("close", (rs[2].get("Connection") or "").lower())


if __name__ == "__main__":
    loomtest.main()
