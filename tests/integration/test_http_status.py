"""http module status handler, error pages and access log: /status JSON
and its counters, /metrics in Prometheus text format with the connection
gauges of every instance (an echo instance alongside), error_page bodies,
the access log's combined format with request time, one line per request
with the right status and byte count, and SIGUSR1 reopening it."""

import datetime
import json
import os
import re
import signal
import socket
import time
import unittest

import loomtest
from loomtest import WAIT, free_port, echo_roundtrip, wait_file, own
from httptest import (case, curl_fetch, error_html, etag_of, HttpD, location, start_http,
                      static_server, status_json, VERSION, wait_for)

HELLO = b"Hello, world\n"
CUSTOM_404 = b"<html><body>custom not found page</body></html>\n"


def status_body():
    locs = (location("= /status", {"handler": '"status"', "format": '"json"'}) +
            location("= /metrics", {"handler": '"status"', "format": '"prometheus"'}) +
            location("/echo", {"handler": '"echo"'}))
    return (static_server("main", ["localhost"], extra_locations=locs,
                          server_opts='error_page = {"404 errors/404.html"}') +
            static_server("plain", ["plain.test"]))


def start(tc, echo_port=None, opts='access_log = "access.log"\n'):
    post = ""
    if echo_port:
        post = 'echo "main" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % echo_port
    return start_http(tc, status_body(), opts=opts, post=post,
                      tree={"www/hello.txt": HELLO, "www/index.html": b"<p>i</p>\n",
                            "www/sp ace.txt": b"space\n", "errors/404.html": CUSTOM_404})


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Prometheus text format 0.0.4, strictly: {name: {"help", "type",
    "samples": [(labels dict, value)]}}."""
    fams = {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            fams.setdefault(name, {"samples": []})["help"] = help_
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            fams.setdefault(name, {"samples": []})["type"] = typ
        elif line.startswith("#"):
            continue
        else:
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError("not a Prometheus sample line: %r" % line)
            labels = dict(_LABEL.findall(m.group(2) or ""))
            name = m.group(1)
            fam = fams.get(name)
            if fam is None or "type" not in fam:
                raise AssertionError("sample %r before its # TYPE line" % line)
            fam["samples"].append((labels, float(m.group(3))))
    return fams


def metric(fams, name, **labels):
    for l, v in fams[name]["samples"]:
        if all(l.get(k) == val for k, val in labels.items()):
            return v
    raise AssertionError("no %s%r in %r" % (name, labels, fams.get(name)))


class StatusJson(unittest.TestCase):
    def test_fields(self):
        d = start(self)
        r = d.get("/status")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.get("content-type").startswith("application/json"), r)
        s = json.loads(r.body.decode())
        self.assertEqual(s["version"], VERSION)
        self.assertIsInstance(s["uptime"], int)
        self.assertGreaterEqual(s["uptime"], 0)
        self.assertIsInstance(s["instances"], list)
        mine = [i for i in s["instances"] if i["module"] == "http" and i["instance"] == "web"]
        self.assertEqual(len(mine), 1, s)
        self.assertGreaterEqual(mine[0]["connections"], 1)  # this request's own
        h = s["http"]
        self.assertEqual(set(h), {"connections", "requests", "bytes"}, h)
        self.assertEqual(set(h["connections"]), {"active", "total"})
        self.assertEqual(set(h["requests"]), {"total", "1xx", "2xx", "3xx", "4xx", "5xx"})
        self.assertEqual(set(h["bytes"]), {"in", "out"})
        for group in h.values():
            for k, v in group.items():
                self.assertIsInstance(v, int, k)
                self.assertGreaterEqual(v, 0, k)
        self.assertGreaterEqual(h["connections"]["active"], 1)
        self.assertGreaterEqual(h["connections"]["total"], 1)

    def test_core_metrics(self):
        """The core's own samples (no instance) under "metrics", the http
        instance's own under its entry."""
        d = start(self)
        s = status_json(d.port)
        core = {m["name"]: m for m in s["metrics"]}
        self.assertTrue(all(m["instance"] is None for m in s["metrics"]), s["metrics"])
        self.assertEqual(core["loom_build_info"]["labels"], {"version": VERSION})
        for name in ("loom_work_queue_length", "loom_work_wait_seconds_total",
                     "loom_bus_published_total", "loom_dgram_replies_dropped_total"):
            self.assertIn(name, core)
            self.assertGreaterEqual(core[name]["value"], 0)
        web = [i for i in s["instances"] if i["module"] == "http"][0]
        self.assertEqual([l["transport"] for l in web["listeners"]], ["tcp"])
        self.assertGreaterEqual(web["listeners"][0]["connections"], 1)
        names = {m["name"] for m in web["metrics"]}
        self.assertTrue({"loom_connections", "loom_http_requests_total",
                         "loom_http_connections_active"} <= names, names)

    def test_counters_increase(self):
        d = start(self)
        s0 = status_json(d.port)
        sent = 0
        for _ in range(3):
            r = d.get("/hello.txt")
            self.assertEqual(r.status, 200)
            sent += len(r.body)
        r = d.request("POST", "/echo", body=b"e" * 1000)
        self.assertEqual((r.status, len(r.body)), (200, 1000))
        sent += 1000
        r = d.get("/missing.txt")
        self.assertEqual(r.status, 404)
        sent += len(r.body)
        s1 = status_json(d.port)
        q0, q1 = s0["http"]["requests"], s1["http"]["requests"]
        # 3 GETs + the echo + the first status request (counted once finished)
        self.assertEqual(q1["2xx"] - q0["2xx"], 5, (s0, s1))
        self.assertEqual(q1["4xx"] - q0["4xx"], 1, (s0, s1))
        self.assertEqual(q1["3xx"] - q0["3xx"], 0, (s0, s1))
        self.assertEqual(q1["5xx"] - q0["5xx"], 0, (s0, s1))
        self.assertEqual(q1["total"] - q0["total"], 6, (s0, s1))
        c0, c1 = s0["http"]["connections"], s1["http"]["connections"]
        self.assertGreaterEqual(c1["total"] - c0["total"], 5, (s0, s1))
        b0, b1 = s0["http"]["bytes"], s1["http"]["bytes"]
        self.assertGreaterEqual(b1["in"] - b0["in"], 1000, (s0, s1))
        self.assertGreaterEqual(b1["out"] - b0["out"], sent, (s0, s1))
        # a 3xx
        self.assertEqual(d.get("/errors").status, 404)  # not under www: 404
        d.write_file("www/dir/index.html", "x")
        self.assertEqual(d.get("/dir").status, 301)
        s2 = status_json(d.port)
        self.assertEqual(s2["http"]["requests"]["3xx"] - q1["3xx"], 1, s2)
        self.assertEqual(s2["http"]["requests"]["4xx"] - q1["4xx"], 1, s2)

    def test_keepalive_connection_counts_once(self):
        d = start(self)
        s0 = status_json(d.port)
        with d.conn() as c:
            for _ in range(4):
                c.request("GET", "/hello.txt")
                self.assertEqual(c.read_response().status, 200)
            c.request("GET", "/status")
            s1 = json.loads(c.read_response().body.decode())
        self.assertEqual(s1["http"]["requests"]["2xx"] - s0["http"]["requests"]["2xx"], 5)
        # the first status connection plus this one, at most
        self.assertLessEqual(s1["http"]["connections"]["total"] - s0["http"]["connections"]["total"], 2)

    def test_echo_instance_listed(self):
        echo_port = free_port()
        d = start(self, echo_port=echo_port)
        socks = [socket.create_connection(("127.0.0.1", echo_port), timeout=WAIT) for _ in range(2)]
        try:
            for s in socks:
                self.assertEqual(echo_roundtrip(s, b"ping\n"), b"ping\n")
            s = wait_for(lambda: (lambda s: s if [i for i in s["instances"] if i["module"] == "echo"
                                                  and i["connections"] == 2] else None)(
                status_json(d.port)), what="2 echo connections in /status")
            echo = [i for i in s["instances"] if i["module"] == "echo"]
            self.assertEqual([{k: i[k] for k in ("module", "instance", "connections")}
                              for i in echo],
                             [{"module": "echo", "instance": "main", "connections": 2}])
            # its listeners, and its samples as the metrics collector has them
            self.assertEqual(echo[0]["listeners"],
                             [{"endpoint": "tcp:%d:interface=127.0.0.1" % echo_port,
                               "transport": "tcp", "connections": 2, "adopted": False}])
            samples = {(m["name"], tuple(sorted(m["labels"].items()))): m
                       for m in echo[0]["metrics"]}
            conns = samples[("loom_connections", (("module", "echo"),))]
            self.assertEqual((conns["type"], conns["instance"], conns["value"]),
                             ("gauge", "main", 2))
            acc = samples[("loom_connections_accepted_total", (("module", "echo"),))]
            self.assertEqual((acc["type"], acc["value"]), ("counter", 2))
            self.assertTrue(all(m["instance"] == "main" for m in echo[0]["metrics"]))
        finally:
            for s in socks:
                s.close()
        wait_for(lambda: [i for i in status_json(d.port)["instances"]
                          if i["module"] == "echo" and i["connections"] == 0],
                 what="echo connections back to 0")


class Metrics(unittest.TestCase):
    def test_prometheus_format(self):
        echo_port = free_port()
        d = start(self, echo_port=echo_port)
        socks = [socket.create_connection(("127.0.0.1", echo_port), timeout=WAIT) for _ in range(3)]
        try:
            for s in socks:
                self.assertEqual(echo_roundtrip(s, b"x"), b"x")
            d.get("/hello.txt")
            d.get("/nope")
            r = d.get("/metrics")
            self.assertEqual(r.status, 200, r)
            ct = r.get("content-type")
            self.assertTrue(ct.startswith("text/plain"), ct)
            self.assertIn("version=0.0.4", ct)
            text = r.body.decode()
            fams = parse_prometheus(text)
        finally:
            for s in socks:
                s.close()
        want = {"loom_connections": "gauge",
                "loom_http_connections_active": "gauge",
                "loom_http_connections_total": "counter",
                "loom_http_requests_total": "counter",
                "loom_http_bytes_received_total": "counter",
                "loom_http_bytes_sent_total": "counter"}
        for name, typ in want.items():
            self.assertIn(name, fams, text)
            self.assertEqual(fams[name].get("type"), typ, name)
            self.assertTrue(fams[name].get("help"), "%s has no HELP text" % name)
            self.assertTrue(fams[name]["samples"], name)
        self.assertEqual(metric(fams, "loom_connections", module="echo", instance="main"), 3)
        self.assertGreaterEqual(metric(fams, "loom_connections", module="http", instance="web"), 1)
        self.assertEqual({l["instance"] for l, _ in fams["loom_connections"]["samples"]},
                         {"main", "web"})
        self.assertGreaterEqual(metric(fams, "loom_http_connections_active", instance="web"), 1)
        self.assertGreaterEqual(metric(fams, "loom_http_connections_total", instance="web"), 3)
        classes = {l["class"]: v for l, v in fams["loom_http_requests_total"]["samples"]
                   if l.get("instance") == "web"}
        self.assertEqual(set(classes), {"1xx", "2xx", "3xx", "4xx", "5xx"})
        self.assertEqual(classes["2xx"], 1)
        self.assertEqual(classes["4xx"], 1)
        self.assertGreater(metric(fams, "loom_http_bytes_sent_total", instance="web"), 13)
        self.assertGreaterEqual(metric(fams, "loom_http_bytes_received_total", instance="web"), 0)

    def test_metrics_counters_increase(self):
        d = start(self)
        f0 = parse_prometheus(d.get("/metrics").body.decode())
        for _ in range(4):
            self.assertEqual(d.get("/hello.txt").status, 200)
        f1 = parse_prometheus(d.get("/metrics").body.decode())
        m = lambda f: metric(f, "loom_http_requests_total", instance="web", **{"class": "2xx"})
        self.assertEqual(m(f1) - m(f0), 5)  # 4 + the first /metrics

    def test_curl_metrics(self):
        d = start(self)
        r = curl_fetch(d.url("/metrics"))
        self.assertEqual(r.status, 200, r)
        parse_prometheus(r.body.decode())


class ErrorPages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = HttpD(status_body(), tree={"www/hello.txt": HELLO, "errors/404.html": CUSTOM_404,
                                           "www/noindex/a": "a"})
        own(cls, cls.d)
        cls.d.start()

    def test_custom_404(self):
        r = self.d.get("/nope.html")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.body, CUSTOM_404)
        self.assertTrue(r.get("content-type").startswith("text/html"), r)
        self.assertEqual(r.get("content-length"), str(len(CUSTOM_404)))

    def test_custom_404_curl_and_head(self):
        r = curl_fetch(self.d.url("/nope"))
        self.assertEqual((r.status, r.body), (404, CUSTOM_404), r)
        r = self.d.request("HEAD", "/nope")
        self.assertEqual((r.status, r.body), (404, b""), r)
        self.assertEqual(r.get("content-length"), str(len(CUSTOM_404)))

    def test_other_status_default_page(self):
        r = self.d.get("/noindex/")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.body.decode().strip(), error_html(403))

    def test_other_vhost_default_404(self):
        r = self.d.get("/nope", host="plain.test")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.body.decode().strip(), error_html(404))

    def test_error_page_read_at_start(self):
        """error_page files are read at start: changing the file later does
        not change the page."""
        with open(self.d.path("errors/404.html"), "wb") as f:
            f.write(b"changed\n")
        try:
            self.assertEqual(self.d.get("/nope").body, CUSTOM_404)
        finally:
            with open(self.d.path("errors/404.html"), "wb") as f:
                f.write(CUSTOM_404)


MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
LOG_LINE = re.compile(
    r'^(?P<addr>127\.0\.0\.1) - - \[(?P<time>\d\d/(?:%s)/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"(?P<req>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<ref>[^"]*)" "(?P<ua>[^"]*)" '
    r'(?P<rt>\d+\.\d{3})$' % MONTHS)


class AccessLog(unittest.TestCase):
    def setUp(self):
        self.d = start(self)
        self.log = self.d.path("access.log")

    def lines(self, n):
        """Wait until the log holds N lines; returns them parsed."""
        text = wait_for(lambda: (lambda t: t if t.count("\n") >= n else None)(self.read()),
                        what="%d access log lines" % n)
        out = []
        for line in text.rstrip("\n").split("\n"):
            m = LOG_LINE.match(line)
            self.assertIsNotNone(m, "access log line not in combined+time format: %r" % line)
            out.append(m.groupdict())
        return out

    def read(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def test_lines(self):
        t0 = datetime.datetime.now(datetime.timezone.utc)
        reqs = []

        def do(method, target, headers=(), body=b"", version="HTTP/1.1", want=None):
            r = self.d.request(method, target, headers, body, version=version)
            if want is not None:
                self.assertEqual(r.status, want, r)
            reqs.append((method, target, version, r, dict(headers)))

        etag = etag_of(self.d.path("www/hello.txt"))
        do("GET", "/hello.txt", [("User-Agent", "ua-one/1.0"), ("Referer", "http://ref.test/a")], want=200)
        do("GET", "/nope", want=404)
        do("HEAD", "/hello.txt", want=200)
        do("GET", "/hello.txt", [("If-None-Match", etag)], want=304)
        do("GET", "/hello.txt", [("Range", "bytes=0-4")], want=206)
        do("POST", "/hello.txt", body=b"abc", want=405)
        do("GET", "/sp%20ace.txt?q=1", version="HTTP/1.0", want=200)
        do("POST", "/echo", body=b"z" * 3000, want=200)
        do("GET", "/", want=200)
        lines = self.lines(len(reqs))
        self.assertEqual(len(lines), len(reqs), lines)
        for (method, target, version, r, headers), l in zip(reqs, lines):
            with case(target=target, method=method):
                self.assertEqual(l["req"], "%s %s %s" % (method, target, version))
                self.assertEqual(int(l["status"]), r.status)
                self.assertEqual(int(l["bytes"]), len(r.body), l)
                self.assertEqual(l["ua"], headers.get("User-Agent", "-"))
                self.assertEqual(l["ref"], headers.get("Referer", "-"))
                when = datetime.datetime.strptime(l["time"], "%d/%b/%Y:%H:%M:%S %z")
                self.assertLess(abs((when - t0).total_seconds()), 3600, l)
                float(l["rt"])
        self.assertEqual(lines[0]["bytes"], "13")
        self.assertEqual(lines[2]["bytes"], "0")   # HEAD
        self.assertEqual(lines[3]["bytes"], "0")   # 304
        self.assertEqual(lines[4]["bytes"], "5")   # 206
        # one line per request: one more request, exactly one more line
        self.d.get("/hello.txt")
        self.assertEqual(len(self.lines(len(reqs) + 1)), len(reqs) + 1)

    def test_keepalive_and_curl_lines(self):
        with self.d.conn() as c:
            for t in ("/hello.txt", "/nope", "/hello.txt"):
                c.request("GET", t)
                c.read_response()
        r = curl_fetch(self.d.url("/hello.txt"), ["-A", "curl-agent", "-e", "http://r.test/"])
        self.assertEqual(r.status, 200)
        lines = self.lines(4)
        self.assertEqual([(l["req"], l["status"]) for l in lines],
                         [("GET /hello.txt HTTP/1.1", "200"), ("GET /nope HTTP/1.1", "404"),
                          ("GET /hello.txt HTTP/1.1", "200"), ("GET /hello.txt HTTP/1.1", "200")])
        self.assertEqual((lines[3]["ua"], lines[3]["ref"]), ("curl-agent", "http://r.test/"))

    def test_unparseable_request_logged(self):
        with self.d.conn() as c:
            c.send(b"\x01\x02 garbage\r\n\r\n")
            data = c.read_until_close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:100])
        lines = self.lines(1)
        self.assertEqual(lines[0]["req"], "-")
        self.assertEqual(lines[0]["status"], "400")

    def test_sigusr1_reopens(self):
        self.assertEqual(self.d.get("/hello.txt", headers=[("User-Agent", "before")]).status, 200)
        self.lines(1)
        rotated = self.log + ".1"
        os.rename(self.log, rotated)
        self.d.signal(signal.SIGUSR1)
        # the reopen happens when loomd handles the signal: request until the
        # new file shows up (bounded)
        deadline = time.monotonic() + WAIT
        n = 0
        while not os.path.exists(self.log) and time.monotonic() < deadline:
            self.d.get("/hello.txt", headers=[("User-Agent", "during")])
            n += 1
            time.sleep(0.1)
        self.assertTrue(os.path.exists(self.log), "SIGUSR1 did not reopen the access log")
        self.assertEqual(self.d.get("/hello.txt", headers=[("User-Agent", "after")]).status, 200)
        wait_file(self.log, r'"after" \d+\.\d{3}$')
        with open(rotated) as f:
            old = f.read()
        self.assertIn('"before"', old)
        self.assertNotIn('"after"', old)
        self.assertIsNone(self.d.proc.poll())


if __name__ == "__main__":
    loomtest.main()
