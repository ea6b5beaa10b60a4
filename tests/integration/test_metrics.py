"""Metrics: the built-in `metrics` listener and the http status handler
render the same collection.  With several instances of one module (two
http, two echo) both outputs pass `promtool check metrics` and keep each
family's samples together; the core's counters move with real traffic
(connections accepted and refused, TLS handshakes and their failures by
reason, worker-pool jobs and their queue wait); the listener answers
400/404/405 to what it does not serve and stays up; its config errors
are one FILE:LINE line."""

import os
import re
import shutil
import socket
import subprocess
import time
import unittest
import urllib.request

import loomtest
from loomtest import (WAIT, DaemonTest, Loomd, free_port, echo_roundtrip, line_of,
                      assert_error_line, start_expect_exit, run_loomd, recv_until_close)

from httptest import VERSION

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
WORKTEST_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "worktest.so")


def http_inst(name, port, tls_port=None):
    listen = ['"tcp:%d:interface=127.0.0.1"' % port]
    if tls_port:
        listen.append('"tls:%d:interface=127.0.0.1:profile=local"' % tls_port)
    return ('http "%s" {\n  listen = {%s}\n  server "s" {\n    names = {"localhost"}\n'
            '    location "= /metrics" { handler = "status"  format = "prometheus" }\n'
            '    location "= /status" { handler = "status"  format = "json" }\n'
            '    location "/" { handler = "return"  status = 200  body = "hi" }\n'
            '  }\n}\n') % (name, ", ".join(listen))


def echo_inst(name, port, extra=""):
    return 'echo "%s" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n%s}\n' % (name, port, extra)


def fetch(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=WAIT) as r:
        return r.status, r.headers, r.read().decode()


def promtool(text):
    """promtool check metrics on TEXT: (returncode, its output)."""
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def families(text):
    """Parse TEXT; fail unless every family's HELP, TYPE and samples are
    one contiguous block.  Returns {name: (type, [(labels, value)])}."""
    fams, order, current = {}, [], None
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name = line.split(" ")[2]
            if name != current:
                assert name not in fams, "family %s comes back later:\n%s" % (name, text)
                fams[name] = [None, []]
                order.append(name)
                current = name
            if line.startswith("# TYPE "):
                fams[name][0] = line.split(" ")[3]
            continue
        m = _SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        assert m.group(1) == current, "sample %r outside its family block" % line
        fams[current][1].append((dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return fams


def value(fams, name, **labels):
    for l, v in fams[name][1]:
        if all(l.get(k) == val for k, val in labels.items()):
            return v
    raise AssertionError("no %s%r in %r" % (name, labels, fams.get(name)))


class Scrapes(DaemonTest):
    @classmethod
    def setUpClass(cls):
        if not os.access(PROMTOOL, os.X_OK):
            raise unittest.SkipTest("promtool not installed (tools/deps.sh installs prometheus)")

    def start(self, extra="", tls=False):
        self.web, self.api, self.ea, self.eb, self.mport = (free_port() for _ in range(5))
        self.tls = free_port() if tls else None
        text = ('tls "local" { self_signed = yes }\n' +
                http_inst("web", self.web, self.tls) + echo_inst("a", self.ea) +
                http_inst("api", self.api) + echo_inst("b", self.eb) +
                'metrics {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % self.mport + extra)
        self.d = Loomd(text)
        self.d.start()

    def test_promtool_both_endpoints(self):
        self.start()
        socks = [socket.create_connection(("127.0.0.1", p), timeout=WAIT)
                 for p in (self.ea, self.ea, self.eb)]
        try:
            for s in socks:
                self.assertEqual(echo_roundtrip(s, b"x\n"), b"x\n")
            fetch(self.api, "/")
            outs = {"http": fetch(self.web), "listener": fetch(self.mport)}
        finally:
            for s in socks:
                s.close()
        for where, (status, headers, text) in outs.items():
            with self.subTest(where=where):
                self.assertEqual(status, 200)
                self.assertEqual(headers["Content-Type"],
                                 "text/plain; version=0.0.4; charset=utf-8")
                rc, out = promtool(text)
                self.assertEqual((rc, out), (0, ""), text)
                fams = families(text)
                # every instance, of every module, in one loom_connections block
                got = {(l["module"], l["instance"]): v for l, v in fams["loom_connections"][1]}
                self.assertEqual(set(got), {("http", "web"), ("http", "api"), ("echo", "a"),
                                            ("echo", "b"), ("metrics", "metrics")})
                self.assertEqual((got[("echo", "a")], got[("echo", "b")]), (2, 1))
                self.assertEqual(fams["loom_connections"][0], "gauge")
                # http's own samples for both http instances
                self.assertEqual({l["instance"] for l, _ in
                                  fams["loom_http_connections_total"][1]}, {"web", "api"})
                self.assertGreaterEqual(value(fams, "loom_http_requests_total",
                                              instance="api", **{"class": "2xx"}), 1)
                self.assertEqual(value(fams, "loom_connections_accepted_total",
                                       instance="a", module="echo"), 2)
                self.assertEqual(value(fams, "loom_build_info", version=VERSION), 1)
                for name in ("loom_work_queue_length", "loom_work_wait_seconds_total",
                             "loom_dgram_replies_dropped_total", "loom_bus_published_total"):
                    self.assertIn(name, fams)

    def test_listener_answers(self):
        self.start()
        cases = [
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404),
            (b"GET /metricsx HTTP/1.1\r\n\r\n", 404),
            (b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", 405),
            (b"GET /metrics HTTP/3.0\r\n\r\n", 400),
            (b"GET /metrics HTTP/1.1\r\n folded\r\n\r\n", 400),
            (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400),
            (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 400),
        ]
        for req, want in cases:
            with self.subTest(req=req[:30]):
                s = socket.create_connection(("127.0.0.1", self.mport), timeout=WAIT)
                s.sendall(req)
                resp = recv_until_close(s)
                s.close()
                head, _, body = resp.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 %d " % want), resp[:200])
                self.assertIn(b"\r\nConnection: close", head)
                m = re.search(rb"\r\nContent-Length: (\d+)", head)
                self.assertEqual(int(m.group(1)), len(body))
                if want == 405:
                    self.assertIn(b"\r\nAllow: GET, HEAD", head)
        # HEAD: the headers of a scrape, no body; a query string is ignored
        s = socket.create_connection(("127.0.0.1", self.mport), timeout=WAIT)
        s.sendall(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n")
        resp = recv_until_close(s)
        s.close()
        head, _, body = resp.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), resp)
        self.assertGreater(int(re.search(rb"Content-Length: (\d+)", head).group(1)), 100)
        self.assertEqual(body, b"")
        # still serving, to curl too
        r = subprocess.run(["curl", "-sS", "-f", "http://127.0.0.1:%d/metrics" % self.mport],
                           capture_output=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'loom_connections{instance="metrics",module="metrics"}', r.stdout)
        self.assertIsNone(self.d.proc.poll())

    def test_refused_at_max_connections(self):
        port = free_port()
        self.start(extra=echo_inst("lim", port, "  max_connections = 1\n"))
        first = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        try:
            self.assertEqual(echo_roundtrip(first, b"1\n"), b"1\n")
            second = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            self.assertEqual(recv_until_close(second), b"")
            second.close()
            fams = families(fetch(self.mport)[2])
        finally:
            first.close()
        self.assertEqual(value(fams, "loom_connections_accepted_total", instance="lim"), 2)
        self.assertEqual(value(fams, "loom_connections_refused_total", instance="lim"), 1)
        self.assertEqual(value(fams, "loom_connections", instance="lim"), 1)
        self.assertEqual(value(fams, "loom_accept_errors_total", instance="lim",
                               reason="aborted"), 0)

    def test_tls_handshakes(self):
        self.start(tls=True)
        url = "https://127.0.0.1:%d/" % self.tls

        def fams():
            return families(fetch(self.mport)[2])

        def fail(f, reason):
            return value(f, "loom_tls_handshake_failures_total", instance="web",
                         reason=reason)
        f0 = fams()
        self.assertEqual(value(f0, "loom_tls_handshakes_total", instance="web"), 0)
        # no TLS counters for an instance without TLS
        self.assertNotIn("api", {l["instance"] for l, _ in f0["loom_tls_handshakes_total"][1]})
        r = subprocess.run(["curl", "-sS", "-k", url], capture_output=True, timeout=WAIT)
        self.assertEqual(r.stdout, b"hi", r.stderr)
        # curl refuses the self-signed certificate: it says so with an alert
        r = subprocess.run(["curl", "-sS", url], capture_output=True, timeout=WAIT)
        self.assertNotEqual(r.returncode, 0)
        # plain HTTP on the TLS port
        s = socket.create_connection(("127.0.0.1", self.tls), timeout=WAIT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        recv_until_close(s)
        s.close()
        # a client that connects and goes
        s = socket.create_connection(("127.0.0.1", self.tls), timeout=WAIT)
        s.sendall(b"\x16\x03\x01\x00")
        s.close()
        want = {"certificate_rejected": 1, "not_tls": 1, "eof": 1}
        deadline = time.monotonic() + WAIT
        while True:
            f1 = fams()
            got = {k: fail(f1, k) - fail(f0, k) for k in want}
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(got, want)
        self.assertEqual(value(f1, "loom_tls_handshakes_total", instance="web"), 1)
        self.assertEqual(fail(f1, "other"), 0)
        rc, out = promtool(fetch(self.web)[2])
        self.assertEqual((rc, out), (0, ""))

    def test_counters_survive_reload(self):
        self.start()
        s = socket.create_connection(("127.0.0.1", self.ea), timeout=WAIT)
        self.assertEqual(echo_roundtrip(s, b"x\n"), b"x\n")
        s.close()
        self.assertTrue(self.d.reload())
        fams = families(fetch(self.mport)[2])
        self.assertEqual(value(fams, "loom_connections_accepted_total", instance="a"), 1)


class Shipped(unittest.TestCase):
    def test_shipped_config(self):
        """conf/loom.conf has a metrics listener on 9180; what it serves
        with every shipped instance running passes promtool and names
        them all, as does the shipped /metrics of http "web"."""
        if not os.access(PROMTOOL, os.X_OK):
            self.skipTest("promtool not installed (tools/deps.sh installs prometheus)")
        d, ports = loomtest.shipped_conf()
        self.addCleanup(d.cleanup)
        self.assertIn(9180, ports)
        d.start()
        for port in (ports[9180], ports[8080]):
            status, _, text = fetch(port)
            self.assertEqual(status, 200)
            rc, out = promtool(text)
            self.assertEqual((rc, out), (0, ""), text)
            fams = families(text)
            got = {(l["module"], l["instance"]) for l, _ in fams["loom_connections"][1]}
            for want in (("metrics", "metrics"), ("echo", "main"), ("http", "web"),
                         ("http", "backend"), ("dns", "auth"), ("memcache", "cache"),
                         ("smtp", "mail"), ("irc", "chat"), ("finger", "users")):
                self.assertIn(want, got)
            self.assertIn("loom_route_messages_total", fams)


class WorkPool(DaemonTest):
    def test_queue_wait(self):
        """One pool thread, two jobs of 300 ms: the second waits for the
        first, so the queue wait adds up to at least most of that."""
        if not os.path.exists(WORKTEST_SO):
            self.fail("worktest.so not built (make check builds it): %s" % WORKTEST_SO)
        mport, wport = free_port(), free_port()
        self.d = Loomd('load_module("%s")\nworkers = 1\n'
                       'worktest "w" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                       'metrics {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                       % (WORKTEST_SO, wport, mport))
        self.d.start()
        f0 = families(fetch(mport)[2])
        s = socket.create_connection(("127.0.0.1", wport), timeout=WAIT)
        s.sendall(b"sleep 300\nsleep 300\n")
        buf = b""
        while buf.count(b"\n") < 2:
            chunk = s.recv(4096)
            self.assertTrue(chunk, buf)
            buf += chunk
        s.close()
        f1 = families(fetch(mport)[2])
        started = (value(f1, "loom_work_jobs_started_total") -
                   value(f0, "loom_work_jobs_started_total"))
        self.assertEqual(started, 2)
        self.assertEqual(value(f1, "loom_work_jobs_total", outcome="completed") -
                         value(f0, "loom_work_jobs_total", outcome="completed"), 2)
        waited = (value(f1, "loom_work_wait_seconds_total") -
                  value(f0, "loom_work_wait_seconds_total"))
        self.assertGreaterEqual(waited, 0.25)
        self.assertEqual(value(f1, "loom_work_queue_length"), 0)
        self.assertEqual(value(f1, "loom_work_threads"), 1)


class ConfigErrors(DaemonTest):
    def expect(self, conf, needle, contains=None, nth=1):
        self.d = Loomd(conf)
        want = line_of(self.d.conf_path, needle, nth)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, want, contains)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        assert_error_line(self, r.stderr, self.d.conf_path, want, contains)

    def test_second_section(self):
        self.expect('metrics {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                    'metrics {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                    % (free_port(), free_port()), "metrics {", "only one metrics section",
                    nth=2)

    def test_bad_listen(self):
        self.expect('metrics {\n  listen = {"tcp:notaport:interface=127.0.0.1"}\n}\n',
                    "notaport")

    def test_udp_listen(self):
        self.expect('metrics {\n  listen = {"udp:%d:interface=127.0.0.1"}\n}\n' % free_port(),
                    "udp:")

    def test_titled_section(self):
        self.expect('metrics "m" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                    % free_port(), 'metrics "m"')

    def test_unknown_option(self):
        self.expect('metrics {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                    '  path = "/m"\n}\n' % free_port(), "path")


if __name__ == "__main__":
    loomtest.main()
