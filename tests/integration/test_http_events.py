"""The events handler (Server-Sent Events from the bus) from a real loomd.

Messages come in as webhooks, through the publish handler (POSTs of JSON
on one keep-alive connection, and curl), as users send them; where a test
needs volume they are published in bulk by the test-only module
tests/modules/bustest.so ("PUBN TOPIC N PAD TEXT" on its line protocol).
Clients: curl -N over HTTP/1.1, HTTP/2 with prior knowledge and HTTP/2
over TLS; a Python client that parses the stream (http.client);
Last-Event-ID resumes; a subscriber that never reads is dropped while the
daemon's memory stays bounded; the per-location counters (streams,
delivered, dropped, refused past max_streams) in /status and /metrics;
reloads with streams open (a kept location keeps its stream and its ring,
a removed one ends its streams cleanly); SIGTERM with streams open ends
them and exits 0; every config error is one FILE:LINE line and exit 1;
headless Chromium on the shipped conf/ shows conf/www/events.html filling
in with messages posted by the test and through the page's own form.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import loomtest
from loomtest import (DaemonTest, Loomd, free_port, own, assert_error_line, line_of,
                      start_expect_exit, WAIT)
from httptest import status_json, wait_for

BUSTEST_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "bustest.so")
CURL = shutil.which("curl")
CHROMIUM = shutil.which("chromium")


def conf(http, bus=None, tls=None, extra_locs="", history=1000, demo=True, events_opts=""):
    """An http instance "web" (server "s") with webhook locations
    /hooks/demo and /hooks/other (publish, topics demo and other),
    /status and /metrics, and /events/demo; with BUS, bustest "b" on that
    port too."""
    text = 'shutdown_grace = 10\n'
    if bus:
        text += 'load_module("%s")\n' % BUSTEST_SO
        text += 'bustest "b" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % bus
    listen = '"tcp:%d:interface=127.0.0.1"' % http
    if tls:
        text += 'tls "t" {\n  self_signed = yes\n}\n'
        listen += ', "tls:%d:interface=127.0.0.1:profile=t"' % tls
    text += 'http "web" {\n  listen = {%s}\n  server "s" {\n' % listen
    text += '    location "/" {\n      root = "www"\n    }\n'
    for topic in ("demo", "other"):
        text += ('    location "= /hooks/%s" {\n      handler = "publish"\n'
                 '      topic = "%s"\n    }\n' % (topic, topic))
    text += '    location "= /status" {\n      handler = "status"\n    }\n'
    text += ('    location "= /metrics" {\n      handler = "status"\n'
             '      format = "prometheus"\n    }\n')
    if demo:
        text += ('    location "= /events/demo" {\n      handler = "events"\n'
                 '      topic = "demo"\n      history = %d\n%s    }\n' % (history, events_opts))
    text += extra_locs
    text += '  }\n}\n'
    return text


class Webhook:
    """A webhook sender: POSTs {"text": ...} as JSON to a publish location
    over one keep-alive connection; each answer (202) gives the id the
    message got on the bus."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)

    def post(self, text, path="/hooks/demo"):
        self.conn.request("POST", path, body=json.dumps({"text": text}),
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 202:
            raise AssertionError("POST %s: %d %r" % (path, r.status, body))
        return json.loads(body)["id"]

    def publish(self, text, n=1, path="/hooks/demo"):
        """N messages with texts "TEXT #1" .. "TEXT #N"; their ids."""
        return [self.post("%s #%d" % (text, i), path) for i in range(1, n + 1)]

    def close(self):
        self.conn.close()


def curl_post(port, text, path="/hooks/demo"):
    """One webhook POSTed by curl; the message's id."""
    out = subprocess.run([CURL, "-s", "-w", "\n%{http_code}", "-H",
                          "Content-Type: application/json", "--data-binary",
                          json.dumps({"text": text}),
                          "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, timeout=WAIT).stdout
    body, _, code = out.rpartition("\n")
    if code != "202":
        raise AssertionError("curl POST %s: %r" % (path, out))
    return json.loads(body)["id"]


class Bulk:
    """bustest's line protocol, for volume: PUBN TOPIC N PAD TEXT publishes
    N messages whose field text is "TEXT #I" and PAD bytes of 'x'."""

    def __init__(self, port):
        self.s = loomtest.connect(port)
        self.buf = b""

    def publish(self, topic, text, n=1, pad=0):
        """Publish N messages; returns (first id, last id)."""
        self.s.sendall(("PUBN %s %d %d %s\n" % (topic, n, pad, text)).encode())
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise AssertionError("bustest closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        m = re.fullmatch(r"OK first=(\d+) last=(\d+)", line.decode())
        if m is None:
            raise AssertionError("PUBN: %r" % line)
        return int(m.group(1)), int(m.group(2))

    def close(self):
        self.s.close()


class SSEClient:
    """A streaming GET parsed as Server-Sent Events (http.client decodes
    the chunked coding)."""

    def __init__(self, port, path="/events/demo", headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.buf = b""
        self.ended = False

    def _fill(self):
        data = self.resp.read1(65536)
        if not data:
            self.ended = True
            return False
        self.buf += data
        return True

    def event(self):
        """The next event as a dict of its fields (comments under ':'), or
        None at the end of the stream."""
        while b"\n\n" not in self.buf:
            if not self._fill():
                return None
        block, _, self.buf = self.buf.partition(b"\n\n")
        ev = {}
        for line in block.decode().split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            ev[name] = ev[name] + "\n" + value if name in ev else value
        return ev

    def events(self, n):
        out = []
        while len(out) < n:
            ev = self.event()
            if ev is None:
                raise AssertionError("stream ended after %r" % out)
            if "" in ev and len(ev) == 1:  # a comment
                continue
            out.append(ev)
        return out

    def at_end(self):
        """True when only comments come before the end of the stream."""
        while True:
            ev = self.event()
            if ev is None:
                return True
            if not ("" in ev and len(ev) == 1):
                return False

    def close(self):
        self.conn.close()


def curl_stream(args):
    """curl -N -i ARGS as a process whose stdout is read line by line."""
    return subprocess.Popen([CURL, "-sN", "-i"] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


def read_until(proc, needle, limit=1 << 20):
    out = b""
    while needle not in out:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("curl ended; got %r" % out)
        out += line
        if len(out) > limit:
            raise AssertionError("no %r in %r..." % (needle, out[:500]))
    return out


def stop_proc(proc):
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=WAIT)
    proc.stdout.close()


class Streams(DaemonTest):
    @classmethod
    def setUpClass(cls):
        cls.http, cls.tls = free_port(), free_port()
        cls.d = own(cls, Loomd(conf(cls.http, tls=cls.tls),
                               files={"www/hello.txt": "hello\n"}))
        cls.d.start()
        cls.hook = own(cls, Webhook(cls.http))

    def tearDown(self):
        pass  # the class's daemon stays

    def curl_case(self, args, proto):
        if CURL is None:
            self.skipTest("no curl")
        p = curl_stream(args)
        try:
            head = read_until(p, b"\r\n\r\n")
            self.assertTrue(head.startswith(proto), head)
            low = head.lower()
            self.assertIn(b"content-type: text/event-stream", low)
            self.assertIn(b"cache-control: no-store", low)
            self.assertIn(b"x-accel-buffering: no", low)
            ids = [curl_post(self.http, "via-curl #%d" % n) for n in (1, 2)]
            body = read_until(p, b"id: %d\n" % ids[-1])
            body += read_until(p, b"\n\n")
            frames = [f for f in body.split(b"\n\n") if f.startswith(b"id:")]
            self.assertEqual(len(frames), 2, body)
            for n, (i, f) in enumerate(zip(ids, frames), 1):
                lines = f.decode().split("\n")
                self.assertEqual(lines[0], "id: %d" % i)
                self.assertEqual(lines[1], "event: demo")
                self.assertTrue(lines[2].startswith("data: "))
                m = json.loads(lines[2][6:])
                self.assertEqual(m["id"], i)
                self.assertEqual(m["topic"], "demo")
                self.assertEqual((m["module"], m["instance"]), ("http", "web"))
                self.assertEqual(m["fields"], {"text": "via-curl #%d" % n})
        finally:
            stop_proc(p)

    def test_curl_h1(self):
        self.curl_case(["http://127.0.0.1:%d/events/demo" % self.http], b"HTTP/1.1 200")

    def test_curl_h2_prior_knowledge(self):
        self.curl_case(["--http2-prior-knowledge",
                        "http://127.0.0.1:%d/events/demo" % self.http], b"HTTP/2 200")

    def test_curl_h2_tls(self):
        self.curl_case(["-k", "--http2", "https://127.0.0.1:%d/events/demo" % self.tls],
                       b"HTTP/2 200")

    def test_python_client_and_resume(self):
        c = SSEClient(self.http)
        try:
            self.assertEqual(c.resp.status, 200)
            ids = self.hook.publish("py", n=5)
            self.assertEqual(ids, list(range(ids[0], ids[0] + 5)))  # nothing between
            evs = c.events(5)
            self.assertEqual([int(e["id"]) for e in evs], ids)
            self.assertEqual([json.loads(e["data"])["fields"]["text"] for e in evs],
                             ["py #%d" % i for i in range(1, 6)])
        finally:
            c.close()
        # reconnect as EventSource does, after the second one
        c = SSEClient(self.http, headers={"Last-Event-ID": str(ids[1])})
        try:
            evs = c.events(3)
            self.assertEqual([int(e["id"]) for e in evs], ids[2:])
            nxt = self.hook.post("live")
            self.assertEqual(int(c.events(1)[0]["id"]), nxt)
        finally:
            c.close()

    def test_other_topic_not_streamed(self):
        c = SSEClient(self.http)
        try:
            self.hook.post("not here", path="/hooks/other")
            mine = self.hook.post("here")
            ev = c.events(1)[0]
            self.assertEqual(int(ev["id"]), mine)
            self.assertEqual(json.loads(ev["data"])["fields"]["text"], "here")
        finally:
            c.close()


def vmrss_kb(pid):
    return int(loomtest.proc_status(pid)["VmRSS"].split()[0])


def slow_subscriber(port):
    """A client that asks for the stream and never reads (a small receive
    buffer, so that loomd's side fills up soon)."""
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"GET /events/demo HTTP/1.1\r\nHost: x\r\n\r\n")
    return slow


DROPPED_RX = r"subscriber too slow \(\d+ bytes queued, max_buffer 1048576\), dropped"


class SlowSubscriber(DaemonTest):
    def test_never_reading_client_is_dropped(self):
        if not os.path.exists(BUSTEST_SO):
            self.fail("bustest.so not built (make check builds it): %s" % BUSTEST_SO)
        http, bus = free_port(), free_port()
        self.d = Loomd(conf(http, bus, history=50), files={"www/hello.txt": "x\n"})
        self.d.start()
        pub = Bulk(bus)
        reader = SSEClient(http)
        slow = slow_subscriber(http)
        try:
            self.assertEqual(reader.resp.status, 200)
            pub.publish("demo", "warm", n=50, pad=20000)
            reader.events(50)
            base = vmrss_kb(self.d.proc.pid)
            # 40 MB through the bus, read by one client, never by the other
            total = 0
            for _ in range(40):
                pub.publish("demo", "flood", n=50, pad=20000)
                total += 50 * 20000
                reader.events(50)
            self.d.wait_log(DROPPED_RX)
            grown = vmrss_kb(self.d.proc.pid) - base
            if not loomtest.SANITIZED:
                # the ring holds 50 frames (1 MB), the slow client at most
                # max_buffer (1 MB): far less than what went through
                self.assertLess(grown * 1024, total // 4,
                                "RSS grew %d kB for %d bytes published" % (grown, total))
            print("# RSS before %d kB, growth %d kB after %d MB published"
                  % (base, grown, total >> 20))
            # the slow client was cut off: it reads what was sent, then EOF
            slow.setblocking(True)
            slow.settimeout(WAIT)
            got = 0
            while True:
                data = slow.recv(1 << 20)
                if not data:
                    break
                got += len(data)
            self.assertLess(got, total)
            # the reader goes on
            nxt, _ = pub.publish("demo", "after")
            self.assertEqual(int(reader.events(1)[0]["id"]), nxt)
        finally:
            slow.close()
            reader.close()
            pub.close()


def metrics(port):
    """/metrics as {(name, labels as a sorted tuple of pairs): value}."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode()
        assert r.status == 200, (r.status, text)
    finally:
        c.close()
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\d+)", line)
        assert m, line
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = int(m.group(3))
    return out


class Counters(DaemonTest):
    """The events location's counters in /status (JSON) and /metrics
    (Prometheus): streams open, messages delivered, slow subscribers
    dropped, requests refused past max_streams."""

    LABELS = (("instance", "web"), ("location", "= /events/demo"), ("server", "s"),
              ("topic", "demo"))

    def counters(self):
        ev = status_json(self.http)["events"]
        self.assertEqual(len(ev), 1, ev)
        got = ev[0]
        self.assertEqual((got["server"], got["location"], got["topic"]),
                         ("s", "= /events/demo", "demo"))
        prom = metrics(self.http)
        for key in ("streams", "delivered", "dropped", "refused"):
            name = "loom_http_events_" + key + ("" if key == "streams" else "_total")
            self.assertEqual(prom[(name, self.LABELS)], got[key], key)
        return {k: got[k] for k in ("streams", "delivered", "dropped", "refused")}

    def test_after_a_drop_and_a_refusal(self):
        if not os.path.exists(BUSTEST_SO):
            self.fail("bustest.so not built (make check builds it): %s" % BUSTEST_SO)
        self.http, bus = free_port(), free_port()
        text = conf(self.http, bus, history=50, events_opts="      max_streams = 2\n")
        self.d = Loomd(text, files={"www/hello.txt": "x\n"})
        self.d.start()
        self.assertEqual(self.counters(),
                         {"streams": 0, "delivered": 0, "dropped": 0, "refused": 0})
        hook, pub = Webhook(self.http), Bulk(bus)
        reader = SSEClient(self.http)
        slow = extra = None
        try:
            ids = hook.publish("counted", n=3)
            self.assertEqual([int(e["id"]) for e in reader.events(3)], ids)
            self.assertEqual(self.counters(),
                             {"streams": 1, "delivered": 3, "dropped": 0, "refused": 0})
            # a subscriber that never reads: the second stream, dropped
            slow = slow_subscriber(self.http)
            wait_for(lambda: self.counters()["streams"] == 2, what="the second stream")
            read = 3
            for _ in range(40):
                pub.publish("demo", "flood", n=50, pad=20000)
                reader.events(50)
                read += 50
                if re.search(DROPPED_RX, self.d.log()):
                    break
            self.d.wait_log(DROPPED_RX)
            c = self.counters()
            self.assertEqual((c["streams"], c["dropped"], c["refused"]), (1, 1, 0), c)
            # every message the reader read, and what the slow one was sent
            self.assertGreater(c["delivered"], read)
            self.assertLessEqual(c["delivered"], 2 * read)
            # max_streams = 2: a second stream is taken, a third refused
            extra = SSEClient(self.http)
            self.assertEqual(extra.resp.status, 200)
            third = http.client.HTTPConnection("127.0.0.1", self.http, timeout=WAIT)
            third.request("GET", "/events/demo")
            r = third.getresponse()
            r.read()
            third.close()
            self.assertEqual((r.status, r.getheader("Retry-After")), (503, "5"))
            c2 = self.counters()
            self.assertEqual((c2["streams"], c2["dropped"], c2["refused"]), (2, 1, 1), c2)
            self.assertEqual(c2["delivered"], c["delivered"])
            # a reload keeps the location, so its counters
            self.assertTrue(self.d.reload())
            self.assertEqual(self.counters(), c2)
            # a stream closed by its client is no longer counted
            extra.close()
            extra = None
            wait_for(lambda: self.counters()["streams"] == 1, what="the stream to go")
            nxt = hook.post("last")
            self.assertEqual(int(reader.events(1)[0]["id"]), nxt)
            self.assertEqual(self.counters(), dict(c2, streams=1, delivered=c2["delivered"] + 1))
        finally:
            for x in (slow, extra, reader, hook, pub):
                if x:
                    x.close()


class Lifecycle(DaemonTest):
    def test_reload_keeps_and_drops(self):
        http = free_port()
        extra = ('    location "= /events/gone" {\n      handler = "events"\n'
                 '      topic = "gone"\n    }\n')
        self.d = Loomd(conf(http, extra_locs=extra), files={"www/hello.txt": "x\n"})
        self.d.start()
        hook = Webhook(http)
        keep = SSEClient(http)
        gone = SSEClient(http, path="/events/gone")
        keep2 = None
        h2 = None
        try:
            if CURL:
                h2 = curl_stream(["--http2-prior-knowledge",
                                  "http://127.0.0.1:%d/events/demo" % http])
                read_until(h2, b"\r\n\r\n")
            before = hook.post("before")
            self.assertEqual(int(keep.events(1)[0]["id"]), before)
            # the same config: everything stays
            self.assertTrue(self.d.reload())
            # /events/gone removed, /events/demo kept
            self.d.write_conf(conf(http))
            self.assertTrue(self.d.reload())
            self.assertTrue(gone.at_end())  # ended cleanly: the last chunk
            after = hook.post("after")
            self.assertEqual(int(keep.events(1)[0]["id"]), after)
            if h2:
                read_until(h2, b"id: %d\n" % after)
            # the ring survived the reloads
            keep2 = SSEClient(http, path="/events/demo?last_event_id=0")
            ids = [int(e["id"]) for e in keep2.events(2)]
            self.assertEqual(ids, [before, after])
        finally:
            for c in (keep, gone, keep2):
                if c:
                    c.close()
            if h2:
                stop_proc(h2)
            hook.close()

    def test_stop_with_streams_open(self):
        http = free_port()
        self.d = Loomd(conf(http), files={"www/hello.txt": "x\n"})
        self.d.start()
        hook = Webhook(http)
        a = SSEClient(http)
        b = SSEClient(http, path="/events/demo?last_event_id=0")
        h2 = curl_stream(["--http2-prior-knowledge",
                          "http://127.0.0.1:%d/events/demo" % http]) if CURL else None
        try:
            if h2:
                read_until(h2, b"\r\n\r\n")
            first = hook.post("x")
            self.assertEqual(int(a.events(1)[0]["id"]), first)
            self.assertEqual(int(b.events(1)[0]["id"]), first)
            self.d.signal(signal.SIGTERM)
            self.assertEqual(self.d.wait_exit(), 0)
            self.assertTrue(a.at_end())
            self.assertTrue(b.at_end())
            if h2:
                h2.stdout.read()
                self.assertEqual(h2.wait(timeout=WAIT), 0)  # a clean end
            self.assertNotIn("ERROR: AddressSanitizer", self.d.log())
            self.assertNotIn("runtime error", self.d.log())
        finally:
            a.close()
            b.close()
            hook.close()
            if h2:
                stop_proc(h2)


class ConfigErrors(DaemonTest):
    def check(self, loc_body, contains):
        text = ('http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '  server "s" {\n    location "= /ev" {\n      handler = "events"\n'
                '%s    }\n  }\n}\n' % (free_port(), loc_body))
        self.d = Loomd(text)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1)
        # the option's line when one is named, else the location's
        opt = [ln for ln in loc_body.split("\n") if ln.strip() and "topic" not in ln]
        if opt:
            want = line_of(self.d.conf_path, opt[-1].strip())
        elif "topic" in loc_body:
            want = line_of(self.d.conf_path, "topic =")
        else:
            first = line_of(self.d.conf_path, 'location "= /ev"')
            want = set(range(first, first + 4))
        assert_error_line(self, err, self.d.conf_path, want, contains=contains)

    def test_errors(self):
        cases = [
            ("", "needs a topic"),
            ('      topic = "a::b"\n', "needs a topic"),
            ('      topic = "a:b"\n', "needs a topic"),
            ('      topic = "demo"\n      history = -1\n', "history must be 0-1000000"),
            ('      topic = "demo"\n      keepalive = 0\n', "keepalive must be 1-3600"),
            ('      topic = "demo"\n      max_streams = 0\n', "max_streams must be 1-1000000"),
            ('      topic = "demo"\n      max_buffer = "64K"\n', "max_buffer must be 256K to 1G"),
            ('      topic = "demo"\n      max_buffer = "lots"\n', "max_buffer"),
        ]
        for body, msg in cases:
            with self.subTest(body=body):
                self.check(body, msg)
                self.drop_daemon()


class Browser(DaemonTest):
    """The shipped conf/ (conf/loom.conf, conf/www/events.html, ports
    remapped) with the page in headless Chromium, driven over the DevTools
    protocol: messages posted to /hooks/demo before and after the page
    opened, and one sent through the page's own form as a user does, all
    show up in its list."""

    def test_events_page(self):
        if CHROMIUM is None:
            self.skipTest("chromium is not installed")
        if CURL is None:
            self.skipTest("curl is not installed")
        import asyncio
        import websockets

        self.d, ports = loomtest.shipped_conf()
        self.d.start()
        web = ports[8080]
        hook = Webhook(web)
        self.addCleanup(hook.close)
        profile = os.path.join(self.d.dir, "chromium")
        port = free_port()
        chrome = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--user-data-dir=" + profile, "--remote-debugging-port=%d" % port,
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ids = hook.publish("before the page", n=2)

        async def drive():
            deadline = time.monotonic() + 60
            targets = None
            while targets is None:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("GET", "/json/list")
                    targets = [t for t in json.loads(c.getresponse().read())
                               if t.get("type") == "page"]
                    c.close()
                except (OSError, ValueError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
                    targets = None
            async with websockets.connect(targets[0]["webSocketDebuggerUrl"],
                                          max_size=None) as ws:
                seq = [0]

                async def call(method, **params):
                    seq[0] += 1
                    await ws.send(json.dumps({"id": seq[0], "method": method,
                                              "params": params}))
                    while True:
                        r = json.loads(await ws.recv())
                        if r.get("id") == seq[0]:
                            return r

                async def evaluate(expr):
                    r = await call("Runtime.evaluate", expression=expr, returnByValue=True)
                    if "exceptionDetails" in r.get("result", {}):
                        raise AssertionError("%s: %r" % (expr, r["result"]))
                    return r["result"]["result"].get("value")

                async def shown():
                    """The page's list: [(data-id, text)]."""
                    return await evaluate(
                        "Array.from(document.querySelectorAll('#log li'))"
                        ".map(e => [e.dataset.id, e.textContent])") or []

                async def has(n):
                    return len(await shown()) >= n

                async def until(what, pred):
                    while True:
                        v = await pred()
                        if v:
                            return v
                        if time.monotonic() > deadline:
                            raise AssertionError("waiting for %s; the page shows %r"
                                                 % (what, await shown()))
                        await asyncio.sleep(0.1)

                await call("Page.navigate", url="http://127.0.0.1:%d/events.html" % web)
                # the ring's messages, replayed (the page asks last_event_id=0)
                await until("the replay", lambda: has(2))
                # live: one posted by curl ...
                ids.append(curl_post(web, "while open"))
                await until("the curl post", lambda: has(3))
                # ... and one through the page's form: type, then click
                await evaluate("document.getElementById('text').value = "
                               "'typed in the form'; "
                               "document.querySelector('#post button').click(); true")
                await until("the form's post", lambda: has(4))
                posted = await until("the form's answer", lambda: evaluate(
                    "document.getElementById('posted').textContent"))
                return await shown(), posted

        try:
            items, posted = asyncio.run(drive())
        finally:
            chrome.terminate()
            try:
                chrome.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                chrome.kill()
                chrome.wait()
        self.assertEqual([t for _, t in items],
                         ["before the page #1", "before the page #2", "while open",
                          "typed in the form"])
        self.assertEqual([int(i) for i, _ in items[:3]], ids)
        self.assertGreater(int(items[3][0]), ids[-1])
        self.assertTrue(posted.startswith("202"), posted)


if __name__ == "__main__":
    loomtest.main()
