"""Resource limits: a client that never reads (bounded memory, write
timeout), many concurrent connections, per-listener and global connection
caps, and running out of file descriptors without spinning."""

import errno
import os
import resource
import selectors
import socket
import subprocess
import time
import unittest

import loomtest
from loomtest import (WAIT, Loomd, connect, echo_roundtrip, free_port,
                      proc_cpu_ticks, proc_status, tcp_query)

MB = 1024 * 1024


def rss_kb(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def rejected(port):
    """Connect to PORT and send a line; True if the server closes (EOF or
    reset) without echoing it, or refuses the connection outright.  False if
    the line comes back (the connection was served).  Raises on a hang."""
    try:
        s = connect(port)
    except ConnectionRefusedError:
        return True
    with s:
        try:
            s.sendall(b"over the limit\n")
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
                if got == b"over the limit\n":
                    return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            raise AssertionError("connection over the limit neither served nor closed")
        return b"over the limit" not in got


def open_served(port, timeout=WAIT):
    """A connection that echoes; retried while the server still rejects
    (it may not have seen a client's close yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = connect(port)
            if echo_roundtrip(s, b"served\n") == b"served\n":
                return s
            s.close()
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("no connection to port %d was served" % port)
        time.sleep(0.1)


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return soft
    new_hard = hard if hard == resource.RLIM_INFINITY or hard >= need else need
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, new_hard))
    except (ValueError, OSError):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class LimitsTest(unittest.TestCase):

    def daemon(self, conf):
        d = Loomd(conf)
        self.addCleanup(d.cleanup)
        return d

    def closing(self, socks):
        def close_all():
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass
        self.addCleanup(close_all)
        return socks

    # ---- (1) a client that sends but never reads --------------------------

    def test_client_never_reads(self):
        port = free_port()
        d = self.daemon('echo "e" {\n'
                        '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                        '    write_timeout = 5\n'
                        '}\n' % port)
        d.start()
        pid = d.proc.pid
        with connect(port) as c:
            self.assertEqual(echo_roundtrip(c, b"warm up\n" * 1000), b"warm up\n" * 1000)
        start_rss = rss_kb(pid)
        max_rss = start_rss

        s = connect(port)
        self.closing([s])
        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_WRITE)
        self.addCleanup(sel.close)
        chunk = b"\x5a" * 65536
        limit = 50 * MB
        sent = 0
        closed = None
        n = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            n += 1
            if n % 16 == 0:
                max_rss = max(max_rss, rss_kb(pid))
            try:
                # Past the 50 MB only probe with single bytes for the close.
                sent += s.send(chunk if sent < limit else b"z")
                if sent >= limit:
                    time.sleep(0.1)
                continue
            except (BlockingIOError, InterruptedError):
                max_rss = max(max_rss, rss_kb(pid))
                sel.select(0.2)
            except (ConnectionResetError, BrokenPipeError) as e:
                closed = e
                break
        max_rss = max(max_rss, rss_kb(pid))
        self.assertLess(max_rss, start_rss + 16 * 1024,
                        "loomd RSS grew from %d kB to %d kB (client sent %d bytes)"
                        % (start_rss, max_rss, sent))
        self.assertIsNotNone(closed, "the server never closed a connection that does not read "
                             "(client sent %d bytes)" % sent)
        self.assertGreater(sent, 64 * 1024)
        # The daemon still serves.
        with connect(port) as c:
            self.assertEqual(echo_roundtrip(c, b"after\n"), b"after\n")
        self.assertIsNone(d.proc.poll())

    # ---- (2) many concurrent connections ----------------------------------

    def test_2000_concurrent_finger(self):
        count = 2000
        if raise_nofile(8192) < 2 * count + 100:
            self.skipTest("cannot raise RLIMIT_NOFILE high enough")
        port = free_port()
        # loomd inherits the raised RLIMIT_NOFILE.
        d = self.daemon('limits {\n'
                        '    max_connections = 10000\n'
                        '}\n'
                        'finger "users" {\n'
                        '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                        '    idle_timeout = 300\n'
                        '    read_timeout = 300\n'
                        '    user "alice" {\n'
                        '        name = "Alice Liddell"\n'
                        '        office = "Rabbit Hole 1"\n'
                        '        plan = "Follow the white rabbit."\n'
                        '    }\n'
                        '}\n' % port)
        d.start()
        ref = tcp_query(port, b"alice\r\n")
        self.assertIn(b"Login: alice", ref)
        self.assertIn(b"Follow the white rabbit.", ref)

        socks = self.closing([])
        for _ in range(count):
            socks.append(connect(port, timeout=60))
        for s in socks:
            s.sendall(b"alice\r\n")
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        answers = {}
        for i, s in enumerate(socks):
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
            answers[i] = b""
        open_ = set(answers)
        errors = {}
        deadline = time.monotonic() + 120
        while open_ and time.monotonic() < deadline:
            for key, _ in sel.select(1.0):
                i = key.data
                try:
                    chunk = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    errors[i] = e
                    chunk = b""
                if chunk:
                    answers[i] += chunk
                else:
                    sel.unregister(key.fileobj)
                    open_.discard(i)
        self.assertFalse(open_, "%d of %d connections never finished" % (len(open_), count))
        self.assertFalse(errors, "errors on %d connections, e.g. %r"
                         % (len(errors), next(iter(errors.values()), None)))
        wrong = [i for i, a in answers.items() if a != ref]
        self.assertFalse(wrong, "%d of %d answers differ, e.g. %r"
                         % (len(wrong), count, answers[wrong[0]] if wrong else None))
        self.assertIsNone(d.proc.poll())

    # ---- (3) connection caps ----------------------------------------------

    def test_per_listener_max_connections(self):
        port = free_port()
        d = self.daemon('echo "e" {\n'
                        '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                        '    max_connections = 5\n'
                        '}\n' % port)
        d.start()
        first = self.closing([])
        for i in range(5):
            s = connect(port)
            first.append(s)
            self.assertEqual(echo_roundtrip(s, b"conn %d\n" % i), b"conn %d\n" % i)
        self.assertTrue(rejected(port), "a 6th connection was served")
        self.assertTrue(rejected(port), "a 6th connection was served")
        for i, s in enumerate(first):
            self.assertEqual(echo_roundtrip(s, b"still %d\n" % i), b"still %d\n" % i)
        first[0].close()
        first[1].close()
        more = self.closing([open_served(port), open_served(port)])
        self.assertTrue(rejected(port), "more than 5 connections were served")
        for s in first[2:] + more:
            self.assertEqual(echo_roundtrip(s, b"ok\n"), b"ok\n")

    def test_max_connections_is_per_listener(self):
        p1, p2 = free_port(), free_port()
        while p2 == p1:
            p2 = free_port()
        d = self.daemon('echo "e" {\n'
                        '    listen = {"tcp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
                        '    max_connections = 2\n'
                        '}\n' % (p1, p2))
        d.start()
        socks = self.closing([])
        for port in (p1, p1):
            s = connect(port)
            socks.append(s)
            self.assertEqual(echo_roundtrip(s, b"a\n"), b"a\n")
        self.assertTrue(rejected(p1), "a 3rd connection on one listener was served")
        for port in (p2, p2):
            s = connect(port)
            socks.append(s)
            self.assertEqual(echo_roundtrip(s, b"b\n"), b"b\n")
        self.assertTrue(rejected(p2), "a 3rd connection on one listener was served")

    def test_global_max_connections(self):
        p1, p2 = free_port(), free_port()
        while p2 == p1:
            p2 = free_port()
        d = self.daemon('limits {\n'
                        '    max_connections = 4\n'
                        '}\n'
                        'echo "e1" {\n'
                        '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                        '}\n'
                        'echo "e2" {\n'
                        '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                        '}\n' % (p1, p2))
        d.start()
        socks = self.closing([])
        for port in (p1, p1, p2, p2):
            s = connect(port)
            socks.append(s)
            self.assertEqual(echo_roundtrip(s, b"in\n"), b"in\n")
        self.assertTrue(rejected(p1), "a 5th connection was served (global limit 4)")
        self.assertTrue(rejected(p2), "a 5th connection was served (global limit 4)")
        for s in socks:
            self.assertEqual(echo_roundtrip(s, b"still\n"), b"still\n")
        socks[0].close()
        new = open_served(p2)
        socks.append(new)
        self.assertTrue(rejected(p1), "more than 4 connections were served")
        for s in socks[1:]:
            self.assertEqual(echo_roundtrip(s, b"again\n"), b"again\n")

    # ---- (4) out of file descriptors ---------------------------------------

    def test_fd_exhaustion_no_spin(self):
        port = free_port()
        d = self.daemon('echo "e" {\n'
                        '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                        '}\n' % port)
        d.start()
        pid = d.proc.pid
        try:
            r = subprocess.run(["prlimit", "--pid", str(pid), "--nofile=64:64"],
                               capture_output=True, text=True, timeout=WAIT)
        except FileNotFoundError:
            self.skipTest("prlimit (util-linux) is not installed")
        if r.returncode != 0:
            self.skipTest("prlimit failed: " + r.stderr.strip())
        with open("/proc/%d/limits" % pid) as f:
            self.assertRegex(f.read(), r"Max open files\s+64\s+64")

        socks = self.closing([])
        for i in range(20):
            s = connect(port)
            socks.append(s)
            self.assertEqual(echo_roundtrip(s, b"early %d\n" % i), b"early %d\n" % i)
        # 130 more, without waiting for them: some are accepted, the rest
        # run into the descriptor limit (refused, closed or left pending).
        for _ in range(130):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            self.assertIn(err, (0, errno.EINPROGRESS, errno.ECONNREFUSED, errno.EAGAIN))
        time.sleep(0.5)

        # Hold: loomd must not spin on the failing accept.
        hz = os.sysconf("SC_CLK_TCK")
        t0 = proc_cpu_ticks(pid)
        time.sleep(3)
        used = proc_cpu_ticks(pid) - t0
        self.assertIsNone(d.proc.poll(), "loomd died at the descriptor limit:\n" + d.log())
        self.assertLess(used, hz, "loomd used %d ticks (of %d/s) in a 3 s hold: busy loop?"
                        % (used, hz))

        # The established connections still work.
        for i, s in enumerate(socks[:20]):
            s.settimeout(WAIT)
            self.assertEqual(echo_roundtrip(s, b"held %d\n" % i), b"held %d\n" % i)

        # Close everything; service resumes.
        for s in socks:
            s.close()
        s = open_served(port, timeout=WAIT * 2)
        socks.append(s)
        self.assertEqual(echo_roundtrip(s, b"resumed\n"), b"resumed\n")
        self.assertIsNone(d.proc.poll())


if __name__ == "__main__":
    loomtest.main()
