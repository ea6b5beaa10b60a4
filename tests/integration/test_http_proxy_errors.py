"""http module, reverse proxy: upstream failures.  Nothing listening (502
and a "connection refused" error line), an upstream that never answers
(504 after read_timeout, "timed out"), one that dies in the middle of a
body (HTTP/1.1 client: the connection closes short; HTTP/2 client: only
that stream is reset), malformed or missing response heads (502); passive
health (max_fails marks a server down, skipped until fail_timeout, tried
anyway when every server is down) and retries (idempotent requests and
connect failures retried on the other server, a sent POST or PUT with a
body never)."""

import os
import unittest

import loomtest
from loomtest import own
from httptest import assert_error_page, case, curl, HttpD
import proxytest
from proxytest import (close_after_request_script, dying_chunked_script, dying_script,
                       H2Client, log_count, marked_down_re, proxy_loc, proxy_server,
                       raw_answer_script, refused_port, ScriptedUpstream, silent_script,
                       start_upstream, stop_upstreams, upstream_error_re, upstream_section)

OWN = b"own file\n"

BAD_HEADS = {
    "garbage": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "status": b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
    "field": b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\nok",
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
}


class Failures(unittest.TestCase):
    """One proxy, a location per kind of broken upstream (max_fails = 0:
    nothing is ever marked down here)."""

    @classmethod
    def setUpClass(cls):
        cls.down_port = refused_port()
        cls.anon_port = refused_port()
        cls.ok = cls._up(proxytest.Upstream("ok"))
        cls.slow = cls._up(ScriptedUpstream(silent_script, "slow"))
        cls.dying = cls._up(ScriptedUpstream(dying_script(1000000, 100), "dying"))
        cls.diech = cls._up(ScriptedUpstream(dying_chunked_script, "diech"))
        cls.nohead = cls._up(ScriptedUpstream(close_after_request_script, "nohead"))
        cls.cuthead = cls._up(ScriptedUpstream(
            raw_answer_script(b"HTTP/1.1 200 OK\r\nContent-Len"), "cuthead"))
        cls.bad = {k: cls._up(ScriptedUpstream(raw_answer_script(v), "bad" + k))
                   for k, v in BAD_HEADS.items()}
        ups = (upstream_section("down", [cls.down_port], max_fails=0) +
               upstream_section("slow", [cls.slow.port], read_timeout=1, max_fails=0))
        locs = [proxy_loc("/down/", "down"),
                proxy_loc("/anon/", proxytest.endpoint(cls.anon_port)),
                proxy_loc("/slow/", "slow")]
        for name in ("ok", "dying", "diech", "nohead", "cuthead"):
            ups += upstream_section(name, [getattr(cls, name).port], max_fails=0)
            locs.append(proxy_loc("/%s/" % name, name))
        for k, up in cls.bad.items():
            ups += upstream_section("bad" + k, [up.port], max_fails=0)
            locs.append(proxy_loc("/bad%s/" % k, "bad" + k))
        cls.d = own(cls, HttpD(proxy_server(locs), opts=ups, tree={"www/own.txt": OWN}))
        cls.d.start()

    @classmethod
    def _up(cls, up):
        return own(cls, up).start()

    def wait_log(self, pattern):
        self.d.wait_log(pattern)

    def test_refused_502(self):
        r = self.d.get("/down/x?m=refused")
        assert_error_page(self, r, 502)
        self.wait_log(upstream_error_re("down", self.down_port,
                                        "connection refused while connecting",
                                        "GET /down/x?m=refused"))

    def test_refused_anonymous_upstream_502(self):
        r = self.d.get("/anon/y")
        assert_error_page(self, r, 502)
        self.wait_log(r"\[error\] [^\n]*port=%d[^\n]*: connection refused" % self.anon_port)

    def test_refused_keeps_client_connection(self):
        with self.d.conn() as c:
            c.request("GET", "/down/z")
            a = c.read_response()
            c.request("GET", "/own.txt")
            b = c.read_response()
        self.assertEqual(a.status, 502, a)
        self.assertEqual((b.status, b.body), (200, OWN), b)

    def test_read_timeout_504(self):
        r = self.d.get("/slow/x?m=slow1")
        assert_error_page(self, r, 504)
        self.assertEqual(len(self.slow.find("m=slow1")), 1)
        self.wait_log(upstream_error_re("slow", self.slow.port,
                                        "timed out while reading response head",
                                        "GET /slow/x?m=slow1"))

    def test_upstream_closes_before_head_502(self):
        for name in ("nohead", "cuthead"):
            with case(upstream=name):
                r = self.d.get("/%s/x" % name)
                assert_error_page(self, r, 502)
                self.wait_log(upstream_error_re(name, getattr(self, name).port,
                                                "closed prematurely"))

    def test_malformed_head_502(self):
        for k, up in self.bad.items():
            with case(upstream=k):
                r = self.d.get("/bad%s/x?m=%s" % (k, k))
                assert_error_page(self, r, 502)
                self.wait_log(upstream_error_re("bad" + k, up.port, "bad response head"))

    def test_dying_mid_body_http1_curl(self):
        r = curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                  self.d.url("/dying/x?m=die1")])
        # 18: transfer closed with outstanding read data remaining
        self.assertEqual(r.returncode, 18, r.stderr)
        code, size = r.stdout.decode().split()
        self.assertEqual(code, "200")
        self.assertLess(int(size), 1000000)
        self.wait_log(upstream_error_re("dying", self.dying.port,
                                        "closed prematurely while reading response body"))

    def test_dying_mid_body_http1_raw(self):
        with self.d.conn() as c:
            c.request("GET", "/dying/x?m=die2")
            data = c.read_until_close()   # the proxy closes the connection
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertRegex(head, rb"^HTTP/1\.1 200 ")
        self.assertIn(b"\r\nContent-Length: 1000000", head)
        self.assertEqual(body, b"d" * 100)

    def test_dying_chunked_mid_body_http1(self):
        """A chunked answer cut short: the client never gets a last chunk."""
        with self.d.conn() as c:
            c.request("GET", "/diech/x")
            data = c.read_until_close()
        self.assertRegex(data, rb"^HTTP/1\.1 200 ")
        self.assertIn(b"c" * 100, data)
        self.assertNotRegex(data, rb"\r\n0\r\n\r\n$")
        r = curl(["-o", "/dev/null", self.d.url("/diech/y")])
        self.assertNotEqual(r.returncode, 0, "curl took a cut chunked body as complete")

    def test_dying_mid_body_http2_stream_reset(self):
        if not proxytest.have_h2():
            self.skipTest("python3-h2 is not installed")
        c = H2Client(self.d.port)
        self.addCleanup(c.close)
        die = c.request("GET", "/dying/x?m=die3")
        c.wait(die)
        self.assertEqual(die.status, 200, die)
        self.assertEqual(die.reset, 2, "expected RST_STREAM(INTERNAL_ERROR): %r" % die)
        self.assertLess(len(die.body), 1000000)
        # the connection goes on: proxied and static streams on it work
        a = c.request("GET", "/ok/x")
        b = c.request("GET", "/own.txt")
        c.wait(a, b)
        self.assertEqual((a.status, bytes(a.body), a.reset), (200, b"ok\n", None), a)
        self.assertEqual((b.status, bytes(b.body), b.reset), (200, OWN, None), b)

    def test_dying_mid_body_curl_http2(self):
        r = curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                  self.d.url("/dying/x?m=die4")])
        self.assertNotEqual(r.returncode, 0, "curl took a reset stream as complete")
        self.assertEqual(r.stdout, b"200")


def failures_of(d, name, port):
    return log_count(d, upstream_error_re(name, port, "connection refused"))


class Health(unittest.TestCase):
    def tearDown(self):
        stop_upstreams(self)

    def proxy(self, ups, locs):
        d = HttpD(proxy_server(locs), opts=ups, tree={"www": None})
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def test_down_server_retried_then_skipped(self):
        a = start_upstream(self, "a")
        dead = refused_port()
        d = self.proxy(upstream_section("pair", [dead, a.port], max_fails=2, fail_timeout=60),
                       [proxy_loc("/p/", "pair")])
        for i in range(12):
            r = d.get("/p/x?i=%d" % i)
            self.assertEqual((r.status, r.body), (200, b"a\n"), r)
        self.assertEqual(len(a.requests), 12)
        d.wait_log(marked_down_re("pair", dead))
        self.assertRegex(d.log(), marked_down_re("pair", dead) + r" for 60s")
        self.assertEqual(failures_of(d, "pair", dead), 2, d.log())
        self.assertEqual(log_count(d, marked_down_re("pair", dead)), 1, d.log())
        # skipped while down: no more attempts on it
        for i in range(6):
            self.assertEqual(d.get("/p/y").status, 200)
        self.assertEqual(failures_of(d, "pair", dead), 2, d.log())

    def test_every_server_down_still_tried(self):
        port = refused_port()
        d = self.proxy(upstream_section("one", [port], max_fails=1, fail_timeout=60),
                       [proxy_loc("/p/", "one")])
        self.assertEqual(d.get("/p/x").status, 502)
        d.wait_log(marked_down_re("one", port))
        up = start_upstream(self, "back", port=port)
        r = d.get("/p/x")
        self.assertEqual((r.status, r.body), (200, b"back\n"), r)
        self.assertEqual(len(up.requests), 1)

    def test_post_not_retried_once_sent(self):
        """X reads the whole request then closes unanswered; Y answers.  A
        POST or PUT with a body that reached X is not sent to Y."""
        x = self._scripted(close_after_request_script, "x")
        y = start_upstream(self, "y")
        d = self.proxy(upstream_section("xy", [x.port, y.port], max_fails=0),
                       [proxy_loc("/p/", "xy")])
        for method in ("POST", "PUT"):
            failed = []
            for i in range(4):
                marker = "%s-%d-marker" % (method, i)
                r = d.request(method, "/p/x", [("X-Marker", marker)], body=b"body " * 2000)
                if r.status == 502:
                    failed.append(marker)
                else:
                    self.assertEqual((r.status, r.body), (200, b"y\n"), r)
                    self.assertEqual(len(y.find(marker)), 1, marker)
            self.assertTrue(failed, "no %s reached x" % method)
            for marker in failed:
                self.assertEqual(len(x.find(marker)), 1, marker)
                self.assertEqual(y.find(marker), [], "%s was retried on y" % marker)
            d.wait_log(upstream_error_re("xy", x.port, "closed prematurely",
                                         '%s /p/x' % method))

    def test_get_retried_after_sent(self):
        x = self._scripted(close_after_request_script, "x")
        y = start_upstream(self, "y")
        d = self.proxy(upstream_section("xy", [x.port, y.port], max_fails=0),
                       [proxy_loc("/p/", "xy")])
        for i in range(4):
            r = d.get("/p/x?m=get-%d" % i)
            self.assertEqual((r.status, r.body), (200, b"y\n"), r)
        both = [i for i in range(4) if x.find("m=get-%d " % i) and y.find("m=get-%d " % i)]
        self.assertTrue(both, "no GET was tried on x and retried on y")

    def test_post_to_refused_server_retried(self):
        dead = refused_port()
        y = start_upstream(self, "y")
        d = self.proxy(upstream_section("ry", [dead, y.port], max_fails=0),
                       [proxy_loc("/p/", "ry")])
        for i in range(4):
            body = os.urandom(20000)
            r = d.request("POST", "/p/x?m=post-%d" % i, body=body)
            self.assertEqual((r.status, r.body), (200, b"y\n"), r)
            q = y.find("m=post-%d " % i)
            self.assertEqual(len(q), 1)
            self.assertEqual(q[0].body, body)
        d.wait_log(upstream_error_re("ry", dead, "connection refused while connecting", "POST /p/x"))

    def _scripted(self, script, name):
        return start_upstream(self, script, name, kind=ScriptedUpstream)


if __name__ == "__main__":
    loomtest.main()
