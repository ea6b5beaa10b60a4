"""dns module, TSIG (RFC 8945): AXFR signed with keys named in
allow_transfer, checked by dig -y and kdig -y (which fail on a bad server
signature) and by dnspython; signed queries get signed answers; unknown
key -> NOTAUTH + unsigned BADKEY, wrong secret -> BADSIG, clock skew ->
BADTIME signed with the server time in Other Data (the MAC recomputed
here by hand); header fixes (NOTIMP before FORMERR for unknown opcodes,
RD/CD only in QUERY replies); bad key configuration -> FILE:LINE, exit 1."""

import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import time
import unittest
from unittest import mock

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.zone

import loomtest
from dnstest import ORIGIN, zone_text
from loomtest import (DaemonTest, Loomd, free_port, own, line_of, assert_error_line,
                      start_expect_exit, run_loomd, recv_exactly, WAIT)

S256 = base64.b64encode(os.urandom(32)).decode()
S512 = base64.b64encode(os.urandom(64)).decode()
S1 = base64.b64encode(os.urandom(20)).decode()
WRONG = base64.b64encode(os.urandom(32)).decode()


def conf(port, keys=None, allow='"key:xfr.key", "key:big.key"'):
    if keys is None:
        keys = ('    key "xfr.key" {\n        algorithm = "hmac-sha256"\n        secret = "%s"\n    }\n'
                '    key "big.key" {\n        algorithm = "HMAC-SHA512"\n        secret = "%s"\n    }\n'
                '    key "old.key" {\n        algorithm = "hmac-sha1"\n        secret = "%s"\n    }\n'
                % (S256, S512, S1))
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '%s'
            '    zone "example.test" {\n'
            '        file = "zones/example.test.zone"\n'
            '        allow_transfer = {%s}\n'
            '    }\n'
            '}\n') % (port, port, keys, allow)


def tsig_of(wire):
    """The TSIG record of message WIRE, read by hand (dnspython refuses to
    parse an answer whose TSIG carries an error): (rdata, offset of the
    record, key name), or None."""
    off = 12
    qd, an, ns, ar = struct.unpack(">HHHH", wire[4:12])
    for _ in range(qd):
        _, used = dns.name.from_wire(wire, off)
        off += used + 4
    for _ in range(an + ns + ar):
        start = off
        name, used = dns.name.from_wire(wire, off)
        off += used
        rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", wire[off:off + 10])
        off += 10
        if rtype == dns.rdatatype.TSIG:
            rd = dns.rdata.from_wire(rclass, rtype, wire, off, rdlen)
            return rd, start, name
        off += rdlen
    return None


def send(port, q, tcp=False):
    wire = q.to_wire() if not isinstance(q, bytes) else q
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        try:
            s.sendall(struct.pack(">H", len(wire)) + wire)
            n = struct.unpack(">H", recv_exactly(s, 2))[0]
            return recv_exactly(s, n)
        finally:
            s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(WAIT)
    try:
        s.sendto(wire, ("127.0.0.1", port))
        return s.recv(65535)
    finally:
        s.close()


class Tsig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.zone = dns.zone.from_text(zone_text(), ORIGIN, relativize=False)
        cls.d = Loomd(conf(cls.port), files={"zones/example.test.zone": zone_text()})
        own(cls, cls.d)
        cls.d.start()

    def zone_set(self):
        return {(n.canonicalize(), ttl, rd) for n, ttl, rd in self.zone.iterate_rdatas()}

    def run_tool(self, args):
        r = subprocess.run(args, capture_output=True, text=True, timeout=WAIT * 3)
        return r.returncode, r.stdout + r.stderr

    def dig_records(self, out):
        recs = set()
        for line in out.splitlines():
            if not line.strip() or line.startswith(";"):
                continue
            name, ttl, rdclass, rdtype, rest = line.split(None, 4)
            if rdtype == "TSIG":
                continue
            recs.add((dns.name.from_text(name).canonicalize(), int(ttl),
                      dns.rdata.from_text(rdclass, rdtype, rest)))
        return recs

    def test_dig_axfr_sha256(self):
        rc, out = self.run_tool(["dig", "@127.0.0.1", "-p", str(self.port), "-y",
                                 "hmac-sha256:xfr.key:" + S256, "+nocmd", "AXFR", "example.test"])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("Transfer failed", out)
        self.assertNotIn("TSIG", [l for l in out.splitlines() if "error" in l.lower()], out)
        self.assertNotIn("tsig verify failure", out.lower())
        self.assertIn("hmac-sha256.", out)  # the answer is signed
        self.assertEqual(self.dig_records(out), {(n, t, r) for n, t, r in self.zone_set()})

    def test_kdig_axfr_sha512(self):
        rc, out = self.run_tool(["kdig", "@127.0.0.1", "-p", str(self.port), "-y",
                                 "hmac-sha512:big.key:" + S512, "AXFR", "example.test"])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("failed", out.lower())
        self.assertIn("hmac-sha512.", out)
        recs = self.dig_records("\n".join(l for l in out.splitlines() if not l.startswith(";")))
        self.assertEqual(recs, self.zone_set())

    def test_dig_axfr_wrong_secret_fails(self):
        """dig with the wrong secret: the server answers BADSIG and dig
        reports the transfer failed."""
        rc, out = self.run_tool(["dig", "@127.0.0.1", "-p", str(self.port), "-y",
                                 "hmac-sha256:xfr.key:" + WRONG, "+nocmd", "AXFR", "example.test"])
        self.assertTrue("BADSIG" in out or "failed" in out.lower(), out)
        self.assertFalse(self.dig_records(out), out)

    def test_unsigned_axfr_refused(self):
        q = dns.message.make_query("example.test", "AXFR")
        r = dns.message.from_wire(send(self.port, q, tcp=True))
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)

    def test_key_not_allowed_refused(self):
        """old.key is a good key, but allow_transfer does not name it."""
        ring = dns.tsigkeyring.from_text({"old.key": S1})
        q = dns.message.make_query("example.test", "AXFR")
        q.use_tsig(ring, "old.key", algorithm=dns.tsig.HMAC_SHA1)
        r = dns.message.from_wire(send(self.port, q, tcp=True), keyring=ring,
                                  request_mac=q.mac)
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        self.assertEqual(r.tsig_error, 0)

    def test_dnspython_axfr_every_message_signed(self):
        """dnspython's inbound_xfr validates each message's MAC in the chain."""
        ring = dns.tsigkeyring.from_text({"xfr.key": S256})
        z = dns.zone.Zone(ORIGIN, relativize=False)
        dns.query.inbound_xfr("127.0.0.1", z, port=self.port, timeout=WAIT,
                              query=self._xfr_query(ring))
        self.assertEqual({(n.canonicalize(), t, r) for n, t, r in z.iterate_rdatas()},
                         self.zone_set())

    def _xfr_query(self, ring):
        q = dns.message.make_query("example.test", "AXFR")
        q.use_tsig(ring, "xfr.key", algorithm=dns.tsig.HMAC_SHA256)
        return q

    def test_signed_query_signed_answer(self):
        for name, secret, alg in (("xfr.key", S256, dns.tsig.HMAC_SHA256),
                                  ("big.key", S512, dns.tsig.HMAC_SHA512),
                                  ("old.key", S1, dns.tsig.HMAC_SHA1)):
            for tcp in (False, True):
                with self.subTest(key=name, tcp=tcp):
                    ring = dns.tsigkeyring.from_text({name: secret})
                    q = dns.message.make_query("www.example.test", "A", use_edns=0)
                    q.use_tsig(ring, name, algorithm=alg)
                    # from_wire validates the MAC over the request's MAC
                    r = dns.message.from_wire(send(self.port, q, tcp), keyring=ring,
                                              request_mac=q.mac)
                    self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                    self.assertTrue(r.had_tsig)
                    self.assertTrue(r.answer)

    def test_unsigned_query_unsigned_answer(self):
        r = dns.message.from_wire(send(self.port, dns.message.make_query("www.example.test", "A")))
        self.assertFalse(r.had_tsig)

    def test_badkey(self):
        ring = dns.tsigkeyring.from_text({"nosuch.key": S256})
        q = dns.message.make_query("www.example.test", "A")
        q.use_tsig(ring, "nosuch.key")
        wire = send(self.port, q)
        self.assertEqual(wire[3] & 0xf, dns.rcode.NOTAUTH)
        rd, _, name = tsig_of(wire)
        self.assertEqual(name, dns.name.from_text("nosuch.key"))
        self.assertEqual(rd.error, dns.rcode.BADKEY)
        self.assertEqual(rd.mac, b"")
        self.assertEqual(struct.unpack(">HHHH", wire[4:12])[1], 0)  # no answer
        with self.assertRaises(dns.tsig.PeerBadKey):
            dns.message.from_wire(wire, keyring=ring, request_mac=q.mac)

    def test_badsig(self):
        ring = dns.tsigkeyring.from_text({"xfr.key": WRONG})
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                q = dns.message.make_query("www.example.test", "A")
                q.use_tsig(ring, "xfr.key")
                wire = send(self.port, q, tcp)
                self.assertEqual(wire[3] & 0xf, dns.rcode.NOTAUTH)
                rd, _, _ = tsig_of(wire)
                self.assertEqual(rd.error, dns.rcode.BADSIG)
                self.assertEqual(rd.mac, b"")
                with self.assertRaises(dns.tsig.PeerBadSignature):
                    dns.message.from_wire(wire, keyring=ring, request_mac=q.mac)

    def test_badsig_truncated_mac_formerr(self):
        """A MAC shorter than RFC 8945 5.2.2.1 allows is FORMERR."""
        ring = dns.tsigkeyring.from_text({"xfr.key": S256})
        q = dns.message.make_query("www.example.test", "A")
        q.use_tsig(ring, "xfr.key")
        wire = bytearray(q.to_wire())
        rd, start, _ = tsig_of(bytes(wire))
        short = dns.rdata.from_text("ANY", "TSIG", "hmac-sha256. %d 300 8 %s %d NOERROR 0" % (
            rd.time_signed, base64.b64encode(rd.mac[:8]).decode(), rd.original_id))
        body = short.to_wire()
        rr = dns.name.from_text("xfr.key").to_wire() + struct.pack(">HHIH", 250, 255, 0, len(body)) + body
        r = send(self.port, bytes(wire[:start]) + rr)
        self.assertEqual(r[3] & 0xf, dns.rcode.FORMERR)

    def test_badtime(self):
        secret = base64.b64decode(S256)
        ring = dns.tsigkeyring.from_text({"xfr.key": S256})
        q = dns.message.make_query("www.example.test", "A")
        q.use_tsig(ring, "xfr.key", fudge=300)
        skewed = int(time.time()) - 3600
        with mock.patch("time.time", return_value=skewed):
            wire_q = q.to_wire()
        before = int(time.time())
        wire = send(self.port, wire_q)
        after = int(time.time())
        self.assertEqual(wire[3] & 0xf, dns.rcode.NOTAUTH)
        rd, start, name = tsig_of(wire)
        self.assertEqual(rd.error, dns.rcode.BADTIME)
        self.assertEqual(rd.time_signed, skewed)  # the request's time
        self.assertEqual(len(rd.other), 6)
        server_time = int.from_bytes(rd.other, "big")
        # time(2) reads the kernel's coarse clock, which may trail
        # gettimeofday(2) by a tick: across a second boundary the server's
        # second can be one less than the one Python read before sending
        self.assertTrue(before - 1 <= server_time <= after, (before, server_time, after))
        # signed: recompute the MAC (request MAC, message, variables)
        qrd, _, _ = tsig_of(wire_q)
        msg = bytearray(wire[:start])
        struct.pack_into(">H", msg, 0, rd.original_id)
        struct.pack_into(">H", msg, 10, struct.unpack(">H", msg[10:12])[0] - 1)
        data = struct.pack(">H", len(qrd.mac)) + qrd.mac + bytes(msg)
        data += name.canonicalize().to_wire() + struct.pack(">HI", 255, 0)
        data += dns.name.from_text("hmac-sha256.").to_wire()
        data += struct.pack(">HIH", rd.time_signed >> 32, rd.time_signed & 0xffffffff, rd.fudge)
        data += struct.pack(">HH", rd.error, len(rd.other)) + rd.other
        self.assertEqual(rd.mac, hmac.new(secret, data, hashlib.sha256).digest())
        with self.assertRaises(dns.tsig.PeerBadTime):
            dns.message.from_wire(wire, keyring=ring, request_mac=q.mac)

    def test_tsig_not_last_formerr(self):
        ring = dns.tsigkeyring.from_text({"xfr.key": S256})
        q = dns.message.make_query("www.example.test", "A")
        q.use_tsig(ring, "xfr.key")
        wire = bytearray(q.to_wire())
        _, start, _ = tsig_of(bytes(wire))
        # an extra record after the TSIG
        extra = b"\x00" + struct.pack(">HHIH", 1, 1, 0, 4) + b"\x7f\x00\x00\x01"
        struct.pack_into(">H", wire, 10, 2)
        r = send(self.port, bytes(wire) + extra)
        self.assertEqual(r[3] & 0xf, dns.rcode.FORMERR)
        self.assertIsNone(tsig_of(r))

    def test_nsupdate_static_zone_refused(self):
        """UPDATE of a static zone: nsupdate with the key gets REFUSED, in
        an answer whose signature it accepts; with a wrong secret,
        BADSIG."""
        script = ("server 127.0.0.1 %d\nzone example.test\n"
                  "update add new.example.test 60 A 192.0.2.9\nsend\n" % self.port)
        r = subprocess.run(["nsupdate", "-y", "hmac-sha256:xfr.key:" + S256],
                           input=script, capture_output=True, text=True, timeout=WAIT * 3)
        out = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn("REFUSED", out)
        self.assertNotIn("TSIG", out.upper(), out)
        r = subprocess.run(["nsupdate", "-y", "hmac-sha256:xfr.key:" + WRONG],
                           input=script, capture_output=True, text=True, timeout=WAIT * 3)
        out = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn("BADSIG", out)
        self.assertNotIn("REFUSED", out)

    def test_header_only_unknown_opcode_notimp(self):
        for opcode in (2, 3, 6, 15):
            with self.subTest(opcode=opcode):
                wire = struct.pack(">HHHHHH", 0x1234, opcode << 11 | 0x0110, 0, 0, 0, 0)
                r = send(self.port, wire)
                self.assertEqual(r[3] & 0xf, dns.rcode.NOTIMP)
                flags = struct.unpack(">H", r[2:4])[0]
                self.assertEqual(flags >> 11 & 0xf, opcode)
                self.assertEqual(flags & 0x0110, 0, "RD/CD copied into a non-QUERY reply")

    def test_rd_cd_copied_for_query(self):
        q = dns.message.make_query("www.example.test", "A")
        q.flags |= dns.flags.RD | dns.flags.CD
        r = dns.message.from_wire(send(self.port, q))
        self.assertTrue(r.flags & dns.flags.RD)
        self.assertTrue(r.flags & dns.flags.CD)

    def test_notify_refusal_log_bounded(self):
        for _ in range(20):
            q = dns.message.make_query("example.test", "SOA")
            q.set_opcode(dns.opcode.NOTIFY)
            r = dns.message.from_wire(send(self.port, q))
            self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        n = sum(1 for l in self.d.log().splitlines() if "NOTIFY for example.test. refused" in l)
        self.assertGreaterEqual(n, 1)
        self.assertLessEqual(n, 2)


class KeyConfigErrors(DaemonTest):
    def expect(self, conf_text, needle):
        self.d = Loomd(conf_text, files={"zones/example.test.zone": zone_text()})
        want = line_of(self.d.conf_path, needle)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, want)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1, r.stderr)
        assert_error_line(self, r.stderr, self.d.conf_path, want)

    def key(self, name="k.key", alg='algorithm = "hmac-sha256"', secret=None):
        sec = 'secret = "%s"' % (S256 if secret is None else secret)
        return '    key "%s" {\n        %s\n        %s\n    }\n' % (name, alg, sec)

    def test_bad_algorithm(self):
        self.expect(conf(free_port(), keys=self.key(alg='algorithm = "hmac-md5"'), allow=""),
                    'key "k.key"')

    def test_bad_secret(self):
        for s in ("not base64!", "abc", "", "QUJD=A=="):
            with self.subTest(secret=s):
                self.expect(conf(free_port(), keys=self.key(secret=s), allow=""), 'key "k.key"')
                self.drop_daemon()

    def test_missing_secret(self):
        self.expect(conf(free_port(), keys='    key "k.key" {\n        algorithm = "hmac-sha1"\n    }\n',
                         allow=""), 'key "k.key"')

    def test_bad_key_name(self):
        self.expect(conf(free_port(), keys=self.key(name="k..key"), allow=""), 'key "k..key"')

    def test_duplicate_key(self):
        self.expect(conf(free_port(), keys=self.key() + self.key(name="K.KEY."), allow=""),
                    'key "K.KEY."')

    def test_unknown_key_in_allow_transfer(self):
        self.expect(conf(free_port(), keys=self.key(), allow='"key:other.key"'), "allow_transfer")

    def test_bad_key_name_in_allow_transfer(self):
        self.expect(conf(free_port(), keys=self.key(), allow='"key:a..b"'), "allow_transfer")

    def test_unknown_key_in_notify(self):
        text = conf(free_port(), keys=self.key(), allow="").replace(
            "        allow_transfer", '        notify = {"127.0.0.1:5300 key:other.key"}\n        allow_transfer')
        self.expect(text, "notify")

    def test_bad_notify_with_key(self):
        text = conf(free_port(), keys=self.key(), allow="").replace(
            "        allow_transfer", '        notify = {"nowhere:5300 key:k.key"}\n        allow_transfer')
        self.expect(text, "notify")

    def test_unknown_key_option(self):
        self.expect(conf(free_port(), keys='    key "k.key" {\n        colour = "blue"\n    }\n',
                         allow=""), "colour")


if __name__ == "__main__":
    loomtest.main()
