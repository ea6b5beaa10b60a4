"""The http kv handler against a real loomd: curl over HTTP/1.1, h2c with
prior knowledge and HTTP/2 over TLS, each checking every status and header
rule (201/204/200/304/404/405/412/413/400/503, ETag, Content-Type, ttl),
interleaved with memcache clients on the same keys (pymemcache, and the
libmemcached tools memccp / memccat): a value set over memcache is read
over HTTP and the other way round, and the ETag is the CAS unique `gets`
shows.  Also: the access log and the status counters see kv requests, the
shipped conf/loom.conf serves /kv/ over its "cache" instance, and a kv
location without `memcache` is a FILE:LINE error with exit 1."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

import loomtest
from loomtest import (DaemonTest, WAIT, assert_error_line, free_port, line_of, own,
                      run_loomd, start_expect_exit)
from httptest import HttpD, case, location
from h2test import H2Client, NO_ERROR, assert_no_sanitizer_report, curl_h2

try:
    from pymemcache.client.base import Client
except ImportError:  # pragma: no cover - reported as skips
    Client = None

MAX_ITEM = 64 * 1024
MODES = (("HTTP/1.1", ["--http1.1"], False, "1.1"),
         ("h2c", ["--http2-prior-knowledge"], False, "2"),
         ("h2 over TLS", ["--http2", "-k"], True, "2"))


def mc_line(port, cmd):
    """One memcache command answered by one line, on a fresh connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(cmd)
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf


def kv_locations():
    return (location("/kv/", {"handler": '"kv"', "memcache": '"cache"'}) +
            location("/txt/", {"handler": '"kv"', "memcache": '"cache"',
                               "kv_type": '"text/plain; charset=utf-8"'}) +
            location("/none/", {"handler": '"kv"', "memcache": '"nosuch"'}) +
            location("= /status", {"handler": '"status"'}))


@unittest.skipIf(Client is None, "pymemcache not installed")
class Kv(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mc_port = free_port()
        body = ('    server "main" {\n        names = {"localhost"}\n%s    }\n'
                % kv_locations())
        post = ('memcache "cache" {\n'
                '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '    max_item_size = %d\n'
                '}\n' % (cls.mc_port, MAX_ITEM))
        cls.d = HttpD(body, tls=True, post=post, opts='access_log = "access.log"\n')
        own(cls, cls.d)
        cls.d.start()

    def setUp(self):
        self.mc = Client(("127.0.0.1", self.mc_port), timeout=WAIT, connect_timeout=WAIT,
                         default_noreply=False)
        self.tmp = tempfile.mkdtemp(prefix="kvtest-")

    def tearDown(self):
        self.mc.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        assert_no_sanitizer_report(self, self.d)

    def curl(self, mode, path, args=(), data=None, method=None):
        """curl in MODE on PATH; DATA (bytes) is sent as the body."""
        _, margs, tls, _ = mode
        extra = list(margs)
        if method:
            extra += ["-X", method]
        if data is not None:
            f = os.path.join(self.tmp, "body")
            with open(f, "wb") as fp:
                fp.write(data)
            extra += ["--data-binary", "@" + f, "-H", "Content-Type:"]
        r = curl_h2(self.d.url(path, tls=tls), extra + list(args))
        self.assertEqual(r.version, mode[3], r)
        return r

    def etag(self, r):
        tag = r.get("etag")
        self.assertRegex(tag or "", r'^"\d+"$', r)
        return int(tag.strip('"'))

    def key(self, mode, name):
        return "%s-%s" % (re.sub(r"\W", "", mode[0]), name)

    # ---- the method and status rules -----------------------------------------------

    def test_put_get_head_delete(self):
        for mode in MODES:
            k = self.key(mode, "crud")
            with case(mode=mode[0]):
                r = self.curl(mode, "/kv/" + k, data=b"hello", method="PUT")
                self.assertEqual(r.status, 201, r)
                t1 = self.etag(r)
                r = self.curl(mode, "/kv/" + k)
                self.assertEqual((r.status, r.body), (200, b"hello"), r)
                self.assertEqual(r.get("content-type"), "application/octet-stream", r)
                self.assertEqual(r.get("content-length"), "5", r)
                self.assertEqual(self.etag(r), t1)
                r = self.curl(mode, "/txt/" + k)
                self.assertEqual(r.get("content-type"), "text/plain; charset=utf-8", r)
                r = self.curl(mode, "/kv/" + k, data=b"hello, again", method="PUT")
                self.assertEqual(r.status, 204, r)
                t2 = self.etag(r)
                self.assertNotEqual(t1, t2)
                r = self.curl(mode, "/kv/" + k, ["-I"])  # the head lands in .body
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.get("content-length"), "12", r)
                self.assertEqual(self.etag(r), t2)
                r = self.curl(mode, "/kv/" + k, data=b"", method="PUT")  # empty value
                self.assertEqual(r.status, 204, r)
                self.assertEqual(self.mc.get(k), b"")
                r = self.curl(mode, "/kv/" + k, method="DELETE")
                self.assertEqual((r.status, r.body), (204, b""), r)
                r = self.curl(mode, "/kv/" + k)
                self.assertEqual(r.status, 404, r)
                r = self.curl(mode, "/kv/" + k, method="DELETE")
                self.assertEqual(r.status, 404, r)
                self.assertIsNone(self.mc.get(k))

    def test_other_methods_405(self):
        for mode in MODES:
            for method in ("POST", "PATCH", "OPTIONS"):
                with case(mode=mode[0], method=method):
                    r = self.curl(mode, "/kv/x", data=b"1", method=method)
                    self.assertEqual(r.status, 405, r)
                    self.assertEqual(r.get("allow"), "GET, HEAD, PUT, DELETE", r)

    def test_bad_keys_400(self):
        for mode in MODES:
            for path in ("/kv/", "/kv/a%20b", "/kv/tab%09", "/kv/" + "k" * 251):
                for method, data in (("GET", None), ("PUT", b"v"), ("DELETE", None)):
                    with case(mode=mode[0], path=path[:20], method=method):
                        if data and mode[3] == "2" and "%09" in path:
                            # refused by the router before the body (see put_h2)
                            r = self.put_h2(mode, path, data)
                        else:
                            r = self.curl(mode, path, data=data, method=method)
                        self.assertEqual(r.status, 400, r)
            with case(mode=mode[0], key="250 bytes"):
                k = self.key(mode, "") + "k" * (250 - len(self.key(mode, "")))
                r = self.curl(mode, "/kv/" + k, data=b"v", method="PUT")
                self.assertEqual(r.status, 201, r)
                self.assertEqual(self.mc.get(k), b"v")
                self.mc.delete(k)

    def test_no_instance_503(self):
        for mode in MODES:
            for method, data in (("GET", None), ("PUT", b"v"), ("DELETE", None)):
                with case(mode=mode[0], method=method):
                    r = self.curl(mode, "/none/k", data=data, method=method)
                    self.assertEqual(r.status, 503, r)

    def put_h2(self, mode, path, body, length=True):
        """PUT BODY over python3-h2: the stream's outcome.  An answer that
        comes before the body is read is followed by RST_STREAM(NO_ERROR),
        as RFC 9113 section 8.1 allows, and curl 7.88 drops a response
        that arrives with such a reset (error 92, curl issue 13678): 413 and
        the router's own refusals are checked with this client instead."""
        with H2Client(self.d.tls_port if mode[2] else self.d.port, tls=mode[2]) as c:
            hdrs = [("content-length", str(len(body)))] if length else []
            sid = c.send_request("PUT", path, hdrs, body=None, end_stream=False)
            c.send_body(sid, body)
            return c.response(sid)

    def test_too_large_413(self):
        big = os.urandom(MAX_ITEM)
        for mode in MODES:
            k = self.key(mode, "big")
            with case(mode=mode[0]):
                self.mc.set(k, b"old")
                if mode[3] == "1.1":
                    # Content-Length: refused before the body
                    r = self.curl(mode, "/kv/" + k, data=big, method="PUT")
                    self.assertEqual(r.status, 413, r)
                    # chunked: refused once the body passes the limit
                    r = self.curl(mode, "/kv/" + k, ["-H", "Transfer-Encoding: chunked"],
                                  data=big, method="PUT")
                    self.assertEqual(r.status, 413, r)
                else:
                    for length in (True, False):
                        r = self.put_h2(mode, "/kv/" + k, big, length)
                        self.assertEqual(r.status, 413, r)
                        self.assertIn(r.reset, (None, NO_ERROR), r)
                self.assertEqual(self.mc.get(k), b"old")
                # what fits is stored
                fits = big[:MAX_ITEM - 200]
                r = self.curl(mode, "/kv/" + k, data=fits, method="PUT")
                self.assertEqual(r.status, 204, r)
                self.assertEqual(self.mc.get(k), fits)
                self.mc.delete(k)

    # ---- conditionals -----------------------------------------------------------------

    def test_etag_is_cas_and_conditionals(self):
        for mode in MODES:
            k = self.key(mode, "cond")
            with case(mode=mode[0]):
                self.assertTrue(self.mc.set(k, b"from memcache"))
                value, cas = self.mc.gets(k)
                r = self.curl(mode, "/kv/" + k)
                self.assertEqual((r.status, r.body), (200, b"from memcache"), r)
                self.assertEqual(self.etag(r), int(cas))
                tag = '"%d"' % int(cas)
                # a GET with the current tag is 304; another tag, 200
                r = self.curl(mode, "/kv/" + k, ["-H", "If-None-Match: " + tag])
                self.assertEqual((r.status, r.body), (304, b""), r)
                self.assertEqual(r.get("etag"), tag)
                r = self.curl(mode, "/kv/" + k, ["-H", 'If-None-Match: "1", W/' + tag])
                self.assertEqual(r.status, 304, r)
                r = self.curl(mode, "/kv/" + k, ["-H", 'If-None-Match: "1"'])
                self.assertEqual(r.status, 200, r)
                # If-Match: a stale tag 412, the current one swaps
                r = self.curl(mode, "/kv/" + k, ["-H", 'If-Match: "1"'], data=b"x",
                              method="PUT")
                self.assertEqual(r.status, 412, r)
                r = self.curl(mode, "/kv/" + k, ["-H", "If-Match: " + tag],
                              data=b"from http", method="PUT")
                self.assertEqual(r.status, 204, r)
                new = self.etag(r)
                self.assertEqual(self.mc.gets(k), (b"from http", str(new).encode()))
                # memcache's cas with the old unique now fails, with the new works
                self.assertFalse(self.mc.cas(k, b"mc1", cas))
                self.assertTrue(self.mc.cas(k, b"mc2", str(new).encode()))
                r = self.curl(mode, "/kv/" + k, ["-H", 'If-Match: "%d"' % new],
                              method="DELETE")
                self.assertEqual(r.status, 412, r)
                _, now = self.mc.gets(k)
                r = self.curl(mode, "/kv/" + k, ["-H", 'If-Match: "%d"' % int(now)],
                              method="DELETE")
                self.assertEqual(r.status, 204, r)
                self.assertIsNone(self.mc.get(k))
                # absent: If-Match (a tag or *) is 412, for PUT and DELETE
                for im in ('"%d"' % int(now), "*"):
                    r = self.curl(mode, "/kv/" + k, ["-H", "If-Match: " + im], data=b"x",
                                  method="PUT")
                    self.assertEqual(r.status, 412, r)
                    r = self.curl(mode, "/kv/" + k, ["-H", "If-Match: " + im],
                                  method="DELETE")
                    self.assertEqual(r.status, 412, r)
                self.assertIsNone(self.mc.get(k))
                # If-None-Match: * is an add
                r = self.curl(mode, "/kv/" + k, ["-H", "If-None-Match: *"], data=b"a1",
                              method="PUT")
                self.assertEqual(r.status, 201, r)
                self.assertEqual(self.etag(r), int(self.mc.gets(k)[1]))
                r = self.curl(mode, "/kv/" + k, ["-H", "If-None-Match: *"], data=b"a2",
                              method="PUT")
                self.assertEqual(r.status, 412, r)
                self.assertEqual(self.mc.get(k), b"a1")
                # If-Match: * is a replace
                r = self.curl(mode, "/kv/" + k, ["-H", "If-Match: *"], data=b"r",
                              method="PUT")
                self.assertEqual(r.status, 204, r)
                self.assertEqual(self.mc.get(k), b"r")
                self.mc.delete(k)

    def test_stats_count_as_commands(self):
        mode = MODES[0]
        k = self.key(mode, "stats")
        before = self.mc.stats()
        self.curl(mode, "/kv/" + k, data=b"v", method="PUT")
        self.curl(mode, "/kv/" + k, ["-H", 'If-Match: "1"'], data=b"x", method="PUT")
        self.curl(mode, "/kv/" + k)
        self.curl(mode, "/kv/" + k + "-none")
        self.curl(mode, "/kv/" + k, method="DELETE")
        after = self.mc.stats()

        def d(name):
            return after[name.encode()] - before[name.encode()]
        self.assertEqual((d("cmd_set"), d("cas_badval"), d("get_hits"), d("get_misses"),
                          d("delete_hits")), (2, 1, 1, 1, 1))

    # ---- ttl ---------------------------------------------------------------------------

    def ttl_of(self, k):
        out = mc_line(self.mc_port, b"mg " + k.encode() + b" t\r\n")
        m = re.match(rb"HD t(-?\d+)\r\n", out)
        self.assertIsNotNone(m, out)
        return int(m.group(1))

    def test_ttl(self):
        for mode in MODES:
            k = self.key(mode, "ttl")
            with case(mode=mode[0]):
                r = self.curl(mode, "/kv/%s?ttl=300" % k, data=b"v", method="PUT")
                self.assertEqual(r.status, 201, r)
                self.assertTrue(200 < self.ttl_of(k) <= 300, self.ttl_of(k))
                r = self.curl(mode, "/kv/" + k, ["-H", "Cache-Control: max-age=100"],
                              data=b"v", method="PUT")
                self.assertTrue(0 < self.ttl_of(k) <= 100, self.ttl_of(k))
                r = self.curl(mode, "/kv/" + k, data=b"v", method="PUT")
                self.assertEqual(self.ttl_of(k), -1)  # no ttl: never expires
                # beyond 30 days: an absolute Unix time, as memcached reads it
                r = self.curl(mode, "/kv/%s?ttl=4000000000" % k, data=b"v", method="PUT")
                self.assertGreater(self.ttl_of(k), 30 * 86400)
                # negative: stored already expired
                r = self.curl(mode, "/kv/%s?ttl=-1" % k, data=b"v", method="PUT")
                self.assertIn(r.status, (201, 204), r)
                self.assertEqual(self.curl(mode, "/kv/" + k).status, 404)
                for bad in (["?ttl=soon"], ["?ttl="], ["", "-H", "Cache-Control: max-age=x"]):
                    r = self.curl(mode, "/kv/%s%s" % (k, bad[0]), bad[1:], data=b"v",
                                  method="PUT")
                    self.assertEqual(r.status, 400, r)

    # ---- the other memcache clients ------------------------------------------------------

    @unittest.skipUnless(shutil.which("memccp") and shutil.which("memccat"),
                         "libmemcached-tools not installed")
    def test_memccp_memccat(self):
        servers = "--servers=127.0.0.1:%d" % self.mc_port
        for mode in MODES:
            k = self.key(mode, "memccp")
            with case(mode=mode[0]):
                path = os.path.join(self.tmp, k)
                data = os.urandom(5000)
                with open(path, "wb") as f:
                    f.write(data)
                p = subprocess.run(["memccp", servers, path], capture_output=True,
                                   timeout=WAIT, cwd=self.tmp)
                self.assertEqual(p.returncode, 0, p.stderr)
                r = self.curl(mode, "/kv/" + k)
                self.assertEqual((r.status, r.body), (200, data), r)
                r = self.curl(mode, "/kv/" + k, data=b"written over http", method="PUT")
                self.assertEqual(r.status, 204, r)
                p = subprocess.run(["memccat", servers, k], capture_output=True,
                                   timeout=WAIT)
                # memccat ends what it prints with a newline of its own
                self.assertEqual((p.returncode, p.stdout), (0, b"written over http\n"),
                                 p.stderr)

    # ---- the log and the counters --------------------------------------------------------

    def test_access_log_and_counters(self):

        mode = MODES[1]
        k = self.key(mode, "log")
        before = self.curl(MODES[0], "/status").body
        self.curl(mode, "/kv/" + k, data=b"12345", method="PUT")
        self.curl(mode, "/kv/" + k)
        self.curl(mode, "/kv/" + k + "-missing")
        log = self.d.path("access.log")
        loomtest.wait_file(log, re.escape('"GET /kv/%s-missing HTTP/2.0" 404' % k))
        with open(log) as f:
            text = f.read()
        self.assertRegex(text, r'"PUT /kv/%s HTTP/2.0" 201 0 ' % k)
        self.assertRegex(text, r'"GET /kv/%s HTTP/2.0" 200 5 ' % k)
        after = self.curl(MODES[0], "/status").body
        b, a = json.loads(before)["http"], json.loads(after)["http"]
        self.assertGreaterEqual(a["requests"]["2xx"] - b["requests"]["2xx"], 3)
        self.assertGreaterEqual(a["requests"]["4xx"] - b["requests"]["4xx"], 1)
        self.assertGreaterEqual(a["bytes"]["in"] - b["bytes"]["in"], 5)
        self.curl(mode, "/kv/" + k, method="DELETE")


@unittest.skipIf(Client is None, "pymemcache not installed")
class ShippedConf(unittest.TestCase):
    """conf/loom.conf, run from a copy of conf/ with every port replaced
    by a free one: /kv/ on the web instance is the "cache" store."""

    def test_kv_over_cache(self):
        d, ports = loomtest.shipped_conf()
        self.addCleanup(d.cleanup)
        self.assertIn(8080, ports)
        self.assertIn(11211, ports)
        d.start()
        mc = Client(("127.0.0.1", ports[11211]), timeout=WAIT, connect_timeout=WAIT)
        self.addCleanup(mc.close)
        url = "http://127.0.0.1:%d/kv/" % ports[8080]
        self.assertTrue(mc.set("shipped", b"set by memcache"))
        r = curl_h2(url + "shipped")
        self.assertEqual((r.status, r.body), (200, b"set by memcache"), r)
        self.assertEqual(r.get("etag"), '"%s"' % mc.gets("shipped")[1].decode())
        r = curl_h2(url + "other", ["-X", "PUT", "--data-binary", "set by http"])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(mc.get("other"), b"set by http")


class Reload(DaemonTest):
    """The handler keeps nothing of the store between requests: a reload
    that removes the memcache instance turns its next request into 503,
    one that brings it back serves the new (empty) store."""

    def test_instance_removed_and_back(self):
        mc_port = free_port()
        body = '    server "main" {\n%s    }\n' % location(
            "/kv/", {"handler": '"kv"', "memcache": '"cache"'})
        mc = ('memcache "cache" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
              % mc_port)
        self.d = HttpD(body, post=mc)
        self.d.start()
        with open(self.d.conf_path) as f:
            full = f.read()
        url = self.d.url("/kv/r")
        self.assertEqual(curl_h2(url, ["-X", "PUT", "--data-binary", "v"]).status, 201)
        self.assertEqual(curl_h2(url).body, b"v")
        self.d.write_conf(full.replace(mc, ""), raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        self.assertEqual(curl_h2(url).status, 503)
        self.assertEqual(curl_h2(url, ["-X", "PUT", "--data-binary", "w"]).status, 503)
        self.d.write_conf(full, raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        self.assertEqual(curl_h2(url).status, 404)
        self.assertEqual(curl_h2(url, ["-X", "PUT", "--data-binary", "w"]).status, 201)
        self.assertEqual(mc_line(mc_port, b"mg r s\r\n"), b"HD s1\r\n")


class ConfigErrors(DaemonTest):
    def expect(self, loc_text, needle):
        body = '    server "main" {\n%s    }\n' % loc_text
        self.d = HttpD(body, post='memcache "cache" { }\n')
        path = self.d.conf_path
        want = line_of(path, needle)
        r = run_loomd(["-t", "-c", path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        assert_error_line(self, r.stderr, path, want)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        return assert_error_line(self, err, path, want)

    def test_kv_without_memcache(self):
        msg = self.expect(location("/kv/", {"handler": '"kv"'}), 'location "/kv/"')
        self.assertIn("memcache", msg)

    def test_kv_empty_memcache(self):
        self.expect(location("/kv/", {"handler": '"kv"', "memcache": '""'}),
                    'location "/kv/"')

    def test_kv_bad_type(self):
        self.expect(location("/kv/", {"handler": '"kv"', "memcache": '"cache"',
                                      "kv_type": '""'}), "kv_type")

    def test_unknown_instance_passes_check(self):
        """An instance name is only known at run time (503 then)."""
        body = '    server "main" {\n%s    }\n' % location(
            "/kv/", {"handler": '"kv"', "memcache": '"later"'})
        self.d = HttpD(body)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    loomtest.main()
