"""dns module, EDNS(0) (RFC 6891) and message size limits: the OPT record
in answers, the client's payload size honoured, 512 bytes without EDNS, TC
and the retry over TCP (dig, kdig), BADVERS, the DO bit and DNSSEC data
served from a pre-signed zone (the signatures are data, never checked)."""

import base64
import random
import re
import socket
import subprocess
import unittest

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone

import loomtest
from dnstest import ORIGIN, zone_text
from loomtest import Loomd, free_port, own, WAIT

SIGNED = dns.name.from_text("signed.test.")


def big_records():
    """Records appended to the example zone: `big` has a TXT answer of about
    900 bytes (more than 512, less than 1232), `huge` about 3000 bytes."""
    rnd = random.Random(7)

    def s(n):
        return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))
    out = ["big 600 IN TXT " + " ".join('"%s"' % s(140) for _ in range(6))]
    for i in range(12):
        out.append("huge 600 IN TXT " + " ".join('"%d-%s"' % (i, s(120)) for _ in range(2)))
    return "\n".join(out) + "\n"


def signed_zone():
    """A small zone with DNSKEY, RRSIG and NSEC records as plain data."""
    rnd = random.Random(13)

    def b64(n):
        return base64.b64encode(bytes(rnd.randrange(256) for _ in range(n))).decode()

    def sig(covered, labels):
        return "RRSIG %s 13 %d 3600 20361231000000 20261101000000 4711 signed.test. %s" % (
            covered, labels, b64(64))
    return "\n".join([
        "$ORIGIN signed.test.",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300",
        "@ IN " + sig("SOA", 2),
        "@ IN NS ns1",
        "@ IN " + sig("NS", 2),
        "@ IN DNSKEY 257 3 13 " + b64(64),
        "@ IN DNSKEY 256 3 13 " + b64(64),
        "@ IN " + sig("DNSKEY", 2),
        "@ IN NSEC ns1.signed.test. NS SOA RRSIG NSEC DNSKEY",
        "@ IN " + sig("NSEC", 2),
        "ns1 IN A 192.0.2.153",
        "ns1 IN " + sig("A", 3),
        "ns1 IN NSEC www.signed.test. A RRSIG NSEC",
        "ns1 IN " + sig("NSEC", 3),
        "www IN A 192.0.2.180",
        "www IN " + sig("A", 3),
        "www IN NSEC signed.test. A RRSIG NSEC",
        "www IN " + sig("NSEC", 3),
    ]) + "\n"


def conf(port, extra=""):
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '%s'
            '    zone "example.test" { file = "zones/example.test.zone" }\n'
            '    zone "signed.test" { file = "zones/signed.test.zone" }\n'
            '}\n') % (port, port, extra)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT * 2)


class EdnsBase(unittest.TestCase):
    EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        text = zone_text() + big_records()
        cls.zone = dns.zone.from_text(text, ORIGIN, relativize=False)
        cls.szone = dns.zone.from_text(signed_zone(), SIGNED, relativize=False)
        cls.d = Loomd(conf(cls.port, cls.EXTRA),
                      files={"zones/example.test.zone": text, "zones/signed.test.zone": signed_zone()})
        own(cls, cls.d)
        cls.d.start()

    def udp(self, q):
        return dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=self.port)

    def tcp(self, q):
        return dns.query.tcp(q, "127.0.0.1", timeout=WAIT, port=self.port)

    def want_txt(self, rel):
        return set(self.zone.get_rdataset(dns.name.from_text(rel, ORIGIN), "TXT"))

    def dig(self, *args):
        r = run(["dig", "@127.0.0.1", "-p", str(self.port)] + list(args))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def kdig(self, *args):
        r = run(["kdig", "@127.0.0.1", "-p", str(self.port)] + list(args))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout


class Edns(EdnsBase):
    def test_opt_in_answer(self):
        for t in ("A", "MX"):
            r = self.udp(dns.message.make_query("www.example.test.", t, use_edns=0, payload=4096))
            self.assertEqual(r.edns, 0, r.to_text())
            self.assertEqual(r.payload, 1232, "default edns_size is 1232")
        # no OPT in the query: none in the answer
        r = self.udp(dns.message.make_query("www.example.test.", "A"))
        self.assertEqual(r.edns, -1, r.to_text())
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)

    def test_opt_in_negative_and_refused_answers(self):
        for qname in ("nope.example.test.", "example.com."):
            r = self.udp(dns.message.make_query(qname, "A", use_edns=0, payload=1232))
            self.assertEqual(r.edns, 0, r.to_text())

    def test_big_answer_fits_edns(self):
        r = self.udp(dns.message.make_query("big.example.test.", "TXT", use_edns=0, payload=1232))
        self.assertFalse(r.flags & dns.flags.TC, r.to_text())
        self.assertEqual(set(r.answer[0]), self.want_txt("big"))

    def test_small_bufsize_truncates_then_tcp(self):
        q = dns.message.make_query("big.example.test.", "TXT", use_edns=0, payload=512)
        wire = q.to_wire()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        try:
            s.sendto(wire, ("127.0.0.1", self.port))
            raw, _ = s.recvfrom(65535)
        finally:
            s.close()
        self.assertLessEqual(len(raw), 512)
        r = dns.message.from_wire(raw, raise_on_truncation=False)
        self.assertTrue(r.flags & dns.flags.TC, r.to_text())
        self.assertEqual(r.edns, 0, "OPT must survive truncation")
        r = self.tcp(dns.message.make_query("big.example.test.", "TXT", use_edns=0, payload=512))
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(set(r.answer[0]), self.want_txt("big"))

    def test_no_edns_512_limit(self):
        q = dns.message.make_query("big.example.test.", "TXT")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        try:
            s.sendto(q.to_wire(), ("127.0.0.1", self.port))
            raw, _ = s.recvfrom(65535)
        finally:
            s.close()
        self.assertLessEqual(len(raw), 512)
        r = dns.message.from_wire(raw, raise_on_truncation=False)
        self.assertTrue(r.flags & dns.flags.TC)
        self.assertEqual(r.edns, -1)
        # a small answer without EDNS is not truncated
        r = self.udp(dns.message.make_query("www.example.test.", "A"))
        self.assertFalse(r.flags & dns.flags.TC)

    def test_server_caps_udp_at_edns_size(self):
        """A client offering 4096 gets at most our 1232 bytes over UDP."""
        q = dns.message.make_query("huge.example.test.", "TXT", use_edns=0, payload=4096)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        try:
            s.sendto(q.to_wire(), ("127.0.0.1", self.port))
            raw, _ = s.recvfrom(65535)
        finally:
            s.close()
        self.assertLessEqual(len(raw), 1232)
        r = dns.message.from_wire(raw, raise_on_truncation=False)
        self.assertTrue(r.flags & dns.flags.TC, r.to_text())
        r = self.tcp(q)
        self.assertEqual(set(r.answer[0]), self.want_txt("huge"))

    def test_dig_bufsize_tc_and_tcp(self):
        out = self.dig("+bufsize=512", "+ignore", "big.example.test", "TXT")
        self.assertRegex(out, r"flags:[^;]* tc[ ;]", out)
        out = self.dig("+tcp", "big.example.test", "TXT")
        self.assertNotRegex(out, r"flags:[^;]* tc[ ;]", out)
        self.assertEqual(len(re.findall(r"^big\.example\.test\.\s+\d+\s+IN\s+TXT\s", out, re.M)),
                         len(self.want_txt("big")), out)
        # dig retries over TCP by itself
        out = self.dig("+bufsize=512", "big.example.test", "TXT")
        self.assertIn("retrying in TCP mode", out)
        self.assertIn("(TCP)", out)
        self.assertRegex(out, r"status: NOERROR")
        self.assertRegex(out, r"ANSWER: %d," % len(self.want_txt("big")))

    def test_kdig_retries_over_tcp(self):
        out = self.kdig("+bufsize=512", "big.example.test", "TXT")
        self.assertRegex(out, r"NOERROR")
        self.assertRegex(out, r"TCP", out)
        n = len(re.findall(r"^big\.example\.test\.\s+\d+\s+IN\s+TXT\s", out, re.M))
        self.assertEqual(n, len(self.want_txt("big")), out)

    def test_badvers(self):
        q = dns.message.make_query("www.example.test.", "A")
        q.use_edns(edns=1, payload=1232)
        self.assertEqual(q.edns, 1)
        r = self.udp(q)
        self.assertEqual(r.rcode(), dns.rcode.BADVERS, "rcode %s" % dns.rcode.to_text(r.rcode()))
        self.assertEqual(r.edns, 0, "BADVERS answer must carry an OPT of version 0")
        self.assertEqual(r.answer, [])
        out = self.dig("+edns=1", "+noednsnegotiation", "www.example.test", "A")
        self.assertIn("status: BADVERS", out)

    def test_do_bit_returns_rrsigs(self):
        www = dns.name.from_text("www", SIGNED)
        q = dns.message.make_query(www, "A", want_dnssec=True, payload=1232)
        r = self.udp(q)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        self.assertTrue(r.ednsflags & dns.flags.DO, "DO bit not copied into the answer")
        got = {rr.rdtype: rr for rr in r.answer}
        self.assertIn(dns.rdatatype.A, got, r.to_text())
        self.assertIn(dns.rdatatype.RRSIG, got, r.to_text())
        want_sigs = set(self.szone.get_rdataset(www, "RRSIG", covers="A"))
        self.assertEqual(set(got[dns.rdatatype.RRSIG]), want_sigs)
        # DNSKEY at the apex with its signature
        r = self.udp(dns.message.make_query(SIGNED, "DNSKEY", want_dnssec=True, payload=1232))
        types = {rr.rdtype for rr in r.answer}
        self.assertEqual(types, {dns.rdatatype.DNSKEY, dns.rdatatype.RRSIG}, r.to_text())
        self.assertEqual(set(r.answer[[rr.rdtype for rr in r.answer].index(dns.rdatatype.DNSKEY)]),
                         set(self.szone.get_rdataset(SIGNED, "DNSKEY")))

    def test_no_do_no_rrsigs(self):
        www = dns.name.from_text("www", SIGNED)
        for q in (dns.message.make_query(www, "A", use_edns=0, payload=1232),
                  dns.message.make_query(www, "A")):
            r = self.udp(q)
            self.assertEqual([rr.rdtype for rr in r.answer], [dns.rdatatype.A], r.to_text())
            for section in (r.authority, r.additional):
                self.assertNotIn(dns.rdatatype.RRSIG, {rr.rdtype for rr in section}, r.to_text())
        r = self.udp(dns.message.make_query(SIGNED, "DNSKEY", use_edns=0, payload=1232))
        self.assertEqual([rr.rdtype for rr in r.answer], [dns.rdatatype.DNSKEY], r.to_text())
        # negative answers without DO carry the SOA only
        r = self.udp(dns.message.make_query(dns.name.from_text("nx", SIGNED), "A", use_edns=0))
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual({rr.rdtype for rr in r.authority}, {dns.rdatatype.SOA}, r.to_text())

    def test_dig_dnssec(self):
        out = self.dig("+dnssec", "www.signed.test", "A")
        self.assertRegex(out, r"(?m)^www\.signed\.test\.\s+\d+\s+IN\s+RRSIG\s+A\s+13\s+3\s", out)
        self.assertRegex(out, r"flags:[^;]*; do;|EDNS: version: 0, flags: do;", out)
        out = self.dig("www.signed.test", "A")
        self.assertNotIn("RRSIG", out)


class EdnsSize(EdnsBase):
    EXTRA = "    edns_size = 1400\n"

    def test_configured_size_advertised(self):
        r = self.udp(dns.message.make_query("www.example.test.", "A", use_edns=0, payload=4096))
        self.assertEqual(r.payload, 1400, r.to_text())
        r = self.udp(dns.message.make_query("www.example.test.", "A", use_edns=0, payload=512))
        self.assertEqual(r.payload, 1400, r.to_text())


if __name__ == "__main__":
    loomtest.main()
