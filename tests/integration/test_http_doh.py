"""DNS over HTTPS (RFC 8484): the http doh handler in front of a dns
instance, against a real loomd.  Real clients: kdig +https (knot-dnsutils),
curl --doh-url resolving the name of the URL it then fetches, curl GET and
POST over HTTP/1.1, h2c and h2 over TLS, python3-h2 for the raw exchange,
dnspython's dns.query.https when its HTTP library is installed.  Checked:
the answer is the dns instance's (ID kept, 0 for DoH clients), the
Cache-Control max-age is the smallest answer TTL (the SOA's negative TTL
for NXDOMAIN), `doh` is counted in stats.loom; malformed input gets
400/413/414/415/405, a missing dns instance 503; forwarding applies the
allow list to the HTTP client's address; a request aborted while its
forwarded query is out, and a reload that removes the dns instance
mid-query, leave the daemon sound (ASan clean); `doh` without `dns` is a
FILE:LINE error; the shipped conf answers DoH on /dns-query."""

import base64
import os
import socket
import subprocess
import threading
import time
import unittest

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.update

import loomtest
from dnstest import stats
from httptest import HttpD, location
from h2test import H2Client, assert_no_sanitizer_report, curl_h2
from loomtest import (DaemonTest, Loomd, WAIT, assert_error_line, free_port, line_of, own,
                      run_loomd, start_expect_exit)

ZONE = """$ORIGIN doh.test.
$TTL 600
@     300 IN SOA ns hostmaster 1 3600 600 86400 120
      IN NS  ns
ns    IN A   192.0.2.31
www   IN A   127.0.0.1
short 60 IN A 192.0.2.32
      IN A   192.0.2.33
txt   IN TXT "over https"
"""
UPSTREAM_ZONE = """$ORIGIN upstream.test.
$TTL 1800
@    IN SOA ns hostmaster 5 3600 600 86400 120
     IN NS  ns
ns   IN A   192.0.2.11
www  IN A   192.0.2.12
"""
CTYPE = "application/dns-message"
MODES = (("HTTP/1.1", ["--http1.1"], False, "1.1"),
         ("h2c", ["--http2-prior-knowledge"], False, "2"),
         ("h2 over TLS", ["--http2", "-k"], True, "2"))


def b64(wire):
    return base64.urlsafe_b64encode(wire).rstrip(b"=").decode()


def wire(name, rdtype="A", qid=0):
    q = dns.message.make_query(name, rdtype)
    q.id = qid
    return q.to_wire()


def dns_conf(port, forward=""):
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1"}\n'
            '    zone "doh.test" { file = "zones/doh.test.zone" }\n%s}\n' % (port, forward))


def doh_locations():
    return (location("= /dns-query", {"handler": '"doh"', "dns": '"auth"'}) +
            location("= /none", {"handler": '"doh"', "dns": '"nosuch"'}) +
            location("/", {"root": '"www"'}))


def server_body():
    return '    server "main" {\n        default = yes\n%s    }\n' % doh_locations()


class Sink:
    """A UDP upstream that reads queries and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self.seen.append(self.sock.recv(65535))
            except OSError:
                pass

    def wait(self, n):
        deadline = time.monotonic() + WAIT
        while len(self.seen) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.seen) >= n

    def cleanup(self):
        self.stop_ev.set()
        self.t.join(WAIT)
        self.sock.close()


class Doh(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up_port = free_port()
        cls.up = own(cls, Loomd('dns "upstream" {\n    listen = {"udp:%d:interface=127.0.0.1"}\n'
                                '    zone "upstream.test" { file = "z.zone" }\n}\n'
                                % cls.up_port, files={"z.zone": UPSTREAM_ZONE}))
        cls.up.start()
        cls.dns_port = free_port()
        fwd = ('    forward {\n        servers = {"127.0.0.1:%d"}\n'
               '        allow = {"127.0.0.2"}\n    }\n' % cls.up_port)
        cls.d = own(cls, HttpD(server_body(), tls=True, post=dns_conf(cls.dns_port, fwd),
                               files={"zones/doh.test.zone": ZONE,
                                      "www/hello.txt": "hello over doh\n"}))
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def get(self, wirebytes, args=(), tls=False, path="/dns-query"):
        url = self.d.url("%s?dns=%s" % (path, b64(wirebytes)), tls=tls)
        return curl_h2(url, list(args))

    def post(self, wirebytes, args=(), tls=False, ctype=CTYPE, path="/dns-query"):
        with open(os.path.join(self.d.dir, "q.bin"), "wb") as f:
            f.write(wirebytes)
        return curl_h2(self.d.url(path, tls=tls),
                       list(args) + ["-H", "Content-Type: " + ctype,
                                     "--data-binary", "@" + os.path.join(self.d.dir, "q.bin")])

    def check_answer(self, r, ttl, qid=0):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.get("content-type"), CTYPE, r)
        self.assertEqual(r.get("cache-control"), "max-age=%d" % ttl, r)
        self.assertEqual(int(r.get("content-length")), len(r.body), r)
        m = dns.message.from_wire(r.body)
        self.assertEqual(m.id, qid)
        self.assertTrue(m.flags & dns.flags.QR)
        return m

    def test_get_and_post_every_version(self):
        for name, args, tls, ver in MODES:
            with self.subTest(mode=name):
                r = self.get(wire("short.doh.test."), args, tls)
                self.assertEqual(r.version, ver)
                m = self.check_answer(r, 60)
                self.assertEqual(sorted(rd.address for rd in m.answer[0]),
                                 ["192.0.2.32", "192.0.2.33"])
                self.assertTrue(m.flags & dns.flags.AA)
                r = self.post(wire("txt.doh.test.", "TXT", qid=0x4242), args, tls)
                self.assertEqual(r.version, ver)
                m = self.check_answer(r, 600, qid=0x4242)
                self.assertEqual(m.answer[0][0].strings, (b"over https",))

    def test_negative_answers_use_soa_minimum(self):
        r = self.get(wire("nope.doh.test."))
        m = self.check_answer(r, 120)   # min(SOA TTL 300, MINIMUM 120)
        self.assertEqual(m.rcode(), dns.rcode.NXDOMAIN)
        r = self.get(wire("www.doh.test.", "MX"))
        m = self.check_answer(r, 120)
        self.assertEqual((m.rcode(), len(m.answer)), (dns.rcode.NOERROR, 0))

    def test_refused_has_no_lifetime(self):
        r = self.get(wire("elsewhere.example."))   # outside the zone, 127.0.0.1 not allowed
        m = self.check_answer(r, 0)
        self.assertEqual(m.rcode(), dns.rcode.REFUSED)

    def test_update_is_notimp(self):
        """RFC 2136 UPDATE is taken over UDP and TCP only: POSTed as DoH it
        gets NOTIMP, and the zone does not change."""
        u = dns.update.UpdateMessage("doh.test")
        u.id = 0
        u.add("new", 60, "A", "192.0.2.1")
        r = self.post(u.to_wire())
        m = self.check_answer(r, 0)
        self.assertEqual(m.rcode(), dns.rcode.NOTIMP)
        m = self.check_answer(self.get(wire("new.doh.test.")), 120)
        self.assertEqual(m.rcode(), dns.rcode.NXDOMAIN)

    def test_chaos_and_stats_count_doh(self):
        before = stats(self.dns_port)
        r = self.get(dns.message.make_query("stats.loom.", "TXT", "CH").to_wire())
        self.assertEqual(r.status, 200, r)
        m = dns.message.from_wire(r.body)
        self.assertTrue(any(s.startswith(b"doh=") for rd in m.answer[0] for s in rd.strings))
        self.get(wire("www.doh.test."))
        after = stats(self.dns_port)
        self.assertEqual(after["doh"] - before["doh"], 2)
        self.assertEqual(after["udp"] - before["udp"], 1)   # the second stats query
        self.assertEqual(after["rrl_dropped"], 0)

    def test_kdig_https(self):
        for extra, method in (([], "POST"), (["+https=/dns-query"], "POST"),
                              (["+https-get"], "GET")):
            with self.subTest(extra=extra):
                p = subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.d.tls_port), "+https"] +
                                   extra + ["www.doh.test", "A"],
                                   capture_output=True, text=True, timeout=WAIT * 3)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("HTTP/2-%s" % method, p.stdout)
                self.assertRegex(p.stdout, r"www\.doh\.test\.\s+600\s+IN\s+A\s+127\.0\.0\.1")
                self.assertIn("status: NOERROR", p.stdout)

    def test_curl_doh_url_resolves_and_fetches(self):
        r = curl_h2("http://www.doh.test:%d/hello.txt" % self.d.port,
                    ["--doh-url", self.d.url("/dns-query", tls=True), "--doh-insecure",
                     "-4", "-v"])
        self.assertEqual((r.status, r.body), (200, b"hello over doh\n"), r)
        self.assertIn("DoH A: 127.0.0.1", r.stderr)

    def test_raw_h2_exchange(self):
        with H2Client(self.d.port) as c:
            st = c.get("/dns-query?dns=" + b64(wire("www.doh.test.", qid=0)))
            self.assertEqual((st.status, st.get("content-type")), (200, CTYPE), st)
            self.assertEqual(dns.message.from_wire(bytes(st.body)).answer[0][0].address,
                             "127.0.0.1")
            st = c.request("POST", "/dns-query", [("content-type", CTYPE)],
                           body=wire("short.doh.test.", qid=7))
            self.assertEqual((st.status, st.get("cache-control")), (200, "max-age=60"), st)
            self.assertEqual(dns.message.from_wire(bytes(st.body)).id, 7)
            st = c.request("POST", "/dns-query", [("content-type", "text/plain")], body=b"x")
            self.assertEqual(st.status, 415, st)

    def test_nghttp_exchange(self):
        """nghttp (nghttp2-client) as the raw HTTP/2 client: GET and POST
        over h2c, the answer read back as DNS."""
        url = self.d.url("/dns-query")
        get = url + "?dns=" + b64(wire("www.doh.test.", qid=0))
        p = subprocess.run(["nghttp", get], capture_output=True, timeout=WAIT * 3)
        self.assertEqual(p.returncode, 0, p.stderr)
        m = dns.message.from_wire(p.stdout)
        self.assertEqual((m.id, m.answer[0][0].address), (0, "127.0.0.1"))
        p = subprocess.run(["nghttp", "-nv", get], capture_output=True, timeout=WAIT * 3)
        self.assertRegex(p.stdout.decode(errors="replace"), r":status: 200")
        self.assertIn("content-type: %s" % CTYPE, p.stdout.decode(errors="replace"))
        body = os.path.join(self.d.dir, "query.bin")
        with open(body, "wb") as f:
            f.write(wire("short.doh.test.", qid=9))
        p = subprocess.run(["nghttp", "-d", body, "-H", "content-type: " + CTYPE, url],
                           capture_output=True, timeout=WAIT * 3)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(dns.message.from_wire(p.stdout).id, 9)

    @unittest.skipIf(subprocess.run(["/usr/bin/python3", "-c", "import httpx"],
                                    capture_output=True).returncode != 0,
                     "dnspython's dns.query.https needs python3-httpx")
    def test_dnspython_https(self):  # pragma: no cover - depends on httpx
        import dns.query
        q = dns.message.make_query("www.doh.test.", "A")
        m = dns.query.https(q, self.d.url("/dns-query", tls=True), verify=False, timeout=WAIT)
        self.assertEqual(m.answer[0][0].address, "127.0.0.1")

    def test_malformed_inputs(self):
        good = wire("www.doh.test.")
        trunc = good[:14]
        resp = bytearray(good)
        resp[2] |= 0x80
        cases = [
            ("bad base64", "/dns-query?dns=%21%21%21", 400),
            ("padding", "/dns-query?dns=" + base64.urlsafe_b64encode(good[:-1]).decode(), 400),
            ("std alphabet", "/dns-query?dns=" + b64(good).replace("-", "+") + "+/", 400),
            ("no parameter", "/dns-query?other=1", 400),
            ("no query", "/dns-query", 400),
            ("twice", "/dns-query?dns=%s&dns=%s" % (b64(good), b64(good)), 400),
            ("truncated", "/dns-query?dns=" + b64(trunc), 400),
            ("short", "/dns-query?dns=" + b64(good[:5]), 400),
            ("a response", "/dns-query?dns=" + b64(bytes(resp)), 400),
            ("overlong", "/dns-query?dns=" + "A" * 5464, 414),
            ("no dns instance", "/none?dns=" + b64(good), 503),
        ]
        for name, target, status in cases:
            with self.subTest(case=name):
                for args in (["--http1.1"], ["--http2-prior-knowledge"]):
                    r = curl_h2(self.d.url(target), args)
                    self.assertEqual(r.status, status, r)
        for args in (["--http1.1"], ["--http2-prior-knowledge"]):
            with self.subTest(args=args):
                self.assertEqual(self.post(good, args, ctype="application/octet-stream").status,
                                 415)
                self.assertEqual(self.post(trunc, args).status, 400)
                self.assertEqual(self.post(b"", args).status, 400)
                if args == ["--http1.1"]:
                    self.assertEqual(self.post(good + b"\0" * 65536, args).status, 413)
                r = curl_h2(self.d.url("/dns-query"), args + ["-X", "PUT", "-d", "x"])
                self.assertEqual((r.status, r.get("allow")), (405, "GET, POST"), r)
                self.assertEqual(curl_h2(self.d.url("/dns-query"), args + ["-I"]).status, 405)
                # chunked upload past the limit (no Content-Length)
                if args == ["--http1.1"]:
                    r = self.post(good + b"\0" * 70000, args + ["-H", "Transfer-Encoding: chunked"])
                    self.assertEqual(r.status, 413, r)
        # HTTP/2 (python3-h2: curl 7.88 drops an answer that comes with the
        # RST_STREAM(NO_ERROR) ending an unread upload), with and without
        # content-length
        for length in (True, False):
            with H2Client(self.d.port) as c:
                body = good + b"\0" * 65536
                hdrs = [("content-type", CTYPE)]
                if length:
                    hdrs.append(("content-length", str(len(body))))
                sid = c.send_request("POST", "/dns-query", hdrs, body=None, end_stream=False)
                c.send_body(sid, body)
                st = c.response(sid)
                self.assertEqual(st.status, 413, st)
        # the largest message still goes through (bytes after the last
        # record are ignored, as over UDP and TCP)
        r = self.post(good + b"\0" * (65535 - len(good)))
        self.check_answer(r, 600)
        self.check_answer(self.get(wire("www.doh.test.")), 600)

    def test_edns_padding_is_ignored(self):
        q = dns.message.make_query("www.doh.test.", "A", use_edns=0, pad=128, id=0)
        self.assertEqual(len(q.to_wire()) % 128, 0)
        for r in (self.get(q.to_wire()), self.post(q.to_wire(), ["--http2-prior-knowledge"])):
            m = self.check_answer(r, 600)
            self.assertEqual(m.answer[0][0].address, "127.0.0.1")
            self.assertEqual(m.edns, 0)
            self.assertEqual([o.otype for o in m.options], [])   # answer not padded

    def test_forward_allow_list_by_client_address(self):
        q = wire("www.upstream.test.")
        r = self.get(q, ["--interface", "127.0.0.1"])
        self.assertEqual(dns.message.from_wire(r.body).rcode(), dns.rcode.REFUSED)
        before = stats(self.dns_port)
        r = self.get(q, ["--interface", "127.0.0.2"], tls=False)
        m = self.check_answer(r, 1800)
        self.assertEqual(m.answer[0][0].address, "192.0.2.12")
        r = self.post(wire("nope.upstream.test.", qid=99), ["--interface", "127.0.0.2",
                                                            "--http2-prior-knowledge"])
        m = self.check_answer(r, 120, qid=99)
        self.assertEqual(m.rcode(), dns.rcode.NXDOMAIN)
        after = stats(self.dns_port)
        self.assertEqual(after["forwarded"] - before["forwarded"], 2)


class InFlight(DaemonTest):
    """Forwarded queries to an upstream that never answers: the client goes
    away, or a reload removes the dns instance, while they are out."""

    def start(self, timeout=5):
        self.sink = Sink()
        self.addCleanup(self.sink.cleanup)
        self.dns_port = free_port()
        self.fwd = ('    forward {\n        servers = {"127.0.0.1:%d"}\n'
                    '        timeout = %d\n    }\n' % (self.sink.port, timeout))
        self.d = HttpD(server_body(), post=dns_conf(self.dns_port, self.fwd),
                       files={"zones/doh.test.zone": ZONE, "www/index.html": "x\n"})
        self.d.start()
        self.addCleanup(assert_no_sanitizer_report, self, self.d)

    def alive(self):
        r = curl_h2(self.d.url("/dns-query?dns=" + b64(wire("www.doh.test."))))
        self.assertEqual(r.status, 200, r)

    def test_client_goes_away(self):
        self.start()
        q = b64(wire("away.example."))
        with H2Client(self.d.port) as c:          # HTTP/2: stream reset, then connection closed
            sid = c.send_request("GET", "/dns-query?dns=" + q)
            sid2 = c.send_request("GET", "/dns-query?dns=" + q)
            self.assertTrue(self.sink.wait(2))
            c.reset_stream(sid)
            time.sleep(0.1)
        self.assertTrue(sid2)
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=WAIT)  # HTTP/1.1
        s.sendall(b"GET /dns-query?dns=%s HTTP/1.1\r\nHost: x\r\n\r\n" % q.encode())
        self.assertTrue(self.sink.wait(3))
        s.close()
        time.sleep(0.2)
        self.alive()
        # the forwarder's timeout then fires for queries nobody waits for
        time.sleep(5.5)
        self.alive()
        self.assertEqual(stats(self.dns_port)["forwarded"], 3)

    def test_forward_timeout_is_servfail(self):
        self.start(timeout=1)
        r = curl_h2(self.d.url("/dns-query?dns=" + b64(wire("slow.example."))))
        m = dns.message.from_wire(r.body)
        self.assertEqual((r.status, m.rcode()), (200, dns.rcode.SERVFAIL), r)
        self.assertEqual(r.get("cache-control"), "max-age=0")

    def test_reload_removes_dns_instance_mid_query(self):
        self.start()
        res = {}

        def ask():
            res["r"] = curl_h2(self.d.url("/dns-query?dns=" + b64(wire("mid.example."))),
                               ["--http2-prior-knowledge"])
        t = threading.Thread(target=ask)
        t.start()
        self.assertTrue(self.sink.wait(1))
        conf = open(self.d.conf_path).read()
        self.d.write_conf(conf.split('dns "auth"')[0], raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        t.join(WAIT * 3)
        self.assertEqual(res["r"].status, 503, res["r"])
        r = curl_h2(self.d.url("/dns-query?dns=" + b64(wire("www.doh.test."))))
        self.assertEqual(r.status, 503, r)
        self.d.write_conf(conf, raw=True)   # back: answered again
        self.assertTrue(self.d.reload(), self.d.log())
        self.alive()


class Shipped(DaemonTest):
    def test_shipped_conf_answers_doh(self):
        d, ports = loomtest.shipped_conf()
        self.d = d
        self.assertIn(8443, ports)
        d.start()
        p = subprocess.run(["kdig", "@127.0.0.1", "-p", str(ports[8443]), "+https",
                            "www.example.test"], capture_output=True, text=True, timeout=WAIT * 3)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"www\.example\.test\.\s+3600\s+IN\s+A\s+192\.0\.2\.80")
        r = curl_h2("http://127.0.0.1:%d/dns-query?dns=%s" % (ports[8080],
                                                            b64(wire("www.example.test."))))
        self.assertEqual(r.status, 200, r)


class ConfigErrors(DaemonTest):
    def expect(self, loc_text, needle):
        body = '    server "main" {\n%s    }\n' % loc_text
        self.d = HttpD(body)
        path = self.d.conf_path
        want = line_of(path, needle)
        r = run_loomd(["-t", "-c", path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        assert_error_line(self, r.stderr, path, want)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        return assert_error_line(self, err, path, want)

    def test_doh_without_dns(self):
        msg = self.expect(location("= /dns-query", {"handler": '"doh"'}),
                          'location "= /dns-query"')
        self.assertIn("dns", msg)

    def test_doh_empty_dns(self):
        self.expect(location("= /q", {"handler": '"doh"', "dns": '""'}), 'location "= /q"')

    def test_doh_dns_name_too_long(self):
        self.expect(location("= /q", {"handler": '"doh"', "dns": '"%s"' % ("x" * 80)}),
                    "dns = ")


if __name__ == "__main__":
    loomtest.main()
