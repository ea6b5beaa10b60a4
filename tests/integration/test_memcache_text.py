"""memcache module: the classic text protocol over raw sockets, reply for
reply as memcached 1.6.18 gives it.  MC_ADDR=host:port runs the same tests
against another server (see mctest.py)."""

import re
import socket
import time

import loomtest
from mctest import MCTestCase, parse_stats

NUMERIC_STATS = ("pid", "uptime", "time", "curr_items", "bytes", "get_hits",
                 "get_misses", "cmd_get", "cmd_set", "curr_connections",
                 "total_connections", "limit_maxbytes", "evictions",
                 "expired_unfetched")


class Storage(MCTestCase):
    def test_set_get_gets(self):
        self.expect(b"set {k}a 5 0 2\r\nab\r\n", b"STORED\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 5 2\r\nab\r\nEND\r\n")
        self.c.send(b"gets %s\r\n" % self.k("a"))
        line = self.c.readline()
        self.assertRegex(line, rb"^VALUE %s 5 2 [1-9][0-9]*\r\n$" % re.escape(self.k("a")))
        self.assertEqual(self.c.read_exact(9), b"ab\r\nEND\r\n")
        # overwrite: new flags, new length
        self.expect(b"set {k}a 4294967295 0 5\r\nhello\r\n", b"STORED\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 4294967295 5\r\nhello\r\nEND\r\n")
        # empty value
        self.expect(b"set {k}e 0 0 0\r\n\r\n", b"STORED\r\n")
        self.expect(b"get {k}e\r\n", b"VALUE {k}e 0 0\r\n\r\nEND\r\n")
        self.expect(b"get {k}missing\r\n", b"END\r\n")

    def test_binary_safe_value(self):
        val = bytes(range(256)) + b"\r\nEND\r\n\x00"
        self.expect(b"set {k}b 0 0 %d\r\n%s\r\n" % (len(val), val), b"STORED\r\n")
        self.expect(b"get {k}b\r\n", b"VALUE {k}b 0 %d\r\n%s\r\nEND\r\n" % (len(val), val))

    def test_key_250_bytes(self):
        key = self.k().ljust(250, b"x")
        self.expect(b"set %s 0 0 1\r\nv\r\n" % key, b"STORED\r\n")
        self.expect(b"get %s\r\n" % key, b"VALUE %s 0 1\r\nv\r\nEND\r\n" % key)

    def test_add_replace(self):
        self.expect(b"add {k}a 1 0 1\r\nx\r\n", b"STORED\r\n")
        self.expect(b"add {k}a 2 0 1\r\ny\r\n", b"NOT_STORED\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 1 1\r\nx\r\nEND\r\n")
        self.expect(b"replace {k}a 3 0 2\r\nzz\r\n", b"STORED\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 3 2\r\nzz\r\nEND\r\n")
        self.expect(b"replace {k}nx 0 0 1\r\nq\r\n", b"NOT_STORED\r\n")
        self.expect(b"get {k}nx\r\n", b"END\r\n")

    def test_append_prepend(self):
        self.expect(b"set {k}a 5 0 1\r\nx\r\n", b"STORED\r\n")
        # the flags given to append/prepend are ignored
        self.expect(b"append {k}a 9 0 2\r\nAP\r\n", b"STORED\r\n")
        self.expect(b"prepend {k}a 7 0 2\r\nPP\r\n", b"STORED\r\n")
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 5 5\r\nPPxAP\r\nEND\r\n")
        self.expect(b"append {k}nx 0 0 1\r\na\r\n", b"NOT_STORED\r\n")
        self.expect(b"prepend {k}nx 0 0 1\r\na\r\n", b"NOT_STORED\r\n")
        self.expect(b"get {k}nx\r\n", b"END\r\n")

    def gets_cas(self, key, conn=None):
        c = conn or self.c
        c.send(b"gets %s\r\n" % key)
        m = re.match(rb"^VALUE \S+ \d+ (\d+) (\d+)\r\n$", c.readline())
        self.assertIsNotNone(m)
        c.read_exact(int(m.group(1)) + 2)
        self.assertEqual(c.readline(), b"END\r\n")
        return int(m.group(2))

    def test_cas(self):
        self.expect(b"set {k}c 0 0 1\r\na\r\n", b"STORED\r\n")
        cas = self.gets_cas(self.k("c"))
        self.expect(b"cas {k}c 3 0 1 %d\r\nb\r\n" % cas, b"STORED\r\n")
        self.expect(b"get {k}c\r\n", b"VALUE {k}c 3 1\r\nb\r\nEND\r\n")
        # the old token no longer matches
        self.expect(b"cas {k}c 0 0 1 %d\r\nz\r\n" % cas, b"EXISTS\r\n")
        self.expect(b"get {k}c\r\n", b"VALUE {k}c 3 1\r\nb\r\nEND\r\n")
        self.expect(b"cas {k}nx 0 0 1 %d\r\nz\r\n" % cas, b"NOT_FOUND\r\n")
        new = self.gets_cas(self.k("c"))
        self.assertNotEqual(new, cas)
        self.expect(b"cas {k}c 0 0 1 %d noreply\r\nn\r\n" % new, b"")
        self.expect(b"get {k}c\r\n", b"VALUE {k}c 0 1\r\nn\r\nEND\r\n")

    def test_cas_token_changes(self):
        """Every modification gives a new cas unique; touch and gat keep it."""
        self.expect(b"set {k}n 0 0 2\r\n99\r\n", b"STORED\r\n")
        a = self.gets_cas(self.k("n"))
        self.expect(b"touch {k}n 100\r\n", b"TOUCHED\r\n")
        self.assertEqual(self.gets_cas(self.k("n")), a)
        self.expect(b"gat 100 {k}n\r\n", b"VALUE {k}n 0 2\r\n99\r\nEND\r\n")
        self.assertEqual(self.gets_cas(self.k("n")), a)
        self.expect(b"incr {k}n 1\r\n", b"100\r\n")
        b = self.gets_cas(self.k("n"))
        self.assertGreater(b, a)
        self.expect(b"append {k}n 0 0 1\r\nx\r\n", b"STORED\r\n")
        c = self.gets_cas(self.k("n"))
        self.assertGreater(c, b)
        self.expect(b"set {k}n 0 0 1\r\ny\r\n", b"STORED\r\n")
        self.assertGreater(self.gets_cas(self.k("n")), c)

    def test_noreply(self):
        self.c.send(b"set {k}a 1 0 1 noreply\r\na\r\n"
                    b"add {k}a 0 0 1 noreply\r\nb\r\n"
                    b"add {k}b 2 0 1 noreply\r\nb\r\n"
                    b"replace {k}b 3 0 2 noreply\r\nbb\r\n"
                    b"append {k}a 0 0 1 noreply\r\nc\r\n"
                    b"prepend {k}a 0 0 1 noreply\r\nd\r\n"
                    b"set {k}n 0 0 1 noreply\r\n5\r\n"
                    b"incr {k}n 3 noreply\r\n"
                    b"decr {k}n 1 noreply\r\n"
                    b"incr {k}nx 1 noreply\r\n"
                    b"touch {k}n 100 noreply\r\n"
                    b"set {k}d 0 0 1 noreply\r\nd\r\n"
                    b"delete {k}d noreply\r\n"
                    b"delete {k}nx noreply\r\n".replace(b"{k}", self.p.encode()))
        self.expect(b"get {k}a {k}b {k}n {k}d\r\n",
                    b"VALUE {k}a 1 3\r\ndac\r\nVALUE {k}b 3 2\r\nbb\r\n"
                    b"VALUE {k}n 0 1\r\n7\r\nEND\r\n")
        self.c.sync(self)

    def test_multi_get(self):
        self.expect(b"set {k}1 1 0 1\r\na\r\nset {k}2 2 0 2\r\nbb\r\n", b"STORED\r\nSTORED\r\n")
        self.expect(b"get {k}2 {k}nx {k}1 {k}2\r\n",
                    b"VALUE {k}2 2 2\r\nbb\r\nVALUE {k}1 1 1\r\na\r\nVALUE {k}2 2 2\r\nbb\r\nEND\r\n")
        self.c.send(b"gets %s %s\r\n" % (self.k("1"), self.k("2")))
        out = self.c.read_until()
        self.assertRegex(out, rb"^VALUE %s 1 1 \d+\r\na\r\nVALUE %s 2 2 \d+\r\nbb\r\nEND\r\n$"
                         % (re.escape(self.k("1")), re.escape(self.k("2"))))

    def test_long_multi_get_line(self):
        """A client's get_many of 400 keys: one command line of ~10 KB."""
        keys = [self.k("%03d" % i).ljust(24, b"k") for i in range(400)]
        self.c.send(b"".join(b"set %s 0 0 3 noreply\r\n%03d\r\n" % (k, i % 1000)
                             for i, k in enumerate(keys)))
        self.c.sync(self)
        want = b"".join(b"VALUE %s 0 3\r\n%03d\r\n" % (k, i) for i, k in enumerate(keys)) + b"END\r\n"
        self.expect(b"get " + b" ".join(keys) + b"\r\n", want)
        self.assertAlive()

    def test_gat_gats(self):
        self.expect(b"set {k}t 4 0 2\r\nhi\r\n", b"STORED\r\n")
        self.expect(b"gat 100 {k}t {k}nx\r\n", b"VALUE {k}t 4 2\r\nhi\r\nEND\r\n")
        self.c.send(b"gats 100 %s\r\n" % self.k("t"))
        self.assertRegex(self.c.read_until(), rb"^VALUE %s 4 2 \d+\r\nhi\r\nEND\r\n$" % re.escape(self.k("t")))
        self.expect(b"gat 100 {k}nx\r\n", b"END\r\n")
        self.expect(b"gat {k}t\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
        # gat can shorten the life: -1 expires the item after this fetch
        self.expect(b"gat -1 {k}t\r\n", b"VALUE {k}t 4 2\r\nhi\r\nEND\r\n")
        self.expect(b"get {k}t\r\n", b"END\r\n")

    def test_delete(self):
        self.expect(b"set {k}d 0 0 1\r\nx\r\n", b"STORED\r\n")
        self.expect(b"delete {k}d\r\n", b"DELETED\r\n")
        self.expect(b"delete {k}d\r\n", b"NOT_FOUND\r\n")
        self.expect(b"get {k}d\r\n", b"END\r\n")
        # the legacy time argument 0 is accepted, any other is not
        self.expect(b"delete {k}d 0\r\n", b"NOT_FOUND\r\n")
        self.expect(b"delete {k}d 5\r\n",
                    b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n")
        self.assertAlive()

    def test_touch(self):
        self.expect(b"set {k}t 0 0 1\r\nx\r\n", b"STORED\r\n")
        self.expect(b"touch {k}t 100\r\n", b"TOUCHED\r\n")
        self.expect(b"touch {k}nx 100\r\n", b"NOT_FOUND\r\n")
        self.expect(b"get {k}t\r\n", b"VALUE {k}t 0 1\r\nx\r\nEND\r\n")
        self.expect(b"touch {k}t -1\r\n", b"TOUCHED\r\n")
        self.expect(b"get {k}t\r\n", b"END\r\n")


class Arithmetic(MCTestCase):
    def test_incr_decr(self):
        self.expect(b"set {k}n 3 0 1\r\n5\r\n", b"STORED\r\n")
        self.expect(b"incr {k}n 10\r\n", b"15\r\n")
        self.expect(b"decr {k}n 4\r\n", b"11\r\n")
        self.expect(b"get {k}n\r\n", b"VALUE {k}n 3 2\r\n11\r\nEND\r\n")
        self.expect(b"incr {k}n 89\r\n", b"100\r\n")
        self.expect(b"get {k}n\r\n", b"VALUE {k}n 3 3\r\n100\r\nEND\r\n")
        self.expect(b"incr {k}nx 1\r\n", b"NOT_FOUND\r\n")
        self.expect(b"decr {k}nx 1\r\n", b"NOT_FOUND\r\n")
        self.expect(b"incr {k}n 0\r\n", b"100\r\n")

    def test_incr_wraps_64_bit(self):
        self.expect(b"set {k}w 0 0 20\r\n18446744073709551615\r\n", b"STORED\r\n")
        self.expect(b"incr {k}w 2\r\n", b"1\r\n")
        # the value is padded in place to its old length
        self.expect(b"get {k}w\r\n", b"VALUE {k}w 0 20\r\n1                   \r\nEND\r\n")
        self.expect(b"incr {k}w 18446744073709551615\r\n", b"0\r\n")
        self.expect(b"set {k}m 0 0 1\r\n0\r\n", b"STORED\r\n")
        self.expect(b"incr {k}m 18446744073709551615\r\n", b"18446744073709551615\r\n")
        self.expect(b"get {k}m\r\n", b"VALUE {k}m 0 20\r\n18446744073709551615\r\nEND\r\n")

    def test_decr_floors_at_zero(self):
        self.expect(b"set {k}f 0 0 1\r\n3\r\n", b"STORED\r\n")
        self.expect(b"decr {k}f 5\r\n", b"0\r\n")
        self.expect(b"decr {k}f 1\r\n", b"0\r\n")
        self.expect(b"get {k}f\r\n", b"VALUE {k}f 0 1\r\n0\r\nEND\r\n")

    def test_decr_pads_with_spaces(self):
        self.expect(b"set {k}p 0 0 3\r\n100\r\n", b"STORED\r\n")
        self.expect(b"decr {k}p 95\r\n", b"5\r\n")
        self.expect(b"get {k}p\r\n", b"VALUE {k}p 0 3\r\n5  \r\nEND\r\n")
        # the padded value still counts as a number
        self.expect(b"incr {k}p 1\r\n", b"6\r\n")
        self.expect(b"get {k}p\r\n", b"VALUE {k}p 0 3\r\n6  \r\nEND\r\n")
        self.expect(b"incr {k}p 994\r\n", b"1000\r\n")
        self.expect(b"get {k}p\r\n", b"VALUE {k}p 0 4\r\n1000\r\nEND\r\n")

    def test_non_numeric(self):
        err = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
        self.expect(b"set {k}s 0 0 3\r\nabc\r\n", b"STORED\r\n")
        self.expect(b"incr {k}s 1\r\n", err)
        self.expect(b"decr {k}s 1\r\n", err)
        self.expect(b"get {k}s\r\n", b"VALUE {k}s 0 3\r\nabc\r\nEND\r\n")
        bad_delta = b"CLIENT_ERROR invalid numeric delta argument\r\n"
        self.expect(b"incr {k}s abc\r\n", bad_delta)
        self.expect(b"incr {k}s -1\r\n", bad_delta)
        self.assertAlive()


class Expiry(MCTestCase):
    def gone(self, key):
        return lambda: self.c.get(b"get " + key) == b"END\r\n"

    def test_relative_ttl(self):
        self.expect(b"set {k}x 0 1 1\r\nx\r\nset {k}keep 0 0 1\r\nk\r\n", b"STORED\r\nSTORED\r\n")
        self.wait_until(self.gone(self.k("x")), "the 1 s item to expire")
        self.expect(b"get {k}x {k}keep\r\n", b"VALUE {k}keep 0 1\r\nk\r\nEND\r\n")

    def test_touch_shortens(self):
        self.expect(b"set {k}x 0 1000 1\r\nx\r\n", b"STORED\r\n")
        self.expect(b"touch {k}x 1\r\n", b"TOUCHED\r\n")
        self.wait_until(self.gone(self.k("x")), "the touched item to expire")

    def test_negative_exptime(self):
        self.expect(b"set {k}neg 0 -1 1\r\nx\r\n", b"STORED\r\n")
        self.expect(b"get {k}neg\r\n", b"END\r\n")
        self.expect(b"add {k}neg 0 0 1\r\ny\r\n", b"STORED\r\n")
        self.expect(b"get {k}neg\r\n", b"VALUE {k}neg 0 1\r\ny\r\nEND\r\n")

    def test_absolute_time(self):
        self.expect(b"set {k}past 0 1000000000 1\r\nx\r\n", b"STORED\r\n")
        self.expect(b"get {k}past\r\n", b"END\r\n")
        future = int(time.time()) + 3600
        self.expect(b"set {k}fut 0 %d 1\r\ny\r\n" % future, b"STORED\r\n")
        self.expect(b"get {k}fut\r\n", b"VALUE {k}fut 0 1\r\ny\r\nEND\r\n")
        # more than 30 days counts as a unix time, and this one is long gone
        self.expect(b"set {k}old 0 2592001 1\r\nz\r\n", b"STORED\r\n")
        self.expect(b"get {k}old\r\n", b"END\r\n")


class Flush(MCTestCase):
    def set_get(self, name):
        """Store NAME and read it back; True if it was there."""
        key = self.k(name.decode())
        self.expect(b"set %s 0 0 1\r\nx\r\n" % key, b"STORED\r\n")
        return self.c.get(b"get " + key) == b"VALUE %s 0 1\r\nx\r\nEND\r\n" % key

    def test_flush_all(self):
        self.expect(b"set {k}a 0 0 1\r\na\r\nset {k}b 0 0 1\r\nb\r\n", b"STORED\r\nSTORED\r\n")
        self.expect(b"flush_all\r\n", b"OK\r\n")
        self.expect(b"get {k}a {k}b\r\n", b"END\r\n")
        self.wait_until(lambda: self.set_get(b"c"), "new items to survive the flush")
        self.expect(b"flush_all 0\r\n", b"OK\r\n")
        self.expect(b"get {k}c\r\n", b"END\r\n")

    def test_flush_all_noreply(self):
        self.expect(b"set {k}a 0 0 1\r\na\r\n", b"STORED\r\n")
        self.expect(b"flush_all noreply\r\nget {k}a\r\n", b"END\r\n")
        self.expect(b"flush_all abc\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
        self.c.sync(self)

    def test_flush_all_delay(self):
        self.expect(b"set {k}a 0 0 1\r\na\r\n", b"STORED\r\n")
        self.expect(b"flush_all 3\r\n", b"OK\r\n")
        # not yet: the flush takes effect seconds from now
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 0 1\r\na\r\nEND\r\n")
        self.wait_until(lambda: self.c.get(b"get " + self.k("a")) == b"END\r\n",
                        "the delayed flush")
        # once it has happened, new items are kept
        self.wait_until(lambda: self.set_get(b"n"), "new items to survive the delayed flush")


class Stats(MCTestCase):
    def stats(self, sub=b""):
        return parse_stats(self.c.stats(sub))

    def test_general_stats(self):
        st = self.stats()
        for name in NUMERIC_STATS:
            self.assertIn(name, st)
            self.assertRegex(st[name], r"^\d+$", name)
        self.assertIn("version", st)
        self.assertTrue(st["version"].startswith("1.6.18"), st["version"])
        self.assertLessEqual(abs(int(st["time"]) - time.time()), 5)
        if self.srv.pid:
            self.assertEqual(int(st["pid"]), self.srv.pid)

    def test_counters_move(self):
        before = self.stats()
        self.expect(b"set {k}a 0 0 3\r\nabc\r\nset {k}b 0 0 1\r\nb\r\n", b"STORED\r\nSTORED\r\n")
        self.expect(b"get {k}a {k}nx {k}b\r\n", b"VALUE {k}a 0 3\r\nabc\r\nVALUE {k}b 0 1\r\nb\r\nEND\r\n")
        self.expect(b"get {k}nx2\r\n", b"END\r\n")
        after = self.stats()
        d = lambda n: int(after[n]) - int(before[n])
        self.assertEqual(d("cmd_set"), 2)
        self.assertEqual(d("cmd_get"), 4)
        self.assertEqual(d("get_hits"), 2)
        self.assertEqual(d("get_misses"), 2)
        self.assertGreater(int(after["curr_items"]), 0)
        self.assertGreater(d("bytes"), 0)
        # connections
        c2, c3 = self.conn(), self.conn()
        c2.sync(self)
        c3.sync(self)
        mid = self.stats()
        self.assertEqual(int(mid["total_connections"]) - int(after["total_connections"]), 2)
        self.assertGreaterEqual(int(mid["curr_connections"]), 3)
        c2.close()
        c3.close()
        self.wait_until(lambda: int(self.stats()["curr_connections"]) <= int(mid["curr_connections"]) - 2,
                        "curr_connections to drop by 2")

    def test_curr_items_and_bytes(self):
        before = self.stats()
        val = b"v" * 100000
        self.expect(b"set {k}big 0 0 %d\r\n%s\r\n" % (len(val), val), b"STORED\r\n")
        mid = self.stats()
        self.assertGreaterEqual(int(mid["bytes"]) - int(before["bytes"]), 90000)
        self.assertLessEqual(int(mid["bytes"]), int(mid["limit_maxbytes"]))
        self.expect(b"delete {k}big\r\n", b"DELETED\r\n")
        after = self.stats()
        self.assertLessEqual(int(after["bytes"]) - int(before["bytes"]), 10000)

    def test_sub_stats(self):
        self.expect(b"set {k}s 0 0 1\r\ns\r\n", b"STORED\r\n")
        for sub in (b"settings", b"items", b"slabs"):
            out = self.c.stats(sub)
            lines = out.split(b"\r\n")
            self.assertEqual(lines[-2:], [b"END", b""], sub)
            self.assertGreater(len(lines), 2, sub)
            for line in lines[:-2]:
                self.assertRegex(line, rb"^STAT \S+ \S", sub)
        settings = parse_stats(self.c.stats(b"settings"))
        self.assertRegex(settings.get("maxbytes", ""), r"^\d+$")
        self.assertRegex(settings.get("item_size_max", ""), r"^\d+$")
        self.expect(b"stats bogus\r\n", b"ERROR\r\n")
        self.assertAlive()

    def test_stats_reset(self):
        self.expect(b"get {k}nx\r\n", b"END\r\n")
        self.expect(b"stats reset\r\n", b"RESET\r\n")
        st = self.stats()
        self.assertEqual(st["get_misses"], "0")
        self.assertEqual(st["cmd_get"], "0")


class Misc(MCTestCase):
    def test_version(self):
        self.c.send(b"version\r\n")
        line = self.c.readline()
        self.assertTrue(line.startswith(b"VERSION 1.6.18"), line)
        self.assertRegex(line, rb"^VERSION \S+\r\n$")

    def test_verbosity(self):
        self.expect(b"verbosity 1\r\n", b"OK\r\n")
        self.expect(b"verbosity 0 noreply\r\n", b"")
        self.expect(b"verbosity\r\n", b"ERROR\r\n")
        self.c.sync(self)

    def test_verbosity_bad_level(self):
        self.expect(b"verbosity abc\r\n", b"CLIENT_ERROR bad command line format\r\n")
        self.assertAlive()

    def test_quit(self):
        self.expect(b"set {k}q 0 0 1\r\nq\r\n", b"STORED\r\n")
        self.c.send(b"quit\r\nget %s\r\n" % self.k("q"))
        self.assertEqual(self.c.read_until_close(), b"")
        self.assertAlive(self.conn())

    def test_unknown_and_empty_lines(self):
        self.expect(b"bogus\r\n", b"ERROR\r\n")
        self.expect(b"GET {k}x\r\n", b"ERROR\r\n")
        self.expect(b"\r\n", b"ERROR\r\n")
        self.assertAlive()

    def test_bare_newline_commands(self):
        self.expect(b"set {k}n 0 0 1\nx\r\n", b"STORED\r\n")
        self.expect(b"get {k}n\n", b"VALUE {k}n 0 1\r\nx\r\nEND\r\n")

    def test_pipelined(self):
        req = (b"set {k}1 0 0 1\r\na\r\n"
               b"get {k}1\r\n"
               b"add {k}1 0 0 1\r\nb\r\n"
               b"append {k}1 0 0 1\r\nc\r\n"
               b"set {k}n 0 0 1\r\n1\r\n"
               b"incr {k}n 41\r\n"
               b"get {k}1 {k}n\r\n"
               b"delete {k}1\r\n"
               b"touch {k}n 100\r\n"
               b"get {k}1\r\n"
               b"mn\r\n")
        want = (b"STORED\r\nVALUE {k}1 0 1\r\na\r\nEND\r\nNOT_STORED\r\nSTORED\r\nSTORED\r\n42\r\n"
                b"VALUE {k}1 0 2\r\nac\r\nVALUE {k}n 0 2\r\n42\r\nEND\r\nDELETED\r\nTOUCHED\r\nEND\r\nMN\r\n")
        self.expect(req, want)
        # the same, pipelined many times over in one send
        self.expect(req * 50, want * 50)
        self.c.sync(self)

    def test_pipelined_large_gets(self):
        """Several gets of a big value in one send: every reply comes."""
        val = bytes(i % 253 for i in range(300 * 1000))
        self.expect(b"set {k}big 0 0 %d\r\n%s\r\n" % (len(val), val), b"STORED\r\n")
        reply = b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (self.k("big"), len(val), val)
        self.c.send(b"get %s\r\n" % self.k("big") * 5 + b"mn\r\n")
        for i in range(5):
            try:
                got = self.c.read_exact(len(reply))
            except AssertionError as e:
                self.fail("after %d of 5 replies: %s" % (i, e))
            self.assertTrue(got == reply, "reply %d of 5 differs: %r" % (i + 1, got[:60]))
        self.assertEqual(self.c.readline(), b"MN\r\n")

    def test_long_multi_get_line_in_pieces(self):
        """A 10 KB get line that reaches the server in 1000-byte pieces."""
        self.expect(b"set {k}p 0 0 1\r\nx\r\n", b"STORED\r\n")
        self.c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = self.k("p")
        line = b"get " + b" ".join([key] * (10000 // (len(key) + 1))) + b"\r\n"
        for i in range(0, len(line), 1000):
            self.c.send(line[i:i + 1000])
            time.sleep(0.02)
        want = b"VALUE %s 0 1\r\nx\r\n" % key * (10000 // (len(key) + 1)) + b"END\r\n"
        self.assertEqual(self.c.read_exact(len(want)), want)
        self.assertAlive()

    def test_split_across_segments(self):
        self.c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = b"set {k}s 0 0 10\r\n0123456789\r\nget {k}s\r\n".replace(b"{k}", self.p.encode())
        for i in range(len(req)):
            self.c.send(req[i:i + 1])
            if i % 7 == 0:
                time.sleep(0.01)
        want = b"STORED\r\nVALUE {k}s 0 10\r\n0123456789\r\nEND\r\n".replace(b"{k}", self.p.encode())
        self.assertEqual(self.c.read_exact(len(want)), want)

    def test_large_value(self):
        val = bytes(i % 251 for i in range(1000000))
        self.expect(b"set {k}L 7 0 %d\r\n%s\r\n" % (len(val), val), b"STORED\r\n")
        self.expect(b"get {k}L\r\n", b"VALUE {k}L 7 %d\r\n%s\r\nEND\r\n" % (len(val), val))
        val = b"z" * 1048576
        self.expect(b"set {k}T 0 0 %d\r\n%s\r\n" % (len(val), val),
                    b"SERVER_ERROR object too large for cache\r\n")
        self.expect(b"get {k}T\r\n", b"END\r\n")


if __name__ == "__main__":
    loomtest.main()
