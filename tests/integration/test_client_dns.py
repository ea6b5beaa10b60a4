"""Typed DNS lookups of the outbound client API (loom_dns_lookup, connect by
name through a lookup channel), against loom's own DNS module.

One loomd serves a forward zone and two reverse zones with its dns module
and runs the test-only module tests/modules/probe.so, whose line protocol
performs lookups with a c-ares channel pointed at that same loomd
(loom_resolver_new_lookup).  Every answer is checked against what the zone
file says (parsed by dnspython, not copied out of it) and against what
dig(1) says for the same name.  Failures are checked for their status and
whether they are temporary: NXDOMAIN and NODATA (with the SOA's negative
TTL) are permanent, REFUSED (a name outside the zones), SERVFAIL (a fake
server played by the test) and a timeout (a server that never answers) are
temporary."""

import os
import socket
import subprocess
import threading
import unittest

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.reversename
import dns.zone

import loomtest
from loomtest import Loomd, free_port, own, WAIT

PROBE_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "probe.so")

ORIGIN = dns.name.from_text("client.test.")
LONG = ["%03d" % i + "x" * 240 for i in range(6)]  # > 1400 bytes: TCP retry

ZONE = """$ORIGIN client.test.
$TTL 3600
@        IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300
@        IN NS  ns1
ns1      IN A   127.0.0.1
mail 600 IN MX  20 mx2
mail 600 IN MX  10 mx1
mail 600 IN MX  10 mx1b
mail 600 IN MX  30 backup.example.net.
mx1      IN A   127.0.0.1
mx1      IN AAAA ::1
nullmx   IN MX  0 .
alias 900 IN CNAME mail
alias2 100 IN CNAME alias
spf  120 IN TXT "v=spf1 " "ip4:192.0.2.0/24 " "-all"
spf  120 IN TXT "second record"
bin      IN TXT "nul\\000byte" "" "semi;colon"
long     IN TXT %s
_submission._tcp 300 IN SRV 10 60 587 mx1
_submission._tcp 300 IN SRV 0 5 587 mx2
_submission._tcp 300 IN SRV 10 20 588 mx3
nodata   IN A   127.0.0.1
connect  IN A   127.0.0.1
v6only   IN AAAA ::1
""" % " ".join('"%s"' % s for s in LONG)

REV4_ORIGIN = dns.name.from_text("2.0.192.in-addr.arpa.")
REV4 = """$ORIGIN 2.0.192.in-addr.arpa.
$TTL 1800
@  IN SOA ns1.client.test. hostmaster.client.test. 1 7200 900 1209600 60
@  IN NS  ns1.client.test.
10 IN PTR mail.client.test.
10 IN PTR alt.client.test.
"""

V6_ADDR = "2001:db8::25"
REV6_ORIGIN = dns.name.from_text("8.b.d.0.1.0.0.2.ip6.arpa.")
REV6 = """$ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
$TTL 1200
@  IN SOA ns1.client.test. hostmaster.client.test. 1 7200 900 1209600 60
@  IN NS  ns1.client.test.
%s IN PTR mx1.client.test.
""" % dns.reversename.from_address(V6_ADDR).relativize(REV6_ORIGIN).to_text()


def conf(port, probe, dead, servfail):
    return ('load_module("%s")\n' % PROBE_SO +
            'dns "auth" {\n'
            '    listen = {"udp:%(port)d:interface=127.0.0.1", "tcp:%(port)d:interface=127.0.0.1"}\n'
            '    zone "client.test" { file = "zones/client.test.zone" }\n'
            '    zone "2.0.192.in-addr.arpa" { file = "zones/rev4.zone" }\n'
            '    zone "8.b.d.0.1.0.0.2.ip6.arpa" { file = "zones/rev6.zone" }\n'
            '}\n'
            'probe "p" {\n'
            '    listen = {"tcp:%(probe)d:interface=127.0.0.1"}\n'
            '    dns_servers = "127.0.0.1:%(port)d"\n'
            '    dns_timeout_ms = 2000\n'
            '    dns_tries = 2\n'
            '}\n'
            'probe "dead" {\n'
            '    listen = {"tcp:%(dead)d:interface=127.0.0.1"}\n'
            '    dns_servers = "127.0.0.1:%(silent)d"\n'
            '    dns_timeout_ms = 300\n'
            '    dns_tries = 1\n'
            '}\n'
            'probe "servfail" {\n'
            '    listen = {"tcp:%(sf)d:interface=127.0.0.1"}\n'
            '    dns_servers = "127.0.0.1:%(sfport)d"\n'
            '    dns_timeout_ms = 2000\n'
            '    dns_tries = 1\n'
            '}\n') % {"port": port, "probe": probe, "dead": dead[0],
                      "silent": dead[1], "sf": servfail[0], "sfport": servfail[1]}


class Probe:
    """One connection to a probe instance."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.f = self.s.makefile("rb")

    def close(self):
        self.f.close()
        self.s.close()

    def line(self):
        line = self.f.readline()
        if not line:
            raise AssertionError("probe closed the connection")
        return line.rstrip(b"\r\n").decode("ascii")

    def ask(self, rdtype, name):
        """Lines of a lookup's answer, without the final END."""
        self.s.sendall(("%s %s\r\n" % (rdtype, name)).encode())
        out = []
        while True:
            line = self.line()
            if line == "END":
                return out
            out.append(line)

    def command(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.line()


class FakeServfail:
    """A DNS server played by the test that answers SERVFAIL to anything."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            self.queries += 1
            r = dns.message.make_response(q)
            r.set_rcode(dns.rcode.SERVFAIL)
            self.sock.sendto(r.to_wire(), peer)

    def close(self):
        self.sock.close()


def dig(port, name, rdtype):
    """(name, ttl, rdata text) of the answer section, from dig."""
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+noall", "+answer",
                          "+nocookie", "+norecurse", name, rdtype],
                         capture_output=True, text=True, timeout=WAIT, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[3] == rdtype:
            rows.append((parts[0].rstrip("."), int(parts[1]), parts[4]))
    return rows


def txt_hex(rdata):
    return [s.hex() if s else "-" for s in rdata.strings]


class Lookups(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        probe = free_port()
        cls.dead_port, cls.sf_port = free_port(), free_port()
        cls.silent = own(cls, socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        cls.silent.bind(("127.0.0.1", 0))
        cls.fake = own(cls, FakeServfail())
        cls.zone = dns.zone.from_text(ZONE, ORIGIN, relativize=False)
        cls.rev4 = dns.zone.from_text(REV4, REV4_ORIGIN, relativize=False)
        cls.rev6 = dns.zone.from_text(REV6, REV6_ORIGIN, relativize=False)
        cls.d = own(cls, Loomd(conf(cls.port, probe, (cls.dead_port, cls.silent.getsockname()[1]),
                                    (cls.sf_port, cls.fake.port)),
                               files={"zones/client.test.zone": ZONE, "zones/rev4.zone": REV4,
                                      "zones/rev6.zone": REV6}))
        cls.d.start()
        cls.p = own(cls, Probe(probe))

    def rdataset(self, zone, rel, rdtype):
        origin = zone.origin
        name = dns.name.from_text(rel, origin) if rel != "@" else origin
        return zone.get_rdataset(name, rdtype)

    def ok(self, lines):
        self.assertTrue(lines and lines[0].startswith("OK "), lines)
        n = int(lines[0].split()[1])
        self.assertEqual(n, len(lines) - 1, lines)
        return lines[0].split("cname=")[1], lines[1:]

    def err(self, lines):
        self.assertEqual(len(lines), 1, lines)
        head, _, text = lines[0].partition(" err=")
        words = head.split()
        self.assertEqual(words[0], "ERR", lines)
        fields = dict(w.split("=") for w in words if "=" in w)
        status = " ".join(w for w in words[1:] if "=" not in w)
        return status, int(fields["temporary"]), int(fields["neg_ttl"]), text

    # ---- answers -------------------------------------------------------

    def test_mx_in_preference_order_with_ttls(self):
        want = self.rdataset(self.zone, "mail", "MX")
        cname, rows = self.ok(self.p.ask("MX", "mail.client.test"))
        self.assertEqual(cname, "-")
        got = [r.split() for r in rows]
        prefs = [int(g[0]) for g in got]
        self.assertEqual(prefs, sorted(prefs))
        self.assertEqual(sorted((int(g[0]), g[1]) for g in got),
                         sorted((rd.preference, rd.exchange.to_text().rstrip("."))
                                for rd in want))
        self.assertEqual({int(g[2]) for g in got}, {want.ttl})
        # dig agrees on the data and the TTL
        from_dig = sorted((int(r[2].split()[0]), r[2].split()[1].rstrip("."), r[1])
                          for r in dig(self.port, "mail.client.test", "MX"))
        self.assertEqual(sorted((int(g[0]), g[1], int(g[2])) for g in got), from_dig)

    def test_mx_equal_preferences_keep_answer_order(self):
        _, rows = self.ok(self.p.ask("MX", "mail.client.test"))
        got = [r.split()[1] for r in rows if r.split()[0] == "10"]
        from_dig = [r[2].split()[1].rstrip(".") for r in dig(self.port, "mail.client.test", "MX")
                    if r[2].split()[0] == "10"]
        self.assertEqual(got, from_dig)

    def test_null_mx(self):
        _, rows = self.ok(self.p.ask("MX", "nullmx.client.test"))
        self.assertEqual(rows, ["0 . %d" % self.rdataset(self.zone, "nullmx", "MX").ttl])

    def test_mx_through_cname_chain(self):
        want = self.rdataset(self.zone, "mail", "MX")
        a2 = self.rdataset(self.zone, "alias2", "CNAME").ttl
        a1 = self.rdataset(self.zone, "alias", "CNAME").ttl
        cname, rows = self.ok(self.p.ask("MX", "alias2.client.test"))
        self.assertEqual(cname, "mail.client.test")
        self.assertEqual(len(rows), len(want))
        # the smallest TTL along the chain
        self.assertEqual({int(r.split()[2]) for r in rows}, {min(want.ttl, a1, a2)})
        cname, rows = self.ok(self.p.ask("MX", "alias.client.test"))
        self.assertEqual({int(r.split()[2]) for r in rows}, {min(want.ttl, a1)})

    def test_txt_strings_and_joined(self):
        want = self.rdataset(self.zone, "spf", "TXT")
        _, rows = self.ok(self.p.ask("TXT", "spf.client.test"))
        got = sorted(r.split()[2:] for r in rows)
        self.assertEqual(got, sorted(txt_hex(rd) for rd in want))
        for r in rows:
            ttl, joined, *parts = r.split()
            self.assertEqual(int(ttl), want.ttl)
            self.assertEqual(bytes.fromhex(joined),
                             b"".join(bytes.fromhex(p) for p in parts if p != "-"))
        spf = [bytes.fromhex(r.split()[1]) for r in rows]
        self.assertIn(b"v=spf1 ip4:192.0.2.0/24 -all", spf)
        # dig's view: the same number of records, the same TTL
        from_dig = dig(self.port, "spf.client.test", "TXT")
        self.assertEqual(len(from_dig), len(rows))
        self.assertEqual({r[1] for r in from_dig}, {want.ttl})

    def test_txt_binary_and_empty_strings(self):
        want = self.rdataset(self.zone, "bin", "TXT")
        _, rows = self.ok(self.p.ask("TXT", "bin.client.test"))
        self.assertEqual(len(rows), 1)
        ttl, joined, *parts = rows[0].split()
        self.assertEqual(parts, txt_hex(want[0]))
        self.assertEqual(bytes.fromhex(joined), b"".join(want[0].strings))
        self.assertIn(b"\x00", bytes.fromhex(joined))

    def test_long_txt_over_tcp(self):
        want = self.rdataset(self.zone, "long", "TXT")
        self.assertGreater(sum(len(s) for s in want[0].strings), 1232)
        _, rows = self.ok(self.p.ask("TXT", "long.client.test"))
        self.assertEqual(len(rows), 1)
        ttl, joined, *parts = rows[0].split()
        self.assertEqual(int(ttl), want.ttl)
        self.assertEqual(bytes.fromhex(joined), "".join(LONG).encode())
        self.assertEqual([bytes.fromhex(p).decode() for p in parts], LONG)

    def test_srv_in_priority_order(self):
        want = self.rdataset(self.zone, "_submission._tcp", "SRV")
        _, rows = self.ok(self.p.ask("SRV", "_submission._tcp.client.test"))
        got = [r.split() for r in rows]
        self.assertEqual([int(g[0]) for g in got], sorted(rd.priority for rd in want))
        self.assertEqual(sorted((int(g[0]), int(g[1]), int(g[2]), g[3]) for g in got),
                         sorted((rd.priority, rd.weight, rd.port,
                                 rd.target.to_text().rstrip(".")) for rd in want))
        self.assertEqual({int(g[4]) for g in got}, {want.ttl})
        from_dig = sorted((*map(int, r[2].split()[:3]), r[2].split()[3].rstrip("."), r[1])
                          for r in dig(self.port, "_submission._tcp.client.test", "SRV"))
        self.assertEqual(sorted((int(g[0]), int(g[1]), int(g[2]), g[3], int(g[4]))
                                for g in got), from_dig)

    def test_ptr_ipv4(self):
        want = self.rdataset(self.rev4, "10", "PTR")
        _, rows = self.ok(self.p.ask("PTR", "192.0.2.10"))
        self.assertEqual(sorted(r.split()[0] for r in rows),
                         sorted(rd.target.to_text().rstrip(".") for rd in want))
        self.assertEqual({int(r.split()[1]) for r in rows}, {want.ttl})
        from_dig = sorted((r[2].rstrip("."), r[1]) for r in dig(self.port, "10.2.0.192.in-addr.arpa", "PTR"))
        self.assertEqual(sorted((r.split()[0], int(r.split()[1])) for r in rows), from_dig)
        # the .arpa name itself works too
        _, rows2 = self.ok(self.p.ask("PTR", "10.2.0.192.in-addr.arpa"))
        self.assertEqual(sorted(rows2), sorted(rows))

    def test_ptr_ipv6(self):
        arpa = dns.reversename.from_address(V6_ADDR)
        want = self.rev6.get_rdataset(arpa, "PTR")
        _, rows = self.ok(self.p.ask("PTR", V6_ADDR))
        self.assertEqual(rows, ["%s %d" % (want[0].target.to_text().rstrip("."), want.ttl)])

    def test_a_and_aaaa(self):
        for t, rel in (("A", "mx1"), ("AAAA", "mx1"), ("AAAA", "v6only")):
            with self.subTest(type=t, name=rel):
                want = self.rdataset(self.zone, rel, t)
                _, rows = self.ok(self.p.ask(t, rel + ".client.test"))
                self.assertEqual(sorted(rows), sorted("%s %d" % (rd.address, want.ttl) for rd in want))

    def test_final_dot_and_case(self):
        _, rows = self.ok(self.p.ask("MX", "MAIL.Client.TEST."))
        self.assertEqual(len(rows), len(self.rdataset(self.zone, "mail", "MX")))

    # ---- failures ------------------------------------------------------

    def test_nxdomain_is_permanent_with_negative_ttl(self):
        soa = self.rdataset(self.zone, "@", "SOA")
        status, temporary, neg, text = self.err(self.p.ask("MX", "nosuch.client.test"))
        self.assertEqual(status, "no such domain")
        self.assertEqual(temporary, 0)
        self.assertEqual(neg, min(soa.ttl, soa[0].minimum))
        self.assertIn("nosuch.client.test MX", text)
        self.assertEqual(dig(self.port, "nosuch.client.test", "MX"), [])

    def test_nodata_is_permanent_with_negative_ttl(self):
        soa = self.rdataset(self.zone, "@", "SOA")
        status, temporary, neg, _ = self.err(self.p.ask("MX", "nodata.client.test"))
        self.assertEqual(status, "no record of that type")
        self.assertEqual(temporary, 0)
        self.assertEqual(neg, min(soa.ttl, soa[0].minimum))
        status, temporary, _, _ = self.err(self.p.ask("A", "v6only.client.test"))
        self.assertEqual(status, "no record of that type")

    def test_ptr_without_record(self):
        status, temporary, neg, _ = self.err(self.p.ask("PTR", "192.0.2.11"))
        soa = self.rdataset(self.rev4, "@", "SOA")
        self.assertEqual((status, temporary, neg),
                         ("no such domain", 0, min(soa.ttl, soa[0].minimum)))

    def test_refused_outside_the_zones_is_temporary(self):
        status, temporary, _, _ = self.err(self.p.ask("MX", "example.org"))
        self.assertEqual((status, temporary), ("refused by the server", 1))

    def test_bad_names(self):
        for name in ("a..b", "x" * 64 + ".test", "sp ace.test", "back\\slash.test",
                     ".".join(["abcdefghi"] * 26)):
            with self.subTest(name=name):
                status, temporary, _, _ = self.err(self.p.ask("MX", name))
                self.assertEqual((status, temporary), ("bad domain name", 0))

    def test_timeout_is_temporary(self):
        p = Probe(self.dead_port)
        try:
            status, temporary, _, _ = self.err(p.ask("MX", "mail.client.test"))
        finally:
            p.close()
        self.assertEqual((status, temporary), ("timed out", 1))

    def test_servfail_is_temporary(self):
        p = Probe(self.sf_port)
        try:
            status, temporary, _, _ = self.err(p.ask("TXT", "spf.client.test"))
        finally:
            p.close()
        self.assertEqual((status, temporary), ("server failure", 1))
        self.assertGreater(self.fake.queries, 0)

    # ---- connect by name through the channel -----------------------------

    def test_connect_by_name(self):
        # "connect" has an A record pointing at the probe's own listener
        out = self.p.command("CONNECT connect.client.test %d" % self.p.s.getpeername()[1])
        self.assertEqual(out, "CONNECTED 127.0.0.1:%d tried=1" % self.p.s.getpeername()[1])

    def test_connect_every_address_in_order(self):
        # mx1 has ::1 and 127.0.0.1; the probe listens on 127.0.0.1 only,
        # so when ::1 comes first it is refused and the next one used
        port = self.p.s.getpeername()[1]
        out = self.p.command("CONNECT mx1.client.test %d" % port)
        self.assertRegex(out, r"^CONNECTED 127\.0\.0\.1:%d tried=[12]$" % port)

    def test_connect_unknown_name(self):
        out = self.p.command("CONNECT nosuch.client.test 25")
        self.assertEqual(out, "FAIL eresolve tried=0 addr=- err=no such domain")

    def test_connect_name_without_address(self):
        out = self.p.command("CONNECT nullmx.client.test 25")
        self.assertRegex(out, r"^FAIL enoaddr tried=0 addr=- err=")

    def test_connect_refused(self):
        port = free_port()
        out = self.p.command("CONNECT 127.0.0.1 %d" % port)
        self.assertEqual(out, "FAIL erefused tried=1 addr=127.0.0.1:%d err=connection refused" % port)

    def test_connect_bad_host(self):
        self.assertEqual(self.p.command("CONNECT bad..name 25"),
                         "FAIL einval tried=0 addr=- err=invalid host name")


if __name__ == "__main__":
    loomtest.main()
