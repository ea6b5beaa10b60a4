"""http module with real clients: curl (GET, HEAD, connection re-use),
Python's http.client (keep-alive, HEAD), Twisted's Agent, HTTP/1.0 with and
without keep-alive over raw sockets; connection handling (Connection:
close, missing Host, OPTIONS *, absolute-form, Server tokens); the return
handler (redirects with Location templates, curl -L, fixed answers) and
the echo handler."""

import http.client
import unittest

import loomtest
from loomtest import own, WAIT
from httptest import (assert_common_headers, case, curl, curl_fetch, HttpD, location,
                      parse_response, start_http, static_server, twisted_requests, VERSION)

HELLO = b"Hello, world\n"
CSS = b"body { color: black }\n"
TREE = {"www/index.html": b"<p>index</p>\n", "www/hello.txt": HELLO, "www/style.css": CSS,
        "www/d/index.html": b"<p>d</p>\n"}


def ret(title, **opts):
    o = {"handler": '"return"'}
    for k, v in opts.items():
        o[k] = v if isinstance(v, int) else '"%s"' % v
    return location(title, o)


RETURN_LOCATIONS = (
    ret("= /r301", status=301, redirect="https://$host$request_uri") +
    ret("= /r302", redirect="http://$http_host/target?from=$uri&$args") +
    ret("/r307/", status=307, redirect="$scheme://$host/new$uri?$args") +
    ret("= /r308", status=308, redirect="/abs/$args") +
    ret("= /r303", status=303, redirect="/see-other") +
    ret("= /old", status=301, redirect="/hello.txt") +
    ret("= /hop1", redirect="/hop2") +
    ret("= /hop2", status=307, redirect="/d/") +
    ret("= /fixed", status=200, body="fixed body", content_type="text/plain") +
    ret("= /teapot", status=418, body="short and stout", content_type="text/x-tea") +
    ret("= /gone", status=410) +
    location("/echo", {"handler": '"echo"'}))


class Clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = HttpD(static_server(extra_locations=RETURN_LOCATIONS), tree=TREE)
        own(cls, cls.d)
        cls.d.start()

    # ---- curl --------------------------------------------------------------------

    def test_curl_get(self):
        r = curl_fetch(self.d.url("/hello.txt"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HELLO)
        self.assertEqual(r.headers.version, "HTTP/1.1")
        self.assertEqual(r.headers.get("server"), "loom/" + VERSION)
        assert_common_headers(self, r.headers)

    def test_curl_head(self):
        r = curl_fetch(self.d.url("/hello.txt"), ["-I"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-length"), str(len(HELLO)))
        self.assertEqual(r.body, b"")

    def test_curl_reuses_connection(self):
        p = curl(["-v", self.d.url("/hello.txt"), "--next", "-v", self.d.url("/style.css"),
                  "--next", "-v", self.d.url("/nope")])
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("Re-using existing connection", err)
        self.assertEqual(err.count("Re-using existing connection"), 2, err)
        self.assertTrue(p.stdout.startswith(HELLO + CSS), p.stdout)

    # ---- http.client -------------------------------------------------------------

    def test_http_client_keepalive(self):
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=WAIT)
        try:
            c.request("GET", "/hello.txt")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, HELLO))
            sock, local = c.sock, c.sock.getsockname()
            c.request("HEAD", "/style.css")
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Length"), str(len(CSS)))
            self.assertEqual(r.read(), b"")
            c.request("GET", "/nope")
            r = c.getresponse()
            self.assertEqual(r.status, 404)
            r.read()
            c.request("GET", "/style.css", headers={"Accept": "*/*"})
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, CSS))
            c.request("POST", "/echo", body=b"abc" * 1000, headers={"Content-Type": "x/y"})
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"abc" * 1000))
            self.assertEqual(r.getheader("Content-Type"), "x/y")
            # every request went over the first connection
            self.assertIs(c.sock, sock)
            self.assertEqual(c.sock.getsockname(), local)
        finally:
            c.close()

    # ---- Twisted -----------------------------------------------------------------

    def test_twisted_agent(self):
        out = twisted_requests([("GET", self.d.url("/hello.txt"), {}),
                                ("HEAD", self.d.url("/style.css"), {}),
                                ("GET", self.d.url("/style.css"), {"User-Agent": "twisted"}),
                                ("GET", self.d.url("/nope"), {})])
        self.assertEqual([o["code"] for o in out], [200, 200, 200, 404])
        self.assertEqual(out[0]["body"], HELLO)
        self.assertEqual(out[0]["version"], [1, 1])
        self.assertEqual(out[1]["body"], b"")
        self.assertEqual(out[1]["headers"]["Content-Length"], [str(len(CSS))])
        self.assertEqual(out[2]["body"], CSS)
        self.assertIn(b"404 Not Found", out[3]["body"])

    def test_twisted_agent_redirect_and_echo(self):
        out = twisted_requests([("GET", self.d.url("/old"), {}),
                                ("GET", self.d.url("/fixed"), {})])
        self.assertEqual(out[0]["code"], 301)
        self.assertTrue(out[0]["headers"]["Location"][0].endswith("/hello.txt"), out[0])
        self.assertEqual((out[1]["code"], out[1]["body"]), (200, b"fixed body"))

    # ---- HTTP/1.0 and connection handling ---------------------------------------------

    def test_http10_closes(self):
        c = self.d.conn()
        try:
            c.send(b"GET /hello.txt HTTP/1.0\r\n\r\n")
            data = c.read_until_close()
        finally:
            c.close()
        r, n = parse_response(data, eof=True)
        self.assertEqual(n, len(data), "bytes after the response: %r" % data[n:])
        self.assertEqual((r.status, r.body), (200, HELLO), r)
        self.assertNotIn("keep-alive", r.tokens("connection"), r)
        self.assertRegex(r.version, r"^HTTP/1\.[01]$")

    def test_http10_keepalive(self):
        c = self.d.conn()
        try:
            c.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\nHost: localhost\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, HELLO), r)
            self.assertIn("keep-alive", r.tokens("connection"), r)
            self.assertEqual(r.get("content-length"), str(len(HELLO)))
            c.send(b"HEAD /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.read_response(head=True)
            self.assertEqual(r.status, 200, r)
            self.assertIn("keep-alive", r.tokens("connection"), r)
            # no keep-alive this time: answered, then closed
            c.send(b"GET /style.css HTTP/1.0\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, CSS), r)
            self.assertTrue(c.closed_by_server(), "still open after an HTTP/1.0 request")
        finally:
            c.close()

    def test_http11_keepalive_default(self):
        c = self.d.conn()
        try:
            for _ in range(3):
                c.request("GET", "/hello.txt")
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, HELLO), r)
                self.assertNotIn("close", r.tokens("connection"), r)
        finally:
            c.close()

    def test_connection_close_honoured(self):
        c = self.d.conn()
        try:
            c.request("GET", "/hello.txt", [("Connection", "close")])
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, HELLO), r)
            self.assertIn("close", r.tokens("connection"), r)
            self.assertTrue(c.closed_by_server(), "not closed after Connection: close")
            self.assertEqual(c.buf, b"")
        finally:
            c.close()

    def test_missing_host_400(self):
        c = self.d.conn()
        try:
            c.send(b"GET /hello.txt HTTP/1.1\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 400, r)
            self.assertIn("close", r.tokens("connection"), r)
            self.assertTrue(c.closed_by_server())
        finally:
            c.close()

    def test_options_star(self):
        r = self.d.request("OPTIONS", "*")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(sorted(r.tokens("allow")), ["get", "head", "options", "post"], r)
        self.assertEqual(r.body, b"")
        p = curl(["-X", "OPTIONS", "--request-target", "*", "-o", "/dev/null", "-w", "%{http_code}",
                  self.d.url("/")])
        self.assertEqual(p.stdout, b"204", p.stderr)

    def test_absolute_form(self):
        r = self.d.request("GET", "http://localhost:%d/hello.txt" % self.d.port, host="ignored.test")
        self.assertEqual((r.status, r.body), (200, HELLO), r)

    def test_date_and_server_everywhere(self):
        for target in ("/hello.txt", "/nope", "/old", "/fixed", "/d"):
            with case(target=target):
                r = self.d.get(target)
                assert_common_headers(self, r)
                self.assertEqual(r.get("server"), "loom/" + VERSION)

    # ---- return --------------------------------------------------------------------

    def loc(self, target, status, host=None):
        host = host or "localhost:%d" % self.d.port
        r = self.d.get(target, host=host)
        self.assertEqual(r.status, status, r)
        return r.get("location")

    def test_redirect_301_host_request_uri(self):
        self.assertEqual(self.loc("/r301?a=1&b=2", 301), "https://localhost/r301?a=1&b=2")
        self.assertEqual(self.loc("/r301", 301), "https://localhost/r301")

    def test_redirect_302_default_http_host_uri_args(self):
        port = self.d.port
        self.assertEqual(self.loc("/r302?x=y", 302),
                         "http://localhost:%d/target?from=/r302&x=y" % port)

    def test_redirect_307_scheme_uri_normalised(self):
        self.assertEqual(self.loc("/r307/a/../b?q=1", 307), "http://localhost/new/r307/b?q=1")
        # $uri is the normalised path, $args empty here
        self.assertEqual(self.loc("/r307/./c", 307), "http://localhost/new/r307/c?")

    def test_redirect_308_and_303(self):
        self.assertEqual(self.loc("/r308?k=v", 308), "/abs/k=v")
        self.assertEqual(self.loc("/r308", 308), "/abs/")
        self.assertEqual(self.loc("/r303", 303), "/see-other")

    def test_redirect_any_method(self):
        for m in ("POST", "PUT", "DELETE", "HEAD"):
            with case(method=m):
                r = self.d.request(m, "/old", body=b"" if m == "HEAD" else b"payload")
                self.assertEqual(r.status, 301, r)
                self.assertEqual(r.get("location"), "/hello.txt")

    def test_curl_follows_redirects(self):
        r = curl_fetch(self.d.url("/old"), ["-L"])
        self.assertEqual([b.status for b in r.blocks], [301, 200], r)
        self.assertEqual(r.body, HELLO)
        r = curl_fetch(self.d.url("/hop1"), ["-L"])
        self.assertEqual([b.status for b in r.blocks], [302, 307, 200], r)
        self.assertEqual(r.body, b"<p>d</p>\n")

    def test_fixed_status_with_body(self):
        r = self.d.get("/fixed")
        self.assertEqual((r.status, r.body), (200, b"fixed body"), r)
        self.assertTrue((r.get("content-type") or "").startswith("text/plain"), r)
        self.assertEqual(r.get("content-length"), "10")
        self.assertFalse(r.has("location"), r)
        r = self.d.get("/teapot")
        self.assertEqual((r.status, r.body), (418, b"short and stout"), r)
        self.assertTrue(r.get("content-type").startswith("text/x-tea"), r)
        r = self.d.get("/gone")
        self.assertEqual(r.status, 410, r)

    def test_fixed_post_body_discarded_connection_kept(self):
        c = self.d.conn()
        try:
            c.request("POST", "/fixed", body=b"z" * 50000)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"fixed body"), r)
            self.assertNotIn("close", r.tokens("connection"), r)
            c.send(b"POST /fixed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n0\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"fixed body"), r)
            self.assertNotIn("close", r.tokens("connection"), r)
            # the bodies were consumed: the next request is parsed as one
            c.request("GET", "/hello.txt")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, HELLO), r)
        finally:
            c.close()

    # ---- echo -------------------------------------------------------------------------

    def test_echo_content_length(self):
        body = bytes(range(256)) * 100
        r = self.d.request("POST", "/echo", [("Content-Type", "application/x-thing")], body)
        self.assertEqual((r.status, r.body), (200, body), r)
        self.assertEqual(r.get("content-length"), str(len(body)), r)
        self.assertEqual(r.get("content-type"), "application/x-thing")

    def test_echo_chunked(self):
        c = self.d.conn()
        try:
            c.send(b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"hello world"), r)
            self.assertTrue(r.chunked, r)
            self.assertEqual(r.get("content-type"), "application/octet-stream", r)
        finally:
            c.close()

    def test_echo_get_empty(self):
        r = self.d.get("/echo")
        self.assertEqual((r.status, r.body), (200, b""), r)

    def test_echo_curl(self):
        r = curl_fetch(self.d.url("/echo"), ["--data-binary", "curl-data", "-H", "Content-Type: a/b"])
        self.assertEqual((r.status, r.body), (200, b"curl-data"), r)


class ServerTokens(unittest.TestCase):
    def test_server_tokens_off(self):
        d = start_http(self, static_server(), opts="server_tokens = no\n",
                       tree={"www/a.txt": "a"})
        for target in ("/a.txt", "/missing"):
            r = d.get(target)
            self.assertEqual(r.get("server"), "loom", r)


if __name__ == "__main__":
    loomtest.main()
