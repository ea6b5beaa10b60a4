"""conf/www/status.html, the live status page, in headless Chromium.

The shipped conf/ (ports remapped) runs in a real loomd; Chromium opens
http://.../status.html, which polls the http status handler's JSON, and is
driven over the DevTools protocol (a websocket, python3-websockets).  While
the page runs the test makes traffic with real clients to every configured
instance: HTTP requests (through the reverse proxy to "backend" too), echo
over TCP and UDP, finger, memcache set/get, dig over UDP and TCP, an SMTP
session, an IRC client that stays connected and talks in a channel, a
GET /metrics to the metrics module, a status request on the control
socket, and a plain connect to the listeners of any other instance.  Asserted from the page's DOM: every
instance the configuration has (and the daemon reports) has its row, with
its listeners when the JSON carries them; every instance whose JSON
carries counter samples shows them grow and a positive rate; the held IRC
connection shows in the connections column; every module with a rate has
its chart.  A screenshot of the page is saved in the test's log dir
(test_status_page.dir/status.png in the build tree).
"""

import asyncio
import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time

import loomtest
from loomtest import DaemonTest, free_port, WAIT

CHROMIUM = shutil.which("chromium")
DIG = shutil.which("dig")
LOGDIR = os.path.join(loomtest.BUILDDIR, "tests", "integration", "test_status_page.dir")

# The instances of the shipped conf/loom.conf (module, name) the page must
# list whatever else the daemon reports.
# Top-level sections only (nested ones are indented); an untitled one
# (metrics {}, control {}) is an instance named after its module.
SECTION_RX = re.compile(r'^([a-z][a-z0-9_]*)(?: "([^"]+)")? \{', re.M)
NOT_INSTANCES = {"tls", "route", "log", "limits"}


def shipped_instances(conf_path):
    with open(conf_path) as f:
        text = f.read()
    return {(m, n or m) for m, n in SECTION_RX.findall(text) if m not in NOT_INSTANCES}


def recv_until(s, marker, limit=65536):
    data = b""
    while marker not in data and len(data) < limit:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def tcp(port, send, until):
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(send)
        return recv_until(s, until)


def traffic(ports, others, irc):
    """One round of client traffic to every shipped instance (IRC: a
    message in #status from the connected client IRC), and to the
    listeners of others (other_targets).  Returns what was said."""
    web = ports[8080]
    done = []
    for path in ("/hello.txt", "/proxy/hello.txt", "/nope"):
        c = http.client.HTTPConnection("127.0.0.1", web, timeout=WAIT)
        c.request("GET", path)
        c.getresponse().read()
        c.close()
    done.append("http")
    assert tcp(ports[7007], b"ping\n", b"ping\n") == b"ping\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(WAIT)
        u.sendto(b"udp ping", ("127.0.0.1", ports[7007]))
        assert u.recv(100) == b"udp ping"
    done.append("echo")
    assert b"Alice" in tcp(ports[7979], b"alice\r\n", b"\n\n")
    done.append("finger")
    r = tcp(ports[11211], b"set sp 0 0 2\r\nhi\r\nget sp\r\nget missing\r\nquit\r\n", b"END\r\nEND\r\n")
    assert b"VALUE sp 0 2\r\nhi\r\n" in r, r
    done.append("memcache")
    if DIG:
        for extra in ([], ["+tcp"]):
            out = subprocess.run([DIG, "@127.0.0.1", "-p", str(ports[8053]), "+time=5", "+tries=1"]
                                 + extra + ["www.example.test", "A"],
                                 capture_output=True, text=True, timeout=WAIT).stdout
            assert "192.0.2.80" in out, out
        done.append("dns")
    with socket.create_connection(("127.0.0.1", ports[2525]), timeout=WAIT) as s:
        assert recv_until(s, b"\r\n").startswith(b"220")
        s.sendall(b"EHLO client.example\r\n")
        assert b"250 " in recv_until(s, b"\r\n250 ")
        s.sendall(b"QUIT\r\n")
        assert recv_until(s, b"\r\n").startswith(b"221")
    done.append("smtp")
    irc.sendall(b"PRIVMSG #status :one more round\r\n")
    done.append("irc")
    poke(others)
    done += ["%r" % (t[1],) for t in others]
    return done


# What the test says to instances it has no client for, by module (a bare
# connect for others): enough for their accept counters and their own.
HELLO = {"metrics": b"GET /metrics HTTP/1.0\r\n\r\n", "control": b"status\n"}


def other_targets(inst, confdir):
    """The stream listeners of status JSON instance INST as
    [(family, address, bytes to send)]: TCP/TLS ports on 127.0.0.1, UNIX
    socket paths (relative ones from the config's directory)."""
    out = []
    hello = HELLO.get(inst["module"], b"")
    for l in inst.get("listeners") or []:
        ep = l if isinstance(l, str) else l.get("endpoint", "")
        transport = ep.split(":", 1)[0] if isinstance(l, str) else l.get("transport", "")
        if ep.startswith("unix:") or transport == "unix":
            path = ep[len("unix:"):].split(":", 1)[0] if ep.startswith("unix:") else ep
            out.append((socket.AF_UNIX, os.path.join(confdir, path), hello))
        elif transport in ("tcp", "tls") or ep.startswith(("tcp:", "tls:")):
            m = re.search(r"port=(\d+)", ep) or re.search(r"(?:^|:)(\d{2,5})(?=:|$)", ep)
            if m:
                out.append((socket.AF_INET, ("127.0.0.1", int(m.group(1))),
                            hello if transport != "tls" else b""))
    return out


def poke(targets):
    """Connect to each target, say its bytes, read what comes back."""
    for family, addr, hello in targets:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(WAIT)
            s.connect(addr)
            if hello:
                s.sendall(hello)
                recv_until(s, b"\0")  # to the server's close


class Chromium:
    """Headless Chromium with a DevTools endpoint on a free port."""

    def __init__(self, profile):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--hide-scrollbars", "--window-size=1280,1000",
             "--user-data-dir=" + profile, "--remote-debugging-port=%d" % self.port,
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def page_ws(self, deadline):
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/json/list")
                pages = [t for t in json.loads(c.getresponse().read()) if t.get("type") == "page"]
                c.close()
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("chromium's DevTools endpoint never answered")
            time.sleep(0.1)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


ROWS_JS = """Array.from(document.querySelectorAll('#instances tr.instance')).map(function (r) {
    return {module: r.dataset.module, instance: r.dataset.instance,
            connections: Number(r.dataset.connections),
            counters: r.dataset.counters === undefined ? null : Number(r.dataset.counters),
            total: r.dataset.total === undefined ? null : Number(r.dataset.total),
            peak: Number(r.dataset.peak),
            listeners: Array.from(r.querySelectorAll('td.listeners li')).map(function (l) {
                return l.textContent; }),
            family: r.querySelector('td.family').textContent};
})"""

CHARTS_JS = """Array.from(document.querySelectorAll('#charts figure')).map(function (f) {
    return [f.dataset.module, Number(f.querySelector('svg').dataset.points)];
})"""


class StatusPage(DaemonTest):

    def test_status_page(self):
        if CHROMIUM is None:
            self.skipTest("chromium is not installed")
        import websockets

        self.d, ports = loomtest.shipped_conf()
        self.d.start()
        web = ports[8080]
        shipped = shipped_instances(self.d.conf_path)
        status = loomtest.http_status(web)
        reported = {(i["module"], i["instance"]) for i in status["instances"]}
        self.assertLessEqual(shipped, reported)
        has_metrics = {(i["module"], i["instance"]): "metrics" in i for i in status["instances"]}
        others = []
        for i in status["instances"]:
            if i["module"] not in ("http", "echo", "finger", "memcache", "dns", "smtp", "irc"):
                others += other_targets(i, self.d.dir)
        chrome = Chromium(os.path.join(self.d.dir, "chromium"))
        self.addCleanup(chrome.close)
        os.makedirs(LOGDIR, exist_ok=True)
        shot = os.path.join(LOGDIR, "status.png")

        async def drive():
            deadline = time.monotonic() + 3 * WAIT
            async with websockets.connect(chrome.page_ws(deadline), max_size=None) as ws:
                seq = [0]

                async def call(method, **params):
                    seq[0] += 1
                    await ws.send(json.dumps({"id": seq[0], "method": method, "params": params}))
                    while True:
                        r = json.loads(await ws.recv())
                        if r.get("id") == seq[0]:
                            if "error" in r:
                                raise AssertionError("%s: %r" % (method, r["error"]))
                            return r["result"]

                async def evaluate(expr):
                    r = await call("Runtime.evaluate", expression=expr, returnByValue=True)
                    if "exceptionDetails" in r:
                        raise AssertionError("%s: %r" % (expr, r["exceptionDetails"]))
                    return r["result"].get("value")

                async def polled_twice():
                    return int(await evaluate("(document.body && document.body.dataset.polls) || 0")) >= 2

                async def until(what, pred):
                    while True:
                        v = await pred()
                        if v:
                            return v
                        if time.monotonic() > deadline:
                            raise AssertionError("waiting for %s; the page shows %r"
                                                 % (what, await evaluate(ROWS_JS)))
                        await asyncio.sleep(0.1)

                await call("Page.navigate",
                           url="http://127.0.0.1:%d/status.html?interval=250&window=30" % web)
                await until("two polls", polled_twice)
                before = {(r["module"], r["instance"]): r for r in await evaluate(ROWS_JS)}

                # an IRC client that stays connected while the page polls
                irc = socket.create_connection(("127.0.0.1", ports[6667]), timeout=WAIT)
                irc.sendall(b"NICK pagetest\r\nUSER pagetest 0 * :Status page test\r\n"
                            b"JOIN #status\r\n")
                recv_until(irc, b" JOIN")
                try:
                    said = []
                    for _ in range(3):
                        said += await asyncio.to_thread(traffic, ports, others, irc)
                        await asyncio.sleep(0.3)

                    async def moved():
                        rows = {(r["module"], r["instance"]): r for r in await evaluate(ROWS_JS)}
                        for k, r in rows.items():
                            if r["counters"] is not None and (
                                    k not in before or before[k]["counters"] is None
                                    or r["counters"] <= before[k]["counters"]
                                    or (r["total"] is not None and r["peak"] <= 0)):
                                return None
                        if rows.get(("irc", "chat"), {}).get("connections", 0) < 1:
                            return None
                        return rows
                    after = await until("every instance's counters to move", moved)
                    charts = dict(await evaluate(CHARTS_JS))
                    await call("Emulation.setDeviceMetricsOverride", width=1280,
                               height=int(await evaluate("document.documentElement.scrollHeight")),
                               deviceScaleFactor=1, mobile=False)
                    png = await call("Page.captureScreenshot", format="png")
                    with open(shot, "wb") as f:
                        f.write(base64.b64decode(png["data"]))
                finally:
                    irc.close()
                return before, after, charts, said

        before, after, charts, said = asyncio.run(drive())
        self.assertEqual(set(after), reported)
        self.assertLessEqual(shipped, set(after))
        for k, r in after.items():
            with self.subTest(instance=k):
                if has_metrics[k]:
                    self.assertIsNotNone(r["counters"], "the JSON has samples, the page none")
                    self.assertGreater(r["counters"], before[k]["counters"])
                    if r["total"] is not None:
                        self.assertGreater(r["peak"], 0)
                        self.assertGreater(r["total"], before[k]["total"])
                        self.assertIn(k[0], charts)
                        self.assertGreater(charts[k[0]], 0)
                listeners = next(i for i in status["instances"]
                                 if (i["module"], i["instance"]) == k).get("listeners")
                if listeners:
                    self.assertEqual(len(r["listeners"]), len(listeners))
        self.assertGreaterEqual(after[("irc", "chat")]["connections"], 1)
        if not any(has_metrics.values()):
            # today's JSON: the serving instance's request counter only
            self.assertGreater(charts.get("http (this instance)", 0), 0, charts)
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        print("# screenshot: %s" % shot)


if __name__ == "__main__":
    loomtest.main()
