"""http module: request smuggling defenses, over raw sockets.

Every case sends one malicious request followed, in the same write, by a
second request for "= /secret" (a return location with a distinctive body).
A server that disagrees with a proxy in front of it about where the first
request ends would answer that second request: loomd must answer exactly
one error response (400; 501 for "Transfer-Encoding: gzip, chunked") with
Connection: close, close the connection, never serve /secret (not in the
bytes received, no access-log line for it), and keep serving fresh
connections.  Positive controls show that the same pipelined /secret *is*
answered after a well-formed request, so the checks can fail.

The cases follow the behaviour spec (each -> 400, connection closed) and
h1_parse.h: CL+TE in both orders, differing or malformed Content-Length,
Transfer-Encoding other than one final "chunked", TE in HTTP/1.0, chunk
sizes with 0x / sign / overflow, a bare LF in a chunk extension, obs-fold,
whitespace before the colon, bare CR, NUL and other CTLs.

Run by hand:  LOOMD=src/loomd /usr/bin/python3 tests/integration/test_http_smuggling.py
"""

import os
import unittest

import loomtest
from loomtest import Loomd, free_port, own
from h1raw import (Incomplete, connect, log_entries, parse_all, read_all, read_responses,
                   wait_log_entries)

SECRET_BODY = b"SMUGGLED-SECRET\n"
SMUGGLED = b"GET /secret HTTP/1.1\r\nHost: localhost\r\n\r\n"
HELLO = b"Hello, world\n"

CONF = '''
http "web" {
    listen = {"tcp:%(port)d:interface=127.0.0.1"}
    access_log = "{dir}/access.log"
    server "main" {
        names = {"localhost"}
        location "/" {
            handler = "static"
            root = "{dir}/www"
        }
        location "/echo" {
            handler = "echo"
        }
        location "= /secret" {
            handler = "return"
            status = 200
            body = "SMUGGLED-SECRET\\n"
            content_type = "text/plain"
        }
    }
}
'''


class Smuggling(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = Loomd(CONF % {"port": cls.port},
                      files={"www/hello.txt": HELLO.decode(), "www/index.html": "<p>index</p>\n"})
        own(cls, cls.d)
        cls.log_path = os.path.join(cls.d.dir, "access.log")
        cls.d.start()

    def setUp(self):
        self.log_before = len(log_entries(self.log_path))

    def tearDown(self):
        self.assertIsNone(self.d.proc.poll(), "loomd exited:\n" + self.d.log())
        self.server_ok()

    def server_ok(self):
        """A fresh connection is served normally (and its log line is
        written before the next test counts the lines)."""
        before = len(log_entries(self.log_path))
        with connect(self.port) as s:
            s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            (r,), rest = read_responses(s, 1)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, HELLO)
            self.assertEqual(rest, b"")
        wait_log_entries(self.log_path, before, 1, 200)

    def new_log_entries(self, want, status):
        """Wait until the access log has WANT new lines since setUp, one
        with STATUS; returns the new entries."""
        return wait_log_entries(self.log_path, self.log_before, want, status)

    def refused(self, request, status=400, smuggled=SMUGGLED):
        """REQUEST + SMUGGLED in one write: exactly one STATUS response with
        Connection: close, then EOF; /secret never served."""
        with connect(self.port) as s:
            s.sendall(request + smuggled)
            data, closed = read_all(s)
        self.assertNotIn(SECRET_BODY, data, "the smuggled request was served: %r" % data)
        self.assertTrue(closed, "the connection was not closed; received: %r" % data)
        try:
            rs = parse_all(data)
        except Incomplete:
            self.fail("truncated response: %r" % data)
        self.assertEqual(len(rs), 1, "expected exactly one response, got %d: %r" % (len(rs), data))
        r = rs[0]
        self.assertEqual(r.status, status, r)
        conn = r.get("Connection")
        self.assertIsNotNone(conn, "no Connection header on %d: %r" % (r.status, r.raw))
        self.assertIn("close", conn.lower())
        self.assertIsNotNone(r.get("Date"), r)
        self.assertIsNotNone(r.get("Server"), r)
        # one built-in error page (spec: small HTML body, text/html), with
        # nothing left over from the handler that was to answer
        for name in ("Content-Type", "Content-Length", "Connection", "Date", "Server"):
            self.assertLessEqual(len(r.all(name)), 1, "several %s fields: %r" % (name, r.raw))
        self.assertTrue((r.get("Content-Type") or "").startswith("text/html"), r.raw)
        self.assertIn(b"<title>%d " % status, r.body)
        # one log line (the refused request), none for /secret
        entries = self.new_log_entries(1, status)
        self.assertEqual(len(entries), 1, "expected one access-log line: %r" % entries)
        self.assertEqual(entries[0][1], status, entries)
        for line, _ in entries:
            self.assertNotIn("/secret", line, entries)
        return r

    # ---- positive controls: the checks can see a second response ---------

    def test_control_pipelined_after_content_length(self):
        with connect(self.port) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello"
                      + SMUGGLED)
            (a, b), rest = read_responses(s, 2)
        self.assertEqual((a.status, a.body), (200, b"hello"))
        self.assertEqual((b.status, b.body), (200, SECRET_BODY))
        self.assertEqual(rest, b"")
        entries = self.new_log_entries(2, 200)
        self.assertTrue(any("/secret" in line for line, _ in entries), entries)

    def test_control_pipelined_after_chunked(self):
        with connect(self.port) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED)
            (a, b), rest = read_responses(s, 2)
        self.assertEqual((a.status, a.body), (200, b"hello"))
        self.assertEqual((b.status, b.body), (200, SECRET_BODY))

    # ---- Content-Length and Transfer-Encoding together --------------------

    def test_cl_then_te(self):
        self.refused(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

    def test_te_then_cl(self):
        self.refused(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Length: 5\r\n\r\n0\r\n\r\n")

    # ---- Content-Length values --------------------------------------------

    def cl(self, value, body=b"hello"):
        return self.refused(b"POST /echo HTTP/1.1\r\nHost: localhost\r\n" + value + b"\r\n\r\n" + body)

    def test_two_differing_content_lengths(self):
        self.cl(b"Content-Length: 5\r\nContent-Length: 6")

    def test_content_length_plus_sign(self):
        self.cl(b"Content-Length: +5")

    def test_content_length_minus_sign(self):
        self.cl(b"Content-Length: -5")

    def test_content_length_inner_space(self):
        self.cl(b"Content-Length: 5 5")

    def test_content_length_hex(self):
        self.cl(b"Content-Length: 0x5")

    def test_content_length_differing_list(self):
        self.cl(b"Content-Length: 5,6")

    def test_content_length_empty(self):
        self.cl(b"Content-Length: ", body=b"")

    # ---- Transfer-Encoding values -----------------------------------------

    def te(self, value, version=b"HTTP/1.1", status=400):
        return self.refused(b"POST /echo " + version + b"\r\nHost: localhost\r\n"
                            b"Transfer-Encoding: " + value + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                            status=status)

    def test_te_chunked_then_gzip(self):
        self.te(b"chunked, gzip")

    def test_te_gzip_only(self):
        self.te(b"gzip")

    def test_te_chunked_twice(self):
        self.te(b"chunked, chunked")

    def test_te_in_http10(self):
        self.te(b"chunked", version=b"HTTP/1.0")

    def test_te_gzip_then_chunked_501(self):
        self.te(b"gzip, chunked", status=501)

    # ---- chunk sizes --------------------------------------------------------

    def chunked(self, body):
        return self.refused(b"POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n" + body)

    def test_chunk_size_0x(self):
        self.chunked(b"0x5\r\nhello\r\n0\r\n\r\n")

    def test_chunk_size_plus(self):
        self.chunked(b"+5\r\nhello\r\n0\r\n\r\n")

    def test_chunk_size_minus(self):
        self.chunked(b"-5\r\nhello\r\n0\r\n\r\n")

    def test_chunk_size_17_digits_overflow(self):
        # 2^64: wraps to 0 (a "last chunk") in a parser without overflow checks
        self.chunked(b"10000000000000000\r\nhello\r\n0\r\n\r\n")

    def test_chunk_size_over_int64(self):
        self.chunked(b"8000000000000000\r\nhello\r\n0\r\n\r\n")

    def test_chunk_size_all_f(self):
        self.chunked(b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n")

    def test_chunk_extension_bare_lf(self):
        self.chunked(b"5;a=b\nhello\r\n0\r\n\r\n")

    # ---- header section -----------------------------------------------------

    def test_obs_fold(self):
        self.refused(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\n\r\n")

    def test_space_before_colon(self):
        self.refused(b"GET /hello.txt HTTP/1.1\r\nHost : localhost\r\n\r\n")

    def test_bare_cr_ending_request_line(self):
        self.refused(b"GET /hello.txt HTTP/1.1\rHost: localhost\r\n\r\n")

    def test_bare_cr_inside_request_line(self):
        self.refused(b"GET /hello.txt\r HTTP/1.1\r\nHost: localhost\r\n\r\n")

    def test_bare_cr_in_field(self):
        self.refused(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n")

    def test_nul_in_target(self):
        self.refused(b"GET /hello\x00.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")

    def test_nul_in_field_value(self):
        self.refused(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n")

    def test_ctl_0x01_in_target(self):
        self.refused(b"GET /hel\x01lo.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")

    def test_del_in_target(self):
        self.refused(b"GET /hel\x7flo.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")


if __name__ == "__main__":
    loomtest.main()
