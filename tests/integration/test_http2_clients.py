"""HTTP/2 with real clients: ALPN h2 on the TLS listener, h2c with prior
knowledge and by Upgrade on the cleartext one (nghttp -nv, nghttp -u,
curl --http2 over TLS and cleartext, curl --http2-prior-knowledge), the
Upgrade: h2c rules (101 and stream 1, bodies and TLS ignore it, a bad
HTTP2-Settings gets 400), the preface only at the start of a connection,
and h2load -n 10000 -c 10 -m 10 over TLS and h2c with no failure."""

import hashlib
import os
import socket
import unittest

import loomtest
from loomtest import own, WAIT
from httptest import (case, HttpD, insecure_ctx, location, parse_response, RawConn,
                      static_server)
from h2test import (assert_h2_response_headers, assert_no_sanitizer_report, curl_h2, H2Client,
                    h2load, http2_settings_value, PREFACE, RawH2, read_http1_head, run_tool,
                    settings_frame, SETTINGS_INITIAL_WINDOW_SIZE, upgrade_request)

HELLO = b"Hello, world\n"
MID = os.urandom(300 * 1024 + 7)
B20K = os.urandom(20000)


class Clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        locs = location("/echo", {"handler": '"echo"'})
        cls.d = HttpD(static_server(extra_locations=locs), tls=True,
                      tree={"www/hello.txt": HELLO, "www/index.html": b"<p>i</p>\n",
                            "www/mid.bin": MID, "www/b20k.bin": B20K})
        own(cls, cls.d)
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def url(self, path="/hello.txt", tls=False):
        return self.d.url(path, tls=tls)

    # ---- ALPN ---------------------------------------------------------------------

    def test_alpn_prefers_h2(self):
        with RawConn(self.d.tls_port, tls=insecure_ctx(alpn=["h2", "http/1.1"])) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "h2")
        with RawConn(self.d.tls_port, tls=insecure_ctx(alpn=["http/1.1", "h2"])) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "h2")

    def test_alpn_http11_and_none_get_http11(self):
        for alpn in (["http/1.1"], None):
            with case(alpn=alpn), RawConn(self.d.tls_port, tls=insecure_ctx(alpn=alpn)) as c:
                self.assertEqual(c.sock.selected_alpn_protocol(), alpn[0] if alpn else None)
                c.request("GET", "/hello.txt")
                r = c.read_response()
                self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, HELLO), r)

    def test_python_h2_tls_and_h2c(self):
        for tls in (False, True):
            with case(tls=tls), H2Client(self.d.tls_port if tls else self.d.port, tls=tls) as c:
                r = c.get("/hello.txt")
                self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)
                self.assertTrue(r.ended, r)
                assert_h2_response_headers(self, r.headers)
                self.assertEqual(r.get("content-length"), str(len(HELLO)), r)
                self.assertRegex(r.get("server") or "", r"^loom(/\S+)?$", r)
                self.assertRegex(r.get("date") or "", r" GMT$", r)
                r = c.get("/mid.bin")  # a second stream on the same connection
                self.assertEqual((r.status, bytes(r.body)), (200, MID), r)

    # ---- nghttp ---------------------------------------------------------------------

    def nghttp(self, args):
        p = run_tool(["nghttp"] + args)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        return p.returncode, p.stdout, out

    def test_nghttp_tls(self):
        rc, _, out = self.nghttp(["-nv", self.url(tls=True)])
        self.assertEqual(rc, 0, out)
        self.assertIn("recv SETTINGS frame", out)
        self.assertIn(":status: 200", out)
        self.assertRegex(out, r"recv DATA frame <length=13, flags=0x01, stream_id=\d+>")
        rc, body, out = self.nghttp([self.url("/mid.bin", tls=True)])
        self.assertEqual(rc, 0, out)
        self.assertEqual(body, MID)

    def test_nghttp_h2c_prior_knowledge(self):
        rc, _, out = self.nghttp(["-nv", self.url()])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("HTTP Upgrade", out)
        self.assertIn(":status: 200", out)
        self.assertIn("recv SETTINGS frame", out)
        rc, body, out = self.nghttp([self.url("/mid.bin")])
        self.assertEqual(rc, 0, out)
        self.assertEqual(body, MID)

    def test_nghttp_upgrade(self):
        rc, _, out = self.nghttp(["-nuv", self.url()])
        self.assertEqual(rc, 0, out)
        self.assertIn("HTTP Upgrade request", out)
        self.assertIn("HTTP Upgrade response", out)
        self.assertIn("HTTP Upgrade success", out)
        self.assertIn(":status: 200", out)
        rc, body, out = self.nghttp(["-u", self.url("/mid.bin")])
        self.assertEqual(rc, 0, out)
        self.assertEqual(body, MID)

    # ---- curl -----------------------------------------------------------------------

    def test_curl_http2_tls(self):
        r = curl_h2(self.url(tls=True), ["-k", "--http2"])
        self.assertEqual((r.version, r.status, r.body), ("2", 200, HELLO), r)
        self.assertEqual(r.blocks[0][0].split()[:2], ["HTTP/2", "200"], r)
        self.assertEqual(r.get("content-length"), str(len(HELLO)), r)
        for name, _ in r.headers:
            self.assertNotIn(name, ("connection", "keep-alive", "transfer-encoding", "upgrade"), r)
        r = curl_h2(self.url("/mid.bin", tls=True), ["-k", "--http2"])
        self.assertEqual((r.version, r.status), ("2", 200), r)
        self.assertEqual(hashlib.sha256(r.body).digest(), hashlib.sha256(MID).digest())

    def test_curl_prior_knowledge(self):
        r = curl_h2(self.url(), ["--http2-prior-knowledge"])
        self.assertEqual((r.version, r.status, r.body), ("2", 200, HELLO), r)
        self.assertEqual(len(r.blocks), 1, r)   # no 101: prior knowledge
        r = curl_h2(self.url("/mid.bin"), ["--http2-prior-knowledge"])
        self.assertEqual((r.version, r.body), ("2", MID), r)

    def test_curl_upgrade(self):
        r = curl_h2(self.url(), ["--http2"])
        self.assertEqual((r.version, r.status, r.body), ("2", 200, HELLO), r)
        self.assertEqual(len(r.blocks), 2, r)
        line, fields = r.blocks[0]
        self.assertTrue(line.startswith("HTTP/1.1 101"), r)
        self.assertIn(("upgrade", "h2c"), [(n, v.lower()) for n, v in fields], r)
        self.assertTrue(r.blocks[1][0].startswith("HTTP/2 200"), r)
        # curl 7.88 keeps at most 32K that arrive with the 101 (its error
        # 16 "connection buffer size is too small to store data following
        # HTTP Upgrade response header"), so no bigger file here: nghttp -u
        # and test_raw_upgrade fetch mid.bin by Upgrade
        r = curl_h2(self.url("/b20k.bin"), ["--http2"])
        self.assertEqual((r.version, r.status, r.body), ("2", 200, B20K), r)

    def test_curl_without_http2_stays_http11(self):
        r = curl_h2(self.url(), ["--http1.1"])
        self.assertEqual((r.version, r.status, r.body), ("1.1", 200, HELLO), r)
        r = curl_h2(self.url(tls=True), ["-k", "--http1.1"])
        self.assertEqual((r.version, r.status, r.body), ("1.1", 200, HELLO), r)

    # ---- Upgrade: h2c byte by byte --------------------------------------------------

    def upgrade(self, path, settings_pairs=()):
        """Upgrade a fresh connection; returns (RawH2 on it, 101 Response)."""
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=WAIT)
        try:
            s.sendall(upgrade_request(path, settings_value=http2_settings_value(settings_pairs)))
            head, rest = read_http1_head(s)
        except BaseException:
            s.close()
            raise
        r, _ = parse_response(head, head=True)
        c = RawH2(None, sock=s, preface=False)
        c.buf = rest
        return c, r

    def test_raw_upgrade(self):
        c, r = self.upgrade("/hello.txt", [(SETTINGS_INITIAL_WINDOW_SIZE, 100000)])
        with c:
            self.assertEqual((r.version, r.status, r.reason), ("HTTP/1.1", 101,
                                                               "Switching Protocols"), r)
            self.assertEqual(r.tokens("connection"), ["upgrade"], r)
            self.assertEqual(r.tokens("upgrade"), ["h2c"], r)
            c.send(PREFACE + settings_frame())
            c.handshake()          # the server's SETTINGS come first after the 101
            st = c.response(1)     # the upgraded request is stream 1
            self.assertEqual((st.status, bytes(st.body), st.ended), (200, HELLO, True), st)
            assert_h2_response_headers(self, st.headers)
            st = c.get(3, "/mid.bin")
            self.assertEqual((st.status, bytes(st.body)), (200, MID), st)
            self.assertEqual(c.goaways, [])

    def test_raw_upgrade_head(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=WAIT)
        with RawH2(None, sock=s, preface=False) as c:
            s.sendall(upgrade_request("/hello.txt", method="HEAD"))
            head, c.buf = read_http1_head(s)
            self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
            c.send(PREFACE + settings_frame())
            st = c.response(1)
            self.assertEqual((st.status, bytes(st.body)), (200, b""), st)
            self.assertEqual(st.get("content-length"), str(len(HELLO)), st)

    def test_upgrade_with_body_served_as_http11(self):
        with RawConn(self.d.port) as c:
            c.send(upgrade_request("/echo", method="POST", body=b"abc"))
            r = c.read_response()
            self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, b"abc"), r)
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                   b"Upgrade: h2c\r\nHTTP2-Settings: AAQAAP__\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3\r\nxyz\r\n0\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, b"xyz"), r)
            # still HTTP/1.1 on this connection
            c.request("GET", "/hello.txt")
            r = c.read_response()
            self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, HELLO), r)

    def test_upgrade_over_tls_ignored(self):
        with RawConn(self.d.tls_port, tls=insecure_ctx(alpn=["http/1.1"])) as c:
            c.send(upgrade_request("/hello.txt"))
            r = c.read_response()
            self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, HELLO), r)
            self.assertNotIn("upgrade", r.tokens("connection"), r)
            c.request("GET", "/hello.txt")   # the connection is still HTTP/1.1
            r = c.read_response()
            self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, HELLO), r)

    def test_upgrade_bad_http2_settings_400(self):
        for value in ("!!!!", "AAAA", "AAAAAAAA*"):   # not base64url; 3 bytes; junk after 6
            with case(value=value), RawConn(self.d.port) as c:
                c.send(upgrade_request("/hello.txt", settings_value=value))
                r = c.read_response()
                self.assertEqual((r.version, r.status), ("HTTP/1.1", 400), r)

    def test_upgrade_needs_connection_tokens(self):
        """Without HTTP2-Settings listed in Connection, or with two
        HTTP2-Settings fields, there is no upgrade."""
        with RawConn(self.d.port) as c:
            c.send(upgrade_request("/hello.txt", connection="Upgrade"))
            r = c.read_response()
            self.assertNotEqual(r.status, 101, r)
            self.assertEqual(r.version, "HTTP/1.1", r)
        with RawConn(self.d.port) as c:
            c.send(upgrade_request("/hello.txt", extra=[("HTTP2-Settings", "AAQAAP__")]))
            r = c.read_response()
            self.assertNotEqual(r.status, 101, r)
            self.assertEqual(r.version, "HTTP/1.1", r)

    def test_preface_only_at_start(self):
        with RawConn(self.d.port) as c:
            c.request("GET", "/hello.txt")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, HELLO), r)
            c.send(PREFACE + settings_frame())
            data = c.read_until_close()
        self.assertTrue(data.startswith(b"HTTP/1.1 "), data[:200])
        r, _ = parse_response(data, eof=True)
        self.assertIn(r.status, (400, 505), r)

    def test_h2c_and_http11_same_port(self):
        with H2Client(self.d.port) as c:
            r = c.get("/hello.txt")
            self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)
            with RawConn(self.d.port) as h1:   # meanwhile, HTTP/1.1 on the same port
                h1.request("GET", "/hello.txt")
                r1 = h1.read_response()
                self.assertEqual((r1.version, r1.status, r1.body), ("HTTP/1.1", 200, HELLO))
            r = c.get("/hello.txt")
            self.assertEqual((r.status, bytes(r.body)), (200, HELLO), r)

    # ---- h2load ------------------------------------------------------------------------

    def run_h2load(self, url, proto):
        res, out = h2load(url, 10000, 10, 10)
        print("# h2load %s: %s" % (proto, ", ".join("%s=%s" % kv for kv in sorted(res.items()))),
              flush=True)
        self.assertEqual(res["protocol"], proto, out)
        self.assertEqual((res["total"], res["succeeded"], res["failed"], res["errored"],
                          res["timeout"]), (10000, 10000, 0, 0, 0), out)
        self.assertEqual(res["2xx"], 10000, out)
        self.assertEqual(res["rc"], 0, out)

    def test_h2load_h2c(self):
        self.run_h2load(self.url(), "h2c")

    def test_h2load_tls(self):
        self.run_h2load(self.url(tls=True), "h2")


if __name__ == "__main__":
    loomtest.main()
