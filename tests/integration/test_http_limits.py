"""http module limits: 413 for bodies over max_body (Content-Length, with
and without Expect: 100-continue, chunked), 414, 431 (size and number of
fields), header_timeout against slowloris, body_timeout, idle_timeout,
keepalive_requests; 100 MB files over plain TCP and TLS (sha256 of the
download, loomd's RSS stays bounded) and write_timeout dropping a client
that stops reading."""

import os
import select
import socket
import time
import unittest

import loomtest
from loomtest import own, WAIT
from h2test import curl_h2
from httptest import (case, curl_fetch, HttpD, insecure_ctx, location, make_random_file, parse_all,
                      parse_response, RawConn, rss_kb, RssSampler, sha256_file, start_http,
                      static_server, tcp_states)

HELLO = b"Hello, world\n"
RSS_LIMIT_KB = 60 * 1024


def limit_locations(max_body='"1K"'):
    return (location("/echo", {"handler": '"echo"', "max_body": max_body}) +
            location("/ret", {"handler": '"return"', "status": "200", "body": '"ok"',
                              "max_body": max_body}))


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = HttpD(static_server(extra_locations=limit_locations()),
                      opts="header_timeout = 2\nbody_timeout = 2\n",
                      tree={"www/hello.txt": HELLO, "www/index.html": b"i\n"})
        own(cls, cls.d)
        cls.d.start()

    def assert_closed_with(self, c, status):
        r = c.read_response()
        self.assertEqual(r.status, status, r)
        self.assertIn("close", r.tokens("connection"), r)
        self.assertTrue(c.closed_by_server(), "connection left open after %d" % status)
        return r

    def assert_served(self):
        r = curl_fetch(self.d.url("/hello.txt"))
        self.assertEqual((r.status, r.body), (200, HELLO), r)

    # ---- 413 ---------------------------------------------------------------------

    def test_413_content_length(self):
        for target in ("/echo", "/ret"):
            with case(target=target), self.d.conn() as c:
                # the head alone: refused before any body byte is sent
                c.send(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n"
                       % target.encode())
                self.assert_closed_with(c, 413)

    def test_413_expect_100_continue_no_100(self):
        with self.d.conn() as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            data = c.read_until_close()
        self.assertNotIn(b"100 Continue", data)
        r, n = parse_response(data, eof=True)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(n, len(data), "more than one response: %r" % data)

    def test_413_curl(self):
        r = curl_fetch(self.d.url("/echo"), ["--data-binary", "x" * 5000])
        self.assertEqual(r.status, 413, r)
        self.assertNotIn(100, [b.status for b in r.blocks], r)

    def test_100_continue_under_limit(self):
        with self.d.conn() as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 100, r)
            self.assertTrue(r.raw_head.startswith(b"HTTP/1.1 100 Continue\r\n"), r)
            c.send(b"b" * 1024)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"b" * 1024), r)

    def test_100_continue_curl(self):
        r = curl_fetch(self.d.url("/echo"), ["--data-binary", "y" * 1000, "-H",
                                              "Expect: 100-continue"])
        self.assertEqual([b.status for b in r.blocks], [100, 200], r)
        self.assertEqual(r.body, b"y" * 1000)

    def test_417_other_expect(self):
        r = self.d.request("POST", "/echo", [("Expect", "something-else")], b"abc")
        self.assertEqual(r.status, 417, r)

    def test_body_at_limit_accepted(self):
        r = self.d.request("POST", "/echo", body=b"k" * 1024)
        self.assertEqual((r.status, r.body), (200, b"k" * 1024), r)
        r = self.d.request("POST", "/ret", body=b"k" * 1024)
        self.assertEqual((r.status, r.body), (200, b"ok"), r)

    def chunked_over_limit(self, target, pieces):
        with self.d.conn() as c:
            c.send(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   % target.encode())
            for p in pieces:
                c.send(b"%x\r\n%s\r\n" % (len(p), p))
            c.send(b"0\r\n\r\n")
            data = c.read_until_close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "),
                        "expected a 413 answer, got %r" % data[:300])
        r, _ = parse_response(data, eof=True)
        self.assertIn("close", r.tokens("connection"), r)

    def chunked_over_limit_late(self, target, pieces):
        """The limit is passed after the answer started: the answer cannot
        become a 413 any more, so the connection is closed and nothing after
        the limit is used (loom.conf(5), "Requests")."""
        with self.d.conn() as c:
            c.send(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   % target.encode())
            for p in pieces:
                c.send(b"%x\r\n%s\r\n" % (len(p), p))
            c.send(b"0\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            return c.read_until_close()

    def test_chunked_echo_over_limit_late_cut_short(self):
        data = self.chunked_over_limit_late("/echo", [b"a" * 600, b"b" * 600])
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:300])
        self.assertIn(b"a" * 600, data)
        self.assertNotIn(b"b" * 600, data)           # nothing past the limit echoed
        self.assertFalse(data.endswith(b"0\r\n\r\n"), data[-50:])  # no last chunk
        self.assertEqual(data.count(b"HTTP/1.1 "), 1, data[:300])  # the GET was not served
        self.assert_served()

    def test_chunked_return_over_limit_late_closes(self):
        data = self.chunked_over_limit_late("/ret", [b"a" * 600, b"b" * 600])
        r, rest = parse_response(data, eof=True)
        self.assertEqual((r.status, r.body), (200, b"ok"), r)
        self.assertEqual(data.count(b"HTTP/1.1 "), 1, data[:300])  # the GET was not served
        self.assert_served()

    def test_413_one_big_chunk(self):
        self.chunked_over_limit("/echo", [b"c" * 4000])

    def test_chunked_over_limit_connection_ends(self):
        """Whatever the echo has already sent, once the chunked body passes
        max_body the exchange ends: the connection is closed (bounded wait)
        and the body past the limit is never echoed in full."""
        with self.d.conn() as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"258\r\n" + b"a" * 600 + b"\r\n")
            c.send(b"258\r\n" + b"b" * 600 + b"\r\n0\r\n\r\n")
            data = c.read_until_close(timeout=20)
        self.assertNotIn(b"b" * 600, data)
        self.assert_served()

    def test_chunked_under_limit(self):
        with self.d.conn() as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"200\r\n" + b"a" * 512 + b"\r\n200\r\n" + b"b" * 512 + b"\r\n0\r\n\r\n")
            r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"a" * 512 + b"b" * 512), r)

    # ---- 414 / 431 ------------------------------------------------------------------

    def test_414_long_target(self):
        with self.d.conn() as c:
            c.send(b"GET /" + b"a" * (9 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assert_closed_with(c, 414)
        self.assert_served()

    def test_414_curl(self):
        r = curl_fetch(self.d.url("/" + "q" * 9300))
        self.assertEqual(r.status, 414, r)

    def test_long_target_under_limit(self):
        r = self.d.get("/" + "a" * 7000)
        self.assertEqual(r.status, 404, r)

    def test_431_header_section_size(self):
        with self.d.conn() as c:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n" +
                   b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 2000) for i in range(20)) + b"\r\n")
            self.assert_closed_with(c, 431)
        with self.d.conn() as c:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * 40960 + b"\r\n\r\n")
            self.assert_closed_with(c, 431)
        self.assert_served()

    def test_header_section_under_limit(self):
        hs = [("X-Big-%d" % i, "v" * 1000) for i in range(25)]
        r = self.d.get("/hello.txt", headers=hs)
        self.assertEqual((r.status, r.body), (200, HELLO), r)

    def test_431_too_many_fields(self):
        with self.d.conn() as c:
            # Host + 100 more: 101 fields
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n" +
                   b"".join(b"X-F%d: %d\r\n" % (i, i) for i in range(100)) + b"\r\n")
            self.assert_closed_with(c, 431)

    def test_100_fields_accepted(self):
        r = self.d.get("/hello.txt", headers=[("X-F%d" % i, str(i)) for i in range(99)])
        self.assertEqual((r.status, r.body), (200, HELLO), r)

    # ---- timeouts --------------------------------------------------------------------

    def test_slowloris(self):
        """header_timeout = 2: a head dribbled one byte every 0.5 s is cut
        off (bounded wait), while a normal client is served meanwhile."""
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=WAIT)
        got = b""
        closed = False
        served = False
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            deadline = time.monotonic() + 20
            i = 0
            while time.monotonic() < deadline and not closed:
                r, _, _ = select.select([s], [], [], 0.5)
                if r:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    if not chunk:
                        closed = True
                        break
                    got += chunk
                    continue
                try:
                    s.sendall(b"X-Slow-Header-Name: value"[i % 25:i % 25 + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                i += 1
                if i == 2 and not served:
                    self.assert_served()
                    served = True
        finally:
            s.close()
        self.assertTrue(closed, "slow head still open after 20 s (%d bytes sent)" % i)
        self.assertTrue(served)
        if got:
            r, _ = parse_response(got, eof=True)
            self.assertEqual(r.status, 408, r)
        self.assert_served()

    def test_header_timeout_partial_head(self):
        with self.d.conn() as c:
            c.send(b"GET /hello.txt HTTP/1.1\r\nHo")
            data = c.read_until_close(timeout=20)
        if data:
            r, _ = parse_response(data, eof=True)
            self.assertEqual(r.status, 408, r)

    def test_body_timeout(self):
        """body_timeout = 2: a body that stops arriving ends in a close (a
        408 if the echo had not started its answer yet)."""
        with self.d.conn() as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"z" * 10)
            data = c.read_until_close(timeout=20)
        self.assert_408_or_cut(data, 100)
        self.assert_served()

    def test_body_timeout_chunked(self):
        with self.d.conn() as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
            data = c.read_until_close(timeout=20)
        self.assert_408_or_cut(data, None)

    def test_body_timeout_return(self):
        with self.d.conn() as c:
            c.send(b"POST /ret HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
            data = c.read_until_close(timeout=20)
        if data:
            r, _ = parse_response(data, eof=True)
            self.assertIn(r.status, (200, 408), r)  # "ok" may be sent before the body

    def assert_408_or_cut(self, data, length):
        if not data:
            return
        if data.startswith(b"HTTP/1.1 200"):
            # the echo had begun: its answer must be cut short, not complete
            with self.assertRaises(AssertionError):
                parse_response(data, eof=True)
            return
        r, _ = parse_response(data, eof=True)
        self.assertEqual(r.status, 408, r)
        self.assertIn("close", r.tokens("connection"), r)


class RequestLineOption(unittest.TestCase):
    def test_max_request_line_raised(self):
        d = start_http(self, static_server(), opts='max_request_line = "16K"\n',
                       tree={"www/hello.txt": HELLO})
        r = d.get("/" + "a" * (12 * 1024))
        self.assertEqual(r.status, 404, r)
        with d.conn() as c:
            c.send(b"GET /" + b"a" * (17 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 414, r)

    def test_max_request_line_lowered(self):
        d = start_http(self, static_server(), opts='max_request_line = "1K"\n',
                       tree={"www/hello.txt": HELLO})
        self.assertEqual(d.get("/" + "a" * 900).status, 404)
        self.assertEqual(d.get("/" + "a" * 1100).status, 414)

    def test_max_request_line_http2(self):
        # over HTTP/2 the limit applies to :path: 414, as over HTTP/1.1
        d = start_http(self, static_server(), opts='max_request_line = "1K"\n',
                       tree={"www/hello.txt": HELLO})
        r = curl_h2(d.url("/" + "a" * 900), ["--http2-prior-knowledge"])
        self.assertEqual((r.version, r.status), ("2", 404), r)
        r = curl_h2(d.url("/" + "a" * 1100), ["--http2-prior-knowledge"])
        self.assertEqual((r.version, r.status), ("2", 414), r)
        r = curl_h2(d.url("/hello.txt"), ["--http2-prior-knowledge"])
        self.assertEqual((r.status, r.body), (200, HELLO), r)

    def test_max_header_size_and_count_options(self):
        d = start_http(self, static_server(), opts='max_header_size = "2K"\nmax_headers = 5\n',
                       tree={"www/hello.txt": HELLO})
        self.assertEqual(d.get("/hello.txt", headers=[("X-A", "a" * 1500)]).status, 200)
        self.assertEqual(d.get("/hello.txt", headers=[("X-A", "a" * 2500)]).status, 431)
        self.assertEqual(d.get("/hello.txt", headers=[("X-%d" % i, "v") for i in range(4)]).status,
                         200)  # Host + 4 = 5 fields
        self.assertEqual(d.get("/hello.txt", headers=[("X-%d" % i, "v") for i in range(5)]).status,
                         431)


class KeepaliveLimits(unittest.TestCase):
    def test_keepalive_requests(self):
        d = start_http(self, static_server(), opts="keepalive_requests = 3\n",
                       tree={"www/hello.txt": HELLO})
        with d.conn() as c:
            for i in range(3):
                c.request("GET", "/hello.txt")
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, HELLO), r)
                if i < 2:
                    self.assertNotIn("close", r.tokens("connection"), r)
            self.assertIn("close", r.tokens("connection"), r)
            self.assertTrue(c.closed_by_server())

    def test_keepalive_requests_pipelined(self):
        d = start_http(self, static_server(), opts="keepalive_requests = 2\n",
                       tree={"www/hello.txt": HELLO})
        with d.conn() as c:
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
            data = c.read_until_close()
        rs = parse_all(data)
        self.assertEqual(len(rs), 2, data)
        self.assertIn("close", rs[1].tokens("connection"))

    def test_idle_timeout(self):
        d = start_http(self, static_server(), opts="idle_timeout = 1\n",
                       tree={"www/hello.txt": HELLO})
        with d.conn() as c:
            c.request("GET", "/hello.txt")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(c.closed_by_server(timeout=20), "idle connection not closed")
            self.assertEqual(c.buf, b"")  # closed quietly: no 408 on an idle connection


class LargeFiles(unittest.TestCase):
    """A 100 MiB file over TCP (sendfile) and TLS (bounded pieces)."""

    MIB = 100

    @classmethod
    def setUpClass(cls):
        cls.d = HttpD(static_server(), tls=True, opts="write_timeout = 2\n",
                      tree={"www/hello.txt": HELLO})
        own(cls, cls.d)
        cls.sha = make_random_file(cls.d.path("www/big.bin"), cls.MIB)
        cls.size = cls.MIB << 20
        cls.d.start()

    def download(self, tls):
        out = self.d.path("download.bin")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        sampler = RssSampler(self.d.pid).start()
        try:
            r = curl_fetch(self.d.url("/big.bin", tls=tls), ["-k"] if tls else [], out=out,
                           timeout=600)
        finally:
            peak = sampler.stop()
        peak = max(peak, rss_kb(self.d.pid))
        print("# loomd peak VmRSS over the %s download: %d kB" % ("TLS" if tls else "plain", peak),
              flush=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-length"), str(self.size))
        self.assertEqual(os.path.getsize(out), self.size)
        self.assertEqual(sha256_file(out), self.sha)
        self.assertGreater(sampler.samples, 0)
        if not loomtest.SANITIZED:
            self.assertLess(peak, RSS_LIMIT_KB, "loomd RSS reached %d kB" % peak)
        return peak

    def test_plain(self):
        self.download(tls=False)

    def test_tls(self):
        self.download(tls=True)

    def test_range_in_large_file(self):
        with open(self.d.path("www/big.bin"), "rb") as f:
            f.seek(77777777)
            want = f.read(100000)
        for tls in (False, True):
            with case(tls=tls):
                r = curl_fetch(self.d.url("/big.bin", tls=tls),
                               ["-k", "-r", "77777777-77877776"])
                self.assertEqual(r.status, 206, r)
                self.assertEqual(r.body, want)

    def stalled_client_dropped(self, tls):
        port = self.d.tls_port if tls else self.d.port
        c = RawConn(port, rcvbuf=4096, tls=insecure_ctx() if tls else None)
        try:
            client_port = c.sock.getsockname()[1]
            c.request("GET", "/big.bin")
            # never read; loomd must give up after write_timeout
            deadline = time.monotonic() + 30
            states = tcp_states(port, client_port)
            while states == ["01"] and time.monotonic() < deadline:
                self.assert_served()
                time.sleep(0.5)
                states = tcp_states(port, client_port)
            self.assertNotEqual(states, ["01"], "loomd still holds the stalled connection open")
            data = c.read_until_close(timeout=60)
        finally:
            c.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
        self.assertLess(len(data), self.size, "the whole file was sent to a stalled client")
        self.assert_served()

    def assert_served(self):
        r = curl_fetch(self.d.url("/hello.txt"))
        self.assertEqual((r.status, r.body), (200, HELLO), r)

    def test_write_timeout_plain(self):
        self.stalled_client_dropped(tls=False)

    def test_write_timeout_tls(self):
        self.stalled_client_dropped(tls=True)


if __name__ == "__main__":
    loomtest.main()
