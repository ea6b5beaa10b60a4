"""memcache module over UDP: every datagram starts with memcached's 8-byte
frame header (request id, sequence number, total datagrams, reserved).
MC_ADDR=host:port runs the same tests against another server (mctest.py),
whose UDP endpoint is MC_UDP_ADDR (default: the same address), e.g.
`memcached -p 21211 -U 21211 ...`."""

import socket
import struct
import unittest

import loomtest
import mctest
from loomtest import Loomd, free_port
from mctest import MCTestCase, loom_only

HDR = struct.Struct(">HHHH")
# memcached's UDP datagrams carry at most 1400 bytes, header included
MAX_DGRAM = 1400


class UDP(MCTestCase):
    SERVER_ARGS = {"udp": True}

    def setUp(self):
        super().setUp()
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u.settimeout(mctest.TIMEOUT)
        self.u.connect(self.srv.udp)
        self.addCleanup(self.u.close)

    def send(self, rid, body, seq=0, total=1, reserved=0):
        self.u.send(HDR.pack(rid, seq, total, reserved) + body.replace(b"{k}", self.p.encode()))

    def recv(self):
        try:
            d = self.u.recv(65536)
        except socket.timeout:
            self.fail("no UDP reply")
        self.assertGreaterEqual(len(d), 8, d)
        return HDR.unpack(d[:8]), d[8:]

    def request(self, rid, body):
        """One request, one datagram back: returns the body after checking
        the header is (rid, 0, 1, 0)."""
        self.send(rid, body)
        hdr, data = self.recv()
        self.assertEqual(hdr, (rid, 0, 1, 0))
        return data

    def expect_udp(self, rid, body, want):
        self.assertEqual(self.request(rid, body), want.replace(b"{k}", self.p.encode()))

    def test_set_get(self):
        self.expect_udp(7, b"set {k}a 3 0 5\r\nhello\r\n", b"STORED\r\n")
        self.expect_udp(8, b"get {k}a\r\n", b"VALUE {k}a 3 5\r\nhello\r\nEND\r\n")
        self.expect_udp(9, b"get {k}nx\r\n", b"END\r\n")
        self.expect_udp(10, b"delete {k}a\r\n", b"DELETED\r\n")
        self.expect_udp(11, b"get {k}a\r\n", b"END\r\n")

    def test_request_ids(self):
        self.expect_udp(1, b"set {k}r 0 0 1\r\nr\r\n", b"STORED\r\n")
        for rid in (0, 1, 0x1234, 0xfffe, 0xffff):
            self.expect_udp(rid, b"get {k}r\r\n", b"VALUE {k}r 0 1\r\nr\r\nEND\r\n")
        # the reserved field is not checked
        self.send(42, b"get {k}r\r\n", reserved=7)
        self.assertEqual(self.recv(), ((42, 0, 1, 0), b"VALUE %s 0 1\r\nr\r\nEND\r\n" % self.k("r")))

    def test_other_commands(self):
        self.expect_udp(1, b"set {k}n 0 0 2\r\n10\r\n", b"STORED\r\n")
        self.expect_udp(2, b"incr {k}n 5\r\n", b"15\r\n")
        self.expect_udp(3, b"mg {k}n v\r\n", b"VA 2\r\n15\r\n")
        self.expect_udp(4, b"touch {k}n 100\r\n", b"TOUCHED\r\n")
        self.expect_udp(5, b"bogus\r\n", b"ERROR\r\n")
        self.expect_udp(6, b"mn\r\n", b"MN\r\n")
        self.assertTrue(self.request(7, b"version\r\n").startswith(b"VERSION 1.6.18"))

    def test_noreply(self):
        self.send(1, b"set {k}q 0 0 1 noreply\r\nq\r\n")
        # nothing comes back for the noreply set: the next reply is the get's
        self.expect_udp(2, b"get {k}q\r\n", b"VALUE {k}q 0 1\r\nq\r\nEND\r\n")

    def test_shared_with_tcp(self):
        self.expect(b"set {k}t 5 0 3\r\ntcp\r\n", b"STORED\r\n")
        self.expect_udp(3, b"get {k}t\r\n", b"VALUE {k}t 5 3\r\ntcp\r\nEND\r\n")
        self.expect_udp(4, b"set {k}u 6 0 3\r\nudp\r\n", b"STORED\r\n")
        self.expect(b"get {k}u\r\n", b"VALUE {k}u 6 3\r\nudp\r\nEND\r\n")

    def test_large_value_split(self):
        val = bytes(65 + i % 26 for i in range(5000))
        self.expect(b"set {k}big 0 0 5000\r\n%s\r\n" % val, b"STORED\r\n")
        self.send(0x0102, b"get {k}big\r\n")
        want = b"VALUE %s 0 5000\r\n%s\r\nEND\r\n" % (self.k("big"), val)
        n = -(-len(want) // (MAX_DGRAM - 8))
        parts = [self.recv() for _ in range(n)]
        hdrs = sorted(h for h, _ in parts)
        self.assertEqual(hdrs, [(0x0102, seq, n, 0) for seq in range(n)])
        for h, body in parts:
            if h[1] < n - 1:
                self.assertEqual(len(body) + 8, MAX_DGRAM, h)
        got = b"".join(body for _, body in sorted(parts))
        self.assertEqual(got, want)
        # and the next request is answered normally
        self.expect_udp(9, b"mn\r\n", b"MN\r\n")

    def test_large_value_set_over_udp(self):
        val = b"u" * 1200
        self.expect_udp(5, b"set {k}s 0 0 1200\r\n%s\r\n" % val, b"STORED\r\n")
        self.expect(b"get {k}s\r\n", b"VALUE {k}s 0 1200\r\n%s\r\nEND\r\n" % val)

    def test_bad_datagrams_dropped(self):
        self.expect(b"set {k}d 0 0 1\r\nd\r\n", b"STORED\r\n")
        for junk in (b"", b"abc", b"\x00\x01\x00", b"\x00\x05\x00\x00\x00\x01\x00\x00"):
            self.u.send(junk)
        # the first datagram back answers this request: nothing was
        # answered for the junk
        self.expect_udp(77, b"get {k}d\r\n", b"VALUE {k}d 0 1\r\nd\r\nEND\r\n")
        self.expect_udp(78, b"mn\r\n", b"MN\r\n")

    def test_multi_packet_request_dropped(self):
        """memcached 1.6.18 answers nothing to a request that says it
        spans more than one datagram (total != 1)."""
        self.expect(b"set {k}m 0 0 1\r\nm\r\n", b"STORED\r\n")
        self.send(50, b"get {k}m\r\n", total=2)
        self.send(51, b"get {k}m\r\n", total=0)
        self.expect_udp(52, b"get {k}m\r\n", b"VALUE {k}m 0 1\r\nm\r\nEND\r\n")

    def test_many_clients(self):
        self.expect(b"set {k}c 0 0 2\r\nok\r\n", b"STORED\r\n")
        socks = []
        try:
            for i in range(20):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(mctest.TIMEOUT)
                s.connect(self.srv.udp)
                socks.append(s)
                s.send(HDR.pack(i, 0, 1, 0) + b"get %s\r\n" % self.k("c"))
            for i, s in enumerate(socks):
                d = s.recv(65536)
                self.assertEqual(d, HDR.pack(i, 0, 1, 0) + b"VALUE %s 0 2\r\nok\r\nEND\r\n" % self.k("c"))
        finally:
            for s in socks:
                s.close()


@loom_only("loomd's listeners")
class NoUDP(unittest.TestCase):
    def test_no_udp_without_endpoint(self):
        port = free_port()
        d = Loomd('memcache "cache" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % port)
        self.addCleanup(d.cleanup)
        d.start()
        # TCP is served ...
        c = mctest.Conn(socket.create_connection(("127.0.0.1", port), timeout=mctest.TIMEOUT))
        with c:
            self.assertEqual(c.call(b"mn\r\n", b"MN\r\n"), b"MN\r\n")
        # ... but nothing holds the UDP port
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        finally:
            u.close()
        # and a datagram sent there is refused (ICMP port unreachable)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(mctest.TIMEOUT)
        try:
            u.connect(("127.0.0.1", port))
            u.send(HDR.pack(1, 0, 1, 0) + b"mn\r\n")
            with self.assertRaises(ConnectionRefusedError):
                u.recv(65536)
        finally:
            u.close()


if __name__ == "__main__":
    loomtest.main()
