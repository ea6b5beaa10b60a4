"""Dynamic zones through a real loomd: changes arrive as webhooks (curl
POSTs to `handler = "publish"` locations), routes turn them into the dns
module's `set` and `delete` actions, and dig reads the answers.

Covered: the shipped config's dyn.example.test (webhook /hooks/dns, route
dns-set): a set answered by dig, the serial going up once per change, a
restart and a kill -9 right after the answer keeping the change, bad
rdata and names outside the zone refused (route counters: failed) with
nothing applied; SIGHUP compaction (the zone file rewritten, the journal
emptied, the answer kept); delete of one type and of a whole name; a
journal with a torn last record (loaded up to the last whole record,
logged, cut, appended to after); a journal that is not one refused at
start; NSD as a secondary following the zone by NOTIFY + AXFR; reloads
that drop the zone while changes stream in; config errors at FILE:LINE.
"""

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import loomtest
from loomtest import (Loomd, WAIT, assert_error_line, free_port, line_of,
                      route_stats, start_expect_exit, wait_route)

NSD = "/usr/sbin/nsd"
ZONE = """$ORIGIN dyn.test.
$TTL 300
@ IN SOA ns1 hostmaster 1000 3600 900 1209600 60
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.80
"""


def dig(port, name, rdtype="A", short=True):
    """dig's answer lines for NAME RDTYPE at loopback PORT (UDP)."""
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=2"]
                         + (["+short"] if short else []) + [name, rdtype],
                         capture_output=True, text=True, timeout=WAIT).stdout
    return sorted(l for l in out.split("\n") if l and not l.startswith(";"))


def serial(port, zone):
    return int(dig(port, zone, "SOA")[0].split()[2])


def post(port, path, **fields):
    """curl -d name=value ... http://127.0.0.1:PORT/PATH; the status code."""
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
    for k, v in fields.items():
        args += ["--data-urlencode", "%s=%s" % (k, v)]
    r = subprocess.run(args + ["http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, text=True, timeout=WAIT)
    return int(r.stdout or 0)


def restart(d, kill=False):
    """Stop D (SIGTERM, or SIGKILL when KILL) and start it again, waiting
    for this start's own ready line (the log is appended to)."""
    if kill:
        d.proc.kill()
        d.proc.wait()
    d.stop()
    start_again(d)


def start_again(d):
    """Start the stopped D, waiting for this start's own ready line."""
    n = len(re.findall(r"\[info\] core: ready", d.log()))
    d.start(wait_ready=False)
    d.wait_log(r"\[info\] core: ready", count=n + 1)


def chown_nobody(*paths):
    """As root the shipped config runs as nobody: let it write where the
    zone file and the journal live."""
    if os.getuid() != 0:
        return
    pw = pwd.getpwnam("nobody")
    for p in paths:
        for root, dirs, files in os.walk(p):
            for n in [root] + [os.path.join(root, f) for f in files]:
                os.chown(n, pw.pw_uid, pw.pw_gid)


class Shipped(unittest.TestCase):
    """The shipped conf/loom.conf, on free ports."""

    def setUp(self):
        self.d, ports = loomtest.shipped_conf()
        self.addCleanup(self.d.cleanup)
        self.dns = ports[8053]
        self.http = ports[8080]
        self.zone_file = os.path.join(self.d.dir, "zones", "dyn.example.test.zone")
        self.journal = os.path.join(self.d.dir, "state", "dyn.example.test.journal")
        chown_nobody(os.path.join(self.d.dir, "zones"), os.path.join(self.d.dir, "state"))
        self.d.start()

    def set(self, name, rdtype, rdata, want="delivered"):
        before = route_stats(self.http, "dns-set")
        self.assertEqual(post(self.http, "/hooks/dns", name=name, type=rdtype, rdata=rdata), 202)
        return wait_route(self.http, "dns-set",
                          lambda st: st["delivered"] + st["failed"] > before["delivered"] + before["failed"]
                          and st[want] > before[want])

    def test_set_restart_kill(self):
        s0 = serial(self.dns, "dyn.example.test")
        self.assertEqual(dig(self.dns, "h1.dyn.example.test"), [])
        self.set("h1.dyn.example.test", "A", "192.0.2.55")
        self.assertEqual(dig(self.dns, "h1.dyn.example.test"), ["192.0.2.55"])
        s1 = serial(self.dns, "dyn.example.test")
        self.assertEqual(s1, s0 + 1)
        # the same value again is no change: no serial bump
        self.set("h1.dyn.example.test", "A", "192.0.2.55")
        self.assertEqual(serial(self.dns, "dyn.example.test"), s1)
        # another type, a name with a final dot
        self.set("h2.dyn.example.test.", "TXT", '"hello world"')
        self.assertEqual(dig(self.dns, "h2.dyn.example.test", "TXT"), ['"hello world"'])
        s2 = serial(self.dns, "dyn.example.test")
        self.assertEqual(s2, s1 + 1)
        # a restart keeps both
        restart(self.d)
        self.assertEqual(dig(self.dns, "h1.dyn.example.test"), ["192.0.2.55"])
        self.assertEqual(serial(self.dns, "dyn.example.test"), s2)
        # kill -9 right after the change is visible: still there after
        for i in range(5):
            self.set("k%d.dyn.example.test" % i, "A", "192.0.2.%d" % (100 + i))
            self.assertEqual(dig(self.dns, "k%d.dyn.example.test" % i), ["192.0.2.%d" % (100 + i)])
            restart(self.d, kill=True)
            for k in range(i + 1):
                self.assertEqual(dig(self.dns, "k%d.dyn.example.test" % k), ["192.0.2.%d" % (100 + k)])
        self.assertEqual(serial(self.dns, "dyn.example.test"), s2 + 5)
        self.assertIn("journal records replayed", self.d.log())

    def test_bad_input_refused(self):
        s0 = serial(self.dns, "dyn.example.test")
        for name, t, rd in [("h1.dyn.example.test", "A", "bogus"),
                            ("h1.dyn.example.test", "A", "192.0.2.1 extra"),
                            ("h1.dyn.example.test", "AAAA", "192.0.2.1"),
                            ("h1.dyn.example.test", "NOSUCHTYPE", "1"),
                            ("h1.dyn.example.test", "A", "$INCLUDE /etc/passwd"),
                            ("h1.dyn.example.test", "A", "192.0.2.1\nh9 A 192.0.2.2"),
                            ("www.example.test", "A", "192.0.2.1"),
                            ("h1.dyn.example.test", "SOA", "a b 1 2 3 4 5"),
                            ("www.dyn.example.test", "CNAME", "elsewhere.test."),
                            ("bad..name.dyn.example.test", "A", "192.0.2.1")]:
            with self.subTest(name=name, type=t, rdata=rd):
                self.set(name, t, rd, want="failed")
        # the bus logs a route's failures at a bounded rate: the first one
        self.assertIn('dns:auth:set failed for message 1 after 1 attempt(s): rdata "bogus"',
                      self.d.log())
        self.assertEqual(serial(self.dns, "dyn.example.test"), s0)
        self.assertEqual(dig(self.dns, "h1.dyn.example.test"), [])
        self.assertEqual(dig(self.dns, "www.dyn.example.test"), ["192.0.2.80"])
        self.assertEqual(dig(self.dns, "www.example.test"), ["192.0.2.80"])
        # the daemon is unharmed: a good change still goes through
        self.set("ok.dyn.example.test", "A", "192.0.2.9")
        self.assertEqual(dig(self.dns, "ok.dyn.example.test"), ["192.0.2.9"])

    def test_sighup_compacts(self):
        self.set("c1.dyn.example.test", "AAAA", "2001:db8::55")
        self.set("c2.dyn.example.test", "MX", "10 mail.example.test.")
        s = serial(self.dns, "dyn.example.test")
        self.assertGreater(os.path.getsize(self.journal), 8)
        self.assertTrue(self.d.reload(), self.d.log())
        deadline = time.monotonic() + WAIT
        while os.path.getsize(self.journal) != 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(os.path.getsize(self.journal), 8, self.d.log())
        with open(self.zone_file) as f:
            text = f.read()
        self.assertIn("2001:db8::55", text)
        self.assertIn(str(s), text)
        self.assertEqual(dig(self.dns, "c1.dyn.example.test", "AAAA"), ["2001:db8::55"])
        # and from the rewritten file alone after a restart
        restart(self.d)
        self.assertEqual(dig(self.dns, "c2.dyn.example.test", "MX"), ["10 mail.example.test."])
        self.assertEqual(serial(self.dns, "dyn.example.test"), s)


class Own(unittest.TestCase):
    """A config of the test's own: set and delete routes, NOTIFY to NSD."""

    def conf(self, dynamic=True, extra_zone=""):
        zone = ('    zone "dyn.test" {\n'
                '        file = "zones/dyn.test.zone"\n'
                '        dynamic = yes\n'
                '        journal_max = 4096\n'
                '        allow_transfer = {"127.0.0.1"}\n'
                '        notify = {"127.0.0.1:%d"}\n'
                '    }\n' % self.nsd_port) if dynamic else ""
        return ('dns "auth" {\n'
                '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
                '    state_dir = "state"\n'
                '%s%s'
                '}\n'
                'http "web" {\n'
                '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '    server "s" {\n'
                '        location "= /set" { handler = "publish"  topic = "set" }\n'
                '        location "= /del" { handler = "publish"  topic = "del" }\n'
                '        location "= /status" { handler = "status"  format = "json" }\n'
                '    }\n'
                '}\n'
                'route "set" {\n'
                '    from = "http:web:set"\n'
                '    to = "dns:auth:set"\n'
                "    set = {'name = ${name}', 'type = ${type}', 'rdata = ${rdata}', 'ttl = ${ttl}'}\n"
                '}\n'
                'route "del" {\n'
                '    from = "http:web:del"\n'
                '    to = "dns:auth:delete"\n'
                "    set = {'name = ${name}', 'type = ${type}'}\n"
                '}\n' % (self.port, self.port, zone, extra_zone, self.http))

    def setUp(self):
        self.port = free_port()
        self.http = free_port()
        self.nsd_port = free_port()
        self.d = Loomd(self.conf(), files={"zones/dyn.test.zone": ZONE, "state/.keep": ""})
        self.addCleanup(self.d.cleanup)
        self.journal = os.path.join(self.d.dir, "state", "dyn.test.journal")

    def change(self, path, route, want="delivered", **fields):
        before = route_stats(self.http, route)
        self.assertEqual(post(self.http, path, **fields), 202)
        return wait_route(self.http, route,
                          lambda st: st["delivered"] + st["failed"] > before["delivered"] + before["failed"]
                          and st[want] > before[want])

    def test_set_delete_ttl(self):
        self.d.start()
        self.change("/set", "set", name="a.dyn.test", type="A", rdata="192.0.2.1\n192.0.2.2", ttl="77")
        self.assertEqual(dig(self.port, "a.dyn.test"), ["192.0.2.1", "192.0.2.2"])
        full = dig(self.port, "a.dyn.test", short=False)
        self.assertTrue(all(l.split()[1] == "77" for l in full), full)
        self.change("/set", "set", name="a.dyn.test", type="TXT", rdata='"x"', ttl="60")
        self.change("/del", "del", name="a.dyn.test", type="A")
        self.assertEqual(dig(self.port, "a.dyn.test"), [])
        self.assertEqual(dig(self.port, "a.dyn.test", "TXT"), ['"x"'])
        self.change("/del", "del", name="a.dyn.test", type="")
        self.assertEqual(dig(self.port, "a.dyn.test", "TXT"), [])
        # the apex keeps its SOA and NS when its name is deleted
        self.change("/del", "del", name="dyn.test", type="")
        self.assertEqual(len(dig(self.port, "dyn.test", "NS")), 1)
        self.assertEqual(serial(self.port, "dyn.test"), 1004)
        self.change("/set", "set", "failed", name="b.dyn.test", type="A", rdata="192.0.2.1", ttl="x")

    def test_journal_max_compacts(self):
        self.d.start()
        for i in range(60):
            self.change("/set", "set", name="n%d.dyn.test" % i, type="TXT", rdata='"%s"' % ("x" * 60), ttl="60")
        self.assertLess(os.path.getsize(self.journal), 4096 + 200)
        with open(os.path.join(self.d.dir, "zones", "dyn.test.zone")) as f:
            self.assertIn("n3.dyn.test.", f.read())
        restart(self.d)
        for i in (0, 30, 59):
            self.assertEqual(dig(self.port, "n%d.dyn.test" % i, "TXT"), ['"%s"' % ("x" * 60)])
        self.assertEqual(serial(self.port, "dyn.test"), 1060)

    def test_torn_tail(self):
        self.d.start()
        self.change("/set", "set", name="t1.dyn.test", type="A", rdata="192.0.2.1", ttl="60")
        self.change("/set", "set", name="t2.dyn.test", type="A", rdata="192.0.2.2", ttl="60")
        self.d.stop()
        size = os.path.getsize(self.journal)
        with open(self.journal, "rb") as f:
            data = f.read()
        # a third record cut halfway (a power cut mid-write)
        with open(self.journal, "ab") as f:
            f.write(data[8:8 + (size - 8) // 4])
        start_again(self.d)
        self.d.wait_log(r"after the last whole record .* dropped")
        self.assertEqual(dig(self.port, "t1.dyn.test"), ["192.0.2.1"])
        self.assertEqual(dig(self.port, "t2.dyn.test"), ["192.0.2.2"])
        self.assertEqual(os.path.getsize(self.journal), size)
        self.change("/set", "set", name="t3.dyn.test", type="A", rdata="192.0.2.3", ttl="60")
        restart(self.d)
        self.assertEqual(dig(self.port, "t3.dyn.test"), ["192.0.2.3"])
        self.assertEqual(serial(self.port, "dyn.test"), 1003)

    def test_not_a_journal(self):
        with open(self.journal, "wb") as f:
            f.write(b"this is no journal at all\n")
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1)
        self.assertIn("not a loom journal", err)

    def test_reload_drops_zone_in_flight(self):
        self.d.start()
        stop = threading.Event()

        def stream():
            i = 0
            while not stop.is_set():
                post(self.http, "/set", name="s%d.dyn.test" % i, type="A", rdata="192.0.2.1", ttl="60")
                i += 1
        t = threading.Thread(target=stream)
        t.start()
        try:
            time.sleep(0.3)
            # the same zone, no longer dynamic: queued changes are refused
            self.d.write_conf(self.conf(dynamic=False, extra_zone=(
                '    zone "dyn.test" {\n        file = "zones/dyn.test.zone"\n    }\n')))
            self.assertTrue(self.d.reload(), self.d.log())
            time.sleep(0.2)
            self.d.write_conf(self.conf())
            self.assertTrue(self.d.reload(), self.d.log())
            time.sleep(0.2)
        finally:
            stop.set()
            t.join()
        st = wait_route(self.http, "set", lambda st: st["delivered"] + st["failed"] == st["matched"])
        self.assertGreater(st["delivered"], 0)
        self.assertIsNone(self.d.proc.poll())
        self.change("/set", "set", name="after.dyn.test", type="A", rdata="192.0.2.9", ttl="60")
        self.assertEqual(dig(self.port, "after.dyn.test"), ["192.0.2.9"])
        self.assertEqual(self.d.stop(), 0)

    @unittest.skipUnless(os.path.exists(NSD), "NSD (%s) is not installed" % NSD)
    def test_nsd_follows(self):
        self.d.start()
        nsd_dir = tempfile.mkdtemp(prefix="loomtest-nsd-")
        self.addCleanup(shutil.rmtree, nsd_dir, True)
        conf = os.path.join(nsd_dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write('server:\n    ip-address: 127.0.0.1@%d\n    port: %d\n    do-ip6: no\n'
                    '    server-count: 1\n    username: ""\n    chroot: ""\n    zonesdir: "%s"\n'
                    '    database: ""\n    zonelistfile: "%s/zone.list"\n'
                    '    xfrdfile: "%s/xfrd.state"\n    xfrdir: "%s"\n    pidfile: "%s/nsd.pid"\n'
                    '    logfile: "%s/nsd.log"\n    verbosity: 2\n    rrl-ratelimit: 0\n'
                    'remote-control:\n    control-enable: no\n'
                    'zone:\n    name: dyn.test\n    zonefile: "%s/dyn.test.secondary"\n'
                    '    request-xfr: AXFR 127.0.0.1@%d NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n'
                    % ((self.nsd_port, self.nsd_port) + (nsd_dir,) * 7 + (self.port,)))
        out = open(os.path.join(nsd_dir, "nsd.out"), "wb")
        self.addCleanup(out.close)
        p = subprocess.Popen([NSD, "-d", "-c", conf], stdin=subprocess.DEVNULL, stdout=out, stderr=out)

        def stop_nsd():
            p.terminate()
            try:
                p.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.addCleanup(stop_nsd)

        def wait_nsd(name, want):
            deadline = time.monotonic() + WAIT * 2
            got = None
            while time.monotonic() < deadline:
                self.assertIsNone(p.poll(), "nsd exited")
                got = dig(self.nsd_port, name)
                if got == want:
                    return
                time.sleep(0.2)
            self.fail("NSD answers %r for %s, want %r; loomd log:\n%s" % (got, name, want, self.d.log()))
        wait_nsd("www.dyn.test", ["192.0.2.80"])
        # SOA refresh is an hour: only loom's NOTIFY explains NSD's new copy
        self.change("/set", "set", name="new.dyn.test", type="A", rdata="192.0.2.77", ttl="60")
        wait_nsd("new.dyn.test", ["192.0.2.77"])
        self.change("/set", "set", name="new.dyn.test", type="A", rdata="192.0.2.78", ttl="60")
        wait_nsd("new.dyn.test", ["192.0.2.78"])
        self.assertEqual(serial(self.nsd_port, "dyn.test"), serial(self.port, "dyn.test"))


class ConfigErrors(unittest.TestCase):
    def check(self, zone_opts, needle, contains, dns_opts=""):
        d = Loomd('dns "auth" {\n'
                  '    listen = {"udp:%d:interface=127.0.0.1"}\n'
                  '%s'
                  '    zone "dyn.test" {\n'
                  '        file = "zones/dyn.test.zone"\n'
                  '%s'
                  '    }\n'
                  '}\n' % (free_port(), dns_opts, zone_opts),
                  files={"zones/dyn.test.zone": ZONE})
        self.addCleanup(d.cleanup)
        rc, err = start_expect_exit(d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, d.conf_path, line_of(d.conf_path, needle), contains)

    def test_journal_without_dynamic(self):
        self.check('        journal = "x.journal"\n', "journal =", "journal needs dynamic = yes")

    def test_journal_max_range(self):
        self.check('        dynamic = yes\n        journal_max = 10\n', "journal_max", "between")

    def test_state_dir_missing(self):
        self.check('        dynamic = yes\n', "state_dir", "is not a directory",
                   dns_opts='    state_dir = "no/such/dir"\n')

    def test_journal_dir_missing(self):
        self.check('        dynamic = yes\n        journal = "nodir/x.journal"\n', "journal =",
                   "not a writable directory")

    def test_dynamic_not_bool(self):
        self.check('        dynamic = perhaps\n', "dynamic", "")


if __name__ == "__main__":
    loomtest.main()
