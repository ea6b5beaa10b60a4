"""memcache module: the meta commands (mn mg ms md ma me) over raw sockets,
reply for reply as memcached 1.6.18 gives them.  MC_ADDR=host:port runs the
same tests against another server (see mctest.py); the E flag (explicit new
CAS, accepted by loom as later memcached versions do, rejected by 1.6.18) is
tested against loom only."""

import base64
import re

import loomtest
from mctest import MCTestCase, loom_only


class Meta(MCTestCase):
    def cas_of(self, key):
        """The item's current CAS, read back with mg."""
        self.c.send(b"mg %s c\r\n" % key)
        line = self.c.readline()
        m = re.match(rb"^HD c(\d+)\r\n$", line)
        self.assertIsNotNone(m, line)
        return int(m.group(1))

    # ---- mn, mg -----------------------------------------------------------

    def test_mn(self):
        self.expect(b"mn\r\n", b"MN\r\n")
        self.expect(b"mn\r\nmn\r\n", b"MN\r\nMN\r\n")

    def test_mg_basic(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        self.expect(b"mg {k}a\r\n", b"HD\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 2\r\nhi\r\n")
        self.expect(b"mg {k}a v k\r\n", b"VA 2 k{k}a\r\nhi\r\n")
        self.expect(b"mg {k}nx v\r\n", b"EN\r\n")
        self.expect(b"mg {k}nx\r\n", b"EN\r\n")
        # a text-protocol item is visible to mg and the other way round
        self.expect(b"set {k}t 9 0 3\r\nabc\r\n", b"STORED\r\n")
        self.expect(b"mg {k}t f v\r\n", b"VA 3 f9\r\nabc\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 0 2\r\nhi\r\nEND\r\n")

    def test_mg_return_flags_in_request_order(self):
        self.expect(b"ms {k}a 2 F5 T100\r\nhi\r\n", b"HD\r\n")
        self.expect(b"mg {k}a f t s v\r\n", b"VA 2 f5 t100 s2\r\nhi\r\n")
        self.expect(b"mg {k}a s v f t\r\n", b"VA 2 s2 f5 t100\r\nhi\r\n")
        self.expect(b"mg {k}a Oabc k v\r\n", b"VA 2 Oabc k{k}a\r\nhi\r\n")
        self.expect(b"mg {k}a k Oabc\r\n", b"HD k{k}a Oabc\r\n")
        # O and k are echoed on a miss too
        self.expect(b"mg {k}nx Oabc k\r\n", b"EN Oabc k{k}nx\r\n")
        self.c.sync(self)

    def test_mg_cas(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        cas = self.cas_of(self.k("a"))
        self.c.send(b"mg %s c v\r\n" % self.k("a"))
        self.assertEqual(self.c.readline(), b"VA 2 c%d\r\n" % cas)
        self.assertEqual(self.c.readline(), b"hi\r\n")
        # and gets agrees
        self.expect(b"gets {k}a\r\n", b"VALUE {k}a 0 2 %d\r\nhi\r\nEND\r\n" % cas)

    def test_mg_ttl(self):
        self.expect(b"ms {k}a 3\r\nabc\r\n", b"HD\r\n")
        self.expect(b"mg {k}a t\r\n", b"HD t-1\r\n")
        self.expect_ttl(b"mg {k}a T30 t\r\n", 30)
        self.expect(b"mg {k}a t v\r\n", b"VA 3 t30\r\nabc\r\n")
        self.expect(b"mg {k}a T0 t\r\n", b"HD t-1\r\n")

    def test_mg_hit_and_last_access(self):
        self.expect(b"ms {k}a 3\r\nabc\r\n", b"HD\r\n")
        self.expect(b"mg {k}a h l t\r\n", b"HD h0 l0 t-1\r\n")
        self.expect(b"mg {k}a h\r\n", b"HD h1\r\n")
        self.expect(b"mg {k}a u v\r\n", b"VA 3\r\nabc\r\n")

    def test_mg_quiet(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        # q hides EN only: a hit still answers, with or without a value
        self.expect(b"mg {k}nx q\r\nmg {k}nx v q\r\nmg {k}nx k Oab q\r\nmn\r\n", b"MN\r\n")
        self.expect(b"mg {k}a q\r\nmn\r\n", b"HD\r\nMN\r\n")
        self.expect(b"mg {k}a q v\r\nmn\r\n", b"VA 2\r\nhi\r\nMN\r\n")
        self.expect(b"mg {k}a q k\r\nmn\r\n", b"HD k{k}a\r\nMN\r\n")

    def test_mg_quiet_pipeline(self):
        keys = [self.k("%d" % i) for i in range(10)]
        self.c.send(b"".join(b"ms %s 1\r\n%d\r\n" % (k, i) for i, k in enumerate(keys) if i % 3 == 0))
        self.assertEqual(self.c.read_exact(4 * 4), b"HD\r\n" * 4)
        req = b"".join(b"mg %s k v q\r\n" % k for k in keys) + b"mn\r\n"
        want = b"".join(b"VA 1 k%s\r\n%d\r\n" % (k, i) for i, k in enumerate(keys) if i % 3 == 0) + b"MN\r\n"
        self.expect(req, want)

    # ---- ms ---------------------------------------------------------------

    def test_ms_flags(self):
        self.expect(b"ms {k}a 2 F7 T100\r\nhi\r\n", b"HD\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 7 2\r\nhi\r\nEND\r\n")
        self.expect_ttl(b"mg {k}a t f\r\n", 100, b" f7")
        self.expect(b"ms {k}a 2 k Oxy\r\nho\r\n", b"HD k{k}a Oxy\r\n")
        self.expect(b"ms {k}b 0\r\n\r\n", b"HD\r\n")
        self.expect(b"mg {k}b v s\r\n", b"VA 0 s0\r\n\r\n")
        self.expect(b"ms {k}f 2 F4294967295\r\nhi\r\n", b"HD\r\n")
        self.expect(b"mg {k}f f\r\n", b"HD f4294967295\r\n")

    def test_ms_returns_cas(self):
        self.c.send(b"ms %s 2 c\r\nhi\r\n" % self.k("a"))
        m = re.match(rb"^HD c(\d+)\r\n$", self.c.readline())
        self.assertIsNotNone(m)
        self.assertEqual(self.cas_of(self.k("a")), int(m.group(1)))

    def test_ms_compare_cas(self):
        self.expect(b"ms {k}a 2\r\nab\r\n", b"HD\r\n")
        cas = self.cas_of(self.k("a"))
        self.expect(b"ms {k}a 2 C%d\r\ncd\r\n" % cas, b"HD\r\n")
        self.expect(b"ms {k}a 2 C%d\r\nef\r\n" % cas, b"EX\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 2\r\ncd\r\n")
        self.expect(b"ms {k}nx 2 C%d\r\nef\r\n" % cas, b"NF\r\n")
        self.assertGreater(self.cas_of(self.k("a")), cas)

    def test_ms_modes(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        self.expect(b"ms {k}a 2 MA\r\nzz\r\n", b"HD\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 4\r\nhizz\r\n")
        self.expect(b"ms {k}a 2 MP\r\naa\r\n", b"HD\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 6\r\naahizz\r\n")
        self.expect(b"ms {k}a 2 ME\r\nbb\r\n", b"NS\r\n")
        self.expect(b"ms {k}n 2 ME\r\nbb\r\n", b"HD\r\n")
        self.expect(b"ms {k}a 2 MR\r\ncc\r\n", b"HD\r\n")
        self.expect(b"ms {k}r 2 MR\r\ncc\r\n", b"NS\r\n")
        self.expect(b"ms {k}a 2 MS\r\ndd\r\n", b"HD\r\n")
        self.expect(b"ms {k}x 2 MA\r\nxx\r\n", b"NS\r\n")
        self.expect(b"ms {k}x 2 MP\r\nxx\r\n", b"NS\r\n")
        self.expect(b"mg {k}a v\r\nmg {k}n v\r\nmg {k}r v\r\nmg {k}x v\r\n",
                    b"VA 2\r\ndd\r\nVA 2\r\nbb\r\nEN\r\nEN\r\n")

    def test_ms_append_with_vivify_flag(self):
        # 1.6.18 accepts N on ms but an append/prepend to a missing item
        # still fails
        self.expect(b"ms {k}v 3 N30 MA\r\nabc\r\n", b"NS\r\n")
        self.expect(b"mg {k}v v\r\n", b"EN\r\n")

    def test_ms_bad_mode(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        # the data block is swallowed: one reply per command
        for mode in (b"MX", b"Ma", b"Ms"):
            self.expect(b"ms {k}a 2 %s\r\nee\r\n" % mode, b"CLIENT_ERROR invalid mode for ms M token\r\n")
        self.expect(b"ms {k}a 2 M\r\nee\r\n", b"CLIENT_ERROR incorrect length for M token\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 2\r\nhi\r\n")

    def test_ms_quiet(self):
        self.expect(b"ms {k}a 2 q\r\nhi\r\nmn\r\n", b"MN\r\n")
        self.expect(b"ms {k}a 2 ME q\r\nhi\r\nmn\r\n", b"NS\r\nMN\r\n")
        self.expect(b"ms {k}a 2 MX q\r\nhi\r\nmn\r\n",
                    b"CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n")
        self.expect(b"ms {k}a 2 C1 q\r\nhi\r\nmn\r\n", b"EX\r\nMN\r\n")

    def test_ms_invalidate(self):
        self.expect(b"ms {k}a 3 T100\r\nabc\r\n", b"HD\r\n")
        old = self.cas_of(self.k("a"))
        self.expect(b"md {k}a I T30\r\n", b"HD\r\n")
        # a set with I and an older CAS is stored, but the item stays stale
        self.expect(b"ms {k}a 3 I C%d\r\nnew\r\n" % (old - 1), b"HD\r\n")
        self.c.send(b"mg %s v\r\n" % self.k("a"))
        self.assertEqual(self.c.read_until(b"new\r\n"), b"VA 3 X W\r\nnew\r\n")

    def test_ms_bad_lines(self):
        self.expect(b"ms {k}a\r\n", b"CLIENT_ERROR bad command line format\r\n")
        self.expect(b"ms {k}a -1\r\n", b"CLIENT_ERROR bad command line format\r\n")
        self.expect(b"ms {k}a 2 X\r\nab\r\n", b"CLIENT_ERROR invalid flag\r\n")
        self.expect(b"ms {k}a 2 Fabc\r\nab\r\n", b"CLIENT_ERROR bad command line format\r\n")
        self.expect(b"ms {k}a 2 Tabc\r\nab\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
        self.expect(b"ms {k}a 2 Cabc\r\nab\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
        self.expect(b"mg {k}a v\r\n", b"EN\r\n")
        self.assertAlive()

    # ---- md ---------------------------------------------------------------

    def test_md(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        self.expect(b"md {k}a\r\n", b"HD\r\n")
        self.expect(b"md {k}a\r\n", b"NF\r\n")
        self.expect(b"mg {k}a v\r\n", b"EN\r\n")
        self.expect(b"ms {k}b 2\r\nhi\r\n", b"HD\r\n")
        self.expect(b"md {k}b k Oq1\r\n", b"HD k{k}b Oq1\r\n")
        self.expect(b"md {k}b k O9\r\n", b"NF k{k}b O9\r\n")

    def test_md_quiet(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        self.expect(b"md {k}a q\r\nmn\r\n", b"MN\r\n")
        self.expect(b"md {k}a q\r\nmn\r\n", b"NF\r\nMN\r\n")
        self.expect(b"ms {k}b 2\r\nhi\r\n", b"HD\r\n")
        self.expect(b"md {k}b C1 q\r\nmn\r\n", b"EX\r\nMN\r\n")

    def test_md_compare_cas(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        cas = self.cas_of(self.k("a"))
        self.expect(b"md {k}a C%d\r\n" % (cas + 1000), b"EX\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 2\r\nhi\r\n")
        self.expect(b"md {k}a C%d\r\n" % cas, b"HD\r\n")
        self.expect(b"mg {k}a v\r\n", b"EN\r\n")

    def test_md_bad_flags(self):
        self.expect(b"md\r\n", b"ERROR\r\n")
        self.expect(b"md {k}a !\r\n", b"CLIENT_ERROR invalid or duplicate flag\r\n")
        self.expect(b"md {k}a x\r\n", b"CLIENT_ERROR invalid or duplicate flag\r\n")
        self.assertAlive()

    # ---- stale / win flags -------------------------------------------------

    def test_vivify_on_miss(self):
        self.expect(b"mg {k}v N30 s v t\r\n", b"VA 0 s0 t30 W\r\n\r\n")
        # the next client sees the placeholder and that a winner exists
        self.expect(b"mg {k}v N30 s v t\r\n", b"VA 0 s0 t30 Z\r\n\r\n")
        self.expect(b"mg {k}v v\r\n", b"VA 0 Z\r\n\r\n")
        # the winner fills it in; then it is an ordinary item
        self.expect(b"ms {k}v 3\r\nnew\r\n", b"HD\r\n")
        self.expect(b"mg {k}v v t\r\n", b"VA 3 t-1\r\nnew\r\n")
        self.expect(b"mg {k}v v N30\r\n", b"VA 3\r\nnew\r\n")

    def test_vivify_quiet(self):
        self.expect(b"mg {k}v N30 q\r\nmn\r\n", b"HD W\r\nMN\r\n")
        self.expect(b"mg {k}v q v\r\nmn\r\n", b"VA 0 Z\r\n\r\nMN\r\n")

    def test_recache(self):
        self.expect(b"ms {k}r 3 T100\r\nabc\r\n", b"HD\r\n")
        # remaining TTL 100 is not below 200: this client wins the recache
        self.expect(b"mg {k}r R200 v t\r\n", b"VA 3 t100 W\r\nabc\r\n")
        self.expect(b"mg {k}r R200 v t\r\n", b"VA 3 t100 Z\r\nabc\r\n")
        self.expect(b"mg {k}r v\r\n", b"VA 3 Z\r\nabc\r\n")
        self.expect(b"ms {k}r 3 T100\r\nxyz\r\n", b"HD\r\n")
        self.expect(b"mg {k}r R30 v\r\n", b"VA 3\r\nxyz\r\n")

    def test_invalidate(self):
        self.expect(b"ms {k}i 3 T100\r\nabc\r\n", b"HD\r\n")
        cas = self.cas_of(self.k("i"))
        self.expect(b"md {k}i I T30\r\n", b"HD\r\n")
        self.c.send(b"mg %s v t c\r\n" % self.k("i"))
        line = self.c.readline()
        m = re.match(rb"^VA 3 t30 c(\d+) X W\r\n$", line)
        self.assertIsNotNone(m, line)
        self.assertGreater(int(m.group(1)), cas)     # invalidating is a change
        self.assertEqual(self.c.readline(), b"abc\r\n")
        self.expect(b"mg {k}i v t\r\n", b"VA 3 t30 Z X\r\nabc\r\n")
        self.expect(b"mg {k}i v\r\n", b"VA 3 Z X\r\nabc\r\n")
        # an invalidated item can still be deleted outright
        self.expect(b"md {k}i q\r\nmn\r\n", b"MN\r\n")
        self.expect(b"mg {k}i v\r\n", b"EN\r\n")
        self.expect(b"md {k}nx I\r\n", b"NF\r\n")

    # ---- ma ---------------------------------------------------------------

    def test_ma(self):
        self.expect(b"ma {k}a\r\n", b"NF\r\n")
        self.expect(b"ma {k}a N0 J13\r\n", b"HD\r\n")
        self.expect(b"ma {k}a v\r\n", b"VA 2\r\n14\r\n")
        self.expect(b"ma {k}a D5 v\r\n", b"VA 2\r\n19\r\n")
        self.expect(b"ma {k}a MD D100 v\r\n", b"VA 1\r\n0\r\n")
        self.expect(b"ma {k}a M- v\r\n", b"VA 1\r\n0\r\n")
        self.expect(b"ma {k}a MI D7 v\r\n", b"VA 1\r\n7\r\n")
        self.expect(b"ma {k}a M+ v\r\n", b"VA 1\r\n8\r\n")
        self.expect(b"ma {k}a Md v\r\n", b"CLIENT_ERROR invalid mode for ma M token\r\n")
        self.expect(b"ma {k}a MX\r\n", b"CLIENT_ERROR invalid mode for ma M token\r\n")
        # a shorter result is padded with spaces to the old length, as incr does
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 0 2\r\n8 \r\nEND\r\n")

    def test_ma_return_flags(self):
        self.expect(b"ms {k}a 2 T100\r\n10\r\n", b"HD\r\n")
        self.c.send(b"ma %s v t c k Oab\r\n" % self.k("a"))
        m = re.match(rb"^VA 2 t100 c(\d+) k%s Oab\r\n$" % re.escape(self.k("a")), self.c.readline())
        self.assertIsNotNone(m)
        self.assertEqual(self.c.readline(), b"11\r\n")
        self.assertEqual(self.cas_of(self.k("a")), int(m.group(1)))
        self.expect_ttl(b"ma {k}a T50 t\r\n", 50)
        self.expect(b"mg {k}a t v\r\n", b"VA 2 t50\r\n12\r\n")

    def test_ma_vivify(self):
        self.expect(b"ma {k}n N50 J7 v t\r\n", b"VA 1 t50\r\n7\r\n")
        self.expect(b"mg {k}n v t\r\n", b"VA 1 t50\r\n7\r\n")
        self.expect(b"ma {k}z N0 MD v\r\n", b"VA 1\r\n0\r\n")

    def test_ma_wrap_floor_pad(self):
        self.expect(b"ms {k}w 20\r\n18446744073709551615\r\n", b"HD\r\n")
        self.expect(b"ma {k}w v\r\n", b"VA 1\r\n0\r\n")
        self.expect(b"ma {k}w MD D5 v\r\n", b"VA 1\r\n0\r\n")
        self.expect(b"ms {k}p 3\r\n100\r\n", b"HD\r\n")
        self.expect(b"ma {k}p MD D95 v\r\n", b"VA 1\r\n5\r\n")
        self.expect(b"mg {k}p v\r\n", b"VA 3\r\n5  \r\n")

    def test_ma_quiet(self):
        self.expect(b"ms {k}a 1\r\n5\r\n", b"HD\r\n")
        # 1.6.18: q hides a successful ma's reply, value and all
        self.expect(b"ma {k}a q\r\nma {k}a q v\r\nmn\r\n", b"MN\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 1\r\n7\r\n")
        self.expect(b"ma {k}nx q\r\nmn\r\n", b"NF\r\nMN\r\n")
        self.expect(b"ma {k}a C1 q\r\nmn\r\n", b"EX\r\nMN\r\n")

    def test_ma_errors(self):
        self.expect(b"ms {k}s 3\r\nabc\r\n", b"HD\r\n")
        self.expect(b"ma {k}s\r\n", b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        err = b"CLIENT_ERROR invalid or duplicate flag\r\n"
        for flags in (b"!", b"v v", b"N", b"Nabc", b"D-1", b"Dabc", b"D18446744073709551616"):
            self.expect(b"ma {k}s " + flags + b"\r\n", err)
        self.expect(b"ma\r\n", b"ERROR\r\n")
        self.assertAlive()

    # ---- me ---------------------------------------------------------------

    def test_me(self):
        self.expect(b"ms {k}e 2\r\nab\r\n", b"HD\r\n")
        self.c.send(b"me %s\r\n" % self.k("e"))
        line = self.c.readline()
        self.assertRegex(line, rb"^ME %s exp=-1 la=\d+ cas=\d+ fetch=no cls=\d+ size=\d+\r\n$"
                         % re.escape(self.k("e")))
        self.expect(b"mg {k}e v\r\n", b"VA 2\r\nab\r\n")
        self.c.send(b"me %s\r\n" % self.k("e"))
        self.assertRegex(self.c.readline(), rb"^ME \S+ exp=-1 la=\d+ cas=\d+ fetch=yes ")
        self.expect(b"me {k}nx\r\n", b"EN\r\n")
        self.expect(b"me\r\n", b"CLIENT_ERROR bad command line format\r\n")

    # ---- base64 keys ------------------------------------------------------

    def b64(self, name):
        return base64.b64encode(self.k(name))

    def test_base64_keys(self):
        k = self.b64("bin")
        self.expect(b"ms %s 2 b\r\nxx\r\n" % k, b"HD\r\n")
        self.expect(b"mg %s b v k\r\n" % k, b"VA 2 k%s b\r\nxx\r\n" % k)
        # the same item under its decoded name
        self.expect(b"get {k}bin\r\n", b"VALUE {k}bin 0 2\r\nxx\r\nEND\r\n")
        n = self.b64("num")
        self.expect(b"ms %s 1 b\r\n5\r\n" % n, b"HD\r\n")
        self.expect(b"ma %s b v k\r\n" % n, b"VA 1 k%s b\r\n6\r\n" % n)
        self.expect(b"md %s b k\r\n" % k, b"HD k%s b\r\n" % k)
        self.expect(b"md %s b q\r\nmn\r\n" % k, b"NF\r\nMN\r\n")
        self.expect(b"mg %s b v\r\n" % k, b"EN\r\n")

    def test_base64_binary_key(self):
        raw = self.k("\x00\x01 \r\n\xff")
        k = base64.b64encode(raw)
        self.expect(b"ms %s 3 b\r\nabc\r\n" % k, b"HD\r\n")
        self.expect(b"mg %s b v\r\n" % k, b"VA 3\r\nabc\r\n")

    def test_base64_invalid(self):
        err = b"CLIENT_ERROR error decoding key\r\n"
        self.expect(b"mg ??? b\r\n", err)
        self.expect(b"mg abc b v\r\n", err)
        # ms swallows its data block
        self.expect(b"ms !!!! 2 b\r\nhi\r\n", err)
        self.assertAlive()

    # ---- errors -----------------------------------------------------------

    def test_mg_errors(self):
        self.expect(b"ms {k}a 2\r\nhi\r\n", b"HD\r\n")
        self.expect(b"mg\r\n", b"ERROR\r\n")
        self.expect(b"mg {k}a !\r\n", b"CLIENT_ERROR invalid flag\r\n")
        self.expect(b"mg {k}a %\r\n", b"CLIENT_ERROR invalid flag\r\n")
        self.expect(b"mg {k}a v v\r\n", b"CLIENT_ERROR duplicate flag\r\n")
        self.expect(b"mg " + b"k" * 251 + b" v\r\n", b"CLIENT_ERROR bad command line format\r\n")
        self.expect(b"mg " + b"k" * 250 + b" v\r\n", b"EN\r\n")
        self.expect(b"mg {k}a v\r\n", b"VA 2\r\nhi\r\n")

    # ---- E: explicit new CAS (loom, later memcached) ----------------------

    @loom_only("1.6.18 rejects the E flag")
    def test_explicit_cas_ms(self):
        self.expect(b"ms {k}a 2 E12345 c\r\nhi\r\n", b"HD c12345\r\n")
        self.assertEqual(self.cas_of(self.k("a")), 12345)
        self.expect(b"ms {k}a 2 C12345 E99999\r\nho\r\n", b"HD\r\n")
        self.assertEqual(self.cas_of(self.k("a")), 99999)
        self.expect(b"gets {k}a\r\n", b"VALUE {k}a 0 2 99999\r\nho\r\nEND\r\n")
        self.expect(b"ms {k}a 2 C12345 E5\r\nxx\r\n", b"EX\r\n")
        self.assertEqual(self.cas_of(self.k("a")), 99999)

    @loom_only("1.6.18 rejects the E flag")
    def test_explicit_cas_ma(self):
        self.expect(b"ms {k}n 1 E100\r\n1\r\n", b"HD\r\n")
        self.expect(b"ma {k}n E200 v c\r\n", b"VA 1 c200\r\n2\r\n")
        self.assertEqual(self.cas_of(self.k("n")), 200)

    @loom_only("1.6.18 rejects the E flag")
    def test_explicit_cas_md_invalidate(self):
        self.expect(b"ms {k}i 3 T100 E10\r\nabc\r\n", b"HD\r\n")
        self.expect(b"md {k}i I T30 E20\r\n", b"HD\r\n")
        self.expect(b"mg {k}i c v\r\n", b"VA 3 c20 X W\r\nabc\r\n")

    @loom_only("1.6.18 rejects the E flag")
    def test_explicit_cas_mg_vivify(self):
        self.expect(b"mg {k}v N30 E777 c\r\n", b"HD c777 W\r\n")
        self.expect(b"mg {k}v c\r\n", b"HD c777 Z\r\n")


if __name__ == "__main__":
    loomtest.main()
