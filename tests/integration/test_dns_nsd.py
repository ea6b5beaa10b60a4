"""Interoperability with a real secondary: Debian's NSD (/usr/sbin/nsd, in
the foreground, config and state in a temporary folder, high ports)
transfers loom's zone with AXFR, then serves the same answers as loom.
After a serial bump and SIGHUP, loom's NOTIFY makes NSD fetch the new
zone (the SOA refresh is hours, so only the NOTIFY can explain it)."""

import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.zone

import loomtest
from dnstest import ORIGIN, zone_text
from loomtest import Loomd, free_port, WAIT

NSD = "/usr/sbin/nsd"

# (name relative to the origin, type): answers compared between loom and NSD
PROBES = [("@", "SOA"), ("@", "NS"), ("@", "MX"), ("@", "TXT"), ("@", "CAA"), ("www", "A"),
          ("www", "AAAA"), ("alias", "A"), ("long", "TXT"), ("info", "TXT"), ("_sip._tcp", "SRV"),
          ("foo.wild", "A"), ("q.host.wild", "A"), ("b.ent", "A"), ("nope", "A"),
          ("www", "MX"), ("www.sub", "A"), ("sub", "NS")]


def ask(port, qname, rdtype, timeout=WAIT):
    q = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
    return dns.query.udp(q, "127.0.0.1", timeout=timeout, port=port)


def summary(r):
    """What must agree between two authoritative servers for one query."""
    answer = sorted(rr.to_text().lower() for rr in r.answer)
    auth_types = sorted({rr.rdtype for rr in r.authority if rr.rdtype in (2, 6)})
    soa = sorted(rr.to_text().lower() for rr in r.authority if rr.rdtype == 6)
    referral_ns = sorted(rr.to_text().lower() for rr in r.authority
                         if rr.rdtype == 2 and not r.flags & dns.flags.AA)
    return (dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.AA), answer,
            soa, referral_ns if not r.answer else [], auth_types if not r.answer else [])


@unittest.skipUnless(os.path.exists(NSD), "NSD (%s) is not installed" % NSD)
class NsdSecondary(unittest.TestCase):
    # (name, algorithm, base64 secret): transfers signed with it, and
    # allowed by that key alone (no address)
    KEY = None

    def setUp(self):
        self.loom_port = free_port()
        self.nsd_port = free_port()
        self.text = zone_text()
        key, allow, nkey = "", '"127.0.0.1"', ""
        if self.KEY:
            nkey = " key:" + self.KEY[0]
            key = ('    key "%s" {\n        algorithm = "%s"\n        secret = "%s"\n    }\n'
                   % self.KEY)
            allow = '"key:%s"' % self.KEY[0]
        self.d = Loomd('dns "primary" {\n'
                       '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
                       '%s'
                       '    zone "example.test" {\n'
                       '        file = "zones/example.test.zone"\n'
                       '        allow_transfer = {%s}\n'
                       '        notify = {"127.0.0.1:%d%s"}\n'
                       '    }\n'
                       '}\n' % (self.loom_port, self.loom_port, key, allow, self.nsd_port, nkey),
                       files={"zones/example.test.zone": self.text})
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.nsd_dir = tempfile.mkdtemp(prefix="loomtest-nsd-")
        self.addCleanup(shutil.rmtree, self.nsd_dir, True)
        self.nsd = self.start_nsd()

    def start_nsd(self):
        d = self.nsd_dir
        conf = os.path.join(d, "nsd.conf")
        with open(conf, "w") as f:
            f.write('server:\n'
                    '    ip-address: 127.0.0.1@%d\n'
                    '    port: %d\n'
                    '    do-ip6: no\n'
                    '    server-count: 1\n'
                    '    username: ""\n'
                    '    chroot: ""\n'
                    '    zonesdir: "%s"\n'
                    '    database: ""\n'
                    '    zonelistfile: "%s/zone.list"\n'
                    '    xfrdfile: "%s/xfrd.state"\n'
                    '    xfrdir: "%s"\n'
                    '    pidfile: "%s/nsd.pid"\n'
                    '    logfile: "%s/nsd.log"\n'
                    '    verbosity: 2\n'
                    '    rrl-ratelimit: 0\n'
                    'remote-control:\n'
                    '    control-enable: no\n'
                    '%s'
                    'zone:\n'
                    '    name: example.test\n'
                    '    zonefile: "%s/example.test.secondary"\n'
                    '    request-xfr: AXFR 127.0.0.1@%d %s\n'
                    '    allow-notify: 127.0.0.1 %s\n'
                    '    provide-xfr: 127.0.0.1 NOKEY\n'
                    % (self.nsd_port, self.nsd_port, d, d, d, d, d, d,
                       ('key:\n    name: %s\n    algorithm: %s\n    secret: "%s"\n' % self.KEY)
                       if self.KEY else "",
                       d, self.loom_port, self.KEY[0] if self.KEY else "NOKEY",
                       self.KEY[0] if self.KEY else "NOKEY"))
        self.nsd_out = open(os.path.join(d, "nsd.out"), "wb")
        self.addCleanup(self.nsd_out.close)
        p = subprocess.Popen([NSD, "-d", "-c", conf], stdin=subprocess.DEVNULL,
                             stdout=self.nsd_out, stderr=self.nsd_out)
        self.addCleanup(self.stop_nsd, p)
        return p

    def stop_nsd(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def nsd_log(self):
        out = []
        for name in ("nsd.log", "nsd.out"):
            try:
                with open(os.path.join(self.nsd_dir, name), errors="replace") as f:
                    out.append(f.read())
            except FileNotFoundError:
                pass
        return "\n".join(out)

    def wait_nsd_serial(self, serial, timeout=WAIT * 2):
        """Poll NSD until it answers the SOA with SERIAL (bounded)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.nsd.poll() is not None:
                self.fail("nsd exited (%s):\n%s" % (self.nsd.returncode, self.nsd_log()))
            try:
                r = ask(self.nsd_port, ORIGIN, "SOA", timeout=1)
                last = r
                if r.rcode() == dns.rcode.NOERROR and r.answer and r.answer[0][0].serial == serial:
                    return
            except (dns.exception.Timeout, OSError):
                pass
            time.sleep(0.2)
        self.fail("NSD never served serial %d (last answer %s)\nNSD log:\n%s\nloomd log:\n%s"
                  % (serial, last.to_text() if last else None, self.nsd_log(), self.d.log()))

    def compare(self, probes):
        for rel, t in probes:
            qname = dns.name.from_text(rel, ORIGIN) if rel != "@" else ORIGIN
            with self.subTest(name=rel, type=t):
                a = ask(self.loom_port, qname, t)
                b = ask(self.nsd_port, qname, t)
                self.assertEqual(summary(a), summary(b),
                                 "loom:\n%s\nNSD:\n%s" % (a.to_text(), b.to_text()))

    def test_transfer_answers_and_notify(self):
        zone = dns.zone.from_text(self.text, ORIGIN, relativize=False)
        serial = zone.get_rdataset(ORIGIN, "SOA")[0].serial
        self.wait_nsd_serial(serial)
        self.compare(PROBES)

        # NSD's copy, transferred back out of NSD, is the zone file's content
        got = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ORIGIN, port=self.nsd_port,
                                              timeout=WAIT, lifetime=WAIT * 2, relativize=False),
                                relativize=False)
        self.assertEqual({(n, ttl, rd) for n, ttl, rd in got.iterate_rdatas()},
                         {(n, ttl, rd) for n, ttl, rd in zone.iterate_rdatas()})

        # new serial and a new record; SIGHUP; loom NOTIFYs NSD
        new_serial = serial + 1
        lines = self.text.split("\n")
        i = next(n for n, l in enumerate(lines) if str(serial) in l)
        lines[i] = lines[i].replace(str(serial), str(new_serial))
        text = "\n".join(lines) + "\nnotified IN A 192.0.2.123\nnotified IN TXT \"after NOTIFY\"\n"
        self.d.write_file("zones/example.test.zone", text)
        self.assertTrue(self.d.reload(), self.d.log())
        self.wait_nsd_serial(new_serial)
        new_zone = dns.zone.from_text(text, ORIGIN, relativize=False)
        r = ask(self.nsd_port, "notified.example.test.", "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        self.assertEqual(set(r.answer[0]), set(new_zone.get_rdataset("notified.example.test.", "A")))
        self.compare(PROBES + [("notified", "A"), ("notified", "TXT")])

        q = dns.message.make_query("stats.loom.", "TXT", "CH")
        r = dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=self.loom_port)
        kv = dict(s.decode().partition("=")[::2] for rrset in r.answer for rd in rrset for s in rd.strings)
        self.assertGreaterEqual(int(kv.get("notify_sent", 0)), 1, r.to_text())
        self.assertGreaterEqual(int(kv.get("axfr", 0)), 2, r.to_text())

    def test_same_serial_no_notify_needed(self):
        """A reload without a serial change leaves NSD on the same serial and
        both keep agreeing."""
        serial = dns.zone.from_text(self.text, ORIGIN, relativize=False).get_rdataset(ORIGIN, "SOA")[0].serial
        self.wait_nsd_serial(serial)
        self.assertTrue(self.d.reload(), self.d.log())
        self.compare([("@", "SOA"), ("www", "A")])


class NsdTsigSecondary(NsdSecondary):
    """The same with NSD as a TSIG-keyed secondary: loom allows the
    transfer by key only, NSD checks the signature of every message, and
    takes NOTIFY only when signed with the key (so the refresh after the
    reload proves loom's signed NOTIFY good)."""
    KEY = ("xfr.example.", "hmac-sha256", base64.b64encode(os.urandom(32)).decode())

    def test_transfer_answers_and_notify(self):
        super().test_transfer_answers_and_notify()
        self.assertNotIn("refused", self.d.log())
        self.assertNotRegex(self.nsd_log().lower(), r"tsig.*(fail|bad|error)")


class NsdTsigSha512Secondary(NsdTsigSecondary):
    KEY = ("sha512.key.", "hmac-sha512", base64.b64encode(os.urandom(64)).decode())


if __name__ == "__main__":
    loomtest.main()
