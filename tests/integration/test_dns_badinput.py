"""dns module, malformed input: raw datagrams and TCP streams built by hand.
Messages too broken to answer are dropped; those with a readable header
get FORMERR; after every case the daemon must still answer a normal query.

"No reply" is checked without timing: the junk is followed by a good
query, and the first datagram back must be the good query's answer."""

import random
import socket
import struct
import unittest

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.zone

import loomtest
from dnstest import ORIGIN, zone_text
from loomtest import Loomd, free_port, recv_until_close, own, WAIT


FORMERR = 1


def header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def qname_wire(text):
    return dns.name.from_text(text).to_wire()


QUESTION = qname_wire("www.example.test.") + struct.pack(">HH", 1, 1)
OPT = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0)


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        text = zone_text()
        cls.zone = dns.zone.from_text(text, ORIGIN, relativize=False)
        cls.d = Loomd('dns "auth" {\n'
                      '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
                      '    zone "example.test" { file = "zones/example.test.zone" }\n'
                      '}\n' % (cls.port, cls.port),
                      files={"zones/example.test.zone": text})
        own(cls, cls.d)
        cls.d.start()
        cls.probe_id = 1

    def setUp(self):
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u.settimeout(WAIT)
        self.u.connect(("127.0.0.1", self.port))
        self.addCleanup(self.u.close)

    def tearDown(self):
        self.assertAlive()

    def assertAlive(self):
        q = dns.message.make_query("www.example.test.", "A")
        for tcp in (False, True):
            f = dns.query.tcp if tcp else dns.query.udp
            r = f(q, "127.0.0.1", timeout=WAIT, port=self.port)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(set(r.answer[0]),
                             set(self.zone.get_rdataset(dns.name.from_text("www", ORIGIN), "A")))
        self.assertEqual(self.d.proc.poll(), None, "loomd exited:\n" + self.d.log())

    def probe(self):
        """Send a good query on the test socket; return the datagrams that
        arrive before its answer (answers to earlier junk)."""
        type(self).probe_id += 1
        qid = 0xA000 + type(self).probe_id
        self.u.send(header(qid) + QUESTION)
        before = []
        while True:
            d = self.u.recv(65536)
            if len(d) >= 2 and struct.unpack(">H", d[:2])[0] == qid:
                r = dns.message.from_wire(d)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                return before
            before.append(d)

    def assertDropped(self, data):
        self.u.send(data)
        self.assertEqual(self.probe(), [], "a reply came for %r" % data[:40])

    def assertFormerr(self, data, qid):
        self.u.send(data)
        d = self.u.recv(65536)
        self.assertGreaterEqual(len(d), 12, d)
        rid, flags = struct.unpack(">HH", d[:4])
        self.assertEqual(rid, qid, "FORMERR must carry the query ID")
        self.assertTrue(flags & 0x8000, "QR not set")
        self.assertEqual(flags & 0xF, FORMERR, "rcode %d for %r" % (flags & 0xF, data[:40]))
        self.assertEqual(self.probe(), [], "more than one reply")
        return d

    def test_short_header_dropped(self):
        for n in (0, 1, 2, 5, 11):
            with self.subTest(length=n):
                self.assertDropped(header(0x1111)[:n])

    def test_response_dropped(self):
        self.assertDropped(header(0x2222, flags=0x8100) + QUESTION)
        self.assertDropped(header(0x2223, flags=0x8400, qd=1, an=0) + QUESTION)

    def test_qdcount_zero(self):
        self.assertFormerr(header(0x3333, qd=0), 0x3333)

    def test_qdcount_two(self):
        q2 = qname_wire("mail.example.test.") + struct.pack(">HH", 1, 1)
        self.assertFormerr(header(0x3334, qd=2) + QUESTION + q2, 0x3334)

    def test_bad_label_type(self):
        for first in (0x40, 0x80, 0x7F, 0xBF):
            with self.subTest(byte=hex(first)):
                q = bytes([first]) + b"abc" + b"\x00" + struct.pack(">HH", 1, 1)
                self.assertFormerr(header(0x3400 + first, qd=1) + q, 0x3400 + first)

    def test_compression_pointer_in_question(self):
        for ptr in (b"\xc0\x00", b"\xc0\x0c", b"\x03www\xc0\x0c", b"\x03www\xc0\x10"):
            with self.subTest(ptr=ptr):
                self.assertFormerr(header(0x3500) + ptr + struct.pack(">HH", 1, 1), 0x3500)

    def test_question_past_end(self):
        cases = [
            b"\x0awww",                                     # label longer than the data
            qname_wire("www.example.test."),                # no type and class
            qname_wire("www.example.test.") + b"\x00\x01",  # no class
            b"\x03www\x07example\x04test",                  # no root label
        ]
        for i, q in enumerate(cases):
            with self.subTest(case=i):
                self.assertFormerr(header(0x3600 + i) + q, 0x3600 + i)

    def test_name_too_long(self):
        name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"  # 257 bytes on the wire
        self.assertFormerr(header(0x3700) + name + struct.pack(">HH", 1, 1), 0x3700)

    def test_two_opt_records(self):
        self.assertFormerr(header(0x3800, ar=2) + QUESTION + OPT + OPT, 0x3800)

    def assertFormerrOrDropped(self, data, qid):
        """Broken past the question: FORMERR or no reply, never an answer."""
        self.u.send(data)
        before = self.probe()
        self.assertLessEqual(len(before), 1, before)
        for d in before:
            rid, flags = struct.unpack(">HH", d[:4])
            self.assertEqual((rid, flags & 0xF), (qid, FORMERR), d)

    def test_records_past_end(self):
        # ARCOUNT says 1 but there is nothing after the question
        self.assertFormerrOrDropped(header(0x3900, ar=1) + QUESTION, 0x3900)
        # an OPT whose RDLENGTH runs past the end
        opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 50) + b"\x00\x0a"
        self.assertFormerrOrDropped(header(0x3901, ar=1) + QUESTION + opt, 0x3901)
        # a truncated OPT (no RDLENGTH)
        self.assertFormerrOrDropped(header(0x3902, ar=1) + QUESTION + OPT[:7], 0x3902)

    def test_formerr_then_normal(self):
        self.assertFormerr(header(0x3A00, qd=0), 0x3A00)
        r = dns.query.udp(dns.message.make_query("mail.example.test.", "MX"), "127.0.0.1",
                          timeout=WAIT, port=self.port)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)

    def test_random_datagrams(self):
        rnd = random.Random(20261121)
        replies = []
        for i in range(500):
            if i % 25 == 24:
                replies += self.probe()   # drain, so that no socket buffer overflows
            n = rnd.randrange(0, 200)
            data = bytes(rnd.randrange(256) for _ in range(n))
            if rnd.random() < 0.5 and n >= 12:
                # keep a plausible header so that the parser goes further
                data = header(rnd.randrange(65536), qd=rnd.choice((1, 1, 2)),
                              ar=rnd.choice((0, 1))) + data[12:]
            self.u.send(data)
        # every reply is a response to some query
        replies += self.probe()
        for d in replies:
            self.assertGreaterEqual(len(d), 12)
            self.assertTrue(struct.unpack(">H", d[2:4])[0] & 0x8000, "reply without QR")

    # ---- TCP ----------------------------------------------------------

    def tcp_junk(self, data):
        """Send DATA on a fresh TCP connection, then half-close; returns
        what came back before the connection ended."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        try:
            s.sendall(data)
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return recv_until_close(s)
        finally:
            s.close()

    def assertClosedOrFormerr(self, out, qid=None):
        if out == b"":
            return
        self.assertGreaterEqual(len(out), 14, out)
        n = struct.unpack(">H", out[:2])[0]
        self.assertEqual(len(out), 2 + n, "more than one message back: %r" % out)
        rid, flags = struct.unpack(">HH", out[2:6])
        self.assertEqual(flags & 0xF, FORMERR, "not FORMERR: %r" % out)
        if qid is not None:
            self.assertEqual(rid, qid)

    def test_tcp_one_byte_message(self):
        self.assertClosedOrFormerr(self.tcp_junk(b"\x00\x01\x00"))

    def test_tcp_zero_length(self):
        self.assertClosedOrFormerr(self.tcp_junk(b"\x00\x00" * 4))

    def test_tcp_length_past_data(self):
        # announces 65535 bytes, sends 10, half-closes: nothing to answer
        self.assertEqual(self.tcp_junk(b"\xff\xff" + b"x" * 10), b"")

    def test_tcp_garbage_message(self):
        body = header(0x4242, qd=0)
        self.assertClosedOrFormerr(self.tcp_junk(struct.pack(">H", len(body)) + body), 0x4242)
        body = header(0x4243) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)
        self.assertClosedOrFormerr(self.tcp_junk(struct.pack(">H", len(body)) + body), 0x4243)

    def test_tcp_random_stream(self):
        rnd = random.Random(7)
        self.tcp_junk(bytes(rnd.randrange(256) for _ in range(4096)))

    def test_tcp_good_then_bad(self):
        """A good query before junk on the same connection is answered."""
        q = dns.message.make_query("www.example.test.", "A")
        q.id = 0x5151
        wire = q.to_wire()
        out = self.tcp_junk(struct.pack(">H", len(wire)) + wire + b"\x00\x05\xff\xff\xff\xff\xff")
        self.assertGreaterEqual(len(out), 2)
        n = struct.unpack(">H", out[:2])[0]
        r = dns.message.from_wire(out[2:2 + n])
        self.assertEqual(r.id, 0x5151)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertClosedOrFormerr(out[2 + n:])


if __name__ == "__main__":
    loomtest.main()
