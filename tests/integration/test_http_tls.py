"""http module over TLS listeners: HTTPS with curl -k and http.client,
keep-alive over TLS, ALPN http/1.1, $scheme in redirects, and SNI choosing
between two profiles' certificates while Host chooses the virtual host
(curl --resolve with --cacert verifies each certificate).  And the other
way, the reverse proxy to HTTPS upstreams: verified against ca=FILE (by
name and by IP address), against the system CA store (the ca-certificates
package, or SSL_CERT_FILE), verify=no; a name mismatch, an untrusted
certificate, a missing CA file and a missing system store each give 502
and a log line that names the cause.  The ktls switch (auto, on, off)
serves the same bytes each way."""

import http.client
import os
import shutil
import ssl
import subprocess
import unittest

import loomtest
from loomtest import free_port, make_cert, own, WAIT
from httptest import (curl, curl_fetch, http_section, HttpD, insecure_ctx, location, OPENSSL,
                      RawConn, static_server)
from proxytest import proxy_loc, proxy_server, upstream_section

HELLO = b"Hello, world\n"


class Https(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        locs = (location("= /to-https", {"handler": '"return"', "status": "301",
                                         "redirect": '"$scheme://$host$request_uri"'}) +
                location("/echo", {"handler": '"echo"'}))
        cls.d = HttpD(static_server(extra_locations=locs), tls=True,
                      tree={"www/hello.txt": HELLO, "www/index.html": b"<p>i</p>\n"})
        own(cls, cls.d)
        cls.d.start()

    def test_curl_k(self):
        r = curl_fetch(self.d.url("/hello.txt", tls=True), ["-k"])
        self.assertEqual((r.status, r.body), (200, HELLO), r)
        self.assertEqual(r.headers.get("content-length"), str(len(HELLO)))
        r = curl_fetch(self.d.url("/", tls=True), ["-k", "-I"])
        self.assertEqual(r.status, 200, r)

    def test_curl_without_k_refuses_self_signed(self):
        p = curl(["-o", "/dev/null", self.d.url("/hello.txt", tls=True)])
        self.assertEqual(p.returncode, 60, p.stderr)  # peer certificate cannot be authenticated

    def test_same_content_plain_and_tls(self):
        a = curl_fetch(self.d.url("/hello.txt"))
        b = curl_fetch(self.d.url("/hello.txt", tls=True), ["-k"])
        self.assertEqual(a.body, b.body)
        self.assertEqual(a.headers.get("etag"), b.headers.get("etag"))

    def test_curl_reuses_tls_connection(self):
        p = curl(["--http1.1", "-k", "-v", self.d.url("/hello.txt", tls=True), "--next",
                  "--http1.1", "-k", "-v", self.d.url("/", tls=True)])
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("Re-using existing connection", err)
        self.assertIn("ALPN: server accepted http/1.1", err)
        self.assertEqual(p.stdout, HELLO + b"<p>i</p>\n")

    def test_http_client_keepalive_over_tls(self):
        c = http.client.HTTPSConnection("127.0.0.1", self.d.tls_port, timeout=WAIT,
                                        context=insecure_ctx())
        try:
            c.request("GET", "/hello.txt")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, HELLO))
            sock = c.sock
            c.request("HEAD", "/hello.txt")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b""))
            c.request("POST", "/echo", body=b"x" * 200000)
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"x" * 200000))
            self.assertIs(c.sock, sock)
        finally:
            c.close()

    def test_alpn(self):
        with RawConn(self.d.tls_port, tls=insecure_ctx(alpn=["h2", "http/1.1"])) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "h2")  # preferred
        with RawConn(self.d.tls_port, tls=insecure_ctx(alpn=["http/1.1"])) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "http/1.1")
            c.request("GET", "/hello.txt")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, HELLO))
        r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.d.tls_port,
                            "-alpn", "http/1.1"], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=WAIT)
        self.assertIn("ALPN protocol: http/1.1", r.stdout.decode(errors="replace"))

    def test_scheme_in_redirect(self):
        r = self.d.get("/to-https?a=b", tls=True)
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.get("location"), "https://localhost/to-https?a=b")
        r = self.d.get("/to-https?a=b")
        self.assertEqual(r.get("location"), "http://localhost/to-https?a=b")

    def test_raw_keepalive_pipelined_over_tls(self):
        with RawConn(self.d.tls_port, tls=insecure_ctx()) as c:
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
            for _ in range(3):
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, HELLO))
            c.request("GET", "/hello.txt", [("Connection", "close")])
            r = c.read_response()
            self.assertIn("close", r.tokens("connection"))
            self.assertTrue(c.closed_by_server())


class KernelTls(unittest.TestCase):
    """ktls = auto, on and off: whether or not the kernel takes the record
    layer (this one may lack CONFIG_TLS, then OpenSSL keeps it), a small
    file, a 1 MiB file (sendfile without TLS) and a range come back over
    TLS with HTTP/1.1 and HTTP/2 byte for byte."""

    BIG = bytes(range(256)) * 4096

    def check(self, mode):
        d = HttpD(static_server(), tls=True, pre='ktls = "%s"\n' % mode,
                  tree={"www/hello.txt": HELLO, "www/big.bin": self.BIG})
        own(self, d)
        d.start()
        for proto in ("--http1.1", "--http2"):
            r = curl_fetch(d.url("/hello.txt", tls=True), ["-k", proto])
            self.assertEqual((r.status, r.body), (200, HELLO), (mode, proto, r))
            r = curl_fetch(d.url("/big.bin", tls=True), ["-k", proto])
            self.assertEqual((r.status, len(r.body)), (200, len(self.BIG)), (mode, proto))
            self.assertEqual(r.body, self.BIG, (mode, proto))
            r = curl_fetch(d.url("/big.bin", tls=True), ["-k", proto, "-r", "1000-200999"])
            self.assertEqual((r.status, r.body), (206, self.BIG[1000:201000]), (mode, proto))
        r = curl_fetch(d.url("/big.bin"))
        self.assertEqual(r.body, self.BIG, mode)

    def test_auto(self):
        self.check("auto")

    def test_on(self):
        self.check("on")

    def test_off(self):
        self.check("off")


class Sni(unittest.TestCase):
    """Two profiles with server_names, the listener on profile "a"; two
    virtual hosts a.test / b.test with different roots."""

    def setUp(self):
        pre = ('tls "a" { cert = "a.pem"  key = "a.key"  server_names = {"a.test"} }\n'
               'tls "b" { cert = "b.pem"  key = "b.key"  server_names = {"b.test"} }\n')
        body = (static_server("a", ["a.test"], root="wa") +
                static_server("b", ["b.test"], root="wb"))
        self.d = HttpD(body, tls=True, profile="a", pre=pre,
                       tree={"wa/index.html": b"site A\n", "wb/index.html": b"site B\n"})
        self.addCleanup(self.d.cleanup)
        self.a_pem, _ = make_cert(self.d.dir, "a", "a.test")
        self.b_pem, _ = make_cert(self.d.dir, "b", "b.test")
        self.d.start()

    def fetch(self, name, cafile):
        port = self.d.tls_port
        return curl_fetch("https://%s:%d/" % (name, port),
                          ["--resolve", "%s:%d:127.0.0.1" % (name, port), "--cacert", cafile])

    def test_sni_picks_certificate_and_host_picks_vhost(self):
        r = self.fetch("a.test", self.a_pem)
        self.assertEqual((r.status, r.body), (200, b"site A\n"), r)
        r = self.fetch("b.test", self.b_pem)
        self.assertEqual((r.status, r.body), (200, b"site B\n"), r)

    def test_wrong_ca_fails(self):
        """Verification really depends on the certificate sent: b.test
        checked against a's certificate fails."""
        port = self.d.tls_port
        p = curl(["-o", "/dev/null", "--resolve", "b.test:%d:127.0.0.1" % port, "--cacert",
                  self.a_pem, "https://b.test:%d/" % port])
        self.assertNotEqual(p.returncode, 0)
        p = curl(["-o", "/dev/null", "--resolve", "a.test:%d:127.0.0.1" % port, "--cacert",
                  self.b_pem, "https://a.test:%d/" % port])
        self.assertNotEqual(p.returncode, 0)

    def test_sni_and_host_independent(self):
        """SNI b.test (b's certificate) but Host a.test: a's content."""
        ctx = ssl.create_default_context(cafile=self.b_pem)
        with RawConn(self.d.tls_port, tls=ctx, server_hostname="b.test") as c:
            c.request("GET", "/", host="a.test")
            r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"site A\n"), r)

    def test_plain_http_vhosts(self):
        self.assertEqual(self.d.get("/", host="b.test").body, b"site B\n")
        self.assertEqual(self.d.get("/", host="a.test").body, b"site A\n")


class ProxyToHttps(unittest.TestCase):
    """An upstream loomd with two HTTPS listeners: one whose certificate
    names localhost and 127.0.0.1, one whose certificate names other.test
    only.  Proxies in front of it, one location per way of verifying."""

    @classmethod
    def setUpClass(cls):
        pre = ('tls "a" { cert = "a.pem"  key = "a.key" }\n'
               'tls "b" { cert = "b.pem"  key = "b.key" }\n')
        names = ("byname", "byip", "system", "noverify", "mismatch", "noca")
        tree = {"www/%s/hello.txt" % n: b"upstream says hello\n" for n in names}
        cls.b_port = free_port()
        other = http_section(free_port(), static_server(), cls.b_port, "b", "other")
        cls.up = own(cls, HttpD(static_server(), tls=True, profile="a", pre=pre, post=other,
                                tree=tree))
        cls.a_pem, _ = make_cert(cls.up.dir, "a", "a", san="DNS:localhost,IP:127.0.0.1")
        cls.b_pem, _ = make_cert(cls.up.dir, "b", "b", san="DNS:other.test")
        cls.up.start()
        a = cls.up.tls_port
        cls.eps = {
            "byname": "tls:host=localhost:port=%d:ca=%s" % (a, cls.a_pem),
            "byip": "tls:host=127.0.0.1:port=%d:ca=%s" % (a, cls.a_pem),
            "system": "tls:host=localhost:port=%d" % a,
            "noverify": "tls:host=localhost:port=%d:verify=no" % a,
            "mismatch": "tls:host=localhost:port=%d:ca=%s" % (cls.b_port, cls.b_pem),
            "noca": "tls:host=localhost:port=%d:ca=/nonexistent/ca.pem" % a,
        }
        cls.d = cls._proxy(names)

    @classmethod
    def _proxy(cls, names, env=None):
        ups = "".join(upstream_section(n, [cls.eps[n]], max_fails=0) for n in names)
        d = own(cls, HttpD(proxy_server([proxy_loc("/%s/" % n, n) for n in names]), opts=ups,
                           tree={"www/own.txt": b"own\n"}))
        d.start(env=env)
        return d

    def assert_proxied(self, d, name):
        r = d.get("/%s/hello.txt" % name)
        self.assertEqual((r.status, r.body), (200, b"upstream says hello\n"), d.log())

    def assert_refused(self, d, name, cause):
        """502, and the proxy's error line names CAUSE (a regex)."""
        r = d.get("/%s/hello.txt" % name)
        self.assertEqual(r.status, 502, r)
        d.wait_log(r"\[error\] [^\n]*upstream \"%s\"[^\n]*%s" % (name, cause))

    def test_ca_file_by_name_and_by_address(self):
        self.assert_proxied(self.d, "byname")
        self.assert_proxied(self.d, "byip")
        self.assert_proxied(self.d, "byname")  # the client context again

    def test_verify_no(self):
        self.assert_proxied(self.d, "noverify")

    def test_name_mismatch(self):
        self.assert_refused(self.d, "mismatch", r"certificate verification failed: [^\n]*mismatch")

    def test_system_store_does_not_trust_a_self_signed_upstream(self):
        """The system store is there (a missing one says so, below) and
        does not hold the upstream's certificate."""
        self.assert_refused(self.d, "system", r"certificate verification failed: self.signed")

    def test_missing_ca_file(self):
        self.assert_refused(self.d, "noca", r"cannot load CA file /nonexistent/ca\.pem")

    def test_system_store_from_ssl_cert_file(self):
        """SSL_CERT_FILE replaces the system bundle (OpenSSL's default
        paths): the upstream's certificate there is trusted."""
        empty = os.path.join(self.up.dir, "empty-certs")
        os.makedirs(empty, exist_ok=True)
        env = dict(os.environ, SSL_CERT_FILE=self.a_pem, SSL_CERT_DIR=empty)
        d = self._proxy(["system"], env=env)
        self.assert_proxied(d, "system")

    def test_no_system_store(self):
        """Without ca-certificates: a clear error, not "unable to get local
        issuer certificate"; a bundle installed later is used at the next
        connection, without a restart."""
        empty = os.path.join(self.up.dir, "empty-certs")
        os.makedirs(empty, exist_ok=True)
        later = os.path.join(self.up.dir, "later.pem")
        env = dict(os.environ, SSL_CERT_FILE=later, SSL_CERT_DIR=empty)
        d = self._proxy(["system"], env=env)
        self.assert_refused(d, "system", r"no system CA certificates: neither %s nor %s "
                            r"holds any \(install ca-certificates" % (later, empty))
        shutil.copy(self.a_pem, later)
        self.assert_proxied(d, "system")


if __name__ == "__main__":
    loomtest.main()
