"""The http finger handler against a real loomd: curl over HTTP/1.1, h2c
with prior knowledge and HTTP/2 over TLS get, byte for byte, what the finger
protocol answers on a socket for the same query (an entry, the long entry,
the listing, an unknown user, a refused forward), with the statuses the
handler maps them to; JSON with Accept; listing refused; HEAD and 405; a
reload that removes the finger instance (503) and brings it back; the
shipped conf/loom.conf serving /finger/alice; Debian's finger client (port
79, when free) seeing the same text; and a finger location without
`finger` being a FILE:LINE error with exit 1."""

import json
import os
import socket
import subprocess
import unittest

import loomtest
from loomtest import (DaemonTest, WAIT, assert_error_line, finger_query, free_port, line_of,
                      own, run_loomd, start_expect_exit)
from httptest import HttpD, case, location
from h2test import assert_no_sanitizer_report, curl_h2

MODES = (("HTTP/1.1", ["--http1.1"], False, "1.1"),
         ("h2c", ["--http2-prior-knowledge"], False, "2"),
         ("h2 over TLS", ["--http2", "-k"], True, "2"))
TEXT = "text/plain; charset=utf-8"


def finger_section(name, port, list_users="yes", forwarding="no", extra=""):
    return ('finger "%s" {\n'
            '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '    list_users = %s\n'
            '    forwarding = %s\n'
            '    user "alice" {\n'
            '        name = "Alice Liddell"\n'
            '        office = "Rabbit Hole 1"\n'
            '        phone = "+1 555 0100"\n'
            '        email = "alice@example.org"\n'
            '        project = "Tea party"\n'
            '        plan = "Curiouser and curiouser.\\nTea at six."\n'
            '    }\n'
            '    user "bob" {\n'
            '        name = "Bob \\"the\\" Builder"\n'
            '    }\n'
            '%s}\n' % (name, port, list_users, forwarding, extra))


class Finger(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fport = free_port()
        cls.qport = free_port()
        locs = (location("/finger/", {"handler": '"finger"', "finger": '"users"'}) +
                location("/quiet/", {"handler": '"finger"', "finger": '"quiet"'}) +
                location("/none/", {"handler": '"finger"', "finger": '"nosuch"'}))
        body = '    server "main" {\n        names = {"localhost"}\n%s    }\n' % locs
        # "users" forwards over its own protocol; the HTTP front never does
        post = (finger_section("users", cls.fport, forwarding="yes") +
                finger_section("quiet", cls.qport, list_users="no"))
        cls.d = HttpD(body, tls=True, post=post)
        own(cls, cls.d)
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def curl(self, mode, path, args=()):
        _, margs, tls, _ = mode
        r = curl_h2(self.d.url(path, tls=tls), list(margs) + list(args))
        self.assertEqual(r.version, mode[3], r)
        return r

    def same_as_protocol(self, path, query, status, port=None):
        want = finger_query(port or self.fport, query)
        self.assertTrue(want, "finger said nothing")
        for mode in MODES:
            with case(mode=mode[0], path=path):
                r = self.curl(mode, path)
                self.assertEqual(r.status, status, r)
                self.assertEqual(r.get("content-type"), TEXT, r)
                self.assertEqual(r.body, want, r)
                self.assertEqual(r.get("content-length"), str(len(want)), r)
        return want

    def test_entry_is_the_protocol_text(self):
        want = self.same_as_protocol("/finger/alice", "alice", 200)
        self.assertIn(b"Login: alice", want)
        self.assertIn(b"Curiouser and curiouser.\r\nTea at six.\r\n", want)
        self.assertNotIn(b"Email:", want)

    def test_long_entry(self):
        want = self.same_as_protocol("/finger/alice?long", "/W alice", 200)
        self.assertIn(b"Email: alice@example.org\r\n", want)
        self.assertIn(b"Project: Tea party\r\n", want)

    def test_percent_encoded_name(self):
        self.same_as_protocol("/finger/%61lice", "alice", 200)

    def test_listing(self):
        want = self.same_as_protocol("/finger/", "", 200)
        self.assertTrue(want.startswith(b"Login      Name"), want)
        self.assertIn(b"bob", want)

    def test_unknown_404(self):
        want = self.same_as_protocol("/finger/mallory", "mallory", 404)
        self.assertEqual(want, b"finger: mallory: no such user.\r\n")

    def test_listing_refused_403(self):
        want = self.same_as_protocol("/quiet/", "", 403, port=self.qport)
        self.assertIn(b"listing of users is not available", want)
        r = curl_h2(self.d.url("/quiet/"), ["-H", "Accept: application/json"])
        self.assertEqual((r.status, r.body), (403, want), r)
        # a user is still served
        self.same_as_protocol("/quiet/bob", "bob", 200, port=self.qport)

    def test_forwarding_refused_403(self):
        # the quiet instance refuses forwarding on its own protocol: the
        # same text; "users" would forward, but over HTTP it never does
        want = finger_query(self.qport, "alice@127.0.0.1")
        self.assertEqual(want, b"finger: forwarding is not allowed on this server.\r\n")
        for path in ("/finger/alice@127.0.0.1", "/finger/alice%40127.0.0.1",
                     "/quiet/@127.0.0.1"):
            for mode in MODES:
                with case(mode=mode[0], path=path):
                    r = self.curl(mode, path)
                    self.assertEqual((r.status, r.body), (403, want), r)
            r = curl_h2(self.d.url(path), ["-H", "Accept: application/json"])
            self.assertEqual((r.status, r.body), (403, want), r)

    def test_malformed_400(self):
        for path, query in (("/finger/a%20b", "a b"), ("/finger/" + "x" * 600, "x" * 600)):
            with case(path=path):
                r = curl_h2(self.d.url(path))
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.body, finger_query(self.fport, query), r)
        # (%01 and %00 the http layer already refuses in any path)
        for path in ("/finger/%2FW%20alice", "/finger/%zz", "/finger/a%00b", "/finger/a%01"):
            with case(path=path):
                r = curl_h2(self.d.url(path))
                self.assertEqual(r.status, 400, r)
                self.assertNotIn(b"Login:", r.body)

    def test_json(self):
        for mode in MODES:
            with case(mode=mode[0]):
                r = self.curl(mode, "/finger/alice", ["-H", "Accept: application/json"])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.get("content-type"), "application/json", r)
                self.assertEqual(json.loads(r.body), {
                    "login": "alice", "name": "Alice Liddell", "office": "Rabbit Hole 1",
                    "phone": "+1 555 0100", "plan": "Curiouser and curiouser.\nTea at six."})
        r = curl_h2(self.d.url("/finger/alice?long"), ["-H", "Accept: application/json"])
        j = json.loads(r.body)
        self.assertEqual((j["email"], j["project"]), ("alice@example.org", "Tea party"))
        r = curl_h2(self.d.url("/finger/bob"), ["-H", "Accept: application/json"])
        self.assertEqual(json.loads(r.body), {"login": "bob", "name": 'Bob "the" Builder',
                                              "office": None, "phone": None, "plan": None})
        r = curl_h2(self.d.url("/finger/"), ["-H", "Accept: application/json"])
        self.assertEqual(json.loads(r.body), [
            {"login": "alice", "name": "Alice Liddell", "office": "Rabbit Hole 1",
             "phone": "+1 555 0100"},
            {"login": "bob", "name": 'Bob "the" Builder', "office": None, "phone": None}])
        r = curl_h2(self.d.url("/finger/mallory"), ["-H", "Accept: application/json"])
        self.assertEqual((r.status, r.get("content-type")), (404, TEXT), r)

    def test_accept_negotiation(self):
        for accept, json_wanted in (
                ("application/json", True),
                ("text/plain, application/json", False),
                ("text/plain;q=0.5, application/json", True),
                ("application/json;q=0.4, text/*;q=0.5", False),
                ("application/*", True),
                ("*/*", False),
                ("text/html, */*;q=0.1, application/JSON;q=0.2", True),
                ("application/json;q=0", False)):
            with case(accept=accept):
                r = curl_h2(self.d.url("/finger/alice"), ["-H", "Accept: " + accept])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.get("content-type"),
                                 "application/json" if json_wanted else TEXT, r)
                self.assertEqual(r.get("vary"), "Accept", r)

    def test_head_and_405(self):
        want = finger_query(self.fport, "alice")
        for mode in MODES:
            with case(mode=mode[0]):
                r = self.curl(mode, "/finger/alice", ["-I"])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.get("content-length"), str(len(want)), r)
                for method in ("POST", "PUT", "DELETE"):
                    r = self.curl(mode, "/finger/alice", ["-X", method, "--data-binary", "x"])
                    self.assertEqual(r.status, 405, r)
                    self.assertEqual(r.get("allow"), "GET, HEAD", r)

    def test_no_instance_503(self):
        for mode in MODES:
            with case(mode=mode[0]):
                self.assertEqual(self.curl(mode, "/none/alice").status, 503)


class FingerClient(unittest.TestCase):
    """Debian's finger client can only use port 79: when that is free (and
    we are root), its output for `finger -l alice@127.0.0.1` is the HTTP
    text with CRLF read as LF."""

    def test_same_as_finger_client(self):
        exe = "/usr/bin/finger"
        if not os.path.exists(exe) or not loomtest.is_root():
            self.skipTest("needs root and %s (Debian package finger)" % exe)
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 79))
        except OSError:
            self.skipTest("port 79 on 127.0.0.1 is taken")
        finally:
            s.close()
        locs = location("/finger/", {"handler": '"finger"', "finger": '"users"'})
        d = own(self, HttpD('    server "main" {\n%s    }\n' % locs,
                            post=finger_section("users", 79)))
        d.start()
        for args, path in ((["-l", "alice@127.0.0.1"], "/finger/alice?long"),
                           (["bob@127.0.0.1"], "/finger/bob")):
            with case(args=args):
                r = subprocess.run([exe] + args, stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=WAIT)
                self.assertEqual(r.returncode, 0, r)
                body = curl_h2(d.url(path)).body
                # the client prints "[127.0.0.1]" first, then the answer
                self.assertTrue(r.stdout.endswith(body.replace(b"\r\n", b"\n")),
                                (r.stdout, body))


class ShippedConf(unittest.TestCase):
    def test_finger_alice(self):
        d, ports = loomtest.shipped_conf()
        self.addCleanup(d.cleanup)
        self.assertIn(8080, ports)
        self.assertIn(7979, ports)
        d.start()
        want = finger_query(ports[7979], "alice")
        self.assertIn(b"Login: alice", want)
        r = curl_h2("http://127.0.0.1:%d/finger/alice" % ports[8080])
        self.assertEqual((r.status, r.body), (200, want), r)


class Reload(DaemonTest):
    def test_instance_removed_and_back(self):
        fport = free_port()
        body = '    server "main" {\n%s    }\n' % location(
            "/finger/", {"handler": '"finger"', "finger": '"users"'})
        fs = finger_section("users", fport)
        self.d = HttpD(body, post=fs)
        self.d.start()
        with open(self.d.conf_path) as f:
            full = f.read()
        url = self.d.url("/finger/alice")
        self.assertEqual(curl_h2(url).status, 200)
        self.d.write_conf(full.replace(fs, ""), raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        self.assertEqual(curl_h2(url).status, 503)
        self.assertEqual(curl_h2(url, ["--http2-prior-knowledge"]).status, 503)
        # back, with alice's plan changed: the new table is served
        self.d.write_conf(full.replace(fs, fs.replace("Tea at six.", "Tea at seven.")),
                          raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        r = curl_h2(url)
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"Tea at seven.", r.body)
        self.assertEqual(r.body, finger_query(fport, "alice"))


class ConfigErrors(DaemonTest):
    def expect(self, loc_text, needle):
        body = '    server "main" {\n%s    }\n' % loc_text
        self.d = HttpD(body, post=finger_section("users", free_port()))
        path = self.d.conf_path
        want = line_of(path, needle)
        r = run_loomd(["-t", "-c", path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        assert_error_line(self, r.stderr, path, want)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        return assert_error_line(self, err, path, want)

    def test_finger_without_instance(self):
        msg = self.expect(location("/finger/", {"handler": '"finger"'}), 'location "/finger/"')
        self.assertIn("finger", msg)

    def test_finger_empty_instance(self):
        self.expect(location("/finger/", {"handler": '"finger"', "finger": '""'}),
                    'location "/finger/"')

    def test_finger_name_too_long(self):
        self.expect(location("/finger/", {"handler": '"finger"', "finger": '"%s"' % ("x" * 80)}),
                    "finger = ")


if __name__ == "__main__":
    loomtest.main()
