"""http module, reverse proxy: balancing and upstream connection pools.
round_robin spreads 1,000 sequential requests evenly over two upstreams;
least_conn sends new requests away from an upstream held busy; pooled
keep-alive connections are reused for sequential requests, closed after
keepalive_timeout, not kept with keepalive = 0 or after Connection: close,
and a pooled connection the upstream dropped is replaced transparently."""

import signal
import threading
import time
import unittest

import loomtest
from loomtest import WAIT
from httptest import HttpD
import proxytest
from proxytest import (proxy_loc, proxy_server, response_bytes, ScriptedUpstream, start_upstream,
                       stop_upstreams,
                       upstream_section)


class Base(unittest.TestCase):
    def tearDown(self):
        stop_upstreams(self)

    def proxy(self, ups, locs):
        d = HttpD(proxy_server(locs), opts=ups, tree={"www": None})
        self.addCleanup(d.cleanup)
        d.start()
        return d


class Balancing(Base):
    def test_round_robin_1000(self):
        a = start_upstream(self, "a")
        b = start_upstream(self, "b")
        d = self.proxy(upstream_section("ab", [a.port, b.port], balance='"round_robin"'),
                       [proxy_loc("/p/", "ab")])
        seq = []
        with d.conn() as c:
            for i in range(1000):
                c.request("GET", "/p/r%d" % i)
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                seq.append(r.body)
        na, nb = seq.count(b"a\n"), seq.count(b"b\n")
        self.assertEqual(na + nb, 1000)
        self.assertLessEqual(abs(na - 500), 5, (na, nb))
        self.assertEqual((len(a.requests), len(b.requests)), (na, nb))
        repeats = sum(1 for i in range(1, 1000) if seq[i] == seq[i - 1])
        self.assertLessEqual(repeats, 5, "round robin did not alternate: %d repeats" % repeats)

    def test_round_robin_default(self):
        """round_robin is the default balance."""
        a = start_upstream(self, "a")
        b = start_upstream(self, "b")
        d = self.proxy(upstream_section("ab", [a.port, b.port]), [proxy_loc("/p/", "ab")])
        bodies = [d.get("/p/x").body for _ in range(20)]
        self.assertEqual((bodies.count(b"a\n"), bodies.count(b"b\n")), (10, 10), bodies)

    def test_least_conn(self):
        a = start_upstream(self, "a")
        b = start_upstream(self, "b")
        d = self.proxy(upstream_section("lc", [a.port, b.port], balance='"least_conn"'),
                       [proxy_loc("/p/", "lc")])
        held = {}

        def slow():
            try:
                held["r"] = d.get("/p/hold")
            except BaseException as e:
                held["e"] = e
        t = threading.Thread(target=slow, daemon=True)
        t.start()
        try:
            wait = lambda: (a.active + b.active == 1) or None
            deadline = time.monotonic() + WAIT
            while not wait() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertTrue(wait(), "the slow request never reached an upstream")
            busy, idle = (a, b) if a.active else (b, a)
            for i in range(10):
                r = d.get("/p/q%d" % i)
                self.assertEqual((r.status, r.body), (200, idle.name.encode() + b"\n"),
                                 "request %d went to the busy upstream %s" % (i, busy.name))
        finally:
            a.release()
            b.release()
            t.join(WAIT)
        self.assertNotIn("e", held)
        self.assertEqual((held["r"].status, held["r"].body), (200, busy.name.encode() + b"\n"))
        # no request in progress anywhere: ties are taken in turn
        bodies = [d.get("/p/z").body for _ in range(10)]
        self.assertGreaterEqual(bodies.count(b"a\n"), 3, bodies)
        self.assertGreaterEqual(bodies.count(b"b\n"), 3, bodies)


class Pool(Base):
    def test_sequential_requests_reuse_then_idle_close(self):
        up = start_upstream(self, "u")
        d = self.proxy(upstream_section("u", [up.port], keepalive=4, keepalive_timeout=1),
                       [proxy_loc("/p/", "u")])
        for i in range(30):                 # a new client connection each
            r = d.get("/p/x%d" % i)
            self.assertEqual((r.status, r.body), (200, b"u\n"), r)
        with d.conn() as c:                 # one client connection
            for i in range(30):
                c.request("GET", "/p/y%d" % i)
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"u\n"), r)
        self.assertEqual(len(up.requests), 60)
        self.assertLessEqual(up.accepted, 3, "%d upstream connections for 60 sequential requests"
                             % up.accepted)
        # idle past keepalive_timeout: closed by the proxy
        up.wait(lambda u: u.open == 0, "the pooled connections to be closed")
        before = up.accepted
        self.assertEqual(d.get("/p/again").status, 200)
        self.assertEqual(up.accepted, before + 1)

    def test_keepalive_zero_pools_nothing(self):
        up = start_upstream(self, "u")
        d = self.proxy(upstream_section("u", [up.port], keepalive=0), [proxy_loc("/p/", "u")])
        with d.conn() as c:
            for i in range(10):
                c.request("GET", "/p/x%d" % i)
                self.assertEqual(c.read_response().status, 200)
        self.assertEqual(up.accepted, 10)
        up.wait(lambda u: u.open == 0, "every upstream connection closed")

    def test_connection_close_answer_not_pooled(self):
        up = start_upstream(self, "u", respond=lambda u, q: (200, [("Connection", "close")], b"c\n"))
        d = self.proxy(upstream_section("u", [up.port]), [proxy_loc("/p/", "u")])
        with d.conn() as c:
            for i in range(5):
                c.request("GET", "/p/x%d" % i)
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"c\n"), r)
                self.assertNotIn("close", r.tokens("connection"), r)
        self.assertEqual(up.accepted, 5)

    def test_dropped_pooled_connection_replaced(self):
        """The upstream answers one request per connection and drops the
        connection when the next request arrives on it (no answer byte):
        GETs are sent again on a new connection."""
        up = start_upstream(self, proxytest.first_request_only_script, "once",
                            kind=ScriptedUpstream)
        d = self.proxy(upstream_section("once", [up.port], max_fails=0),
                       [proxy_loc("/p/", "once")])
        with d.conn() as c:
            for i in range(8):
                c.request("GET", "/p/x%d" % i)
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"once\n"), r)
        for i in range(8):
            self.assertEqual(d.get("/p/y%d" % i).status, 200)
        self.assertGreaterEqual(up.accepted, 16)

    def test_upstream_by_name(self):
        """A server given by name (tcp:host=localhost) is resolved."""
        up = start_upstream(self, "named", also_v6=True)
        d = self.proxy(upstream_section("named", ["tcp:host=localhost:port=%d" % up.port]),
                       [proxy_loc("/p/", "named")])
        for i in range(3):
            r = d.get("/p/x%d" % i)
            self.assertEqual((r.status, r.body), (200, b"named\n"), r)
        self.assertEqual(len(up.requests), 3)

    def test_name_with_a_refusing_address(self):
        """A name whose first address refuses (::1, where the upstream
        listens on 127.0.0.1 only -- "localhost" on many systems): every
        request is answered through the other address, and later
        connections start with the address that worked."""
        if not loomtest.can_wrap_hosts():
            self.skipTest("no private mount namespace for an /etc/hosts of its own "
                          "(not root, or in a chroot)")
        up = start_upstream(self, "dual")
        d = HttpD(proxy_server([proxy_loc("/p/", "dual")]),
                  opts=upstream_section("dual", ["tcp:host=dual.loom.test:port=%d" % up.port],
                                        keepalive=0),
                  tree={"www": None})
        self.addCleanup(d.cleanup)
        hosts = d.write_file("hosts", "::1 dual.loom.test\n127.0.0.1 dual.loom.test\n")
        d.start(wrap=loomtest.hosts_wrap(hosts))
        for i in range(4):
            r = d.get("/p/x%d" % i)
            self.assertEqual((r.status, r.body), (200, b"dual\n"), d.log())
        self.assertEqual(len(up.requests), 4)
        self.assertNotIn("[error]", d.log())

    def test_sigterm_closes_idle_pool(self):
        """An idle pooled upstream connection has nothing in flight: a
        graceful stop closes it at once instead of waiting out
        shutdown_grace."""
        up = start_upstream(self, "u")
        d = self.proxy(upstream_section("u", [up.port], keepalive=8, keepalive_timeout=300),
                       [proxy_loc("/p/", "u")])
        for i in range(3):
            self.assertEqual(d.get("/p/x%d" % i).status, 200)
        self.assertGreaterEqual(up.open, 1, "no pooled connection to test with")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(timeout=WAIT + 15), 0, d.log())
        self.assertNotRegex(d.log(), r"grace period over", "the idle pool held up the stop")
        up.wait(lambda u: u.open == 0, "the pooled connections closed")

    def test_idle_connection_closed_by_upstream(self):
        def script(u, s, rd, cid):
            if proxytest.read_and_record(u, rd, cid) is None:
                return
            s.sendall(response_bytes(200, [], b"short\n"))
            time.sleep(0.05)      # then close the kept-alive connection
        up = start_upstream(self, script, "short", kind=ScriptedUpstream)
        d = self.proxy(upstream_section("short", [up.port]), [proxy_loc("/p/", "short")])
        for i in range(5):
            r = d.get("/p/x%d" % i)
            self.assertEqual((r.status, r.body), (200, b"short\n"), r)
            up.wait(lambda u: u.open == 0, "the upstream to close")
        self.assertEqual(up.accepted, 5)


if __name__ == "__main__":
    loomtest.main()
