"""http module, reverse proxy configuration: every error the spec lists
(proxy_pass missing or empty, unknown upstream, bad server endpoint, no
servers, bad balance, out-of-range numbers, duplicate upstream names,
proxy_prefix not starting with "/") stops loomd and loomd -t with exit 1
and one stderr line `FILE:LINE: message` naming the offending line; a
reload moves the traffic to a changed upstream."""

import unittest

import loomtest
from loomtest import DaemonTest, assert_error_line, line_of, run_loomd, start_expect_exit
from httptest import case, HttpD
import proxytest
from proxytest import proxy_loc, proxy_server, start_upstream, stop_upstreams, upstream_section

GOOD_UPSTREAM = upstream_section("app", ["tcp:host=127.0.0.1:port=9"])


class ConfigErrors(DaemonTest):
    def next_case(self):
        self.drop_daemon()

    def expect(self, locs, needle, opts=GOOD_UPSTREAM, nth=1, extra_needles=()):
        """A proxy config with LOCS (location text) and OPTS (upstream
        sections) fails with one line naming the line that holds the NTH
        NEEDLE (or one holding one of EXTRA_NEEDLES)."""
        self.d = HttpD(proxy_server(locs), opts=opts, tree={"www/index.html": "i\n"})
        path = self.d.conf_path
        want = {line_of(path, needle, nth)}
        for n in extra_needles:
            want.add(line_of(path, n))
        r = run_loomd(["-t", "-c", path])
        self.assertEqual(r.returncode, 1, "loomd -t accepted it: " + r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        assert_error_line(self, r.stderr, path, want)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        return assert_error_line(self, err, path, want)

    def test_good_configs_pass(self):
        """The baseline the error cases vary is valid, and so is every form
        of upstream the spec lists."""
        ups = (GOOD_UPSTREAM +
               upstream_section("full", ["tcp:host=127.0.0.1:port=9", "tcp:host=localhost:port=10",
                                         "unix:path=/run/nothing.sock",
                                         "tls:host=example.org:port=443"],
                                balance='"least_conn"', keepalive=0, keepalive_timeout=1,
                                max_fails=0, fail_timeout=1, connect_timeout=1, read_timeout=1,
                                write_timeout=1, resolve_ttl=1))
        locs = [proxy_loc("/a/", "app"), proxy_loc("/b/", "full", proxy_prefix="/x/",
                                                   proxy_host="backend.local", max_body="5M"),
                proxy_loc("/c/", "tcp:host=127.0.0.1:port=9")]
        self.d = HttpD(proxy_server(locs), opts=ups, tree={"www/index.html": "i\n"})
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_proxy_pass_missing(self):
        self.expect([proxy_loc("/a/", None)], 'location "/a/"', extra_needles=['handler = "proxy"'])

    def test_proxy_pass_empty(self):
        self.expect([proxy_loc("/a/", "")], 'proxy_pass = ""')

    def test_unknown_upstream(self):
        self.expect([proxy_loc("/a/", "nosuch")], 'proxy_pass = "nosuch"')

    def test_bad_proxy_pass_endpoint(self):
        self.expect([proxy_loc("/a/", "tcp:host=127.0.0.1")], 'proxy_pass = "tcp:host')

    def test_bad_server_endpoint(self):
        for ep in ("tcp:host=127.0.0.1", "tcp:host=127.0.0.1:port=99999", "bogus:x=1",
                   "tcp:8080:interface=127.0.0.1", "udp:host=127.0.0.1:port=53"):
            with case(endpoint=ep):
                self.expect([proxy_loc("/a/", "bad")], '"%s"' % ep,
                            opts=GOOD_UPSTREAM + upstream_section("bad", [ep]))
                self.next_case()

    def test_empty_server_list(self):
        self.expect([proxy_loc("/a/", "empty")], "server = {}",
                    opts=GOOD_UPSTREAM + upstream_section("empty", []),
                    extra_needles=['upstream "empty"'])

    def test_upstream_without_server(self):
        self.expect([proxy_loc("/a/", "app")], 'upstream "none"',
                    opts=GOOD_UPSTREAM + 'upstream "none" {\n    balance = "round_robin"\n}\n')

    def test_bad_balance(self):
        self.expect([proxy_loc("/a/", "app")], '"random"',
                    opts=upstream_section("app", [9], balance='"random"'))

    def test_numbers_out_of_range(self):
        for opt in ("keepalive", "keepalive_timeout", "max_fails", "fail_timeout",
                    "connect_timeout", "read_timeout", "write_timeout", "resolve_ttl"):
            with case(option=opt):
                self.expect([proxy_loc("/a/", "app")], "%s = -1" % opt,
                            opts=upstream_section("app", [9], **{opt: -1}))
                self.next_case()

    def test_duplicate_upstream(self):
        self.expect([proxy_loc("/a/", "app")], 'upstream "app"', nth=2,
                    opts=GOOD_UPSTREAM + upstream_section("app", [10]))

    def test_proxy_prefix_without_slash(self):
        self.expect([proxy_loc("/a/", "app", proxy_prefix="x/")], 'proxy_prefix = "x/"')


class Reload(unittest.TestCase):
    def tearDown(self):
        stop_upstreams(self)

    def test_reload_moves_traffic(self):
        a = start_upstream(self, "a")
        b = start_upstream(self, "b")
        locs = [proxy_loc("/p/", "app")]
        d = HttpD(proxy_server(locs), opts=upstream_section("app", [a.port]),
                  tree={"www/index.html": "i\n"})
        self.addCleanup(d.cleanup)
        d.start()
        for _ in range(3):
            self.assertEqual(d.get("/p/x").body, b"a\n")
        d.write_conf(proxytest.httptest.http_section(
            d.port, proxy_server(locs), opts=upstream_section("app", [b.port])))
        self.assertTrue(d.reload(), d.log())
        for _ in range(3):
            self.assertEqual(d.get("/p/x").body, b"b\n")
        self.assertEqual(len(a.requests), 3)
        # the pooled connections of the upstream that left are closed
        a.wait(lambda u: u.open == 0, "a's pooled connections closed after the reload")
        # a broken reload keeps the working upstream
        d.write_conf(proxytest.httptest.http_section(
            d.port, proxy_server([proxy_loc("/p/", "nosuch")]), opts=upstream_section("app", [a.port])))
        self.assertFalse(d.reload())
        self.assertEqual(d.get("/p/x").body, b"b\n")


if __name__ == "__main__":
    loomtest.main()
