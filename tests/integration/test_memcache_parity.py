"""memcached 1.6.18 behaviours that loom copies, each asserted twice in one
run: against loomd (or the MC_ADDR server, see mctest.py) and against
Debian's memcached started beside it on another port (skipped where
memcached is not installed).  Expected replies are literal, as memcached
1.6.18 gives them, never taken from the server under test: multigets of
18,000 keys, a bad key in a get, the cross-protocol guard (a line ending
in HTTP/...), ms's c flag when nothing is stored, the names of `stats
items`, `stats detail`, `slabs automove`, `lru_crawler metadump` and what
memcdump (libmemcached-tools) lists.

Where loom goes further, the test is loom's alone: gat/gats key lists of
any length (memcached closes a gat line longer than 2048 bytes whose end
has not arrived), and the memory a client costs that sends a huge get line
or asks for a metadump and does not read."""

import re
import shutil
import socket
import subprocess
import threading
import time
import unittest
import zlib

import loomtest
import mctest
from loomtest import own, WAIT
from mctest import MCTestCase, Memcached, have_memcached

BAD_FORMAT = b"CLIENT_ERROR bad command line format\r\n"

# memcached 1.6.18's per-class `stats items` fields, in its order
ITEMS_FIELDS = [
    "number", "number_hot", "number_warm", "number_cold", "age_hot",
    "age_warm", "age", "mem_requested", "evicted", "evicted_nonzero",
    "evicted_time", "outofmemory", "tailrepairs", "reclaimed",
    "expired_unfetched", "evicted_unfetched", "evicted_active",
    "crawler_reclaimed", "crawler_items_checked", "lrutail_reflocked",
    "moves_to_cold", "moves_to_warm", "moves_within_lru", "direct_reclaims",
    "hits_to_hot", "hits_to_warm", "hits_to_cold", "hits_to_temp",
]

METADUMP_LINE = re.compile(rb"^key=(\S+) exp=(-?\d+) la=(\d+) cas=(\d+) "
                           rb"fetch=(yes|no) cls=(\d+) size=(\d+)$")


def short_tag(p):
    """Four characters unique to the test (from its key prefix), for keys
    that must stay short."""
    return b"%04x" % (zlib.crc32(p.encode()) & 0xffff)


def store(conn, tc, items, ttl=0):
    """Store (key, value) pairs with noreply sets, then prove they are in
    with a version round trip."""
    batch = []
    for key, val in items:
        batch.append(b"set %s 0 %d %d noreply\r\n%s\r\n" % (key, ttl, len(val), val))
        if len(batch) == 2000:
            conn.send(b"".join(batch))
            batch = []
    conn.send(b"".join(batch))
    conn.sync(tc)


def send_async(conn, data):
    """Send DATA from a thread (a long request whose answer arrives while
    it is still being sent must be read meanwhile)."""
    err = []

    def run():
        try:
            conn.s.sendall(data)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, err


def read_metadump(conn):
    """The reply to lru_crawler metadump: its lines (they end in LF) up to
    END (CR LF)."""
    buf = b""
    try:
        while not (buf == b"END\r\n" or buf.endswith(b"\nEND\r\n")):
            chunk = conn.s.recv(1 << 20)
            if not chunk:
                raise AssertionError("closed; got %r" % buf[-200:])
            buf += chunk
    except socket.timeout:
        raise AssertionError("no END; got %r" % buf[-200:])
    return buf[:-5].split(b"\n")[:-1]


class Parity:
    """The assertions, run once per server (the classes below)."""

    IS_LOOM = False

    # ---- get with a long key list ------------------------------------------

    def long_multiget(self, verb, n=18000):
        tag = short_tag(self.p)
        keys = [b"%s%05d" % (tag, i) for i in range(n)]
        vals = [b"v%d" % i for i in range(n)]
        store(self.c, self, zip(keys, vals))
        line = verb + b" " + b" ".join(keys) + b"\r\n"
        t, err = send_async(self.c, line)
        out = self.c.read_until(b"END\r\n")
        t.join(WAIT)
        self.assertEqual(err, [])
        return line, keys, vals, out

    def test_multiget_18000_keys(self):
        """18,000 keys (a 180 KB line): every value, in order, then END."""
        line, keys, vals, out = self.long_multiget(b"get")
        self.assertGreater(len(line), 180000)
        want = b"".join(b"VALUE %s 0 %d\r\n%s\r\n" % (k, len(v), v)
                        for k, v in zip(keys, vals)) + b"END\r\n"
        self.assertEqual(len(out), len(want))
        self.assertEqual(out, want)
        if self.IS_LOOM and self.srv.pid:
            print("# get of %d keys: line %d bytes, reply %d bytes, loomd "
                  "VmHWM %s" % (len(keys), len(line), len(out),
                                loomtest.proc_status(self.srv.pid)["VmHWM"]),
                  flush=True)
        self.c.sync(self)

    def test_gets_18000_keys(self):
        line, keys, vals, out = self.long_multiget(b"gets")
        got = re.findall(rb"VALUE (\S+) 0 (\d+) (\d+)\r\n", out)
        self.assertEqual([g[0] for g in got], keys)
        self.assertTrue(all(int(g[2]) > 0 for g in got))
        self.assertTrue(out.endswith(b"\r\nEND\r\n"))
        self.c.sync(self)

    # ---- a bad key makes a get one error -------------------------------------

    def test_get_bad_key_only_error(self):
        """A key over 250 bytes anywhere in the list: CLIENT_ERROR alone,
        no value found before it; the connection goes on."""
        store(self.c, self, [(self.k("a"), b"1"), (self.k("b"), b"2")])
        bad = self.k("x").ljust(251, b"x")
        for verb in (b"get", b"gets", b"gat 0", b"gats 0"):
            self.expect(b"%s {k}a {k}b %s {k}a\r\n" % (verb, bad), BAD_FORMAT)
            self.expect(b"%s %s {k}a\r\n" % (verb, bad), BAD_FORMAT)
        self.expect(b"get {k}a\r\n", b"VALUE {k}a 0 1\r\n1\r\nEND\r\n")

    def test_long_get_bad_key_only_error(self):
        """The same in a line of over 50 KB, the bad key 40 KB in."""
        store(self.c, self, [(self.k("a"), b"1")])
        bad = self.k("x").ljust(300, b"x")
        n = 40000 // (len(self.k("a")) + 1)
        words = [self.k("a")] * n + [bad] + [self.k("a")] * (n // 3)
        line = b"get " + b" ".join(words) + b"\r\n"
        self.assertGreater(len(line), 50000)
        self.assertLess(len(line), 65536)
        t, err = send_async(self.c, line)
        self.assertEqual(self.c.readline(), BAD_FORMAT)
        t.join(WAIT)
        self.c.sync(self)

    # ---- the cross-protocol guard ----------------------------------------------

    def test_http_request_line_closes(self):
        """An unknown command whose last token starts with HTTP/ (a browser
        made to post to the cache) closes the connection without a word."""
        c = self.conn()
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(c.read_until_close(), b"")
        c = self.conn()
        self.assertEqual(c.call(b"version\r\n", b"VERSION 1.6.18\r\n"),
                         b"VERSION 1.6.18\r\n")
        c.send(b"POST /x HTTP/1.0\r\nContent-Length: 17\r\n\r\n"
               b"set a 0 0 1\r\nx\r\n")
        self.assertEqual(c.read_until_close(), b"")
        # ... unless memcached picks the verb by its first letter
        self.expect(b"gxx / HTTP/1.1\r\n", b"ERROR\r\n")
        self.expect(b"mx / HTTP/1.1\r\n", b"ERROR\r\n")
        self.expect(b"get HTTP/1.1\r\n", b"END\r\n")
        self.expect(b"zz HTTP/1.1 x\r\n", b"ERROR\r\n")
        self.assertAlive()

    # ---- ms and its c flag --------------------------------------------------

    def test_ms_c_flag_when_not_stored(self):
        self.c.send(b"ms {k}c 1 c\r\nq\r\n".replace(b"{k}", self.p.encode()))
        m = re.match(rb"^HD c(\d+)\r\n$", self.c.readline())
        self.assertIsNotNone(m)
        cas = int(m.group(1))
        self.expect(b"ms {k}c 1 C%d c\r\nz\r\n" % (cas + 1000), b"EX c0\r\n")
        self.expect(b"ms {k}c 1 C%d c O7 k\r\nz\r\n" % (cas + 1000),
                    b"EX c0 O7 k{k}c\r\n")
        self.expect(b"ms {k}nx 1 C1 c\r\nz\r\n", b"NF c0\r\n")
        self.expect(b"ms {k}c 1 ME c\r\nz\r\n", b"NS c0\r\n")
        self.expect(b"ms {k}c 1 C%d\r\nz\r\n" % (cas + 1000), b"EX\r\n")
        self.expect(b"mg {k}c v\r\n", b"VA 1\r\nq\r\n")

    # ---- stats items, stats detail, slabs automove ---------------------------

    def test_stats_items_field_names(self):
        store(self.c, self, [(self.k("i"), b"xyz")])
        lines = self.c.stats(b"items").split(b"\r\n")[:-2]
        classes = {}
        for line in lines:
            m = re.match(rb"^STAT items:(\d+):(\w+) (\d+)$", line)
            self.assertIsNotNone(m, line)
            classes.setdefault(m.group(1), []).append(m.group(2).decode())
        self.assertTrue(classes)
        for cls, names in classes.items():
            self.assertEqual(names, ITEMS_FIELDS, "class %s" % cls)

    def test_stats_detail(self):
        pfx = b"pd" + short_tag(self.p)
        try:
            self.expect(b"stats detail on\r\n", b"OK\r\n")
            self.c.send(b"set %s:a 0 0 1\r\nx\r\nset %s:b 0 0 1 noreply\r\nx\r\n"
                        b"get %s:a %s:zz\r\ngats 0 %s:nx\r\ndelete %s:a\r\n"
                        b"mg %s:b v\r\nincr %s:b 1\r\n" % ((pfx,) * 8))
            self.assertEqual(
                self.c.read_exact(len(b"STORED\r\nVALUE %s:a 0 1\r\nx\r\nEND\r\n"
                                      b"END\r\nDELETED\r\nVA 1\r\nx\r\n" % pfx)),
                b"STORED\r\nVALUE %s:a 0 1\r\nx\r\nEND\r\nEND\r\nDELETED\r\n"
                b"VA 1\r\nx\r\n" % pfx)
            self.assertTrue(self.c.readline().startswith(b"CLIENT_ERROR"))
            want = b"PREFIX %s get 3 hit 1 set 2 del 1" % pfx
            self.c.send(b"stats detail dump\r\n")
            self.assertIn(want, self.c.read_until().split(b"\r\n"))
            self.expect(b"stats detail off\r\n", b"OK\r\n")
            self.expect(b"get %s:b\r\n" % pfx, b"VALUE %s:b 0 1\r\nx\r\nEND\r\n" % pfx)
            self.c.send(b"stats detail dump\r\n")
            self.assertIn(want, self.c.read_until().split(b"\r\n"))
            usage = b"CLIENT_ERROR usage: stats detail on|off|dump\r\n"
            self.expect(b"stats detail\r\n", usage)
            self.expect(b"stats detail bogus\r\n", usage)
        finally:
            self.c.send(b"stats detail off\r\n")

    def test_slabs_automove(self):
        try:
            self.expect(b"slabs automove 0\r\n", b"OK\r\n")
            self.expect(b"slabs automove 2\r\n", b"OK\r\n")
            self.c.send(b"stats settings\r\n")
            self.assertIn(b"STAT slab_automove 2", self.c.read_until().split(b"\r\n"))
            self.expect(b"slabs automove 3\r\n", b"ERROR\r\n")
            self.expect(b"slabs automove x\r\n", BAD_FORMAT)
            self.expect(b"slabs automove -1\r\n", BAD_FORMAT)
            self.expect(b"slabs automove\r\n", b"ERROR\r\n")
            self.expect(b"slabs\r\n", b"ERROR\r\n")
        finally:
            self.expect(b"slabs automove 1\r\n", b"OK\r\n")

    # ---- listing keys ---------------------------------------------------------

    def test_metadump_all(self):
        """Every key once, with its expiry as a Unix time (-1: none)."""
        n = 20000
        keys = [self.k("%05d" % i) for i in range(n)]
        store(self.c, self, [(k, b"v") for k in keys[: n // 2]])
        store(self.c, self, [(k, b"v") for k in keys[n // 2:]], ttl=1000)
        now = time.time()
        c = self.conn()
        c.send(b"lru_crawler metadump all\r\n")
        seen = {}
        for line in read_metadump(c):
            m = METADUMP_LINE.match(line)
            self.assertIsNotNone(m, line)
            if m.group(1).startswith(self.p.encode()):
                self.assertNotIn(m.group(1), seen)
                seen[m.group(1)] = int(m.group(2))
        self.assertEqual(sorted(seen), sorted(keys))
        for i, k in enumerate(keys):
            if i < n // 2:
                self.assertEqual(seen[k], -1)
            else:
                self.assertLess(abs(seen[k] - (now + 1000)), 60)

    def test_metadump_classes(self):
        for arg, reply in ((b"0", b"BADCLASS invalid class id\r\n"),
                           (b"64", b"BADCLASS invalid class id\r\n"),
                           (b"x", b"BADCLASS invalid class id\r\n"),
                           (b",", b"NOTSTARTED no items to crawl\r\n")):
            c = self.conn()
            self.assertEqual(c.call(b"lru_crawler metadump %s\r\n" % arg, reply), reply)
        c = self.conn()
        self.assertEqual(c.call(b"lru_crawler metadump\r\n", b"ERROR\r\n"), b"ERROR\r\n")
        c = self.conn()
        self.assertEqual(c.call(b"stats cachedump 64 0\r\n",
                                b"CLIENT_ERROR Illegal slab id\r\n"),
                         b"CLIENT_ERROR Illegal slab id\r\n")
        self.assertEqual(c.call(b"stats cachedump 1\r\n",
                                b"CLIENT_ERROR bad command line\r\n"),
                         b"CLIENT_ERROR bad command line\r\n")


class OnLoom(Parity, MCTestCase):
    IS_LOOM = True
    SERVER_ARGS = {"memory": "256M"}

    @mctest.loom_only("memcached closes a long gat line")
    def test_gat_18000_keys(self):
        """gat and gats take key lists of any length too (memcached closes
        a gat/gats line longer than 2048 bytes whose end has not come)."""
        for verb in (b"gat 1000", b"gats 1000"):
            line, keys, vals, out = self.long_multiget(verb)
            got = re.findall(rb"VALUE (\S+) 0 (\d+)(?: \d+)?\r\n", out)
            self.assertEqual([g[0] for g in got], keys)
            self.assertTrue(out.endswith(b"\r\nEND\r\n"))
        self.c.send(b"mg %s t\r\n" % keys[-1])  # touched: about 1000 s left
        m = re.match(rb"^HD t(\d+)\r\n$", self.c.readline())
        self.assertIsNotNone(m)
        self.assertTrue(900 < int(m.group(1)) <= 1000, m.group(1))

    @mctest.loom_only("loomd's memory")
    def test_huge_multiget_not_read(self):
        """A 4 MB get line for a 100 KB value, its answer never read: loomd
        reads the line only as fast as the answers leave, so its memory
        stays flat; the client that finally reads gets values in order, and
        others are served meanwhile."""
        val = bytes(i % 251 for i in range(100 * 1000))
        key = self.k("huge")
        self.expect(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val), b"STORED\r\n")
        base = self.srv.rss_kb()
        c = self.conn()
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        line = b"get " + b" ".join([key] * (4 * 1000 * 1000 // (len(key) + 1))) + b"\r\n"
        t, err = send_async(c, line)
        rss = []
        other = self.conn()
        for i in range(15):
            rss.append(self.srv.rss_kb())
            self.assertAlive(other, "other%d" % i)
            time.sleep(0.1)
        print("# huge get line: %d bytes; loomd RSS %d KiB before, at most %d "
              "KiB while unread; VmHWM %s" % (len(line), base, max(rss),
                                              loomtest.proc_status(self.srv.pid)["VmHWM"]),
              flush=True)
        if not loomtest.SANITIZED:  # ASan's quarantine and shadow memory
            self.assertLess(max(rss) - base, 16 * 1024, "RSS samples (KiB): %r" % rss)
        reply = b"VALUE %s 0 %d\r\n%s\r\n" % (key, len(val), val)
        c.s.settimeout(WAIT)
        for i in range(20):
            self.assertEqual(c.read_exact(len(reply)), reply, "value %d" % i)
        c.s.shutdown(socket.SHUT_RDWR)  # wakes the sender
        c.close()
        t.join(WAIT)
        self.assertAlive(other, "after")

    @mctest.loom_only("loomd's memory")
    def test_metadump_not_read(self):
        """A metadump of 200,000 keys (14 MB of lines) to a client that
        does not read: loomd writes it as the client takes it."""
        n = 200000
        keys = [self.k("%06d" % i) for i in range(n)]
        store(self.c, self, [(k, b"v") for k in keys])
        base = self.srv.rss_kb()
        c = self.conn()
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(b"lru_crawler metadump all\r\n")
        rss = []
        for i in range(10):
            rss.append(self.srv.rss_kb())
            self.assertAlive(self.c, "during%d" % i)
            time.sleep(0.1)
        if not loomtest.SANITIZED:
            self.assertLess(max(rss) - base, 6 * 1024, "RSS samples (KiB): %r" % rss)
        c.s.settimeout(WAIT)
        ours = re.compile(rb"^key=%s\d{6} " % re.escape(self.p.encode()))
        listed = [line for line in read_metadump(c) if ours.match(line)]
        self.assertEqual(len(listed), n)
        self.assertEqual(len(set(listed)), n)
        self.assertEqual(c.call(b"version\r\n", b"VERSION 1.6.18\r\n"), b"VERSION 1.6.18\r\n")


@unittest.skipUnless(have_memcached(), "memcached (%s) is not installed" % mctest.MEMCACHED)
class OnMemcached(Parity, MCTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, Memcached(["-m", "256"]))


# ---- memcdump ------------------------------------------------------------------

MEMCDUMP = shutil.which("memcdump")


class Memcdump:
    """What Debian's memcdump lists: it asks `stats cachedump N 0` for each
    class N from 0 to 63, and memcached answers each with at most 2 MB of
    "ITEM key [n b; t s]" lines, the most recently used first.  memcached's
    default segmented LRU lists only its cold segment; loom has one LRU per
    cache, as memcached has without its LRU maintainer, which the memcached
    side of these tests is started without."""

    def memcdump(self):
        r = subprocess.run([MEMCDUMP, "--servers=%s:%d" % (self.srv.host, self.srv.port)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split(b"\n")[:-1]

    def test_memcdump_many_keys(self):
        tag = short_tag(self.p)
        keys = [b"md%s%07d" % (tag, i) for i in range(100000)]
        store(self.c, self, [(k, b"value") for k in keys[:40000]])
        listed = self.memcdump()
        self.assertEqual(len(listed), len(set(listed)))
        self.assertEqual(sorted(k for k in listed if k.startswith(b"md" + tag)),
                         sorted(keys[:40000]))
        store(self.c, self, [(k, b"value") for k in keys[40000:]])
        listed = self.memcdump()
        # 2 MB of "ITEM <key> [5 b; 0 s]\r\n" lines, room kept for "END\r\n"
        # and a NUL: the most recent ones
        fit = (2 * 1024 * 1024 - 6) // len(b"ITEM %s [5 b; 0 s]\r\n" % keys[0])
        self.assertEqual(len(listed), fit)
        self.assertEqual(listed, keys[::-1][:fit])


@unittest.skipUnless(MEMCDUMP, "memcdump (libmemcached-tools) is not installed")
@unittest.skipIf(mctest.EXTERNAL, "MC_ADDR set: needs a cache of its own")
class MemcdumpOnLoom(Memcdump, MCTestCase):
    pass


@unittest.skipUnless(MEMCDUMP and have_memcached(),
                     "memcdump or memcached is not installed")
class MemcdumpOnMemcached(Memcdump, MCTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, Memcached(["-o", "no_lru_maintainer"]))


if __name__ == "__main__":
    loomtest.main()
