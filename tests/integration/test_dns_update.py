"""dns module, RFC 2136 UPDATE on a dynamic zone, driven by the real
clients nsupdate (bind9-dnsutils) and knsupdate (knot-dnsutils), over UDP
and TCP, read back with dig.

Covered: adds and the four deletions (RRset, every RRset of a name, one
record, the apex keeping SOA and NS) with the serial going up once per
UPDATE and the change kept over a restart; each prerequisite kind failing
with its RCODE (YXDOMAIN, NXDOMAIN, YXRRSET, NXRRSET, a value-dependent
set that differs) and nothing applied; a wrong secret -> BADSIG, an
unknown key -> BADKEY, a key or an address not in allow_update ->
REFUSED, a zone not served -> NOTAUTH, a name outside the zone ->
NOTZONE, a malformed zone section -> FORMERR (dnspython for the raw
cases); allow_update by address; an UPDATE and a query pipelined on one
TCP connection answered in order; UPDATEs streaming in over UDP and TCP
while reloads drop the zone and bring it back, TCP connections closed
with an UPDATE in flight, and a stop in the middle; allow_update errors
in the config -> one FILE:LINE line, exit 1; an added apex SOA; NSD as a
secondary following UPDATEs by NOTIFY and AXFR."""

import base64
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

import loomtest
from loomtest import (DaemonTest, Loomd, WAIT, assert_error_line, free_port,
                      line_of, run_loomd, start_expect_exit)

NSD = "/usr/sbin/nsd"
SECRET = base64.b64encode(os.urandom(32)).decode()
OTHER = base64.b64encode(os.urandom(32)).decode()
WRONG = base64.b64encode(os.urandom(32)).decode()

ZONE = """$ORIGIN dyn.test.
$TTL 300
@ IN SOA ns1 hostmaster 1000 3600 900 1209600 60
@ IN NS ns1
@ IN NS ns2
ns1 IN A 192.0.2.53
ns2 IN A 192.0.2.54
www IN A 192.0.2.80
www IN A 192.0.2.81
www IN TXT "web"
"""

OPEN_ZONE = ZONE.replace("dyn.test.", "open.test.")
STATIC_ZONE = ZONE.replace("dyn.test.", "static.test.")


def conf(port, dyn_zone=True, allow='"key:upd.key"', extra=""):
    dyn = ('    zone "dyn.test" {\n'
           '        file = "zones/dyn.test.zone"\n'
           '        dynamic = yes\n'
           '        allow_update = {%s}\n'
           '%s'
           '    }\n' % (allow, extra)) if dyn_zone else (
               '    zone "dyn.test" {\n'
               '        file = "zones/dyn.test.zone"\n'
               '    }\n')
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '    state_dir = "state"\n'
            '    key "upd.key" {\n        algorithm = "hmac-sha256"\n        secret = "%s"\n    }\n'
            '    key "other.key" {\n        algorithm = "hmac-sha256"\n        secret = "%s"\n    }\n'
            '%s'
            '    zone "open.test" {\n'
            '        file = "zones/open.test.zone"\n'
            '        dynamic = yes\n'
            '        allow_update = {"127.0.0.0/8"}\n'
            '    }\n'
            '    zone "static.test" {\n'
            '        file = "zones/static.test.zone"\n'
            '    }\n'
            '}\n') % (port, port, SECRET, OTHER, dyn)


def dig(port, name, rdtype="A", tcp=False):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=2",
                          "+short"] + (["+tcp"] if tcp else []) + [name, rdtype],
                         capture_output=True, text=True, timeout=WAIT).stdout
    return sorted(l for l in out.split("\n") if l and not l.startswith(";"))


def serial(port, zone="dyn.test"):
    return int(dig(port, zone, "SOA")[0].split()[2])


def nsupdate(port, lines, key="upd.key", secret=SECRET, tcp=False, zone="dyn.test"):
    """Run nsupdate with LINES (update/prereq commands); (exit code, output)."""
    script = "server 127.0.0.1 %d\nzone %s\n%s\nsend\n" % (port, zone, "\n".join(lines))
    args = ["nsupdate", "-t", "4"] + (["-v"] if tcp else [])
    if key:
        args += ["-y", "hmac-sha256:%s:%s" % (key, secret)]
    r = subprocess.run(args, input=script, capture_output=True, text=True, timeout=WAIT * 3)
    return r.returncode, r.stdout + r.stderr


def knsupdate(port, lines, key="upd.key", secret=SECRET, tcp=False):
    script = "server 127.0.0.1 %d\nzone dyn.test.\n%s\nsend\nanswer\n" % (port, "\n".join(lines))
    args = ["knsupdate", "-t", "4"] + (["-v"] if tcp else [])
    if key:
        args += ["-y", "hmac-sha256:%s:%s" % (key, secret)]
    r = subprocess.run(args, input=script, capture_output=True, text=True, timeout=WAIT * 3)
    return r.returncode, r.stdout + r.stderr


class Update(DaemonTest):
    def setUp(self):
        self.port = free_port()
        self.d = Loomd(conf(self.port), files={"zones/dyn.test.zone": ZONE,
                                               "zones/open.test.zone": OPEN_ZONE,
                                               "zones/static.test.zone": STATIC_ZONE,
                                               "state/.keep": ""})
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def ok(self, lines, **kw):
        rc, out = nsupdate(self.port, lines, **kw)
        self.assertEqual(rc, 0, out + self.d.log())

    def fails(self, lines, rcode, **kw):
        rc, out = nsupdate(self.port, lines, **kw)
        self.assertNotEqual(rc, 0, out)
        self.assertIn(rcode, out)
        return out

    def test_add_and_delete_udp_tcp(self):
        s0 = serial(self.port)
        self.ok(["update add h1.dyn.test 60 A 192.0.2.1",
                 "update add h1.dyn.test 60 A 192.0.2.2",
                 'update add h1.dyn.test 60 TXT "hello world"',
                 "update add mx.dyn.test 60 MX 10 h1.dyn.test."])
        self.assertEqual(dig(self.port, "h1.dyn.test"), ["192.0.2.1", "192.0.2.2"])
        self.assertEqual(dig(self.port, "h1.dyn.test", "TXT"), ['"hello world"'])
        self.assertEqual(dig(self.port, "mx.dyn.test", "MX"), ["10 h1.dyn.test."])
        self.assertEqual(serial(self.port), s0 + 1)
        # over TCP: delete one record, then an RRset
        self.ok(["update delete h1.dyn.test A 192.0.2.1"], tcp=True)
        self.assertEqual(dig(self.port, "h1.dyn.test"), ["192.0.2.2"])
        self.ok(["update delete h1.dyn.test A"], tcp=True)
        self.assertEqual(dig(self.port, "h1.dyn.test"), [])
        self.assertEqual(dig(self.port, "h1.dyn.test", "TXT"), ['"hello world"'])
        self.assertEqual(serial(self.port), s0 + 3)
        # every RRset of a name
        self.ok(["update delete www.dyn.test"])
        self.assertEqual(dig(self.port, "www.dyn.test"), [])
        self.assertEqual(dig(self.port, "www.dyn.test", "TXT"), [])
        # the apex keeps its SOA and its last NS
        self.ok(["update delete dyn.test NS ns1.dyn.test.",
                 "update delete dyn.test NS ns2.dyn.test."])
        self.assertEqual(len(dig(self.port, "dyn.test", "NS")), 1)
        self.ok(["update delete dyn.test"])
        self.assertEqual(len(dig(self.port, "dyn.test", "SOA")), 1)
        # deleting what is not there changes nothing: no serial bump
        s = serial(self.port)
        self.ok(["update delete nothere.dyn.test A"])
        self.assertEqual(serial(self.port), s)
        # kept over a restart (the journal)
        self.d.stop()
        self.d.start()
        self.assertEqual(dig(self.port, "mx.dyn.test", "MX"), ["10 h1.dyn.test."])
        self.assertEqual(serial(self.port), s)
        self.assertIn("UPDATE of dyn.test. from 127.0.0.1 key upd.key.: done", self.d.log())

    def test_apex_soa_and_skipped_additions(self):
        """An added apex SOA replaces the SOA when its serial is newer;
        RFC 2136 3.4.2.2's skipped additions (an older SOA, a CNAME beside
        data, data beside a CNAME) change nothing and answer NOERROR."""
        s0 = serial(self.port)
        self.ok(["update add dyn.test 300 SOA ns1.dyn.test. old.dyn.test. 999 7200 900 1209600 60",
                 "update add www.dyn.test 300 CNAME ns1.dyn.test."])
        self.assertEqual(serial(self.port), s0)
        self.assertEqual(dig(self.port, "www.dyn.test", "CNAME"), [])
        self.ok(["update add alias.dyn.test 300 CNAME www.dyn.test."])
        self.ok(["update add alias.dyn.test 300 A 192.0.2.1"])
        self.assertEqual(dig(self.port, "alias.dyn.test", "CNAME"), ["www.dyn.test."])
        self.ok(["update add alias.dyn.test 300 CNAME ns1.dyn.test."])
        self.assertEqual(dig(self.port, "alias.dyn.test", "CNAME"), ["ns1.dyn.test."])
        self.assertEqual(serial(self.port), s0 + 2)
        self.ok(["update add dyn.test 300 SOA ns1.dyn.test. admin.dyn.test. 5000 7200 900 1209600 60"])
        soa = dig(self.port, "dyn.test", "SOA")[0].split()
        self.assertEqual(soa[1], "admin.dyn.test.")
        self.assertEqual(int(soa[2]), 5000)
        self.ok(["update add z.dyn.test 60 A 192.0.2.1"])
        self.assertEqual(serial(self.port), 5001)
        # an SOA elsewhere than the apex is malformed for the zone
        self.fails(["update add sub.dyn.test 300 SOA a.test. b.test. 1 1 1 1 1"], "FORMERR")
        self.assertEqual(serial(self.port), 5001)

    def test_prerequisites(self):
        s0 = serial(self.port)
        add = "update add new.dyn.test 60 A 192.0.2.9"
        self.fails(["prereq nxdomain www.dyn.test", add], "YXDOMAIN")
        self.fails(["prereq yxdomain nothere.dyn.test", add], "NXDOMAIN")
        self.fails(["prereq nxrrset www.dyn.test A", add], "YXRRSET")
        self.fails(["prereq yxrrset www.dyn.test AAAA", add], "NXRRSET")
        # value-dependent: the whole set, no more, no less
        self.fails(["prereq yxrrset www.dyn.test A 192.0.2.80", add], "NXRRSET")
        self.fails(["prereq yxrrset www.dyn.test A 192.0.2.80",
                    "prereq yxrrset www.dyn.test A 192.0.2.81",
                    "prereq yxrrset www.dyn.test A 192.0.2.82", add], "NXRRSET", tcp=True)
        self.assertEqual(serial(self.port), s0)
        self.assertEqual(dig(self.port, "new.dyn.test"), [])
        # and when they hold, the update goes through
        self.ok(["prereq yxrrset www.dyn.test A 192.0.2.81",
                 "prereq yxrrset www.dyn.test A 192.0.2.80",
                 "prereq yxdomain www.dyn.test",
                 "prereq nxdomain new.dyn.test",
                 "prereq nxrrset www.dyn.test AAAA",
                 "prereq yxrrset www.dyn.test TXT", add])
        self.assertEqual(dig(self.port, "new.dyn.test"), ["192.0.2.9"])
        # a prerequisite sees the earlier UPDATE: the same one now fails
        self.fails(["prereq nxdomain new.dyn.test", add], "YXDOMAIN")
        self.assertEqual(serial(self.port), s0 + 1)

    def test_keys_and_addresses(self):
        s0 = serial(self.port)
        add = ["update add k.dyn.test 60 A 192.0.2.9"]
        out = self.fails(add, "BADSIG", secret=WRONG)
        self.assertNotIn("REFUSED", out)
        self.fails(add, "BADKEY", key="unknown.key")
        # a configured key allow_update does not name; no key at all
        self.fails(add, "REFUSED", key="other.key", secret=OTHER)
        self.fails(add, "REFUSED", key=None)
        self.fails(add, "REFUSED", key=None, tcp=True)
        self.assertEqual(serial(self.port), s0)
        # refusals before the client is let in are logged at a bounded
        # rate: the first one only
        self.assertIn("refused (key not in allow_update) (0 more UPDATEs refused", self.d.log())
        self.assertNotIn("refused (address not in allow_update)", self.d.log())
        # a zone open to an address needs no key
        self.assertEqual(nsupdate(self.port, ["update add k.open.test 60 A 192.0.2.7"],
                                  key=None, zone="open.test")[0], 0)
        self.assertEqual(dig(self.port, "k.open.test"), ["192.0.2.7"])
        # a static zone takes no UPDATE, even signed
        self.fails(["update add k.static.test 60 A 192.0.2.7"], "REFUSED", zone="static.test")
        self.assertEqual(dig(self.port, "k.static.test"), [])

    def test_knsupdate(self):
        s0 = serial(self.port)
        rc, out = knsupdate(self.port, ["update add kn.dyn.test. 60 AAAA 2001:db8::1",
                                        "update add kn.dyn.test. 60 TXT \"knot\""])
        self.assertEqual(rc, 0, out)
        self.assertEqual(dig(self.port, "kn.dyn.test", "AAAA"), ["2001:db8::1"])
        rc, out = knsupdate(self.port, ["prereq nxdomain kn.dyn.test.",
                                        "update add kn.dyn.test. 60 A 192.0.2.1"], tcp=True)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("YXDOMAIN", out)
        rc, out = knsupdate(self.port, ["update delete kn.dyn.test. TXT"], tcp=True)
        self.assertEqual(rc, 0, out)
        self.assertEqual(dig(self.port, "kn.dyn.test", "TXT"), [])
        self.assertEqual(serial(self.port), s0 + 2)
        rc, out = knsupdate(self.port, ["update add kn2.dyn.test. 60 A 192.0.2.1"],
                            secret=WRONG)
        self.assertNotEqual(rc, 0, out)
        self.assertEqual(dig(self.port, "kn2.dyn.test"), [])

    def raw(self, msg, tcp=False):
        if tcp:
            return dns.query.tcp(msg, "127.0.0.1", port=self.port, timeout=WAIT)
        return dns.query.udp(msg, "127.0.0.1", port=self.port, timeout=WAIT)

    def test_raw_rcodes(self):
        ring = dns.tsigkeyring.from_text({"upd.key": SECRET})
        # a zone not served here
        u = dns.update.UpdateMessage("nothere.test", keyring=ring, keyname="upd.key",
                                     keyalgorithm="hmac-sha256")
        u.add("a", 60, "A", "192.0.2.1")
        r = self.raw(u)
        self.assertEqual(r.rcode(), dns.rcode.NOTAUTH)
        self.assertTrue(r.had_tsig)
        # a name outside the zone
        u = dns.update.UpdateMessage("dyn.test", keyring=ring, keyname="upd.key",
                                     keyalgorithm="hmac-sha256")
        u.add("a.static.test.", 60, "A", "192.0.2.1")
        r = self.raw(u, tcp=True)
        self.assertEqual(r.rcode(), dns.rcode.NOTZONE)
        self.assertTrue(r.had_tsig)
        # the zone section's type A instead of SOA: FORMERR
        plain = dns.update.UpdateMessage("dyn.test")
        plain.add("a", 60, "A", "192.0.2.1")
        w = bytearray(plain.to_wire())
        zend = 12 + len(b"\x03dyn\x04test\x00")
        struct.pack_into(">H", w, zend, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        s.sendto(bytes(w), ("127.0.0.1", self.port))
        data = s.recv(4096)
        s.close()
        self.assertEqual(data[3] & 0xf, dns.rcode.FORMERR)
        self.assertEqual(data[2] >> 3 & 0xf, 5)
        # the daemon is unharmed
        self.assertEqual(dig(self.port, "www.dyn.test"), ["192.0.2.80", "192.0.2.81"])

    def test_tcp_pipelined_in_order(self):
        """An UPDATE and a query sent back to back on one TCP connection:
        answered in order, and the query already sees the change (the
        connection reads no further until the UPDATE is committed).  With
        EDNS the UPDATE's answer carries an OPT record."""
        ring = dns.tsigkeyring.from_text({"upd.key": SECRET})
        u = dns.update.UpdateMessage("dyn.test", keyring=ring, keyname="upd.key",
                                     keyalgorithm="hmac-sha256")
        u.use_edns(0, 0, 1232)
        u.add("pipe", 60, "A", "192.0.2.44")
        q = dns.message.make_query("pipe.dyn.test", "A")
        out = b""
        for m in (u.to_wire(), q.to_wire()):
            out += struct.pack(">H", len(m)) + m
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as c:
            c.sendall(out)
            f = c.makefile("rb")
            answers = []
            for _ in range(2):
                n = struct.unpack(">H", f.read(2))[0]
                answers.append(f.read(n))
        r1 = dns.message.from_wire(answers[0], keyring=ring, request_mac=u.mac)
        self.assertEqual(r1.opcode(), dns.opcode.UPDATE)
        self.assertEqual(r1.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r1.had_tsig)
        self.assertEqual(r1.edns, 0)
        r2 = dns.message.from_wire(answers[1])
        self.assertEqual(r2.id, q.id)
        self.assertEqual([rr.address for rrset in r2.answer for rr in rrset], ["192.0.2.44"])

    def test_reload_and_close_in_flight(self):
        stop = threading.Event()
        counts = {"sent": 0, "answered": 0}
        ring = dns.tsigkeyring.from_text({"upd.key": SECRET})

        def stream(tcp):
            i = 0
            while not stop.is_set():
                u = dns.update.UpdateMessage("dyn.test", keyring=ring, keyname="upd.key",
                                             keyalgorithm="hmac-sha256")
                u.add("s%d-%d" % (tcp, i), 60, "A", "192.0.2.1")
                i += 1
                counts["sent"] += 1
                try:
                    self.raw(u, tcp=tcp)
                    counts["answered"] += 1
                except Exception:
                    pass

        def hangup():
            # TCP connections closed right after sending an UPDATE
            i = 0
            while not stop.is_set():
                u = dns.update.UpdateMessage("dyn.test", keyring=ring, keyname="upd.key",
                                             keyalgorithm="hmac-sha256")
                u.add("h%d" % i, 60, "A", "192.0.2.2")
                i += 1
                w = u.to_wire()
                try:
                    c = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
                    c.sendall(struct.pack(">H", len(w)) + w)
                    c.close()
                except OSError:
                    pass
                time.sleep(0.005)

        threads = [threading.Thread(target=stream, args=(0,)),
                   threading.Thread(target=stream, args=(1,)),
                   threading.Thread(target=hangup)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            for _ in range(2):
                self.d.write_conf(conf(self.port, dyn_zone=False))
                self.assertTrue(self.d.reload(), self.d.log())
                time.sleep(0.15)
                self.d.write_conf(conf(self.port))
                self.assertTrue(self.d.reload(), self.d.log())
                time.sleep(0.15)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(counts["answered"], 0)
        self.assertIsNone(self.d.proc.poll(), self.d.log())
        self.ok(["update add after.dyn.test 60 A 192.0.2.9"])
        self.assertEqual(dig(self.port, "after.dyn.test"), ["192.0.2.9"])
        # a stop while UPDATEs stream in: a clean exit
        stop.clear()
        threads = [threading.Thread(target=stream, args=(0,)),
                   threading.Thread(target=stream, args=(1,))]
        for t in threads:
            t.start()
        time.sleep(0.3)
        try:
            self.assertEqual(self.d.stop(), 0, self.d.log())
        finally:
            stop.set()
            for t in threads:
                t.join()


@unittest.skipUnless(os.path.exists(NSD), "NSD (%s) is not installed" % NSD)
class Secondary(DaemonTest):
    """NSD, a secondary of the dynamic zone, follows UPDATEs through
    NOTIFY and AXFR (its SOA refresh is an hour: only NOTIFY explains a
    new copy)."""

    def test_nsd_follows(self):
        port, nsd_port = free_port(), free_port()
        extra = ('        allow_transfer = {"127.0.0.1"}\n'
                 '        notify = {"127.0.0.1:%d"}\n' % nsd_port)
        self.d = Loomd(conf(port, extra=extra), files={"zones/dyn.test.zone": ZONE,
                                                       "zones/open.test.zone": OPEN_ZONE,
                                                       "zones/static.test.zone": STATIC_ZONE,
                                                       "state/.keep": ""})
        self.d.start()
        nsd_dir = tempfile.mkdtemp(prefix="loomtest-nsd-")
        self.addCleanup(shutil.rmtree, nsd_dir, True)
        nconf = os.path.join(nsd_dir, "nsd.conf")
        with open(nconf, "w") as f:
            f.write('server:\n    ip-address: 127.0.0.1@%d\n    port: %d\n    do-ip6: no\n'
                    '    server-count: 1\n    username: ""\n    chroot: ""\n    zonesdir: "%s"\n'
                    '    database: ""\n    zonelistfile: "%s/zone.list"\n'
                    '    xfrdfile: "%s/xfrd.state"\n    xfrdir: "%s"\n    pidfile: "%s/nsd.pid"\n'
                    '    logfile: "%s/nsd.log"\n    verbosity: 2\n    rrl-ratelimit: 0\n'
                    'remote-control:\n    control-enable: no\n'
                    'zone:\n    name: dyn.test\n    zonefile: "%s/dyn.test.secondary"\n'
                    '    request-xfr: AXFR 127.0.0.1@%d NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n'
                    % ((nsd_port, nsd_port) + (nsd_dir,) * 7 + (port,)))
        out = open(os.path.join(nsd_dir, "nsd.out"), "wb")
        self.addCleanup(out.close)
        p = subprocess.Popen([NSD, "-d", "-c", nconf], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=out)

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
                got = dig(nsd_port, name)
                if got == want:
                    return
                time.sleep(0.2)
            self.fail("NSD answers %r for %s, want %r; loomd log:\n%s"
                      % (got, name, want, self.d.log()))
        wait_nsd("www.dyn.test", ["192.0.2.80", "192.0.2.81"])
        self.assertEqual(nsupdate(port, ["update add new.dyn.test 60 A 192.0.2.77"])[0], 0)
        wait_nsd("new.dyn.test", ["192.0.2.77"])
        self.assertEqual(nsupdate(port, ["update delete new.dyn.test A 192.0.2.77",
                                         "update add new.dyn.test 60 A 192.0.2.78"],
                                  tcp=True)[0], 0)
        wait_nsd("new.dyn.test", ["192.0.2.78"])
        self.assertEqual(serial(nsd_port), serial(port))


class UpdateConfigErrors(DaemonTest):
    def expect(self, conf_text, needle, contains):
        self.d = Loomd(conf_text, files={"zones/dyn.test.zone": ZONE,
                                         "zones/open.test.zone": OPEN_ZONE,
                                         "zones/static.test.zone": STATIC_ZONE,
                                         "state/.keep": ""})
        want = line_of(self.d.conf_path, needle)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, want, contains)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1, r.stderr)
        assert_error_line(self, r.stderr, self.d.conf_path, want, contains)

    def test_bad_address(self):
        self.expect(conf(free_port(), allow='"192.0.2.300"'), "allow_update = {\"192.0.2.300",
                    "is not an address")

    def test_unknown_key(self):
        self.expect(conf(free_port(), allow='"key:nosuch.key"'), "key:nosuch.key",
                    'no key "nosuch.key"')

    def test_bad_key_name(self):
        self.expect(conf(free_port(), allow='"key:a..b"'), "key:a..b", "not a key name")

    def test_static_zone(self):
        text = conf(free_port()).replace(
            '    zone "static.test" {\n',
            '    zone "static.test" {\n        allow_update = {"127.0.0.1"}\n')
        self.expect(text, 'allow_update = {"127.0.0.1"}', "needs dynamic = yes")


if __name__ == "__main__":
    loomtest.main()
