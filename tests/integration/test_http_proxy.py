"""http module, reverse proxy: forwarding to a second loomd (files byte for
byte, HEAD, 404, ranges, conditionals, uploads with Content-Length and
chunked through its echo handler), what the upstream receives (request
line, proxy_prefix, Host and proxy_host, hop-by-hop fields removed both
ways, X-Forwarded-For/-Proto and Forwarded), response framing, Debian's
nginx as the upstream, static and proxied streams multiplexed on one
HTTP/2 connection, and the /proxy/ example of the default configuration."""

import os
import re
import shutil
import unittest

import loomtest
from loomtest import Loomd, free_port, own
from httptest import (assert_common_headers, assert_error_page, case, curl, curl_fetch, etag_of,
                      HttpD, location, make_random_file, sha256_file,
                      static_server, wait_for)
import proxytest
from proxytest import (chunked, forwarded_elements, H2Client, Nginx, NGINX, proxy_loc,
                       proxy_server, response_bytes, sha256, upstream_section)

HELLO = b"Hello through the proxy\n"
OWN = b"served by the proxy itself\n"


def start(testcase, d):
    testcase.addCleanup(d.cleanup)
    d.start()
    return d


def upstream_loomd(extra_tree=None, access_log=True):
    """A static loomd (the upstream) with an echo location /echo."""
    tree = {"www/hello.txt": HELLO, "www/same/hello.txt": b"same path\n"}
    tree.update(extra_tree or {})
    return HttpD(static_server(extra_locations=location("/echo", {"handler": '"echo"',
                                                                   "max_body": '"200M"'})),
                 tree=tree, opts='access_log = "{dir}/access.log"\n' if access_log else "")


def access_lines(d):
    try:
        with open(d.path("access.log"), errors="replace") as f:
            return [l for l in f.read().split("\n") if l]
    except FileNotFoundError:
        return []


class ToLoomd(unittest.TestCase):
    """Proxy loomd -> static loomd: /p/ strips the prefix (proxy_prefix
    "/"), /same/ passes the path unchanged."""

    @classmethod
    def setUpClass(cls):
        # owned first, cleaned up first: the proxy's pooled connections close
        cls.up = own(cls, upstream_loomd())
        cls.bin_sha = make_random_file(cls.up.path("www/bin/r.bin"), 1)
        cls.up.start()
        cls.proxy = own(cls, HttpD(proxy_server([proxy_loc("/p/", "back", proxy_prefix="/",
                                                           max_body="10M"),
                                                 proxy_loc("/same/", "back")]),
                                   opts=upstream_section("back", [cls.up.port]),
                                   tree={"www/own.txt": OWN}))
        cls.proxy.start()

    def test_get_curl(self):
        r = curl_fetch(self.proxy.url("/p/hello.txt"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HELLO)
        h = r.headers
        self.assertEqual(h.get("content-length"), str(len(HELLO)))
        self.assertEqual(h.get("content-type"), "text/plain; charset=utf-8")
        self.assertEqual(h.get("etag"), etag_of(self.up.path("www/hello.txt")))
        self.assertIsNotNone(h.get("last-modified"), r)
        assert_common_headers(self, h)

    def test_own_static_location_still_served(self):
        r = self.proxy.get("/own.txt")
        self.assertEqual((r.status, r.body), (200, OWN), r)

    def test_path_unchanged_without_prefix(self):
        r = self.proxy.get("/same/hello.txt")
        self.assertEqual((r.status, r.body), (200, b"same path\n"), r)

    def test_head(self):
        with self.proxy.conn() as c:
            c.request("HEAD", "/p/hello.txt")
            h = c.read_response(head=True)
            # the HEAD answer has no body: the next answer starts right after it
            c.request("GET", "/p/same/hello.txt")
            g = c.read_response()
        self.assertEqual(h.status, 200, h)
        self.assertEqual(h.get("content-length"), str(len(HELLO)), h)
        self.assertEqual(h.body, b"")
        self.assertEqual((g.status, g.body), (200, b"same path\n"), g)

    def test_head_curl(self):
        r = curl_fetch(self.proxy.url("/p/bin/r.bin"), ["-I"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-length"), str(1 << 20))
        self.assertEqual(r.body, b"")

    def test_404_passed(self):
        r = self.proxy.get("/p/nope-404.txt")
        assert_error_page(self, r, 404)
        wait_for(lambda: any('"GET /nope-404.txt HTTP/1.1" 404' in l for l in access_lines(self.up)),
                 what="the upstream's access log line")

    def test_binary_byte_exact(self):
        r = curl_fetch(self.proxy.url("/p/bin/r.bin"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), 1 << 20)
        self.assertEqual(sha256(r.body), self.bin_sha)

    def test_range_passed(self):
        with open(self.up.path("www/bin/r.bin"), "rb") as f:
            f.seek(1000)
            want = f.read(5000)
        r = curl_fetch(self.proxy.url("/p/bin/r.bin"), ["-r", "1000-5999"])
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.headers.get("content-range"), "bytes 1000-5999/%d" % (1 << 20))
        self.assertEqual(r.body, want)

    def test_conditional_304_passed(self):
        etag = etag_of(self.up.path("www/hello.txt"))
        with self.proxy.conn() as c:
            c.request("GET", "/p/hello.txt", [("If-None-Match", etag)])
            n = c.read_response()
            c.request("GET", "/p/hello.txt")
            g = c.read_response()
        self.assertEqual(n.status, 304, n)
        self.assertEqual(n.body, b"")
        self.assertEqual((g.status, g.body), (200, HELLO), g)

    def test_many_requests_one_client_connection(self):
        with self.proxy.conn() as c:
            for i in range(20):
                with case(i=i):
                    path = "/p/hello.txt" if i % 2 else "/p/bin/r.bin"
                    c.request("GET", path)
                    r = c.read_response()
                    self.assertEqual(r.status, 200, r)
                    if i % 2:
                        self.assertEqual(r.body, HELLO)
                    else:
                        self.assertEqual(sha256(r.body), self.bin_sha)

    def test_http10_client(self):
        r = self.proxy.request("GET", "/p/hello.txt?m=http10client", version="HTTP/1.0")
        self.assertEqual((r.status, r.body), (200, HELLO), r)
        self.assertEqual(r.version, "HTTP/1.1")
        wait_for(lambda: any('"GET /hello.txt?m=http10client HTTP/1.1" 200' in l
                             for l in access_lines(self.up)),
                 what="an HTTP/1.1 request in the upstream's access log")

    def test_post_content_length_echoed(self):
        body = os.urandom(300000)
        r = self.proxy.request("POST", "/p/echo", [("Content-Type", "application/x-test")], body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.get("content-type"), "application/x-test")
        self.assertEqual(len(r.body), len(body))
        self.assertEqual(r.body, body)

    def test_post_chunked_echoed(self):
        parts = [os.urandom(n) for n in (1, 1000, 65536, 100000, 7)]
        body = b"".join(parts)
        with self.proxy.conn() as c:
            c.send(b"POST /p/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Type: application/octet-stream\r\n\r\n" + chunked(parts))
            r = c.read_final()
            c.request("GET", "/p/hello.txt")
            g = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)
        self.assertEqual((g.status, g.body), (200, HELLO), g)

    def test_post_chunked_curl(self):
        path = self.proxy.path("upload.bin")
        sha = make_random_file(path, 2)
        r = curl_fetch(self.proxy.url("/p/echo"), ["-H", "Transfer-Encoding: chunked",
                                                   "--data-binary", "@" + path])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), 2 << 20)
        self.assertEqual(sha256(r.body), sha)

    def test_upload_over_max_body_413(self):
        """max_body of the proxy location (10M) applies to proxied uploads."""
        r = self.proxy.request("POST", "/p/echo", [("Content-Length", str(11 << 20))])
        self.assertEqual(r.status, 413, r)


class Headers(unittest.TestCase):
    """Proxy -> a python upstream that records every request head; the
    proxy also listens with TLS."""

    @classmethod
    def setUpClass(cls):
        cls.up = own(cls, proxytest.Upstream("rec", respond=cls.respond)).start()
        cls.d = own(cls, HttpD(proxy_server([proxy_loc("/p/", "rec"),
                                             proxy_loc("/pre/", "rec", proxy_prefix="/"),
                                             proxy_loc("/base/", "rec", proxy_prefix="/app/v1/"),
                                             proxy_loc("/ph/", "rec", proxy_host="backend.local")],
                                            names=("localhost", "example.test")),
                               opts=upstream_section("rec", [cls.up.port]), tls=True,
                               tree={"www": None}))
        cls.d.start()

    @staticmethod
    def respond(up, req):
        t = req.target
        if "/hop-resp" in t:
            return response_bytes(200, [
                ("Content-Type", "text/plain"), ("Connection", "X-Bar"), ("X-Bar", "1"),
                ("Keep-Alive", "timeout=5, max=100"), ("Proxy-Authenticate", "Basic realm=x"),
                ("Proxy-Connection", "keep-alive"), ("Trailer", "X-T"), ("Upgrade", "foo/1"),
                ("X-End", "kept"), ("Transfer-Encoding", "chunked")],
                chunked([b"hop", b"-by-", b"hop\n"]))
        if "/fields" in t:
            return response_bytes(200, [("Content-Type", "text/x-fields"),
                                        ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2"),
                                        ("Cache-Control", "max-age=7"), ("X-Custom", "v  w"),
                                        ("Server", "upstream/9.9"),
                                        ("Date", "Thu, 01 Jan 1970 00:00:00 GMT")], b"fields\n")
        if "/interim" in t:
            return (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" +
                    response_bytes(200, [("X-Final", "yes")], b"final\n"))
        if "/unframed" in t:
            return response_bytes(200, [("Content-Type", "text/plain"), ("Connection", "close")],
                                  b"until the close\n" * 100, length=False)
        if "/nocontent" in t:
            return b"HTTP/1.1 204 No Content\r\nX-Was: 204\r\n\r\n"
        if "/notmod" in t:
            return b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'
        if "/headlen" in t:
            return b"HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n"
        return proxytest.Upstream.default_respond(up, req)

    def last(self, marker):
        """The request the upstream got whose head holds MARKER."""
        found = self.up.find(marker)
        self.assertEqual(len(found), 1, "upstream got %d requests with %r" % (len(found), marker))
        return found[0]

    def test_request_line_and_host_passed(self):
        r = self.d.request("GET", "/p/a/b%20c?x=1&m=rl1&y=%2F", [("Accept", "*/*")],
                           host="example.test:8000")
        self.assertEqual((r.status, r.body), (200, b"rec\n"), r)
        q = self.last("m=rl1")
        self.assertEqual((q.method, q.target, q.version), ("GET", "/p/a/b%20c?x=1&m=rl1&y=%2F",
                                                           "HTTP/1.1"), q)
        self.assertEqual(q.getall("host"), ["example.test:8000"], q)
        self.assertEqual(q.get("accept"), "*/*", q)

    def test_host_from_curl(self):
        curl_fetch(self.d.url("/p/x?m=curlhost"))
        q = self.last("m=curlhost")
        self.assertEqual(q.getall("host"), ["127.0.0.1:%d" % self.d.port], q)

    def test_proxy_prefix_replaces_location_prefix(self):
        for path, want, marker in (("/pre/a?x=1&m=pp1", "/a?x=1&m=pp1", "m=pp1"),
                                   ("/pre/?m=pp2", "/?m=pp2", "m=pp2"),
                                   ("/base/a/b?m=pp3", "/app/v1/a/b?m=pp3", "m=pp3")):
            with case(path=path):
                r = self.d.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.last(marker).target, want)

    def test_proxy_host(self):
        r = self.d.request("GET", "/ph/x?m=ph1", host="localhost")
        self.assertEqual(r.status, 200, r)
        q = self.last("m=ph1")
        self.assertEqual(q.getall("host"), ["backend.local"], q)
        self.assertEqual(q.target, "/ph/x?m=ph1", q)
        # Forwarded names the host the client asked for
        self.assertEqual(forwarded_elements(q.get("forwarded"))[-1].get("host"), "localhost", q)

    def test_http10_client_forwarded_as_http11(self):
        r = self.d.request("GET", "/p/x?m=v10", version="HTTP/1.0")
        self.assertEqual((r.status, r.body), (200, b"rec\n"), r)
        q = self.last("m=v10")
        self.assertEqual(q.version, "HTTP/1.1", q)
        self.assertEqual(q.getall("host"), ["localhost"], q)

    def test_hop_by_hop_request_fields_removed(self):
        r = self.d.request("GET", "/p/x?m=hop1", [
            ("Connection", "keep-alive, X-Foo, X-Bar"), ("X-Foo", "1"), ("X-Bar", "2"),
            ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Upgrade", "foo/2"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="), ("Proxy-Connection", "keep-alive"),
            ("HTTP2-Settings", "AAMAAABkAAQAAP__"), ("Trailer", "X-T"), ("X-Keep", "yes"),
            ("Authorization", "Bearer end-to-end")])
        self.assertEqual(r.status, 200, r)
        q = self.last("m=hop1")
        names = q.names()
        for gone in ("x-foo", "x-bar", "keep-alive", "te", "upgrade", "proxy-authorization",
                     "proxy-connection", "http2-settings", "trailer"):
            self.assertNotIn(gone, names, q)
        for tok in ("x-foo", "x-bar", "upgrade", "te"):
            self.assertNotIn(tok, q.tokens("connection"), q)
        self.assertEqual(q.get("x-keep"), "yes", q)
        self.assertEqual(q.get("authorization"), "Bearer end-to-end", q)

    def test_request_transfer_encoding_not_passed_as_is(self):
        """The client's chunked framing ends at the proxy: the upstream gets
        the body once, in framing of the proxy's own."""
        parts = [b"abc", b"x" * 5000, b"end"]
        with self.d.conn() as c:
            c.send(b"POST /p/x?m=te1 HTTP/1.1\r\nHost: localhost\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + chunked(parts, b"X-Trailer: t\r\n"))
            r = c.read_final()
        self.assertEqual(r.status, 200, r)
        q = self.last("m=te1")
        self.assertEqual(q.body, b"".join(parts))
        self.assertTrue(q.chunked or q.get("content-length") == str(len(q.body)), q)
        self.assertLessEqual(len(q.getall("transfer-encoding")), 1, q)
        self.assertFalse(q.has("transfer-encoding") and q.has("content-length"), q)

    def test_request_body_framing(self):
        """Content-Length passed when known; an unknown length (chunked)
        is sent chunked."""
        body = os.urandom(70000)
        r = self.d.request("POST", "/p/x?m=cl1", [("Content-Type", "application/octet-stream")],
                           body)
        self.assertEqual(r.status, 200, r)
        q = self.last("m=cl1")
        self.assertEqual(q.get("content-length"), str(len(body)), q)
        self.assertFalse(q.chunked, q)
        self.assertEqual(q.body, body)
        with self.d.conn() as c:
            c.send(b"PUT /p/x?m=ch1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + chunked([body[:30000], body[30000:]]))
            r = c.read_final()
        self.assertEqual(r.status, 200, r)
        q = self.last("m=ch1")
        self.assertEqual(q.method, "PUT")
        self.assertTrue(q.chunked, q)
        self.assertFalse(q.has("content-length"), q)
        self.assertEqual(q.body, body)

    def test_hop_by_hop_response_fields_removed(self):
        for version in ("HTTP/1.1", "HTTP/1.0"):
            with case(version=version):
                r = self.d.request("GET", "/p/hop-resp", version=version)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, b"hop-by-hop\n")
                self.assertEqual(r.get("x-end"), "kept", r)
                for gone in ("x-bar", "keep-alive", "proxy-authenticate", "proxy-connection",
                             "trailer", "upgrade"):
                    self.assertFalse(r.has(gone), "%s passed:\n%s" % (gone, r.head_text()))
                self.assertNotIn("x-bar", r.tokens("connection"), r)
                if version == "HTTP/1.0":
                    self.assertFalse(r.has("transfer-encoding"), r)
                else:
                    self.assertIn(r.tokens("transfer-encoding"), ([], ["chunked"]), r)

    def test_end_to_end_fields_both_ways(self):
        r = self.d.request("GET", "/p/fields?m=e2e", [("Cookie", "c=1; d=2"), ("X-Custom", "a,b"),
                                                       ("Accept-Language", "fr")])
        self.assertEqual((r.status, r.body), (200, b"fields\n"), r)
        q = self.last("m=e2e")
        self.assertEqual(q.get("cookie"), "c=1; d=2", q)
        self.assertEqual(q.get("x-custom"), "a,b", q)
        self.assertEqual(q.get("accept-language"), "fr", q)
        self.assertEqual(r.getall("set-cookie"), ["a=1; Path=/", "b=2"], r)
        self.assertEqual(r.get("cache-control"), "max-age=7", r)
        self.assertEqual(r.get("content-type"), "text/x-fields", r)
        self.assertEqual(r.get("x-custom"), "v  w", r)
        # Server and Date are loom's
        assert_common_headers(self, r)
        self.assertNotIn("1970", r.get("date"), r)

    def test_x_forwarded_for(self):
        self.d.get("/p/x?m=xff1")
        self.assertEqual(self.last("m=xff1").get("x-forwarded-for"), "127.0.0.1")
        self.d.get("/p/x?m=xff2", headers=[("X-Forwarded-For", "10.0.0.1, 10.0.0.2")])
        q = self.last("m=xff2")
        vals = [v.strip() for v in q.get("x-forwarded-for").split(",")]
        self.assertEqual(vals, ["10.0.0.1", "10.0.0.2", "127.0.0.1"], q)

    def test_x_forwarded_proto_and_forwarded_http(self):
        self.d.get("/p/x?m=proto1")
        q = self.last("m=proto1")
        self.assertEqual(q.getall("x-forwarded-proto"), ["http"], q)
        self.assertEqual(forwarded_elements(q.get("forwarded")),
                         [{"for": "127.0.0.1", "proto": "http", "host": "localhost"}], q)

    def test_x_forwarded_proto_and_forwarded_https(self):
        r = curl_fetch(self.d.url("/p/x?m=proto2", tls=True, host="localhost"),
                       ["-k", "--http1.1", "--resolve", "localhost:%d:127.0.0.1" % self.d.tls_port])
        self.assertEqual(r.status, 200, r)
        q = self.last("m=proto2")
        self.assertEqual(q.getall("x-forwarded-proto"), ["https"], q)
        self.assertEqual(forwarded_elements(q.get("forwarded")),
                         [{"for": "127.0.0.1", "proto": "https",
                           "host": "localhost:%d" % self.d.tls_port}], q)

    def test_forwarded_appended(self):
        self.d.get("/p/x?m=fwd1", headers=[("Forwarded", 'for="[2001:db8::1]";proto=https')])
        q = self.last("m=fwd1")
        self.assertEqual(forwarded_elements(q.get("forwarded")),
                         [{"for": "[2001:db8::1]", "proto": "https"},
                          {"for": "127.0.0.1", "proto": "http", "host": "localhost"}], q)

    def test_interim_responses_swallowed(self):
        with self.d.conn() as c:
            c.request("GET", "/p/interim")
            r = c.read_response()
            c.request("GET", "/p/x")
            n = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.get("x-final"), "yes", r)
        self.assertEqual(r.body, b"final\n")
        self.assertEqual((n.status, n.body), (200, b"rec\n"), n)

    def test_unframed_response_framed_by_loom(self):
        with self.d.conn() as c:
            c.request("GET", "/p/unframed")
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"until the close\n" * 100)
            self.assertTrue(r.chunked, r)    # framed: the client connection stays usable
            c.request("GET", "/p/x")
            n = c.read_response()
            self.assertEqual((n.status, n.body), (200, b"rec\n"), n)
        r10 = self.d.request("GET", "/p/unframed", version="HTTP/1.0")
        self.assertEqual(r10.body, b"until the close\n" * 100)
        self.assertFalse(r10.has("transfer-encoding"), r10)

    def test_no_body_answers(self):
        with self.d.conn() as c:
            c.request("GET", "/p/nocontent")
            a = c.read_response()
            c.request("GET", "/p/notmod")
            b = c.read_response()
            c.request("HEAD", "/p/headlen")
            h = c.read_response(head=True)
            c.request("GET", "/p/x")
            n = c.read_response()
        self.assertEqual((a.status, a.get("x-was"), a.body), (204, "204", b""), a)
        self.assertEqual((b.status, b.get("etag"), b.body), (304, '"x"', b""), b)
        self.assertEqual((h.status, h.get("content-length")), (200, "12345"), h)
        # nothing but the next answer followed the body-less ones
        self.assertEqual((n.status, n.body), (200, b"rec\n"), n)
        self.assertEqual(self.up.errors, [])


class IPv6Client(unittest.TestCase):
    def tearDown(self):
        proxytest.stop_upstreams(self)

    def test_forwarded_quotes_ipv6(self):
        if not loomtest.have_ipv6_loopback():
            self.skipTest("no IPv6 loopback")
        up = proxytest.start_upstream(self, "rec")
        port = free_port()
        d = Loomd('http "web" {\n    listen = {"tcp:%d:interface=[::1]"}\n' % port +
                  upstream_section("rec", [up.port]) + proxy_server([proxy_loc("/p/", "rec")]) +
                  "}\n", files={"www/index.html": "i\n"})
        start(self, d)
        r = curl_fetch("http://[::1]:%d/p/x?m=v6" % port)
        self.assertEqual((r.status, r.body), (200, b"rec\n"), r)
        q = up.find("m=v6")[0]
        self.assertEqual(q.get("x-forwarded-for"), "::1", q)
        self.assertEqual(forwarded_elements(q.get("forwarded")),
                         [{"for": "[::1]", "proto": "http", "host": "[::1]:%d" % port}], q)
        self.assertIn('for="[::1]"', q.get("forwarded"), q)


class ToNginx(unittest.TestCase):
    """Debian's nginx as the upstream."""

    @classmethod
    def setUpClass(cls):
        cls.ng = cls.d = None
        if not os.path.exists(NGINX):
            return
        cls.ng = own(cls, Nginx({"www/hello.txt": HELLO,
                                 "www/index.html": b"<p>nginx index</p>\n"}))
        cls.sha = make_random_file(cls.ng.path("www/big.bin"), 3)
        cls.ng.start()
        cls.d = own(cls, HttpD(proxy_server([proxy_loc("/ng/", "nginx", proxy_prefix="/")]),
                               opts=upstream_section("nginx", [cls.ng.port], keepalive=8),
                               tree={"www": None}))
        cls.d.start()

    def setUp(self):
        if self.ng is None:
            self.skipTest("%s is not installed" % NGINX)

    def nginx_lines(self, needle):
        return [l for l in self.ng.access_lines() if needle in l]

    def test_get_files(self):
        r = curl_fetch(self.d.url("/ng/hello.txt"))
        self.assertEqual((r.status, r.body), (200, HELLO), r)
        self.assertEqual(r.headers.get("content-type"), "text/plain")
        self.assertIsNotNone(r.headers.get("etag"), r)
        assert_common_headers(self, r.headers)   # loom's Server, not nginx's
        r = curl_fetch(self.d.url("/ng/big.bin"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-length"), str(3 << 20))
        self.assertEqual(sha256(r.body), self.sha)
        r = curl_fetch(self.d.url("/ng/"))
        self.assertEqual((r.status, r.body), (200, b"<p>nginx index</p>\n"), r)

    def test_head_and_404(self):
        with self.d.conn() as c:
            c.request("HEAD", "/ng/big.bin")
            h = c.read_response(head=True)
            c.request("GET", "/ng/missing.txt")
            m = c.read_response()
            c.request("GET", "/ng/hello.txt")
            g = c.read_response()
        self.assertEqual((h.status, h.get("content-length")), (200, str(3 << 20)), h)
        self.assertEqual(m.status, 404, m)
        self.assertEqual((g.status, g.body), (200, HELLO), g)

    def test_nginx_saw_the_forwarded_request(self):
        r = self.d.get("/ng/hello.txt?m=nginx1", host="localhost")
        self.assertEqual(r.status, 200, r)
        lines = wait_for(lambda: self.nginx_lines("m=nginx1"), what="nginx access log line")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('"GET /hello.txt?m=nginx1 HTTP/1.1" host=localhost xff=127.0.0.1', lines[0])

    def test_keepalive_connections_reused(self):
        n = 30
        for i in range(n):
            r = self.d.get("/ng/hello.txt?m=nka%d" % i)   # a new client connection each
            self.assertEqual((r.status, r.body), (200, HELLO), r)
        lines = wait_for(lambda: (lambda l: l if len(l) >= n else None)(self.nginx_lines("m=nka")),
                         what="nginx access log lines")
        conns = {l.split()[0] for l in lines}
        self.assertLessEqual(len(conns), 3, "%d upstream connections for %d sequential requests"
                             % (len(conns), n))

    def test_post_answered_405_by_nginx(self):
        r = self.d.request("POST", "/ng/hello.txt", body=b"x" * 1000)
        self.assertEqual(r.status, 405, r)


class H2(unittest.TestCase):
    """Static and proxied requests multiplexed on one HTTP/2 connection
    (h2c prior knowledge)."""

    @classmethod
    def setUpClass(cls):
        cls.have_h2 = proxytest.have_h2()
        cls.up = own(cls, upstream_loomd(access_log=False))
        cls.rec = own(cls, proxytest.Upstream("rec")).start()
        cls.sha = make_random_file(cls.up.path("www/big.bin"), 2)
        cls.up.start()
        cls.d = own(cls, HttpD(proxy_server([proxy_loc("/p/", "back", proxy_prefix="/"),
                                             proxy_loc("/rec/", "rec")]),
                               opts=upstream_section("back", [cls.up.port]) +
                               upstream_section("rec", [cls.rec.port]),
                               tree={"www/own.txt": OWN}))
        cls.d.start()

    def setUp(self):
        if not self.have_h2:
            self.skipTest("python3-h2 is not installed")

    def client(self):
        c = H2Client(self.d.port)
        self.addCleanup(c.close)
        return c

    def test_multiplexed_static_and_proxied(self):
        c = self.client()
        up1 = os.urandom(200000)
        up2 = os.urandom(100000)
        own = c.request("GET", "/own.txt")
        hello = c.request("GET", "/p/hello.txt")
        big = c.request("GET", "/p/big.bin")
        nf = c.request("GET", "/p/nope.txt")
        e1 = c.request("POST", "/p/echo", [("content-type", "application/x-a")], up1)
        e2 = c.request("POST", "/p/echo", [], up2, content_length=False)
        c.wait(own, hello, big, nf, e1, e2)
        self.assertEqual((own.status, bytes(own.body)), (200, OWN), own)
        self.assertEqual((hello.status, bytes(hello.body)), (200, HELLO), hello)
        self.assertEqual(big.status, 200, big)
        self.assertEqual(big.get("content-length"), str(2 << 20))
        self.assertEqual(sha256(bytes(big.body)), self.sha)
        self.assertEqual(nf.status, 404, nf)
        self.assertEqual((e1.status, bytes(e1.body)), (200, up1), e1)
        self.assertEqual(e1.get("content-type"), "application/x-a")
        self.assertEqual((e2.status, bytes(e2.body)), (200, up2), e2)
        for st in (own, hello, big, nf, e1, e2):
            self.assertTrue(st.ended and st.reset is None, st)
            for n, _ in st.headers:
                self.assertNotIn(n, ("connection", "keep-alive", "transfer-encoding", "upgrade",
                                     "proxy-connection"), st)

    def test_upstream_gets_http11(self):
        c = self.client()
        body = os.urandom(50000)
        a = c.request("GET", "/rec/x?m=h2get", [("x-custom", "1")])
        b = c.request("POST", "/rec/x?m=h2cl", [], body)
        u = c.request("POST", "/rec/x?m=h2chunked", [], body, content_length=False)
        c.wait(a, b, u)
        for st in (a, b, u):
            self.assertEqual((st.status, bytes(st.body)), (200, b"rec\n"), st)
        qa = self.rec.find("m=h2get")[0]
        self.assertEqual((qa.method, qa.target, qa.version), ("GET", "/rec/x?m=h2get", "HTTP/1.1"))
        self.assertEqual(qa.getall("host"), ["localhost"], qa)
        self.assertEqual(qa.get("x-custom"), "1", qa)
        self.assertFalse(any(n.startswith(":") for n in qa.names()), qa)
        self.assertEqual(qa.get("x-forwarded-proto"), "http", qa)
        qb = self.rec.find("m=h2cl")[0]
        self.assertEqual(qb.get("content-length"), str(len(body)), qb)
        self.assertEqual(qb.body, body)
        qu = self.rec.find("m=h2chunked")[0]
        self.assertTrue(qu.chunked, qu)
        self.assertEqual(qu.body, body)

    def test_curl_http2(self):
        out = self.d.path("curl-h2.bin")
        r = curl(["--http2-prior-knowledge", "-o", out, "-w", "%{http_code} %{http_version}",
                  self.d.url("/p/big.bin")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"200 2")
        self.assertEqual(sha256_file(out), self.sha)


_PORT_RX = re.compile(r'"((?:tcp|udp|tls):(?:host=[^:"]*:port=)?)(\d+)')


class DefaultConfig(unittest.TestCase):
    """conf/loom.conf run from a copy of conf/ with every port number
    replaced by a free one: /proxy/ on the main instance serves conf/www
    through the second instance."""

    def test_proxy_example(self):
        src = os.path.join(loomtest.SRCDIR, "conf")
        d = Loomd("", raw=True)
        self.addCleanup(d.cleanup)
        shutil.copytree(src, d.dir, dirs_exist_ok=True)
        for root, dirs, files in os.walk(d.dir):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
        with open(d.conf_path) as f:
            text = f.read()
        ports = {}

        def repl(m):
            old = int(m.group(2))
            if old not in ports:
                ports[old] = free_port()
            return '"%s%d' % (m.group(1), ports[old])
        text = _PORT_RX.sub(repl, text)
        self.assertIn(8080, ports, "no port 8080 in the default config")
        self.assertGreaterEqual(len(re.findall(r'handler\s*=\s*"?proxy', text)), 1,
                                "no proxy location in the default config")
        d.write_conf(text, raw=True)
        d.start()
        main = ports[8080]
        with open(os.path.join(src, "www", "hello.txt"), "rb") as f:
            want = f.read()
        r = curl_fetch("http://127.0.0.1:%d/proxy/hello.txt" % main)
        self.assertEqual((r.status, r.body), (200, want), r)
        r = curl_fetch("http://127.0.0.1:%d/proxy/big.txt" % main)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sha256(r.body), sha256_file(os.path.join(src, "www", "big.txt")))


if __name__ == "__main__":
    loomtest.main()
