"""memcache module: the memory limit, eviction and the module's settings.

Mostly loom-only.  With MC_ADDR=host:port the eviction test runs against
that server if it was started with a 16 MB limit (memcached -m 16); the
configuration tests and loomd's RSS are skipped."""

import os
import random
import unittest

import loomtest
import mctest
from loomtest import Loomd, free_port, line_of, assert_error_line, run_loomd
from mctest import MCTestCase, loom_only, parse_stats, prefix

MB = 1024 * 1024
# VmRSS bound for a 16 MB cache: the items themselves plus 48 MB for the
# daemon, the hash table, allocator slack and connection buffers
RSS_BOUND_KB = (16 + 48) * 1024


class Eviction(MCTestCase):
    SERVER_ARGS = {"memory": "16M"}

    def setUp(self):
        super().setUp()
        st = parse_stats(self.c.stats())
        if mctest.EXTERNAL and st["limit_maxbytes"] != str(16 * MB):
            self.skipTest("MC_ADDR server has limit_maxbytes %s, not 16M" % st["limit_maxbytes"])

    def fill(self, total=64 * MB, seed=1):
        """Store TOTAL bytes of values of 1 KB..100 KB (pipelined noreply
        sets, then a sync); returns [(key, value)] in the order stored."""
        rnd = random.Random(seed)
        items, size, batch = [], 0, []
        i = 0
        while size < total:
            n = rnd.randint(1024, 100 * 1024)
            key = self.k("%05d" % i)
            val = (b"%05d" % i) * (n // 5) + b"x" * (n % 5)
            items.append((key, val))
            batch.append(b"set %s %d 0 %d noreply\r\n%s\r\n" % (key, i, len(val), val))
            size += n
            i += 1
            if len(batch) >= 64:
                self.c.send(b"".join(batch))
                batch = []
        self.c.send(b"".join(batch) + b"mn\r\n")
        self.assertEqual(self.c.readline(), b"MN\r\n")
        return items

    def test_evicts_within_limit(self):
        before = parse_stats(self.c.stats())
        items = self.fill()
        st = parse_stats(self.c.stats())
        self.assertEqual(st["limit_maxbytes"], str(16 * MB))
        self.assertGreater(int(st["evictions"]), int(before["evictions"]))
        self.assertLessEqual(int(st["bytes"]), int(st["limit_maxbytes"]))
        self.assertGreater(int(st["bytes"]), 0)
        self.assertLess(int(st["curr_items"]), len(items))
        if self.srv.pid and not loomtest.SANITIZED:
            rss = self.srv.rss_kb()
            self.assertLess(rss, RSS_BOUND_KB, "loomd VmRSS %d KiB" % rss)
        # the most recent items are there, whole; the oldest are gone
        for idx in range(len(items) - 10, len(items)):
            key, val = items[idx]
            want = b"VALUE %s %d %d\r\n%s\r\nEND\r\n" % (key, idx, len(val), val)
            got = self.c.get(b"get " + key)
            self.assertTrue(got == want, "recent item %d: %r" % (idx, got[:80]))
        gone = [idx for idx in range(50) if self.c.get(b"get " + items[idx][0]) == b"END\r\n"]
        # memcached evicts per slab class, so a few old items may survive
        # there; loom's single LRU drops the oldest first
        self.assertGreaterEqual(len(gone), 25, gone)
        if not mctest.EXTERNAL:
            self.assertEqual(gone, list(range(50)))
        self.c.sync(self)

    def test_refill_and_read_keeps_limit(self):
        """Several rounds of filling, with reads in between (the read items
        are the recently used ones), still within the limit."""
        for rnd in range(3):
            items = self.fill(total=24 * MB, seed=10 + rnd)
            key, val = items[-1]
            self.assertEqual(self.c.get(b"get " + key),
                             b"VALUE %s %d %d\r\n%s\r\nEND\r\n" % (key, len(items) - 1, len(val), val))
            st = parse_stats(self.c.stats())
            self.assertLessEqual(int(st["bytes"]), 16 * MB)
            if self.srv.pid and not loomtest.SANITIZED:
                self.assertLess(self.srv.rss_kb(), RSS_BOUND_KB)
            self.p = prefix()
        self.assertAlive()

    def test_large_item_in_full_cache(self):
        self.fill(total=32 * MB, seed=3)
        # expect() fills in "{k}" everywhere in what it sends: random bytes
        # holding "{k}" (about one run in 16) would change the value's length
        val = os.urandom(MB - 4096).replace(b"{", b"[")
        self.expect(b"set {k}big 0 0 %d\r\n%s\r\n" % (len(val), val), b"STORED\r\n")
        self.expect(b"get {k}big\r\n", b"VALUE {k}big 0 %d\r\n%s\r\nEND\r\n" % (len(val), val))


@loom_only("loomd's own settings")
class Settings(unittest.TestCase):
    def start(self, extra, memory=None):
        port = free_port()
        conf = 'memcache "cache" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n%s}\n' % (port, extra)
        d = Loomd(conf)
        self.addCleanup(d.cleanup)
        d.start()
        srv = mctest.Server.__new__(mctest.Server)
        srv.loomd, srv.host, srv.port, srv.udp = d, "127.0.0.1", port, None
        return srv

    def test_memory_and_item_size_settings(self):
        srv = self.start('    memory = "32M"\n    max_item_size = 2M\n')
        with srv.connect() as c:
            st = parse_stats(c.stats())
            self.assertEqual(st["limit_maxbytes"], str(32 * MB))
            settings = parse_stats(c.stats(b"settings"))
            self.assertEqual(settings["maxbytes"], str(32 * MB))
            self.assertEqual(settings["item_size_max"], str(2 * MB))
            key = prefix().encode() + b"big"
            val = b"b" * (MB + MB // 2)
            self.assertEqual(c.call(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val), b"STORED\r\n"),
                             b"STORED\r\n")
            val = b"t" * (2 * MB + 1)
            want = b"SERVER_ERROR object too large for cache\r\n"
            self.assertEqual(c.call(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val), want), want)

    def test_small_max_item_size(self):
        srv = self.start("    memory = 16M\n    max_item_size = 512K\n")
        with srv.connect() as c:
            key = prefix().encode() + b"k"
            val = b"s" * (600 * 1024)
            want = b"SERVER_ERROR object too large for cache\r\n"
            self.assertEqual(c.call(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val), want), want)
            val = b"s" * (400 * 1024)
            self.assertEqual(c.call(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val), b"STORED\r\n"),
                             b"STORED\r\n")

    def test_valid_sizes(self):
        for extra in ('memory = "64M"', "memory = 16384K", "memory = 1G",
                      "memory = 64M\n    max_item_size = 1M", "max_item_size = 4M"):
            conf = 'memcache "c" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n    %s\n}\n' % (free_port(), extra)
            d = Loomd(conf)
            try:
                r = run_loomd(["-t", "-c", d.conf_path])
                self.assertEqual(r.returncode, 0, "%s: %s" % (extra, r.stderr))
            finally:
                d.cleanup()


@loom_only("loomd's configuration errors")
class ConfigErrors(unittest.TestCase):
    def expect_error(self, option, needle=None, contains=None, also=None):
        conf = ('memcache "cache" {\n'
                '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '    %s\n'
                '}\n' % (free_port(), option))
        d = Loomd(conf)
        self.addCleanup(d.cleanup)
        want = {line_of(d.conf_path, needle or option.split("\n")[-1].strip())}
        if also:
            want.add(line_of(d.conf_path, also))
        r = run_loomd(["-t", "-c", d.conf_path])
        self.assertEqual(r.returncode, 1, "%r: %s%s" % (option, r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        msg = assert_error_line(self, r.stderr, d.conf_path, want, contains)
        # and the same when started for real
        rc, err = loomtest.start_expect_exit(d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, d.conf_path, want, contains)
        return msg

    def test_memory_zero(self):
        self.assertIn("memory", self.expect_error("memory = 0"))

    def test_memory_not_a_size(self):
        self.assertIn("memory", self.expect_error("memory = abc"))
        self.assertIn("memory", self.expect_error("memory = 64X"))
        self.assertIn("memory", self.expect_error("memory = -5"))

    def test_item_size_bigger_than_memory(self):
        self.assertIn("max_item_size", self.expect_error("max_item_size = 2G"))
        self.assertIn("max_item_size", self.expect_error("memory = 16M\n    max_item_size = 32M",
                                                         needle="max_item_size", also="memory"))

    def test_item_size_zero(self):
        self.assertIn("max_item_size", self.expect_error("max_item_size = 0"))

    def test_unknown_option(self):
        self.expect_error("memroy = 16M")


if __name__ == "__main__":
    loomtest.main()
