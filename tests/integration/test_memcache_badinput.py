"""memcache module: malformed and hostile input.  After each case the same
connection (when it stays open) still does a set/get, a second connection
is served, and a key stored before the test is still there.

MC_ADDR=host:port runs the same tests against another server (mctest.py);
loom's documented deviations are then skipped: memcached closes a too-long
line without a word, answers a storage command with a bad key and then
parses its data block as a command, accepts control characters in keys and
speaks the binary protocol."""

import socket
import struct
import time

import loomtest
import mctest
from loomtest import WAIT
from mctest import MCTestCase, loom_only

MB = 1024 * 1024
BAD_FORMAT = b"CLIENT_ERROR bad command line format\r\n"


class BadInput(MCTestCase):
    SERVER_ARGS = {"memory": "64M", "max_item_size": "1M"}

    def setUp(self):
        super().setUp()
        # stored on another connection before anything goes wrong
        self.sentinel = self.k("sentinel")
        with self.srv.connect() as c:
            self.assertEqual(c.call(b"set %s 9 0 4\r\nkeep\r\n" % self.sentinel, b"STORED\r\n"),
                             b"STORED\r\n")

    def tearDown(self):
        try:
            self.server_ok()
        finally:
            super().tearDown()

    def server_ok(self):
        """A fresh connection works and the sentinel key is intact."""
        with self.srv.connect() as c:
            want = b"VALUE %s 9 4\r\nkeep\r\nEND\r\n" % self.sentinel
            self.assertEqual(c.call(b"get %s\r\n" % self.sentinel, want), want)
            self.assertAlive(c, "second")

    # ---- lines --------------------------------------------------------------

    def test_line_too_long(self):
        self.c.send(b"x" * 3000)
        out = self.c.read_until_close()
        if mctest.EXTERNAL:
            self.assertEqual(out, b"")     # memcached just closes
        else:
            self.assertEqual(out, b"CLIENT_ERROR line too long\r\n")

    def test_line_too_long_after_valid_commands(self):
        self.c.send(b"set %s 0 0 1\r\nv\r\n" % self.k("v") + b"z" * 3000)
        out = self.c.read_until_close()
        # (memcached closes without flushing the STORED)
        if not mctest.EXTERNAL:
            self.assertEqual(out, b"STORED\r\nCLIENT_ERROR line too long\r\n")
        self.expect(b"get {k}v\r\n", b"VALUE {k}v 0 1\r\nv\r\nEND\r\n", conn=self.conn())

    def test_unknown_command(self):
        self.expect(b"frobnicate\r\n", b"ERROR\r\n")
        self.expect(b"set\r\n", b"ERROR\r\n")
        self.expect(b"get\r\n", b"ERROR\r\n")
        self.expect(b"\x00\x01\x02\r\n", b"ERROR\r\n")
        self.expect(b"set {k}a 0 0\r\n", b"ERROR\r\n")
        self.assertAlive()

    def test_bad_length(self):
        self.expect(b"set {k}a 0 0 abc\r\n", BAD_FORMAT)
        self.assertAlive()
        self.expect(b"set {k}a 0 0 1x\r\n", BAD_FORMAT)
        self.assertAlive()

    def test_bad_flags_or_exptime(self):
        # The length parsed but the flags, exptime or cas did not.  memcached
        # reads no data block and answers the value line as a command too
        # (ERROR); loom skips the data block, so each command gets exactly
        # one reply (documented in loom.conf(5)).
        extra = b"ERROR\r\n" if mctest.EXTERNAL else b""
        self.expect(b"set {k}a abc 0 1\r\nx\r\n", BAD_FORMAT + extra)
        self.expect(b"set {k}a 0 abc 1\r\nx\r\n", BAD_FORMAT + extra)
        self.expect(b"set {k}a -1 0 1\r\nx\r\n", BAD_FORMAT + extra)
        self.expect(b"cas {k}a 0 0 1 abc\r\nx\r\n", BAD_FORMAT + extra)
        self.expect(b"get {k}a\r\n", b"END\r\n")
        self.assertAlive()

    def test_negative_and_huge_length(self):
        self.expect(b"set {k}a 0 0 -1\r\n", BAD_FORMAT)
        self.expect(b"set {k}a 0 0 2147483648\r\n", BAD_FORMAT)
        self.expect(b"set {k}a 0 0 99999999999999999999\r\n", BAD_FORMAT)
        self.expect(b"get {k}a\r\n", b"END\r\n")
        self.assertAlive()

    def test_trailing_token_ignored(self):
        # memcached only looks at the last token for noreply
        self.expect(b"set {k}a 0 0 1 garbage\r\nx\r\n", b"STORED\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 0 1\r\nx\r\nEND\r\n")

    def test_bad_data_chunk(self):
        # one byte announced, three sent: the chunk lacks its CRLF; the
        # bytes after the announced length are read as a command
        self.expect(b"set {k}a 0 0 1\r\nxyz\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
        self.expect(b"get {k}a\r\n", b"END\r\n")
        self.assertAlive()
        self.expect(b"set {k}b 0 0 3\r\nabc\n\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
        self.expect(b"get {k}b\r\n", b"END\r\n")
        self.assertAlive()

    def test_value_too_large(self):
        val = b"z" * (MB + 1)
        self.expect(b"set {k}big 0 0 %d\r\n%s\r\n" % (len(val), val),
                    b"SERVER_ERROR object too large for cache\r\n")
        self.expect(b"get {k}big\r\n", b"END\r\n")
        self.assertAlive()
        # also in pieces, with commands right after the payload
        self.c.send(b"set %s 0 0 %d\r\n" % (self.k("big"), 3 * MB))
        for _ in range(3):
            self.c.send(b"q" * MB)
        self.c.send(b"\r\nget %s\r\n" % self.sentinel)
        want = (b"SERVER_ERROR object too large for cache\r\n"
                b"VALUE %s 9 4\r\nkeep\r\nEND\r\n" % self.sentinel)
        self.assertEqual(self.c.read_exact(len(want)), want)
        self.assertAlive()

    def test_value_too_large_noreply(self):
        val = b"n" * (2 * MB)
        self.c.send(b"set %s 0 0 %d noreply\r\n%s\r\n" % (self.k("big"), len(val), val))
        self.c.send(b"get %s\r\n" % self.k("big"))
        out = self.c.read_until(b"END\r\n")
        self.assertTrue(out.endswith(b"END\r\n"))
        self.assertNotIn(b"VALUE", out)
        self.assertAlive()

    # ---- keys ---------------------------------------------------------------

    def test_key_too_long_get(self):
        key = self.k().ljust(251, b"k")
        self.expect(b"get %s\r\n" % key, BAD_FORMAT)
        self.assertAlive()
        self.expect(b"mg %s v\r\n" % key, BAD_FORMAT)
        self.assertAlive()

    @loom_only("memcached answers ERROR to the data line as well")
    def test_key_too_long_set(self):
        key = self.k().ljust(251, b"k")
        self.c.send(b"set %s 0 0 5\r\nvalue\r\n" % key)
        self.assertTrue(self.c.readline().startswith(b"CLIENT_ERROR"))
        self.assertAlive()
        self.c.send(b"get %s\r\n" % key[:250])
        self.assertEqual(self.c.readline(), b"END\r\n")

    @loom_only("memcached accepts control characters in keys")
    def test_control_char_in_key(self):
        for cmd in (b"set %s 0 0 1\r\nx\r\n", b"get %s\r\n", b"delete %s\r\n", b"mg %s v\r\n"):
            self.c.send(cmd % self.k("a\x01b"))
            self.assertTrue(self.c.readline().startswith(b"CLIENT_ERROR"), cmd)
            self.assertAlive()
        self.c.sync(self)

    # ---- protocols and connections -----------------------------------------

    @loom_only("memcached speaks the binary protocol")
    def test_binary_protocol(self):
        key = b"foo"
        # magic 0x80, opcode 0x00 (GET), key length, extras, type, vbucket,
        # body length, opaque, cas
        self.c.send(struct.pack(">BBHBBHIIQ", 0x80, 0x00, len(key), 0, 0, 0,
                                len(key), 0xdeadbeef, 0) + key)
        out = self.c.read_until_close()
        self.assertGreaterEqual(len(out), 24, out)
        magic, opcode, keylen, extlen, dtype, status, bodylen, opaque, cas = \
            struct.unpack(">BBHBBHIIQ", out[:24])
        self.assertEqual(magic, 0x81)
        self.assertEqual(opcode, 0x00)
        self.assertEqual(status, 0x0083)
        self.assertEqual((keylen, extlen), (0, 0))
        self.assertEqual(opaque, 0xdeadbeef)
        body = out[24:]
        self.assertEqual(bodylen, len(body))
        self.assertTrue(body and all(32 <= ch < 127 for ch in body), body)

    def test_binary_protocol_other_opcode(self):
        if mctest.EXTERNAL:
            self.skipTest("MC_ADDR set: memcached speaks the binary protocol")
        # opcode 0x0a (NOOP): same answer, with the request's opcode
        self.c.send(struct.pack(">BBHBBHIIQ", 0x80, 0x0a, 0, 0, 0, 0, 0, 7, 0))
        out = self.c.read_until_close()
        self.assertEqual(out[:2], b"\x81\x0a")
        self.assertEqual(out[6:8], b"\x00\x83")

    def test_client_vanishes_mid_value(self):
        for tail in (b"", b"abc", b"x" * 5000):
            s = socket.create_connection((self.srv.host, self.srv.port), timeout=WAIT)
            s.sendall(b"set %s 0 0 10000\r\n" % self.k("gone") + tail)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.expect(b"get {k}gone\r\n", b"END\r\n")
        self.assertAlive()

    def test_half_close_gets_answers(self):
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=WAIT)
        with s:
            s.sendall(b"set %s 0 0 2\r\nhi\r\nget %s\r\n" % (self.k("h"), self.k("h")))
            s.shutdown(socket.SHUT_WR)
            out = loomtest.recv_until_close(s)
        self.assertEqual(out, b"STORED\r\nVALUE %s 0 2\r\nhi\r\nEND\r\n" % self.k("h"))

    def test_many_connections(self):
        conns = [self.conn() for _ in range(200)]
        for i, c in enumerate(conns):
            c.send(b"set %s 0 0 %d\r\n%d\r\n" % (self.k("c%d" % i), len(str(i)), i))
        for c in conns:
            self.assertEqual(c.readline(), b"STORED\r\n")
        for c in conns:
            c.close()
        self.assertAlive()

    # ---- a client that does not read ---------------------------------------

    def test_pipelined_gets_without_reading(self):
        """Thousands of gets for a 500 KB value, nothing read: the daemon's
        memory stays bounded, other clients are served, and once the client
        reads, every reply arrives and the connection still works."""
        n = 2000
        val = bytes(i % 256 for i in range(500 * 1000))
        key = self.k("flood")
        self.expect(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val), b"STORED\r\n")
        flood = self.conn()
        flood.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        flood.send(b"get %s\r\n" % key * n)
        rss = []
        other = self.conn()
        for i in range(20):
            if self.srv.pid:
                rss.append(self.srv.rss_kb())
            # the daemon keeps serving another client meanwhile
            self.assertAlive(other, "other%d" % i)
            time.sleep(0.1)
        if self.srv.pid and not loomtest.SANITIZED:
            rss.append(self.srv.rss_kb())
            self.assertLess(max(rss), 200 * 1024, "loomd RSS samples (KiB): %r" % rss)
        reply = b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(val), val)
        flood.s.settimeout(WAIT)
        for i in range(n):
            try:
                got = flood.read_exact(len(reply))
            except AssertionError as e:
                self.fail("after %d of %d replies: %s" % (i, n, e))
            if got != reply:
                self.fail("reply %d of %d differs: %r..." % (i, n, got[:80]))
        self.assertAlive(flood, "flood")
        if self.srv.pid and not loomtest.SANITIZED:
            self.assertLess(self.srv.rss_kb(), 200 * 1024)


if __name__ == "__main__":
    loomtest.main()
