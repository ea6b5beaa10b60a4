"""mctest - shared helpers for the memcache integration tests.

Every test_memcache_*.py file runs either against a loomd it starts itself
(memcache module on a free loopback port) or, when MC_ADDR=host:port is set,
against an already running server, such as the reference memcached 1.6.18:

    memcached -u root -p 21211 -U 21211 -l 127.0.0.1 -t 1 -d
    MC_ADDR=127.0.0.1:21211 /usr/bin/python3 tests/integration/test_memcache_text.py

In that mode nothing is started, and tests of loom-only behaviour (documented
deviations, loomd's memory, its configuration) are skipped.  For the UDP tests
MC_UDP_ADDR=host:port names the UDP endpoint (default: the MC_ADDR address).

Memcached starts Debian's memcached (/usr/bin/memcached, package memcached)
beside loomd on a free loopback port, so that a test class can run the same
assertions against both in one run (test_memcache_parity.py); such classes
are skipped where memcached is not installed.

Expected replies in the tests are literal bytes, as memcached 1.6.18 gives
them; nothing is computed from the server under test.
"""

import itertools
import os
import re
import socket
import subprocess
import time
import unittest

import loomtest
from loomtest import WAIT, Loomd, free_port, own

MC_ADDR = os.environ.get("MC_ADDR")
EXTERNAL = bool(MC_ADDR)

# bound on one reply (a missing reply fails after this long, nothing is timed)
TIMEOUT = min(WAIT, 10.0)


def _parse_addr(text):
    host, _, port = text.rpartition(":")
    return (host or "127.0.0.1").strip("[]"), int(port)


def loom_only(reason="loom-only behaviour"):
    """Decorator: skip when the tests run against an external server."""
    return unittest.skipIf(EXTERNAL, "MC_ADDR set: " + reason)


CONF = '''
memcache "cache" {
    listen = {%(listen)s}
%(extra)s}
'''


class Server:
    """The server under test: a loomd started on a memcache config, or the
    external server named by MC_ADDR.  .host, .port, .udp (host, port) or
    None, .loomd (the Loomd, None when external)."""

    def __init__(self, memory="64M", max_item_size=None, udp=False, extra=""):
        self.loomd = None
        self.udp = None
        if EXTERNAL:
            self.host, self.port = _parse_addr(MC_ADDR)
            if udp:
                self.udp = _parse_addr(os.environ.get("MC_UDP_ADDR", MC_ADDR))
            return
        self.host = "127.0.0.1"
        self.port = free_port()
        listen = ['"tcp:%d:interface=127.0.0.1"' % self.port]
        if udp:
            uport = free_port(socket.SOCK_DGRAM)
            listen.append('"udp:%d:interface=127.0.0.1"' % uport)
            self.udp = ("127.0.0.1", uport)
        lines = ""
        if memory is not None:
            lines += "    memory = %s\n" % memory
        if max_item_size is not None:
            lines += "    max_item_size = %s\n" % max_item_size
        lines += extra
        self.conf = CONF % {"listen": ", ".join(listen), "extra": lines}
        self.loomd = Loomd(self.conf)
        self.loomd.start()

    @property
    def pid(self):
        return self.loomd.proc.pid if self.loomd else None

    def rss_kb(self):
        return int(loomtest.proc_status(self.pid)["VmRSS"].split()[0])

    def connect(self, timeout=TIMEOUT):
        return Conn(socket.create_connection((self.host, self.port), timeout=timeout))

    def close(self):
        if self.loomd:
            self.loomd.cleanup()
            self.loomd = None


MEMCACHED = "/usr/bin/memcached"


def have_memcached():
    return os.access(MEMCACHED, os.X_OK)


class Memcached:
    """Debian's memcached on a free loopback port, TCP only, one worker
    thread (memcached -p PORT -U 0 -l 127.0.0.1 -t 1 plus EXTRA options),
    with the interface of Server: .host, .port, .pid, connect(), close()."""

    def __init__(self, extra=()):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.loomd = None
        self.udp = None
        args = [MEMCACHED, "-p", str(self.port), "-U", "0", "-l", self.host,
                "-t", "1"] + list(extra)
        if os.geteuid() == 0:
            args += ["-u", "nobody"]  # memcached refuses to run as root
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise AssertionError("memcached did not start: %r" % args)
                time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def rss_kb(self):
        return int(loomtest.proc_status(self.pid)["VmRSS"].split()[0])

    def connect(self, timeout=TIMEOUT):
        return Conn(socket.create_connection((self.host, self.port), timeout=timeout))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_counter = itertools.count(1)


def prefix(tag=""):
    """A key prefix no other test (or earlier run against the same external
    server) uses."""
    return "%s%x%x%d_" % (tag, os.getpid(), int(time.time() * 1000) & 0xffffff, next(_counter))


class Conn:
    """A text-protocol connection with strict, bounded reads."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(262144)
        if not chunk:
            raise EOFError("server closed the connection; unread: %r" % self.buf[:300])
        self.buf += chunk

    def read_exact(self, n):
        try:
            while len(self.buf) < n:
                self._fill()
        except socket.timeout:
            raise AssertionError("timed out after %d of %d bytes: %r"
                                 % (len(self.buf), n, self.buf[:300]))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def readline(self):
        try:
            while b"\r\n" not in self.buf:
                self._fill()
        except socket.timeout:
            raise AssertionError("timed out waiting for a line; have %r" % self.buf[:300])
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line + b"\r\n"

    def read_until(self, end=b"END\r\n"):
        """Everything up to and including the first line equal to END."""
        try:
            while True:
                i = (b"\r\n" + self.buf).find(b"\r\n" + end)
                if i >= 0:
                    n = i + len(end)
                    out, self.buf = self.buf[:n], self.buf[n:]
                    return out
                self._fill()
        except socket.timeout:
            raise AssertionError("timed out waiting for %r; have %r" % (end, self.buf[-300:]))

    def read_until_close(self):
        """Read until EOF (or a reset); returns what came."""
        out = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.s.recv(262144)
                if not chunk:
                    return out
                out += chunk
        except ConnectionResetError:
            return out
        except socket.timeout:
            raise AssertionError("connection not closed; got %r" % out[-300:])

    def call(self, data, want):
        """Send DATA, read exactly len(WANT) bytes and return them (callers
        compare).  A shorter reply fails by timeout, a longer one shows up
        in the next read (or in sync())."""
        if isinstance(want, str):
            want = want.encode()
        self.send(data)
        return self.read_exact(len(want))

    def sync(self, tc):
        """Prove nothing unread is pending: a `version` round trip must
        answer with exactly one VERSION line."""
        self.send(b"version\r\n")
        line = self.readline()
        tc.assertTrue(line.startswith(b"VERSION "), "expected VERSION, got %r" % line)
        tc.assertEqual(self.buf, b"", "unexpected extra bytes")

    def get(self, cmd):
        """Send a retrieval command line (without CRLF) and return the whole
        reply up to END (or the first error line)."""
        self.send(cmd + b"\r\n")
        out = b""
        while True:
            line = self.readline()
            out += line
            if line == b"END\r\n" or b" " not in line.strip() or line.startswith((b"CLIENT_ERROR", b"SERVER_ERROR")):
                return out
            m = re.match(rb"^VALUE \S+ \d+ (\d+)", line)
            if not m:
                return out
            out += self.read_exact(int(m.group(1)) + 2)

    def stats(self, sub=b""):
        self.send(b"stats" + ((b" " + sub) if sub else b"") + b"\r\n")
        return self.read_until()


def parse_stats(text):
    """`STAT name value` lines (ending in END) as a dict of str."""
    out = {}
    lines = text.split(b"\r\n")
    assert lines[-2:] == [b"END", b""], text[-100:]
    for line in lines[:-2]:
        m = re.match(rb"^STAT (\S+) (.*)$", line)
        assert m, "not a STAT line: %r" % line
        out[m.group(1).decode()] = m.group(2).decode()
    return out


class MCTestCase(unittest.TestCase):
    """Base: one server per class (SERVER_ARGS), a fresh key prefix and a
    connection per test."""

    SERVER_ARGS = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, Server(**cls.SERVER_ARGS))

    def setUp(self):
        self.p = prefix()
        self.c = self.srv.connect()
        self.extra = []

    def tearDown(self):
        self.c.close()
        for c in self.extra:
            c.close()

    def k(self, name=""):
        return (self.p + name).encode()

    def conn(self):
        c = self.srv.connect()
        self.extra.append(c)
        return c

    def expect(self, data, want, conn=None):
        """Send DATA (bytes, with {k} replaced by the test's key prefix) and
        assert the reply is exactly WANT (also with {k} replaced)."""
        c = conn or self.c
        data = data.replace(b"{k}", self.p.encode())
        want = want.replace(b"{k}", self.p.encode())
        got = c.call(data, want)
        self.assertEqual(got, want, "request %r" % data[:200])
        return got

    def expect_ttl(self, data, ttl, rest=b"", conn=None):
        """Send DATA (a meta command asking for t, {k} replaced) and assert
        the reply is one line "HD tN<REST>" with 0 < N <= TTL: the remaining
        time counts down while the test runs, so N may already be below TTL
        on a loaded machine (never a timing assertion)."""
        c = conn or self.c
        c.send(data.replace(b"{k}", self.p.encode()))
        line = c.readline()
        m = re.match(rb"HD t(\d+)(.*)\r\n$", line)
        self.assertIsNotNone(m, "reply %r" % line)
        self.assertTrue(0 < int(m.group(1)) <= ttl, "ttl %s, set %d" % (m.group(1), ttl))
        self.assertEqual(m.group(2), rest, "reply %r" % line)

    def assertAlive(self, conn=None, name="alive"):
        """A set/get round trip works on CONN (default: the test's own)."""
        c = conn or self.c
        key = self.k(name)
        self.assertEqual(c.call(b"set %s 3 0 2\r\nok\r\n" % key, b"STORED\r\n"), b"STORED\r\n")
        want = b"VALUE %s 3 2\r\nok\r\nEND\r\n" % key
        self.assertEqual(c.call(b"get %s\r\n" % key, want), want)

    def wait_until(self, pred, what, timeout=WAIT, step=0.1):
        """Poll PRED until it is true; fail after TIMEOUT (a bound on a hang,
        never a timing assertion)."""
        deadline = time.monotonic() + timeout
        while True:
            if pred():
                return
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + what)
            time.sleep(step)
