"""The reverse proxy to TLS upstreams (tls: connect endpoints), through the
outbound client API: the name is resolved by the proxy and kept for its
TTL, the certificate verified against ca= (or the system store) for that
name, the name sent as SNI, connections pooled; verify=no; failures give
502 and say why in the error log.

The upstream is a Python HTTP/1.1 server behind the standard ssl module,
with a certificate made by the openssl CLI for "localhost"."""

import shutil
import ssl
import tempfile
import unittest

import loomtest
import proxytest
from httptest import HttpD
from loomtest import make_cert, own
from proxytest import proxy_loc, proxy_server, upstream_section


class TlsUpstream(proxytest.Upstream):
    """proxytest.Upstream speaking TLS with CERT/KEY; records the SNI of
    every handshake in self.sni."""

    def __init__(self, cert, key, **kw):
        super().__init__("tls", **kw)
        self.sni = []
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.sni_callback = self._on_sni

    def _on_sni(self, sock, name, ctx):
        with self.lock:
            self.sni.append(name)

    def _conn(self, s, cid):
        try:
            s = self.ctx.wrap_socket(s, server_side=True)
        except (ssl.SSLError, OSError):
            s.close()
            with self.lock:
                self.open -= 1
                self.lock.notify_all()
            return
        super()._conn(s, cid)


class TlsUpstreams(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="loomtest-certs-")
        own(cls, cls.tmp, lambda: shutil.rmtree(cls.tmp, ignore_errors=True))
        cls.cert, key = make_cert(cls.tmp, "up", "localhost")
        cls.up = own(cls, TlsUpstream(cls.cert, key, also_v6=True)).start()
        p = cls.up.port
        ups = (upstream_section("verified", ["tls:host=localhost:port=%d:ca=%s" % (p, cls.cert)]) +
               upstream_section("insecure", ["tls:host=127.0.0.1:port=%d:verify=no" % p]) +
               upstream_section("untrusted", ["tls:host=localhost:port=%d" % p], max_fails=0) +
               upstream_section("wrongname", ["tls:host=127.0.0.1:port=%d:ca=%s" % (p, cls.cert)],
                                max_fails=0) +
               upstream_section("plain", ["tcp:host=127.0.0.1:port=%d" % p], max_fails=0))
        cls.d = own(cls, HttpD(proxy_server([proxy_loc("/v/", "verified"),
                                             proxy_loc("/i/", "insecure"),
                                             proxy_loc("/u/", "untrusted"),
                                             proxy_loc("/w/", "wrongname"),
                                             proxy_loc("/p/", "plain")]),
                               opts=ups, tree={"www": None}))
        cls.d.start()

    def test_verified_by_name_with_sni_and_pooling(self):
        before = self.up.accepted
        n_sni = len(self.up.sni)
        for i in range(3):
            r = self.d.get("/v/x%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"tls\n")
            self.assertEqual(self.up.requests[-1].target, "/v/x%d" % i)
        # one TLS connection, kept alive between the requests
        self.assertEqual(self.up.accepted - before, 1)
        self.assertEqual(self.up.sni[n_sni:], ["localhost"])

    def test_no_verify(self):
        r = self.d.get("/i/y")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.up.requests[-1].target, "/i/y")

    def test_untrusted_certificate_502(self):
        r = self.d.get("/u/z")
        self.assertEqual(r.status, 502, r)
        self.d.wait_log(r'upstream "untrusted".*certificate verification failed')

    def test_address_not_in_certificate_502(self):
        # the certificate names localhost, not 127.0.0.1
        r = self.d.get("/w/z")
        self.assertEqual(r.status, 502, r)
        self.d.wait_log(r'upstream "wrongname".*certificate verification failed')

    def test_plain_to_tls_upstream_fails(self):
        r = self.d.get("/p/z")
        self.assertIn(r.status, (502, 504), r)


if __name__ == "__main__":
    loomtest.main()
