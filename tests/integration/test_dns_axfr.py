"""dns module, zone transfers (RFC 5936): AXFR over TCP with dig and
dnspython, allow_transfer by address and prefix, refusals, AXFR over UDP,
IXFR answered with a full transfer, and a zone large enough to need many
TCP messages.  The expected records are dnspython's parse of the zone file."""

import re
import socket
import struct
import subprocess
import unittest

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

import loomtest
from dnstest import ORIGIN, zone_text, stats
from loomtest import Loomd, free_port, recv_exactly, own, WAIT

BIG = dns.name.from_text("big.test.")


def big_zone(n=5000):
    lines = ["$ORIGIN big.test.", "$TTL 600",
             "@ IN SOA ns1 hostmaster 77 3600 600 86400 60", "@ IN NS ns1", "ns1 IN A 192.0.2.1"]
    for i in range(n):
        kind = i % 4
        if kind == 0:
            lines.append("h%05d IN A 10.%d.%d.%d" % (i, i >> 16 & 255, i >> 8 & 255, i & 255))
        elif kind == 1:
            lines.append("h%05d IN AAAA 2001:db8::%x" % (i, i))
        elif kind == 2:
            lines.append('h%05d IN TXT "record %d of the big zone" "padding-%s"' % (i, i, "p" * (i % 50)))
        else:
            lines.append("h%05d IN MX %d mx%d.h%05d" % (i, i % 100, i % 7, i))
    return "\n".join(lines) + "\n"


def zone_records(zone):
    """The zone as a set of (name, ttl, rdata) with names lower-cased."""
    return {(name.canonicalize(), ttl, rd) for name, ttl, rd in zone.iterate_rdatas()}


def message_records(messages):
    """All answer records of the messages, in order, as (name, ttl, rdata)."""
    out = []
    for m in messages:
        for rrset in m.answer:
            for rd in rrset:
                out.append((rrset.name.canonicalize(), rrset.ttl, rd))
    return out


def raw_xfr(port, zone, rdtype="AXFR", source="127.0.0.1", serial=None):
    """A zone transfer read by hand: returns the list of messages, reading
    until the closing SOA, an error rcode or EOF."""
    q = dns.message.make_query(zone, rdtype)
    if serial is not None:
        soa = dns.rdata.from_text("IN", "SOA", ". . %d 0 0 0 0" % serial)
        q.authority.append(dns.rrset.from_rdata(zone, 0, soa))
    wire = q.to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    msgs = []
    soas = 0
    try:
        s.sendall(struct.pack(">H", len(wire)) + wire)
        while True:
            head = s.recv(2)
            if len(head) == 1:
                head += recv_exactly(s, 1)
            if not head:
                break
            n = struct.unpack(">H", head)[0]
            m = dns.message.from_wire(recv_exactly(s, n), xfr=True, one_rr_per_rrset=True)
            if m.id != q.id:
                raise AssertionError("transfer message with ID %d, not %d" % (m.id, q.id))
            msgs.append(m)
            if m.rcode() != dns.rcode.NOERROR:
                break
            soas += sum(1 for rr in m.answer if rr.rdtype == dns.rdatatype.SOA)
            if soas >= 2:
                break
    finally:
        s.close()
    return msgs


def conf(port, zone_opts="", big_opts=None):
    out = ('dns "auth" {\n'
           '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
           '    zone "example.test" {\n'
           '        file = "zones/example.test.zone"\n'
           '%s'
           '    }\n') % (port, port, zone_opts)
    if big_opts is not None:
        out += '    zone "big.test" {\n        file = "zones/big.test.zone"\n%s    }\n' % big_opts
    return out + "}\n"


class XfrBase(unittest.TestCase):
    ZONE_OPTS = ""
    BIG_OPTS = None

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.text = zone_text()
        cls.zone = dns.zone.from_text(cls.text, ORIGIN, relativize=False)
        files = {"zones/example.test.zone": cls.text}
        if cls.BIG_OPTS is not None:
            cls.big_text = big_zone()
            cls.big = dns.zone.from_text(cls.big_text, BIG, relativize=False)
            files["zones/big.test.zone"] = cls.big_text
        cls.d = Loomd(conf(cls.port, cls.ZONE_OPTS, cls.BIG_OPTS), files=files)
        own(cls, cls.d)
        cls.d.start()

    def dig_axfr(self, zone, source="127.0.0.1"):
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "-b", source,
                            "+nocmd", "+nostats", "AXFR", zone],
                           capture_output=True, text=True, timeout=WAIT * 3)
        return r.stdout + r.stderr

    def parse_dig(self, out):
        recs = []
        for line in out.splitlines():
            if not line.strip() or line.startswith(";"):
                continue
            name, ttl, rdclass, rdtype, rest = re.split(r"\s+", line.strip(), maxsplit=4)
            rd = dns.rdata.from_text(rdclass, rdtype, rest)
            recs.append((dns.name.from_text(name).canonicalize(), int(ttl), rd))
        return recs

    def assertComplete(self, recs, zone, origin):
        """RECS (in order) is a whole transfer of ZONE."""
        self.assertGreaterEqual(len(recs), 2)
        soa = zone.get_rdataset(origin, "SOA")
        for end in (recs[0], recs[-1]):
            self.assertEqual(end[0], origin)
            self.assertEqual(end[2].rdtype, dns.rdatatype.SOA, "transfer must start and end with the SOA")
            self.assertEqual(end[2], soa[0])
        body = recs[1:-1]
        self.assertNotIn(dns.rdatatype.SOA, {r[2].rdtype for r in body}, "SOA inside the transfer")
        self.assertEqual(len(body), len(set(body)), "duplicate records in the transfer")
        want = zone_records(zone)
        self.assertEqual(set(recs), want,
                         "missing: %s\nextra: %s" % (sorted(map(str, want - set(recs)))[:10],
                                                     sorted(map(str, set(recs) - want))[:10]))


class Allowed(XfrBase):
    ZONE_OPTS = '        allow_transfer = {"127.0.0.1", "127.0.3.0/24"}\n'
    BIG_OPTS = '        allow_transfer = {"127.0.0.0/8"}\n'

    def test_dig_axfr(self):
        out = self.dig_axfr("example.test")
        self.assertNotIn("Transfer failed", out, out)
        self.assertComplete(self.parse_dig(out), self.zone, ORIGIN)

    def test_raw_axfr(self):
        msgs = raw_xfr(self.port, ORIGIN)
        self.assertEqual([m.rcode() for m in msgs], [dns.rcode.NOERROR] * len(msgs))
        self.assertTrue(all(m.flags & dns.flags.AA for m in msgs))
        self.assertComplete(message_records(msgs), self.zone, ORIGIN)

    def test_prefix_allowed(self):
        out = self.dig_axfr("example.test", source="127.0.3.7")
        self.assertComplete(self.parse_dig(out), self.zone, ORIGIN)

    def test_not_allowed_address(self):
        for src in ("127.0.0.2", "127.0.4.1"):
            with self.subTest(source=src):
                msgs = raw_xfr(self.port, ORIGIN, source=src)
                self.assertEqual(len(msgs), 1)
                self.assertEqual(msgs[0].rcode(), dns.rcode.REFUSED)
                self.assertEqual(msgs[0].answer, [])
                out = self.dig_axfr("example.test", source=src)
                self.assertIn("Transfer failed", out)
                self.assertNotIn("IN\tSOA", out)

    def test_axfr_over_udp(self):
        q = dns.message.make_query(ORIGIN, "AXFR")
        r = dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=self.port)
        self.assertNotEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        self.assertEqual(r.rcode(), dns.rcode.FORMERR, r.to_text())
        self.assertEqual(r.answer, [])

    def test_ixfr_gets_full_transfer(self):
        serial = self.zone.get_rdataset(ORIGIN, "SOA")[0].serial
        msgs = raw_xfr(self.port, ORIGIN, "IXFR", serial=serial - 1)
        self.assertEqual(msgs[0].rcode(), dns.rcode.NOERROR)
        self.assertComplete(message_records(msgs), self.zone, ORIGIN)

    def test_axfr_of_unknown_zone(self):
        msgs = raw_xfr(self.port, dns.name.from_text("other.test."))
        self.assertEqual(len(msgs), 1)
        self.assertIn(msgs[0].rcode(), (dns.rcode.REFUSED, dns.rcode.NOTAUTH))
        self.assertEqual(msgs[0].answer, [])

    def test_axfr_below_apex(self):
        msgs = raw_xfr(self.port, dns.name.from_text("www.example.test."))
        self.assertEqual(len(msgs), 1)
        self.assertNotEqual(msgs[0].rcode(), dns.rcode.NOERROR)
        self.assertEqual(msgs[0].answer, [])

    def test_big_zone_many_messages(self):
        msgs = raw_xfr(self.port, BIG)
        self.assertGreater(len(msgs), 1, "5000 records in one message?")
        self.assertComplete(message_records(msgs), self.big, BIG)

    def test_big_zone_dnspython_xfr(self):
        got = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", BIG, port=self.port, timeout=WAIT,
                                              lifetime=WAIT * 3, relativize=False),
                                relativize=False)
        self.assertEqual(zone_records(got), zone_records(self.big))

    def test_big_zone_dig(self):
        out = self.dig_axfr("big.test")
        m = re.search(r"XFR size: (\d+) records \(messages (\d+)", out)
        recs = self.parse_dig(out)
        self.assertComplete(recs, self.big, BIG)
        if m:
            self.assertGreater(int(m.group(2)), 1)

    def test_transfer_then_queries(self):
        """Transfers do not stop the daemon from answering."""
        raw_xfr(self.port, BIG)
        r = dns.query.udp(dns.message.make_query("h00004.big.test.", "A"), "127.0.0.1",
                          timeout=WAIT, port=self.port)
        self.assertEqual(set(r.answer[0]),
                         set(self.big.get_rdataset(dns.name.from_text("h00004", BIG), "A")))
        self.assertGreaterEqual(stats(self.port)["axfr"], 1)


class OnlyOther(XfrBase):
    ZONE_OPTS = '        allow_transfer = {"127.0.0.2"}\n'
    BIG_OPTS = ""   # no allow_transfer: nobody

    def test_refused_from_loopback(self):
        msgs = raw_xfr(self.port, ORIGIN)
        self.assertEqual([m.rcode() for m in msgs], [dns.rcode.REFUSED])
        self.assertEqual(msgs[0].answer, [])
        self.assertIn("Transfer failed", self.dig_axfr("example.test"))

    def test_allowed_from_listed(self):
        msgs = raw_xfr(self.port, ORIGIN, source="127.0.0.2")
        self.assertComplete(message_records(msgs), self.zone, ORIGIN)

    def test_default_is_nobody(self):
        for src in ("127.0.0.1", "127.0.0.2"):
            msgs = raw_xfr(self.port, BIG, source=src)
            self.assertEqual([m.rcode() for m in msgs], [dns.rcode.REFUSED])
            self.assertEqual(msgs[0].answer, [])


if __name__ == "__main__":
    loomtest.main()
