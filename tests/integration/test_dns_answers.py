"""dns module, authoritative answers from conf/zones/example.test.zone:
record types, AA, case handling, negative answers, CNAME chains, wildcards,
empty non-terminals, referrals, additional data, ANY (RFC 8482), name
compression, REFUSED / NOTIMP, CHAOS queries and stats.loom.

Expected data always comes from dnspython's own parse of the zone file,
never from literals copied out of it."""

import socket
import struct
import unittest

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone

import loomtest
from dnstest import ORIGIN, zone_text, stats
from loomtest import Loomd, free_port, own, WAIT



def dns_conf(port, zone_opts="", extra=""):
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '%s'
            '    zone "example.test" {\n'
            '        file = "zones/example.test.zone"\n'
            '%s'
            '    }\n'
            '}\n') % (port, port, extra, zone_opts)


def query(port, qname, rdtype="A", rdclass="IN", tcp=False, source=None, **kw):
    q = dns.message.make_query(qname, rdtype, rdclass, **kw)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", timeout=WAIT, port=port, source=source)
    return dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=port, source=source)


def names(section):
    return {(rr.name, rr.rdtype) for rr in section}


class Answers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.text = zone_text()
        cls.zone = dns.zone.from_text(cls.text, ORIGIN, relativize=False)
        soa = cls.zone.get_rdataset(ORIGIN, "SOA")
        cls.neg_ttl = min(soa.ttl, soa[0].minimum)
        cls.d = Loomd(dns_conf(cls.port), files={"zones/example.test.zone": cls.text})
        own(cls, cls.d)
        cls.d.start()

    def n(self, rel):
        return dns.name.from_text(rel, ORIGIN) if rel != "@" else ORIGIN

    def ask(self, qname, rdtype="A", **kw):
        kw.setdefault("use_edns", 0)
        kw.setdefault("payload", 1232)
        return query(self.port, qname, rdtype, **kw)

    def assertRRset(self, rrset, owner, rdtype, source_owner=None):
        """RRSET has owner OWNER and the data of SOURCE_OWNER/RDTYPE in the zone."""
        want = self.zone.get_rdataset(source_owner or owner, rdtype)
        self.assertIsNotNone(want, "zone has no %s %s" % (source_owner or owner, rdtype))
        self.assertEqual(rrset.name, owner)
        self.assertEqual(rrset.rdtype, dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype)
        self.assertEqual(set(rrset), set(want), rrset.to_text())
        self.assertEqual(rrset.ttl, want.ttl, rrset.to_text())

    def assertNegative(self, r, rcode):
        self.assertEqual(r.rcode(), rcode, r.to_text())
        self.assertTrue(r.flags & dns.flags.AA, r.to_text())
        self.assertEqual(r.answer, [], r.to_text())
        soas = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
        self.assertEqual(len(soas), 1, r.to_text())
        self.assertEqual(soas[0].name, ORIGIN)
        self.assertEqual(set(soas[0]), set(self.zone.get_rdataset(ORIGIN, "SOA")))
        self.assertEqual(soas[0].ttl, self.neg_ttl, "negative TTL must be min(SOA TTL, minimum)")

    def test_record_types(self):
        cases = [("@", "SOA"), ("@", "NS"), ("@", "A"), ("@", "AAAA"), ("@", "MX"),
                 ("@", "TXT"), ("@", "CAA"), ("www", "A"), ("www", "AAAA"),
                 ("ns2", "AAAA"), ("_sip._tcp", "SRV"), ("info", "TXT"), ("long", "TXT"),
                 ("web", "CNAME")]
        for rel, t in cases:
            with self.subTest(name=rel, type=t):
                r = self.ask(self.n(rel), t)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
                self.assertTrue(r.flags & dns.flags.QR)
                self.assertTrue(r.flags & dns.flags.AA, r.to_text())
                self.assertEqual(len(r.answer), 1, r.to_text())
                self.assertRRset(r.answer[0], self.n(rel), t)

    def test_multi_string_txt_kept_apart(self):
        for rel in ("info", "long"):
            r = self.ask(self.n(rel), "TXT")
            got = [rd.strings for rd in r.answer[0]]
            want = [rd.strings for rd in self.zone.get_rdataset(self.n(rel), "TXT")]
            self.assertEqual(got, want)
            self.assertGreater(len(want[0]), 1)
        total = sum(len(s) for s in self.zone.get_rdataset(self.n("long"), "TXT")[0].strings)
        self.assertGreater(total, 255, "the zone's long TXT should exceed one string")

    def test_id_and_rd_echoed(self):
        for rd_flag in (dns.flags.RD, 0):
            q = dns.message.make_query("www.example.test.", "A", use_edns=0)
            q.flags = rd_flag
            q.id = 0xBEEF if rd_flag else 0x0102
            r = dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=self.port)
            self.assertEqual(r.id, q.id)
            self.assertEqual(bool(r.flags & dns.flags.RD), bool(rd_flag), r.to_text())
            self.assertEqual(dns.opcode.from_flags(r.flags), dns.opcode.QUERY)

    def test_query_case_echoed_and_lookup_case_insensitive(self):
        for text in ("wWw.ExAmPlE.tEsT.", "WWW.EXAMPLE.TEST.", "MaIl2.example.TEST."):
            qname = dns.name.from_text(text)
            r = self.ask(qname, "A")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
            self.assertEqual(r.question[0].name.labels, qname.labels,
                             "question name case not echoed: %s" % r.question[0].name)
            self.assertEqual(len(r.answer), 1, r.to_text())
            self.assertRRset(r.answer[0], qname, "A")  # names compare case-insensitively

    def test_nxdomain(self):
        for rel in ("nope", "deep.nope", "x.www", "c.b.ent"):
            with self.subTest(name=rel):
                self.assertNegative(self.ask(self.n(rel), "A"), dns.rcode.NXDOMAIN)

    def test_nodata(self):
        for rel, t in (("www", "MX"), ("@", "SRV"), ("mail2", "AAAA"), ("info", "A")):
            with self.subTest(name=rel, type=t):
                self.assertNegative(self.ask(self.n(rel), t), dns.rcode.NOERROR)

    def test_empty_non_terminal_is_nodata(self):
        for rel in ("b.ent", "ent", "_tcp", "y.wild"):
            with self.subTest(name=rel):
                self.assertNegative(self.ask(self.n(rel), "A"), dns.rcode.NOERROR)

    def test_cname_chain(self):
        r = self.ask(self.n("alias"), "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertEqual([(rr.name, rr.rdtype) for rr in r.answer],
                         [(self.n("alias"), dns.rdatatype.CNAME), (self.n("web"), dns.rdatatype.CNAME),
                          (self.n("www"), dns.rdatatype.A)], r.to_text())
        self.assertRRset(r.answer[0], self.n("alias"), "CNAME")
        self.assertRRset(r.answer[1], self.n("web"), "CNAME")
        self.assertRRset(r.answer[2], self.n("www"), "A")

    def test_cname_chain_to_nodata(self):
        r = self.ask(self.n("web"), "MX")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        self.assertEqual([(rr.name, rr.rdtype) for rr in r.answer],
                         [(self.n("web"), dns.rdatatype.CNAME)], r.to_text())
        self.assertIn((ORIGIN, dns.rdatatype.SOA), names(r.authority), r.to_text())

    def test_wildcard_synthesis(self):
        for rel, t in (("foo.wild", "A"), ("Bar.wild", "TXT"), ("a.b.c.wild", "A")):
            with self.subTest(name=rel):
                qname = self.n(rel)
                r = self.ask(qname, t)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
                self.assertTrue(r.flags & dns.flags.AA)
                self.assertEqual(len(r.answer), 1, r.to_text())
                # owner is the query name, data is the wildcard's
                self.assertRRset(r.answer[0], qname, t, source_owner=self.n("*.wild"))
        # a type the wildcard lacks: NODATA
        self.assertNegative(self.ask(self.n("foo.wild"), "MX"), dns.rcode.NOERROR)

    def test_wildcard_not_below_existing_name_or_ent(self):
        # host.wild exists: its own data only, nothing synthesised at or below it
        r = self.ask(self.n("host.wild"), "A")
        self.assertRRset(r.answer[0], self.n("host.wild"), "A")
        self.assertNegative(self.ask(self.n("host.wild"), "TXT"), dns.rcode.NOERROR)
        self.assertNegative(self.ask(self.n("q.host.wild"), "A"), dns.rcode.NXDOMAIN)
        # y.wild is an empty non-terminal: NODATA at it, NXDOMAIN below it
        self.assertNegative(self.ask(self.n("y.wild"), "TXT"), dns.rcode.NOERROR)
        self.assertNegative(self.ask(self.n("z.y.wild"), "A"), dns.rcode.NXDOMAIN)

    def test_referral(self):
        glue_owner = self.n("ns.sub")
        for rel, t in (("www.sub", "A"), ("sub", "NS"), ("sub", "SOA"), ("ns.sub", "A"),
                       ("deep.down.sub", "MX")):
            with self.subTest(name=rel, type=t):
                r = self.ask(self.n(rel), t)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
                self.assertFalse(r.flags & dns.flags.AA, "referral with AA set:\n" + r.to_text())
                self.assertEqual(r.answer, [], r.to_text())
                ns = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.NS]
                self.assertEqual(len(ns), 1, r.to_text())
                self.assertRRset(ns[0], self.n("sub"), "NS")
                self.assertNotIn(dns.rdatatype.SOA, {rr.rdtype for rr in r.authority})
                glue = [rr for rr in r.additional if rr.rdtype == dns.rdatatype.A]
                self.assertEqual(len(glue), 1, r.to_text())
                self.assertRRset(glue[0], glue_owner, "A")

    def assertAdditionalFor(self, r, targets):
        for target in targets:
            for t in ("A", "AAAA"):
                want = self.zone.get_rdataset(target, t)
                if want is None:
                    continue
                got = [rr for rr in r.additional if rr.name == target and rr.rdtype == want.rdtype]
                self.assertEqual(len(got), 1, "no %s %s in additional:\n%s" % (target, t, r.to_text()))
                self.assertRRset(got[0], target, t)

    def test_additional_addresses(self):
        for rel, t in (("@", "MX"), ("@", "NS"), ("_sip._tcp", "SRV")):
            with self.subTest(type=t):
                r = self.ask(self.n(rel), t)
                rds = self.zone.get_rdataset(self.n(rel), t)
                targets = {getattr(rd, "exchange", None) or getattr(rd, "target") for rd in rds}
                self.assertTrue(all(self.zone.get_node(x) is not None for x in targets))
                self.assertAdditionalFor(r, targets)

    def test_any_minimal(self):
        for rel in ("@", "www"):
            with self.subTest(name=rel):
                r = self.ask(self.n(rel), "ANY")
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
                self.assertEqual(len(r.answer), 1, "RFC 8482: one RRset, got:\n" + r.to_text())
                rrset = r.answer[0]
                self.assertEqual(rrset.name, self.n(rel))
                if rrset.rdtype != dns.rdatatype.HINFO:
                    self.assertRRset(rrset, self.n(rel), rrset.rdtype)

    def test_name_compression(self):
        q = dns.message.make_query(ORIGIN, "MX", use_edns=0, payload=1232)
        q.id = 4242
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        try:
            s.sendto(q.to_wire(), ("127.0.0.1", self.port))
            raw, _ = s.recvfrom(65535)
        finally:
            s.close()
        msg = dns.message.from_wire(raw)  # follows the compression pointers
        self.assertEqual(msg.id, 4242)
        self.assertEqual(len(msg.answer), 1)
        self.assertRRset(msg.answer[0], ORIGIN, "MX")

        # the size of the same message with every name written out in full
        size = 12 + sum(len(qq.name.to_wire()) + 4 for qq in msg.question)
        for section in (msg.answer, msg.authority, msg.additional):
            for rrset in section:
                for rd in rrset:
                    size += len(rrset.name.to_wire()) + 10 + len(rd.to_wire())
        if msg.opt is not None:
            size += 11 + sum(4 + len(o.to_wire()) for o in msg.options)
        self.assertLess(len(raw), size, "response of %d bytes is not compressed (%d in full)"
                        % (len(raw), size))

    def test_refused_outside_zones(self):
        for qname in ("example.com.", "test.", "www.example.tes.", "xexample.test.", "."):
            with self.subTest(name=qname):
                r = self.ask(qname, "A")
                self.assertEqual(r.rcode(), dns.rcode.REFUSED, r.to_text())
                self.assertEqual(r.answer, [])
                self.assertFalse(r.flags & dns.flags.AA)

    def test_unknown_opcode_notimp(self):
        for op in (2, 3, 6, 15):  # STATUS, unassigned, DSO, unassigned
            with self.subTest(opcode=op):
                q = dns.message.make_query("www.example.test.", "A")
                q.id = 0x4000 + op
                wire = bytearray(q.to_wire())
                wire[2] = (wire[2] & 0x87) | (op << 3)
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(WAIT)
                try:
                    s.sendto(bytes(wire), ("127.0.0.1", self.port))
                    raw, _ = s.recvfrom(65535)
                finally:
                    s.close()
                rid, flags = struct.unpack(">HH", raw[:4])
                self.assertEqual(rid, q.id)
                self.assertTrue(flags & 0x8000)
                self.assertEqual(flags & 0xF, dns.rcode.NOTIMP, "rcode %d" % (flags & 0xF))
                self.assertEqual((flags >> 11) & 0xF, op, "opcode not echoed")
        self.assertEqual(self.ask("www.example.test.").rcode(), dns.rcode.NOERROR)

    def test_notify_refused(self):
        q = dns.message.make_query(ORIGIN, "SOA")
        q.set_opcode(dns.opcode.NOTIFY)
        q.flags |= dns.flags.AA
        r = dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=self.port)
        self.assertEqual(dns.opcode.from_flags(r.flags), dns.opcode.NOTIFY)
        self.assertEqual(r.rcode(), dns.rcode.REFUSED, r.to_text())

    def test_chaos_refused_without_config(self):
        for qname in ("version.bind.", "version.server.", "id.server.", "hostname.bind."):
            with self.subTest(name=qname):
                r = self.ask(qname, "TXT", rdclass="CH")
                self.assertEqual(r.rcode(), dns.rcode.REFUSED, r.to_text())
                self.assertEqual(r.answer, [])

    def test_stats_counts(self):
        before = stats(self.port)
        for key in ("queries", "noerror", "nxdomain", "refused"):
            self.assertIn(key, before)
        self.ask(self.n("not-there"), "A")
        self.ask("elsewhere.example.", "A")
        self.ask(self.n("www"), "A", tcp=True)
        after = stats(self.port)
        self.assertGreaterEqual(after["queries"] - before["queries"], 3)
        self.assertGreaterEqual(after["nxdomain"] - before["nxdomain"], 1)
        self.assertGreaterEqual(after["refused"] - before["refused"], 1)
        self.assertGreaterEqual(after["tcp"] - before["tcp"], 1)


class Chaos(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = Loomd(dns_conf(cls.port, extra='    version = "loom test 9.9"\n'
                                               '    identity = "ns-under-test"\n'
                                               '    stats_allow = {"127.0.0.5", "127.0.9.0/24"}\n'),
                      files={"zones/example.test.zone": zone_text()})
        own(cls, cls.d)
        cls.d.start()

    def chaos(self, qname, source=None):
        return query(self.port, qname, "TXT", "CH", source=source)

    def test_version(self):
        for qname in ("version.bind.", "VERSION.bind.", "version.server."):
            with self.subTest(name=qname):
                r = self.chaos(qname)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
                self.assertEqual(len(r.answer), 1, r.to_text())
                self.assertEqual(r.answer[0].rdclass, dns.rdataclass.CH)
                self.assertEqual(r.answer[0].rdtype, dns.rdatatype.TXT)
                self.assertEqual([rd.strings for rd in r.answer[0]], [(b"loom test 9.9",)])

    def test_identity(self):
        for qname in ("id.server.", "hostname.bind."):
            with self.subTest(name=qname):
                r = self.chaos(qname)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
                self.assertEqual(r.answer[0].rdclass, dns.rdataclass.CH)
                self.assertEqual([rd.strings for rd in r.answer[0]], [(b"ns-under-test",)])

    def test_stats_allow(self):
        r = self.chaos("stats.loom.", source="127.0.0.1")
        self.assertEqual(r.rcode(), dns.rcode.REFUSED, r.to_text())
        for src in ("127.0.0.5", "127.0.9.200"):
            r = self.chaos("stats.loom.", source=src)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
            keys = {s.decode().partition("=")[0] for rrset in r.answer for rd in rrset for s in rd.strings}
            self.assertIn("queries", keys)

    def test_other_chaos_names_refused(self):
        for qname in ("authors.bind.", "www.example.test.", "version.bind.x."):
            r = self.chaos(qname)
            self.assertEqual(r.rcode(), dns.rcode.REFUSED, (qname, r.to_text()))


if __name__ == "__main__":
    loomtest.main()
