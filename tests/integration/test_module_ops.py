"""Metrics and loomctl commands of the dns, memcache and finger modules,
end to end: real clients (dig, kdig over TLS, DNS over HTTPS, pymemcache,
memcstat, raw finger queries) make traffic, the samples are read from the
http status handler's Prometheus text (and checked with promtool), and
the module commands run through the control socket (one JSON line).

Every counter is read before and after the traffic and must have moved by
exactly what the traffic did."""

import json
import os
import re
import socket
import struct
import subprocess
import time
import unittest
import urllib.request

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
from pymemcache.client.base import Client

import loomtest
from dnstest import ORIGIN, zone_text
from loomtest import WAIT, DaemonTest, Loomd, finger_query, free_port, own

PROMTOOL = "/usr/bin/promtool"
LOOMCTL = os.environ.get("LOOMCTL", os.path.join(loomtest.BUILDDIR, "src", "loomctl"))

CONF = """control {{
    listen = "unix:ctl.sock:mode=0600"
}}
metrics {{
    listen = {{"tcp:{metrics}:interface=127.0.0.1"}}
}}
tls "local" {{ self_signed = yes }}
http "web" {{
    listen = {{"tcp:{http}:interface=127.0.0.1"}}
    server "main" {{
        location "= /metrics" {{
            handler = "status"
            format = "prometheus"
        }}
        location "= /dns-query" {{
            handler = "doh"
            dns = "auth"
        }}
    }}
}}
dns "auth" {{
    listen = {{"udp:{dns}:interface=127.0.0.1", "tcp:{dns}:interface=127.0.0.1",
              "tls:{dot}:interface=127.0.0.1:profile=local"}}
    state_dir = "state"
    zone "example.test" {{
        file = "zones/example.test.zone"
        allow_transfer = {{"127.0.0.1"}}
        notify = {{"127.0.0.1:{secondary}"}}
    }}
    zone "dyn.test" {{
        file = "zones/dyn.test.zone"
        dynamic = yes
        allow_update = {{"127.0.0.1"}}
    }}
    rrl {{
        rate = 1
        slip = 2
        ipv4_prefix = 32
        exempt = {{"127.0.0.1"}}
    }}
}}
memcache "cache" {{
    listen = {{"tcp:{mc}:interface=127.0.0.1"}}
    memory = 16777216
}}
finger "users" {{
    listen = {{"tcp:{finger}:interface=127.0.0.1"}}
    list_users = no
    user "alice" {{ name = "Alice" }}
}}
"""

DYN_ZONE = """$ORIGIN dyn.test.
$TTL 300
@ IN SOA ns1 hostmaster 1000 3600 900 1209600 60
@ IN NS ns1
ns1 IN A 192.0.2.53
"""

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """{(name, frozenset of (key, value) label pairs): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def ask(path, line):
    """The control socket's reply to LINE, as a dict."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    s.connect(path)
    try:
        s.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    raw = b"".join(chunks)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw
    return json.loads(raw)


class ModuleOps(DaemonTest):
    @classmethod
    def setUpClass(cls):
        cls.ports = {k: free_port() for k in ("http", "dns", "dot", "mc", "finger",
                                                "metrics")}
        # the secondary NOTIFYs go to: a UDP socket of this test
        cls.secondary = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.secondary.bind(("127.0.0.1", 0))
        cls.secondary.settimeout(WAIT)
        cls.ports["secondary"] = cls.secondary.getsockname()[1]
        cls.text = zone_text()
        cls.dd = own(cls, Loomd(CONF.format(**cls.ports),
                               files={"zones/example.test.zone": cls.text,
                                      "zones/dyn.test.zone": DYN_ZONE,
                                      "state/.keep": ""}))
        cls.dd.start()
        cls.sock = os.path.join(cls.dd.dir, "ctl.sock")
        cls.serial = dns.zone.from_text(cls.text, ORIGIN, relativize=False) \
            .get_rdataset(ORIGIN, "SOA")[0].serial

    @classmethod
    def tearDownClass(cls):
        cls.secondary.close()
        super().tearDownClass()

    # ---- helpers

    def metrics_text(self):
        url = "http://127.0.0.1:%d/metrics" % self.ports["http"]
        with urllib.request.urlopen(url, timeout=WAIT) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            return r.read().decode()

    def metrics(self):
        return parse_prometheus(self.metrics_text())

    def value(self, m, name, instance, **labels):
        """The sample NAME{instance=INSTANCE, LABELS} of M, 0 when absent
        (a QTYPE nobody asked yet)."""
        labels["instance"] = instance
        return m.get((name, frozenset(labels.items())), 0.0)

    def has(self, m, name, instance, **labels):
        labels["instance"] = instance
        return (name, frozenset(labels.items())) in m

    def ok(self, line):
        r = ask(self.sock, line)
        self.assertTrue(r["ok"], r)
        return r["result"]

    def error(self, line):
        r = ask(self.sock, line)
        self.assertFalse(r["ok"], r)
        return r["error"]

    def dig(self, *args):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.ports["dns"]),
                              "+time=5", "+tries=1"] + list(args),
                             capture_output=True, text=True, timeout=WAIT * 2)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return out.stdout

    def wait_metric(self, pred):
        deadline = time.monotonic() + WAIT
        while True:
            m = self.metrics()
            if pred(m) or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    # ---- the exposition as a whole

    def test_promtool_accepts(self):
        if not os.path.exists(PROMTOOL):
            self.skipTest("no promtool (Debian package prometheus)")
        finger_query(self.ports["finger"], "alice")
        text = self.metrics_text()
        for family in ("loom_dns_queries_total", "loom_dns_zone_serial",
                       "loom_memcache_commands_total", "loom_finger_queries_total"):
            self.assertIn("# TYPE %s " % family, text)
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=WAIT * 4)
        # non-zero for a parse error and for lint remarks (names, units)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_metrics_listener_agrees(self):
        """The metrics listener serves the same module samples as the http
        status handler (gauges that do not move between the two reads)."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.ports["metrics"],
                                    timeout=WAIT) as r:
            listener = parse_prometheus(r.read().decode())
        status = self.metrics()
        for name in ("loom_dns_zones", "loom_dns_zone_serial", "loom_dns_zone_records",
                     "loom_memcache_limit_bytes", "loom_memcache_item_max_bytes"):
            mine = {k: v for k, v in listener.items() if k[0] == name}
            self.assertTrue(mine, name)
            self.assertEqual(mine, {k: v for k, v in status.items() if k[0] == name})
        for name in ("loom_finger_queries_total", "loom_memcache_commands_total",
                     "loom_dns_query_types_total", "loom_dns_responses_total"):
            self.assertIn(name, {k[0] for k in listener}, name)

    def test_loomctl(self):
        """The same commands through loomctl: a table, --json, and an error
        (exit 1, the daemon's message on stderr)."""
        def run(*args):
            return subprocess.run([LOOMCTL, "-s", self.sock] + list(args),
                                  capture_output=True, text=True, timeout=WAIT * 2)
        r = run("dns", "zones")
        self.assertEqual(r.returncode, 0, r.stderr)
        head, *rows = r.stdout.splitlines()
        self.assertEqual(head.split(), ["NAME", "SERIAL", "RECORDS", "SOURCE", "DYNAMIC"])
        self.assertIn(["example.test", str(self.serial)], [row.split()[:2] for row in rows])
        r = run("--json", "memcache", "stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        stats = dict(json.loads(r.stdout)["result"]["rows"])
        self.assertEqual(stats["limit_maxbytes"], "16777216")
        r = run("dns", "notify", "nosuch.test")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no zone nosuch.test is served here", r.stderr)
        r = run("help", "memcache")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("flush", r.stdout)
        self.assertIn("stats", r.stdout)

    # ---- dns

    def test_dns_counters(self):
        q = "loom_dns_query_types_total"
        m0 = self.metrics()
        self.assertIn("status: NOERROR", self.dig("www.example.test", "A"))
        self.assertIn("status: NOERROR", self.dig("+tcp", "www.example.test", "AAAA"))
        self.assertIn("status: NXDOMAIN", self.dig("nosuch.example.test", "A"))
        self.assertIn("status: NOERROR", self.dig("example.test", "MX"))
        self.assertIn("status: NOERROR", self.dig("example.test", "TYPE4000"))
        kd = subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.ports["dot"]), "+tls",
                             "www.example.test", "A"],
                            capture_output=True, text=True, timeout=WAIT * 2)
        self.assertIn("NOERROR", kd.stdout, kd.stdout + kd.stderr)
        wire = dns.message.make_query("www.example.test", "TXT").to_wire()
        req = urllib.request.Request("http://127.0.0.1:%d/dns-query" % self.ports["http"],
                                     data=wire, headers={"Content-Type": "application/dns-message"})
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            self.assertEqual(dns.message.from_wire(r.read()).rcode(), dns.rcode.NOERROR)
        m1 = self.metrics()

        def delta(name, **labels):
            return self.value(m1, name, "auth", **labels) - self.value(m0, name, "auth", **labels)

        self.assertEqual(delta("loom_dns_queries_total", transport="udp"), 4)
        self.assertEqual(delta("loom_dns_queries_total", transport="tcp"), 1)
        self.assertEqual(delta("loom_dns_queries_total", transport="tls"), 1)
        self.assertEqual(delta("loom_dns_queries_total", transport="https"), 1)
        self.assertEqual(delta(q, qtype="A"), 3)
        self.assertEqual(delta(q, qtype="AAAA"), 1)
        self.assertEqual(delta(q, qtype="MX"), 1)
        self.assertEqual(delta(q, qtype="TXT"), 1)
        self.assertEqual(delta(q, qtype="other"), 1)
        self.assertEqual(delta("loom_dns_responses_total", rcode="NXDOMAIN"), 1)
        self.assertEqual(delta("loom_dns_responses_total", rcode="NOERROR"), 6)
        self.assertTrue(self.has(m1, "loom_dns_responses_total", "auth", rcode="SERVFAIL"))

    def test_dns_zone_gauges_and_zones_command(self):
        m = self.metrics()
        self.assertEqual(self.value(m, "loom_dns_zones", "auth"), 2)
        self.assertEqual(self.value(m, "loom_dns_zone_serial", "auth", zone="example.test"),
                         self.serial)
        r = self.ok("dns zones")
        self.assertEqual(r["columns"], ["name", "serial", "records", "source", "dynamic"])
        self.assertEqual(sorted(row[0] for row in r["rows"]), ["dyn.test", "example.test"])
        self.assertEqual([row[4] for row in r["rows"] if row[0] == "dyn.test"], ["yes"])
        name, serial, records, source, dynamic = [row for row in r["rows"]
                                                  if row[0] == "example.test"][0]
        self.assertEqual((name, int(serial), dynamic), ("example.test", self.serial, "no"))
        self.assertEqual(os.path.realpath(source),
                         os.path.realpath(os.path.join(self.dd.dir, "zones/example.test.zone")))
        self.assertEqual(int(records),
                         self.value(m, "loom_dns_zone_records", "auth", zone="example.test"))
        # the records a full transfer carries: every record, the SOA twice
        axfr = self.dig("example.test", "AXFR")
        rrs = [l for l in axfr.splitlines() if l and not l.startswith(";")]
        self.assertEqual(len(rrs), int(records) + 1, axfr)
        self.assertIn("usage: dns/auth zones", self.error("dns/auth zones all"))

    def test_axfr_counted(self):
        m0 = self.metrics()
        self.dig("example.test", "AXFR")
        refused = self.dig("-b", "127.0.0.2", "example.test", "AXFR")
        self.assertIn("Transfer failed", refused)
        m1 = self.metrics()
        for result in ("started", "refused"):
            self.assertEqual(self.value(m1, "loom_dns_axfr_total", "auth", result=result) -
                             self.value(m0, "loom_dns_axfr_total", "auth", result=result), 1,
                             result)

    def test_rrl_actions(self):
        """20 queries from 127.0.0.9 (not exempt, rate 1 a second): the
        limited answers alternate between dropped and slipped."""
        m0 = self.metrics()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.9", 0))
        wire = dns.message.make_query("www.example.test", "A").to_wire()
        for _ in range(20):
            s.sendto(wire, ("127.0.0.1", self.ports["dns"]))
        udp0 = self.value(m0, "loom_dns_queries_total", "auth", transport="udp")
        m1 = self.wait_metric(lambda m: self.value(m, "loom_dns_queries_total", "auth",
                                                   transport="udp") >= udp0 + 20)
        s.close()
        drop = (self.value(m1, "loom_dns_rrl_actions_total", "auth", action="drop") -
                self.value(m0, "loom_dns_rrl_actions_total", "auth", action="drop"))
        slip = (self.value(m1, "loom_dns_rrl_actions_total", "auth", action="slip") -
                self.value(m0, "loom_dns_rrl_actions_total", "auth", action="slip"))
        self.assertGreaterEqual(drop, 1)
        self.assertGreaterEqual(slip, 1)
        self.assertLessEqual(drop + slip, 19)
        self.assertLessEqual(abs(drop - slip), 1)

    def test_notify_command(self):
        m0 = self.metrics()
        r = self.ok("dns notify EXAMPLE.test.")
        self.assertEqual(r["message"], "zone EXAMPLE.test. serial %d: NOTIFY sent to 1 "
                         "secondary; answers are logged" % self.serial)
        data, peer = self.secondary.recvfrom(4096)
        msg = dns.message.from_wire(data)
        self.assertEqual(msg.opcode(), dns.opcode.NOTIFY)
        self.assertEqual(str(msg.question[0].name), "example.test.")
        self.assertEqual(msg.question[0].rdtype, dns.rdatatype.SOA)
        self.assertEqual(msg.answer[0][0].serial, self.serial)
        self.secondary.sendto(dns.message.make_response(msg).to_wire(), peer)
        a0 = self.value(m0, "loom_dns_notify_acked_total", "auth")
        m1 = self.wait_metric(
            lambda m: self.value(m, "loom_dns_notify_acked_total", "auth") > a0)
        self.assertEqual(self.value(m1, "loom_dns_notify_acked_total", "auth"), a0 + 1)
        self.assertEqual(self.value(m1, "loom_dns_notify_sent_total", "auth") -
                         self.value(m0, "loom_dns_notify_sent_total", "auth"), 1)
        self.dd.wait_log(r"NOTIFY to 127\.0\.0\.1:%d acknowledged" % self.ports["secondary"])

    def nsupdate(self, zone, lines):
        script = "server 127.0.0.1 %d\nzone %s\n%s\nsend\n" % (self.ports["dns"], zone,
                                                              "\n".join(lines))
        r = subprocess.run(["nsupdate", "-t", "4"], input=script, capture_output=True,
                           text=True, timeout=WAIT * 3)
        return r.returncode, r.stdout + r.stderr

    def test_update_counters_and_serial(self):
        """An UPDATE committed moves the counters and the zone's serial
        gauge, and `dns zones` shows the new serial; one refused (a
        static zone) is counted received, not committed."""
        m0 = self.metrics()
        s0 = self.value(m0, "loom_dns_zone_serial", "auth", zone="dyn.test")
        rc, out = self.nsupdate("dyn.test", ["update add new.dyn.test 300 A 192.0.2.99"])
        self.assertEqual(rc, 0, out)
        rc, out = self.nsupdate("example.test", ["update add x.example.test 300 A 192.0.2.1"])
        self.assertNotEqual(rc, 0, out)
        self.assertIn("REFUSED", out)
        m1 = self.metrics()
        self.assertEqual(self.value(m1, "loom_dns_updates_total", "auth") -
                         self.value(m0, "loom_dns_updates_total", "auth"), 2)
        self.assertEqual(self.value(m1, "loom_dns_updates_committed_total", "auth") -
                         self.value(m0, "loom_dns_updates_committed_total", "auth"), 1)
        s1 = self.value(m1, "loom_dns_zone_serial", "auth", zone="dyn.test")
        self.assertGreater(s1, s0)
        soa = self.dig("+short", "dyn.test", "SOA").split()
        self.assertEqual(int(soa[2]), s1)
        rows = {row[0]: row for row in self.ok("dns zones")["rows"]}
        self.assertEqual(int(rows["dyn.test"][1]), s1)
        self.assertEqual(int(rows["dyn.test"][2]),
                         self.value(m1, "loom_dns_zone_records", "auth", zone="dyn.test"))

    def test_notify_errors(self):
        self.assertEqual(self.error("dns notify nosuch.test"),
                         "no zone nosuch.test is served here")
        self.assertIn("usage: dns notify ZONE", self.error("dns notify"))
        self.assertIn("usage: dns notify ZONE", self.error("dns notify a b"))
        self.assertIn("has no command", self.error("dns nosuch"))
        self.assertEqual(self.error("dns notify dyn.test"), "zone dyn.test has no notify targets")

    # ---- memcache

    def test_memcache_counters(self):
        c = Client(("127.0.0.1", self.ports["mc"]), connect_timeout=WAIT, timeout=WAIT)
        m0 = self.metrics()
        c.set("mkey", b"12345")
        c.set("other", b"x")
        self.assertEqual(c.get("mkey"), b"12345")
        self.assertIsNone(c.get("absent"))
        self.assertEqual(c.get_many(["mkey", "other", "absent2"]), {"mkey": b"12345", "other": b"x"})
        self.assertTrue(c.delete("other", noreply=False))
        self.assertFalse(c.delete("other", noreply=False))
        self.assertIsNone(c.incr("nocounter", 1))
        m1 = self.metrics()
        c.close()

        def delta(name, **labels):
            return self.value(m1, name, "cache", **labels) - self.value(m0, name, "cache", **labels)

        cmd = "loom_memcache_commands_total"
        self.assertEqual(delta(cmd, command="get", status="hit"), 3)
        self.assertEqual(delta(cmd, command="get", status="miss"), 2)
        self.assertEqual(delta(cmd, command="set", status="hit"), 2)
        self.assertEqual(delta(cmd, command="delete", status="hit"), 1)
        self.assertEqual(delta(cmd, command="delete", status="miss"), 1)
        self.assertEqual(delta(cmd, command="incr", status="miss"), 1)
        self.assertEqual(self.value(m1, "loom_memcache_limit_bytes", "cache"), 16777216)
        self.assertGreaterEqual(self.value(m1, "loom_memcache_items", "cache"), 1)
        self.assertGreater(self.value(m1, "loom_memcache_bytes", "cache"), 5)
        self.assertGreaterEqual(self.value(m1, "loom_memcache_connections", "cache"), 1)
        self.assertGreaterEqual(delta("loom_memcache_read_bytes_total"), 100)

    def test_memcache_stats_and_flush(self):
        c = Client(("127.0.0.1", self.ports["mc"]), connect_timeout=WAIT, timeout=WAIT)
        for i in range(5):
            c.set("flushme%d" % i, b"v")
        c.close()
        r = self.ok("memcache stats")
        self.assertEqual(r["columns"], ["name", "value"])
        table = dict(r["rows"])
        # the same figures memcached's own tool reads over the protocol
        out = subprocess.run(["memcstat", "--servers=127.0.0.1:%d" % self.ports["mc"]],
                             capture_output=True, text=True, timeout=WAIT * 2)
        self.assertEqual(out.returncode, 0, out.stderr)
        theirs = dict(re.findall(r"^\s*(\w+): (\S+)$", out.stdout, re.M))
        for k in ("curr_items", "limit_maxbytes", "version", "total_items", "cmd_set"):
            self.assertEqual(table[k], theirs[k], k)
        items = int(table["curr_items"])
        self.assertGreaterEqual(items, 5)
        m0 = self.metrics()
        self.assertEqual(self.value(m0, "loom_memcache_items", "cache"), items)

        r = self.ok("memcache flush")
        self.assertEqual(r["message"], "flushed %d items" % items)
        c = Client(("127.0.0.1", self.ports["mc"]), connect_timeout=WAIT, timeout=WAIT)
        self.assertEqual(c.get_many(["flushme%d" % i for i in range(5)]), {})
        c.close()
        m1 = self.metrics()
        self.assertEqual(self.value(m1, "loom_memcache_commands_total", "cache",
                                    command="flush", status="hit") -
                         self.value(m0, "loom_memcache_commands_total", "cache",
                                    command="flush", status="hit"), 1)
        self.assertIn("usage: memcache flush", self.error("memcache flush 10"))

    # ---- finger

    def test_finger_counters(self):
        f = self.ports["finger"]
        m0 = self.metrics()
        self.assertIn(b"Alice", finger_query(f, "alice"))
        self.assertIn(b"no such user", finger_query(f, "mallory"))
        self.assertIn(b"listing of users is not available", finger_query(f, ""))
        self.assertIn(b"forwarding is not allowed", finger_query(f, "alice@elsewhere"))
        self.assertIn(b"finger: error:", finger_query(f, "alice@"))
        m1 = self.metrics()

        def delta(name, **labels):
            return self.value(m1, name, "users", **labels) - self.value(m0, name, "users", **labels)

        q = "loom_finger_queries_total"
        self.assertEqual(delta(q, result="ok"), 1)
        self.assertEqual(delta(q, result="unknown"), 1)
        self.assertEqual(delta(q, result="refused"), 2)
        self.assertEqual(delta(q, result="error"), 1)
        self.assertEqual(delta("loom_finger_refusals_total", reason="listing"), 1)
        self.assertEqual(delta("loom_finger_refusals_total", reason="forwarding"), 1)
        self.assertIn("has no commands", self.error("finger zones"))


if __name__ == "__main__":
    loomtest.main()
