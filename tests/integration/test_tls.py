"""TLS listeners: profiles, SNI, ALPN, protocol versions, self-signed
profiles, the cert=/key= endpoint form, certificate reload on SIGHUP and
session resumption.  Certificates are made with the openssl CLI in each
test's temporary folder; clients are `openssl s_client` and Python's ssl."""

import os
import re
import socket
import ssl
import subprocess
import threading
import unittest
import warnings

import loomtest
from loomtest import WAIT, Loomd, echo_roundtrip, free_port, make_cert

OPENSSL = "openssl"


def pem_der(pem):
    with open(pem) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def s_client(port, *args):
    """Run openssl s_client against 127.0.0.1:PORT with stdin at EOF; returns
    its stdout+stderr as text."""
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT)
    return r.stdout.decode(errors="replace") + "\n" + r.stderr.decode(errors="replace")


def subject_has_cn(out, cn):
    return re.search(r"^subject=.*CN\s*=\s*%s\b" % re.escape(cn), out, re.M) is not None


def client_ctx(cafile=None, tls_max=None, tls_min=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if tls_min is not None:
        ctx.minimum_version = tls_min
    if tls_max is not None:
        ctx.maximum_version = tls_max
    return ctx


def tls_connect(port, ctx, server_hostname=None, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname, session=session)
    except BaseException:
        raw.close()
        raise


def peer_der(port, server_hostname=None):
    with tls_connect(port, client_ctx(), server_hostname=server_hostname) as s:
        return s.getpeercert(binary_form=True)


class TlsTest(unittest.TestCase):

    def daemon(self, conf, certs=()):
        """A Loomd on CONF whose folder holds the certs named in CERTS
        (pairs name, cn); not started."""
        d = Loomd(conf)
        self.addCleanup(d.cleanup)
        self.pems = {}
        for name, cn in certs:
            self.pems[name] = make_cert(d.dir, name, cn)
        return d

    def profiles_conf(self, port):
        return ('tls "a" {\n'
                '    cert = "a.pem"\n'
                '    key = "a.key"\n'
                '    server_names = {"a.test"}\n'
                '}\n'
                'tls "b" {\n'
                '    cert = "b.pem"\n'
                '    key = "b.key"\n'
                '    server_names = {"b.test"}\n'
                '}\n'
                'echo "tls" {\n'
                '    listen = {"tls:%d:interface=127.0.0.1:profile=a"}\n'
                '    alpn = {"x-echo", "echo"}\n'
                '}\n' % port)

    def start_profiles(self):
        port = free_port()
        d = self.daemon(self.profiles_conf(port), [("a", "a.test"), ("b", "b.test")])
        d.start()
        return d, port

    def test_sni_selects_profile(self):
        d, port = self.start_profiles()
        out = s_client(port, "-servername", "b.test")
        self.assertTrue(subject_has_cn(out, "b.test"), "SNI b.test should get the b cert:\n" + out)
        out = s_client(port, "-servername", "a.test")
        self.assertTrue(subject_has_cn(out, "a.test"), "SNI a.test should get the a cert:\n" + out)
        out = s_client(port, "-noservername")
        self.assertTrue(subject_has_cn(out, "a.test"), "no SNI should get the listener's a cert:\n" + out)
        # The same checked byte for byte with Python's ssl.
        self.assertEqual(peer_der(port, "b.test"), pem_der(self.pems["b"][0]))
        self.assertEqual(peer_der(port, "a.test"), pem_der(self.pems["a"][0]))
        self.assertEqual(peer_der(port, None), pem_der(self.pems["a"][0]))
        # A name no profile answers falls back to the listener's profile.
        self.assertEqual(peer_der(port, "c.test"), pem_der(self.pems["a"][0]))

    def test_alpn(self):
        d, port = self.start_profiles()
        out = s_client(port, "-servername", "a.test", "-alpn", "echo")
        self.assertIn("ALPN protocol: echo", out)
        out = s_client(port, "-servername", "a.test", "-alpn", "x-echo")
        self.assertIn("ALPN protocol: x-echo", out)
        ctx = client_ctx(self.pems["a"][0])
        ctx.set_alpn_protocols(["echo"])
        with tls_connect(port, ctx, "a.test") as s:
            self.assertEqual(s.selected_alpn_protocol(), "echo")
            self.assertEqual(echo_roundtrip(s, b"alpn\n"), b"alpn\n")

    def test_echo_over_tls(self):
        d, port = self.start_profiles()
        for name, host in (("a", "a.test"), ("b", "b.test")):
            ctx = client_ctx(self.pems[name][0])
            with tls_connect(port, ctx, host) as s:
                self.assertEqual(echo_roundtrip(s, b"hello over tls\r\n"), b"hello over tls\r\n")
                big = bytes(range(256)) * 1024
                self.assertEqual(echo_roundtrip(s, big), big)
                s.shutdown(socket.SHUT_WR)

    def _client_can_do_tls11(self, pem, key):
        """Control: can this Python/OpenSSL do a TLS 1.1 handshake at all
        (against a local Python server that allows it)?"""
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                sctx.minimum_version = ssl.TLSVersion.TLSv1
                sctx.maximum_version = ssl.TLSVersion.TLSv1_1
            sctx.load_cert_chain(pem, key)
        except (ssl.SSLError, ValueError):
            return False
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        lsock.settimeout(WAIT)

        def serve():
            try:
                c, _ = lsock.accept()
                with sctx.wrap_socket(c, server_side=True) as sc:
                    sc.recv(1)
            except (OSError, ssl.SSLError):
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            with tls_connect(lsock.getsockname()[1], self.tls11_ctx()) as s:
                ok = s.version() in ("TLSv1.1", "TLSv1")
            return ok
        except (OSError, ssl.SSLError):
            return False
        finally:
            t.join(WAIT)
            lsock.close()

    @staticmethod
    def tls11_ctx():
        ctx = client_ctx()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        return ctx

    def test_tls11_refused(self):
        d, port = self.start_profiles()
        if not self._client_can_do_tls11(*self.pems["a"]):
            self.skipTest("this Python/OpenSSL cannot speak TLS 1.1 at all")
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with tls_connect(port, self.tls11_ctx(), "a.test") as s:
                self.fail("TLS 1.1 handshake accepted (%s)" % s.version())
        # TLS 1.2 is accepted, and the daemon still serves.
        ctx = client_ctx(self.pems["a"][0], tls_max=ssl.TLSVersion.TLSv1_2)
        with tls_connect(port, ctx, "a.test") as s:
            self.assertEqual(s.version(), "TLSv1.2")
            self.assertEqual(echo_roundtrip(s, b"v12\n"), b"v12\n")

    def test_self_signed_profile(self):
        port = free_port()
        d = self.daemon('tls "ss" {\n'
                        '    self_signed = yes\n'
                        '}\n'
                        'echo "tls" {\n'
                        '    listen = {"tls:%d:interface=127.0.0.1:profile=ss"}\n'
                        '}\n' % port)
        d.start()
        with tls_connect(port, client_ctx(), "localhost") as s:
            der = s.getpeercert(binary_form=True)
            self.assertEqual(echo_roundtrip(s, b"self-signed\n"), b"self-signed\n")
        self.assertTrue(der)
        der_path = os.path.join(d.dir, "peer.der")
        with open(der_path, "wb") as f:
            f.write(der)
        r = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-in", der_path, "-noout",
                            "-subject", "-ext", "subjectAltName"],
                           capture_output=True, text=True, timeout=WAIT)
        text = r.stdout + r.stderr
        self.assertTrue(re.search(r"CN\s*=\s*localhost\b", text) or "DNS:localhost" in text,
                        "self-signed cert is not for localhost:\n" + text)
        # It is self-signed: it verifies against itself for the name localhost.
        pem_path = os.path.join(d.dir, "peer.pem")
        with open(pem_path, "w") as f:
            f.write(ssl.DER_cert_to_PEM_cert(der))
        ctx = client_ctx(pem_path)
        ctx.check_hostname = True
        with tls_connect(port, ctx, "localhost") as s:
            self.assertEqual(echo_roundtrip(s, b"verified\n"), b"verified\n")

    def test_cert_key_endpoint(self):
        port, port2 = free_port(), free_port()
        while port2 == port:
            port2 = free_port()
        # Absolute paths, and relative ones (against the config's folder).
        d = self.daemon('echo "tls" {\n'
                        '    listen = {"tls:%d:interface=127.0.0.1:cert={dir}/a.pem:key={dir}/a.key",\n'
                        '              "tls:%d:interface=127.0.0.1:cert=b.pem:key=b.key"}\n'
                        '}\n' % (port, port2), [("a", "a.test"), ("b", "b.test")])
        d.start()
        out = s_client(port, "-noservername")
        self.assertTrue(subject_has_cn(out, "a.test"), out)
        out = s_client(port2, "-noservername")
        self.assertTrue(subject_has_cn(out, "b.test"), out)
        for p, name, host in ((port, "a", "a.test"), (port2, "b", "b.test")):
            with tls_connect(p, client_ctx(self.pems[name][0]), host) as s:
                self.assertEqual(s.getpeercert(binary_form=True), pem_der(self.pems[name][0]))
                self.assertEqual(echo_roundtrip(s, b"cert-key\n"), b"cert-key\n")

    def test_min_version_tls13(self):
        port = free_port()
        d = self.daemon('tls "a" {\n'
                        '    cert = "a.pem"\n'
                        '    key = "a.key"\n'
                        '    min_version = "TLSv1.3"\n'
                        '}\n'
                        'echo "tls" {\n'
                        '    listen = {"tls:%d:interface=127.0.0.1:profile=a"}\n'
                        '}\n' % port, [("a", "a.test")])
        d.start()
        ctx = client_ctx(self.pems["a"][0], tls_max=ssl.TLSVersion.TLSv1_2)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with tls_connect(port, ctx, "a.test") as s:
                self.fail("TLS 1.2 accepted by a TLSv1.3-only profile (%s)" % s.version())
        ctx = client_ctx(self.pems["a"][0])
        with tls_connect(port, ctx, "a.test") as s:
            self.assertEqual(s.version(), "TLSv1.3")
            self.assertEqual(echo_roundtrip(s, b"v13\n"), b"v13\n")

    def test_reload_replaced_cert(self):
        d, port = self.start_profiles()
        old_der = pem_der(self.pems["a"][0])
        self.assertEqual(peer_der(port, "a.test"), old_der)
        # A connection made before the reload.
        before = tls_connect(port, client_ctx(self.pems["a"][0]), "a.test")
        self.addCleanup(before.close)
        self.assertEqual(echo_roundtrip(before, b"before\n"), b"before\n")
        # Replace the files on disk with a new pair (same name, new key).
        new_pem, new_key = make_cert(d.dir, "a-new", "a.test")
        new_der = pem_der(new_pem)
        self.assertNotEqual(new_der, old_der)
        os.replace(new_key, os.path.join(d.dir, "a.key"))
        os.replace(new_pem, os.path.join(d.dir, "a.pem"))
        self.assertTrue(d.reload(), "reload failed:\n" + d.log())
        self.assertEqual(peer_der(port, "a.test"), new_der)
        self.assertEqual(peer_der(port, None), new_der)
        out = s_client(port, "-servername", "b.test")
        self.assertTrue(subject_has_cn(out, "b.test"), out)
        ctx = client_ctx(os.path.join(d.dir, "a.pem"))
        with tls_connect(port, ctx, "a.test") as s:
            self.assertEqual(echo_roundtrip(s, b"after\n"), b"after\n")
        # The connection from before the reload still works.
        self.assertEqual(echo_roundtrip(before, b"still\n"), b"still\n")

    def _resumption(self, version):
        d, port = self.start_profiles()
        ctx = client_ctx(self.pems["a"][0], tls_min=version, tls_max=version)
        with tls_connect(port, ctx, "a.test") as s1:
            self.assertFalse(s1.session_reused)
            # Read data first: TLS 1.3 tickets arrive after the handshake.
            self.assertEqual(echo_roundtrip(s1, b"first\n"), b"first\n")
            sess = s1.session
        self.assertIsNotNone(sess)
        with tls_connect(port, ctx, "a.test", session=sess) as s2:
            self.assertTrue(s2.session_reused, "session not resumed (%s)" % s2.version())
            self.assertEqual(echo_roundtrip(s2, b"second\n"), b"second\n")

    def test_session_resumption_tls13(self):
        self._resumption(ssl.TLSVersion.TLSv1_3)

    def test_session_resumption_tls12(self):
        self._resumption(ssl.TLSVersion.TLSv1_2)


if __name__ == "__main__":
    loomtest.main()
