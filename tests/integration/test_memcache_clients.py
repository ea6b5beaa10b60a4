"""memcache module driven by real memcached clients: pymemcache, the
libmemcached command-line tools (memc*) and Twisted's MemCacheProtocol.
MC_ADDR=host:port runs the same tests against another server (mctest.py)."""

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

import loomtest
import mctest
from loomtest import WAIT
from mctest import MCTestCase

PYTHON = "/usr/bin/python3"

try:
    from pymemcache.client.base import Client
    from pymemcache.exceptions import MemcacheClientError, MemcacheServerError
except ImportError:      # pragma: no cover - reported as skips
    Client = None

MEMC_TOOLS = ("memccp", "memccat", "memcrm", "memcstat", "memcflush",
              "memctouch", "memcexist", "memcping")


def have_tools():
    return all(shutil.which(t) for t in MEMC_TOOLS)


@unittest.skipIf(Client is None, "pymemcache not installed")
class PyMemcache(MCTestCase):
    def setUp(self):
        super().setUp()
        self.mc = Client((self.srv.host, self.srv.port), timeout=mctest.TIMEOUT,
                         connect_timeout=mctest.TIMEOUT, key_prefix=self.p.encode(),
                         default_noreply=False)

    def tearDown(self):
        self.mc.close()
        super().tearDown()

    def test_set_get(self):
        self.assertTrue(self.mc.set("a", b"hello"))
        self.assertEqual(self.mc.get("a"), b"hello")
        self.assertIsNone(self.mc.get("nx"))
        self.assertEqual(self.mc.get("nx", default=b"dflt"), b"dflt")
        self.assertTrue(self.mc.set("b", b"", expire=100))
        self.assertEqual(self.mc.get("b"), b"")

    def test_get_many(self):
        for i in range(50):
            self.mc.set("k%d" % i, b"v%d" % i)
        got = self.mc.get_many(["k%d" % i for i in range(60)])
        self.assertEqual(got, {"k%d" % i: b"v%d" % i for i in range(50)})
        self.assertEqual(self.mc.get_multi(["k1", "nx"]), {"k1": b"v1"})
        # set_many reports the keys that failed (none)
        self.assertEqual(self.mc.set_many({"m1": b"1", "m2": b"2"}), [])
        self.assertEqual(self.mc.get_many(["m1", "m2"]), {"m1": b"1", "m2": b"2"})

    def test_gets_cas(self):
        self.mc.set("c", b"one")
        val, cas = self.mc.gets("c")
        self.assertEqual(val, b"one")
        self.assertTrue(cas.isdigit(), cas)
        self.assertTrue(self.mc.cas("c", b"two", cas))
        self.assertFalse(self.mc.cas("c", b"three", cas))
        self.assertIsNone(self.mc.cas("nx", b"x", cas))
        self.assertEqual(self.mc.get("c"), b"two")
        self.assertEqual(self.mc.gets("nx"), (None, None))
        many = self.mc.gets_many(["c", "nx"])
        self.assertEqual(list(many), ["c"])
        self.assertEqual(many["c"][0], b"two")
        self.assertNotEqual(many["c"][1], cas)

    def test_add_replace_append_prepend(self):
        self.assertTrue(self.mc.add("a", b"1"))
        self.assertFalse(self.mc.add("a", b"2"))
        self.assertTrue(self.mc.replace("a", b"3"))
        self.assertFalse(self.mc.replace("nx", b"3"))
        self.assertTrue(self.mc.append("a", b"tail"))
        self.assertTrue(self.mc.prepend("a", b"head"))
        self.assertEqual(self.mc.get("a"), b"head3tail")
        self.assertFalse(self.mc.append("nx", b"x"))
        self.assertFalse(self.mc.prepend("nx", b"x"))

    def test_delete(self):
        self.mc.set("d", b"x")
        self.assertTrue(self.mc.delete("d"))
        self.assertFalse(self.mc.delete("d"))
        for i in range(5):
            self.mc.set("dm%d" % i, b"x")
        self.assertTrue(self.mc.delete_many(["dm%d" % i for i in range(5)] + ["nx"]))
        self.assertEqual(self.mc.get_many(["dm%d" % i for i in range(5)]), {})
        self.assertTrue(self.mc.delete_multi([]))

    def test_incr_decr(self):
        self.mc.set("n", b"10")
        self.assertEqual(self.mc.incr("n", 5), 15)
        self.assertEqual(self.mc.decr("n", 20), 0)
        self.assertIsNone(self.mc.incr("nx", 1))
        self.assertIsNone(self.mc.decr("nx", 1))
        self.mc.set("big", b"18446744073709551615")
        self.assertEqual(self.mc.incr("big", 1), 0)
        self.mc.set("s", b"abc")
        with self.assertRaises(MemcacheClientError):
            self.mc.incr("s", 1)
        # the connection survives the error
        self.assertEqual(self.mc.get("n"), b"0 ")

    def test_touch(self):
        self.mc.set("t", b"x")
        self.assertTrue(self.mc.touch("t", 100))
        self.assertFalse(self.mc.touch("nx", 100))
        self.assertEqual(self.mc.get("t"), b"x")

    def test_noreply(self):
        self.assertTrue(self.mc.set("a", b"1", noreply=True))
        self.assertTrue(self.mc.add("b", b"2", noreply=True))
        self.assertTrue(self.mc.replace("a", b"3", noreply=True))
        self.assertTrue(self.mc.append("a", b"4", noreply=True))
        self.assertTrue(self.mc.prepend("a", b"5", noreply=True))
        self.mc.set("n", b"1", noreply=True)
        self.assertIsNone(self.mc.incr("n", 9, noreply=True))
        self.assertIsNone(self.mc.decr("n", 3, noreply=True))
        self.assertTrue(self.mc.touch("n", 100, noreply=True))
        self.mc.set("d", b"x", noreply=True)
        self.assertTrue(self.mc.delete("d", noreply=True))
        self.assertEqual(self.mc.get_many(["a", "b", "n", "d"]),
                         {"a": b"534", "b": b"2", "n": b"7 "})
        self.assertTrue(self.mc.set_many({"x": b"1", "y": b"2"}, noreply=True) == [])
        self.assertEqual(self.mc.get("y"), b"2")
        self.assertTrue(self.mc.flush_all(noreply=True))
        self.assertIsNone(self.mc.get("y"))

    def test_flush_all(self):
        self.mc.set("f", b"x")
        self.assertTrue(self.mc.flush_all())
        self.assertIsNone(self.mc.get("f"))

    def test_stats_version(self):
        st = self.mc.stats()
        for name in (b"pid", b"uptime", b"curr_items", b"get_hits", b"cmd_get",
                     b"limit_maxbytes", b"total_connections"):
            self.assertIn(name, st)
            self.assertIsInstance(st[name], int, name)
        self.assertTrue(st[b"version"].startswith(b"1.6.18"), st[b"version"])
        self.assertTrue(self.mc.version().startswith(b"1.6.18"))
        # (pymemcache puts key_prefix before stats arguments: a plain client)
        plain = self.plain()
        settings = plain.stats("settings")
        self.assertIn(b"item_size_max", settings)
        self.assertIsInstance(settings[b"item_size_max"], int)
        items = plain.stats("items")
        self.assertTrue(all(k.startswith(b"items:") for k in items), items)

    def plain(self):
        mc = Client((self.srv.host, self.srv.port), timeout=mctest.TIMEOUT,
                    connect_timeout=mctest.TIMEOUT, default_noreply=False)
        self.addCleanup(mc.close)
        return mc

    def test_cache_memlimit(self):
        plain = self.plain()
        mb = plain.stats()[b"limit_maxbytes"] // (1024 * 1024)
        self.assertTrue(plain.cache_memlimit(mb))
        self.assertEqual(plain.stats()[b"limit_maxbytes"], mb * 1024 * 1024)

    def test_large_values(self):
        for size in (1000 * 1000, 1024 * 1024 - 1024):
            val = os.urandom(size)
            self.assertTrue(self.mc.set("L%d" % size, val))
            self.assertEqual(self.mc.get("L%d" % size), val)
        with self.assertRaises(MemcacheServerError):
            self.mc.set("T", b"x" * (1024 * 1024 + 1))
        self.assertIsNone(self.mc.get("T"))
        self.assertEqual(len(self.mc.get("L1000000")), 1000000)

    def test_unicode_and_serde(self):
        from pymemcache import serde
        mc = Client((self.srv.host, self.srv.port), serde=serde.pickle_serde,
                    key_prefix=self.p.encode(), timeout=mctest.TIMEOUT, default_noreply=False)
        try:
            obj = {"a": [1, 2, 3], "b": "text\u00e9"}
            mc.set("obj", obj)
            mc.set("int", 42)
            self.assertEqual(mc.get("obj"), obj)
            self.assertEqual(mc.get("int"), 42)
        finally:
            mc.close()

    def test_quit(self):
        self.mc.set("q", b"x")
        self.mc.quit()
        self.assertEqual(self.mc.get("q"), b"x")   # reconnects


@unittest.skipUnless(have_tools(), "libmemcached-tools not installed")
class MemcTools(MCTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="mctools-")
        self.servers = "--servers=%s:%d" % (self.srv.host, self.srv.port)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def run_tool(self, tool, *args):
        return subprocess.run([tool, self.servers] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=WAIT)

    def file(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def test_memccp_memccat(self):
        name = self.p + "file"
        path = self.file(name, b"hello\x00world\n")
        r = self.run_tool("memccp", "--flag=7", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.expect(b"get {k}file\r\n", b"VALUE {k}file 7 12\r\nhello\x00world\n\r\nEND\r\n")
        r = self.run_tool("memccat", name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"hello\x00world\n\n")
        r = self.run_tool("memccat", "--flag", name)
        self.assertEqual(r.stdout.split(b"\n")[0], b"7")
        r = self.run_tool("memccat", self.p + "nx")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")

    def test_memccp_add_replace_expire(self):
        name = self.p + "f2"
        path = self.file(name, b"v1")
        self.assertEqual(self.run_tool("memccp", "--replace", path).returncode, 1)
        self.expect(b"get {k}f2\r\n", b"END\r\n")
        self.assertEqual(self.run_tool("memccp", "--add", path).returncode, 0)
        self.file(name, b"v2")
        self.assertNotEqual(self.run_tool("memccp", "--add", path).returncode, 0)
        self.expect(b"get {k}f2\r\n", b"VALUE {k}f2 0 2\r\nv1\r\nEND\r\n")
        self.assertEqual(self.run_tool("memccp", "--replace", "--expire=1000", path).returncode, 0)
        self.expect(b"mg {k}f2 v t\r\n", b"VA 2 t1000\r\nv2\r\n")

    def test_memcrm_memcexist(self):
        self.expect(b"set {k}r 0 0 1\r\nx\r\n", b"STORED\r\n")
        self.assertEqual(self.run_tool("memcexist", self.p + "r").returncode, 0)
        self.assertEqual(self.run_tool("memcexist", self.p + "nx").returncode, 1)
        r = self.run_tool("memcrm", self.p + "r")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.expect(b"get {k}r\r\n", b"END\r\n")
        self.assertEqual(self.run_tool("memcexist", self.p + "r").returncode, 1)
        self.assertEqual(self.run_tool("memcrm", self.p + "r").returncode, 1)

    def test_memctouch(self):
        self.expect(b"set {k}t 0 0 1\r\nx\r\n", b"STORED\r\n")
        r = self.run_tool("memctouch", "--expire=500", self.p + "t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.expect_ttl(b"mg {k}t t\r\n", 500)
        self.assertEqual(self.run_tool("memctouch", "--expire=500", self.p + "nx").returncode, 1)

    def test_memcstat(self):
        r = self.run_tool("memcstat")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertTrue(out.startswith("Server: %s (%d)\n" % (self.srv.host, self.srv.port)), out[:200])
        for name in ("pid", "uptime", "version", "curr_items", "get_hits", "limit_maxbytes"):
            self.assertRegex(out, r"\n\t%s: \S+" % name)
        self.assertIn("\tversion: 1.6.18", out)
        r = self.run_tool("memcstat", "--server-version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((r.stdout + r.stderr).decode().strip(), "%s:%d 1.6.18" % (self.srv.host, self.srv.port))
        r = self.run_tool("memcstat", "--args=settings")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"\n\titem_size_max: \d+")

    def test_memcstat_analyze(self):
        self.expect(b"set {k}a 0 0 1\r\nx\r\n", b"STORED\r\n")
        r = self.run_tool("memcstat", "--analyze")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Number of Servers Analyzed", r.stdout)

    def test_memcflush(self):
        self.expect(b"set {k}f 0 0 1\r\nx\r\n", b"STORED\r\n")
        r = self.run_tool("memcflush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.expect(b"get {k}f\r\n", b"END\r\n")

    def test_memcping(self):
        r = self.run_tool("memcping")
        self.assertEqual(r.returncode, 0, r.stderr)
        bad = subprocess.run(["memcping", "--servers=127.0.0.1:%d" % loomtest.free_port()],
                             capture_output=True, timeout=WAIT)
        self.assertNotEqual(bad.returncode, 0)


TWISTED_SCRIPT = textwrap.dedent(r'''
    import json, sys
    from twisted.internet import reactor, defer
    from twisted.internet.protocol import ClientCreator
    from twisted.protocols.memcache import MemCacheProtocol

    host, port, p = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    out = {}

    def b(x):
        if isinstance(x, bytes):
            return x.decode("latin-1")
        if isinstance(x, (list, tuple)):
            return [b(i) for i in x]
        if isinstance(x, dict):
            return {b(k): b(v) for k, v in x.items()}
        return x

    @defer.inlineCallbacks
    def main():
        proto = yield ClientCreator(reactor, MemCacheProtocol).connectTCP(host, port)
        out["set"] = yield proto.set(p + b"a", b"hello", flags=3)
        out["get"] = yield proto.get(p + b"a")
        out["get_missing"] = yield proto.get(p + b"nx")
        out["add_again"] = yield proto.add(p + b"a", b"x")
        out["replace"] = yield proto.replace(p + b"a", b"world")
        out["append"] = yield proto.append(p + b"a", b"!")
        out["prepend"] = yield proto.prepend(p + b"a", b">")
        flags, cas, val = yield proto.get(p + b"a", withIdentifier=True)
        out["gets"] = [flags, val]
        out["cas_ok"] = yield proto.checkAndSet(p + b"a", b"casval", cas)
        out["cas_stale"] = yield proto.checkAndSet(p + b"a", b"nope", cas)
        out["multi"] = yield proto.getMultiple([p + b"a", p + b"nx"])
        yield proto.set(p + b"n", b"41")
        out["incr"] = yield proto.increment(p + b"n")
        out["incr5"] = yield proto.increment(p + b"n", 5)
        out["decr"] = yield proto.decrement(p + b"n", 100)
        out["delete"] = yield proto.delete(p + b"a")
        out["delete_again"] = yield proto.delete(p + b"a")
        out["get_deleted"] = yield proto.get(p + b"a")
        st = yield proto.stats()
        out["stats_keys"] = sorted(b(k) for k in st)
        out["stats_version"] = b(st.get(b"version"))
        out["version"] = yield proto.version()
        out["flush"] = yield proto.flushAll()
        out["get_flushed"] = yield proto.get(p + b"n")
        proto.transport.loseConnection()

    def done(_):
        print(json.dumps(b(out)))
        reactor.stop()

    def fail(f):
        print("FAILED: " + f.getTraceback(), file=sys.stderr)
        reactor.stop()

    reactor.callWhenRunning(lambda: main().addCallbacks(done, fail))
    reactor.callLater(30, reactor.stop)
    reactor.run()
''')


class TwistedClient(MCTestCase):
    def test_twisted_memcache_protocol(self):
        r = subprocess.run([PYTHON, "-c", TWISTED_SCRIPT, self.srv.host, str(self.srv.port), self.p],
                           capture_output=True, text=True, timeout=WAIT * 2)
        if "No module named 'twisted'" in r.stderr:
            self.skipTest("python3-twisted not installed")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.strip(), "no result; stderr:\n" + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["set"], True)
        self.assertEqual(out["get"], [3, "hello"])
        self.assertEqual(out["get_missing"], [0, None])
        self.assertEqual(out["add_again"], False)
        self.assertEqual(out["replace"], True)
        self.assertEqual(out["append"], True)
        self.assertEqual(out["prepend"], True)
        self.assertEqual(out["gets"], [0, ">world!"])   # replace set flags 0
        self.assertEqual(out["cas_ok"], True)
        self.assertEqual(out["cas_stale"], False)
        self.assertEqual(out["multi"], {self.p + "a": [0, "casval"], self.p + "nx": [0, None]})
        self.assertEqual(out["incr"], 42)
        self.assertEqual(out["incr5"], 47)
        self.assertEqual(out["decr"], 0)
        self.assertEqual(out["delete"], True)
        self.assertEqual(out["delete_again"], False)
        self.assertEqual(out["get_deleted"], [0, None])
        for name in ("pid", "uptime", "curr_items", "get_hits", "cmd_get", "version"):
            self.assertIn(name, out["stats_keys"])
        self.assertTrue(out["stats_version"].startswith("1.6.18"), out["stats_version"])
        self.assertTrue(out["version"].startswith("1.6.18"), out["version"])
        self.assertEqual(out["flush"], True)
        self.assertEqual(out["get_flushed"], [0, None])


if __name__ == "__main__":
    loomtest.main()
