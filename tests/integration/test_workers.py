"""The worker pool from a real loomd, through the test-only module
tests/modules/worktest.c: `sleep MS` sleeps on a pool thread and answers
`done MS LABEL` from the reactor.  Replies arrive; the reactor serves
while jobs sleep; `workers` bounds the pool and a reload resizes it;
SIGHUP keeps or removes an instance with work in flight; SIGTERM with
work in flight exits cleanly; clients leave before their work is done.

worktest logs "job N completed|cancelled[, client gone]" from every done
and "stop: N job(s) outstanding" from its stop callback, so the order of
those lines shows that every done ran before stop and none after.
"""

import os
import re
import select
import signal
import socket
import struct
import time

import loomtest
from loomtest import DaemonTest, Loomd, free_port, assert_error_line, line_of, start_expect_exit, WAIT

WORKTEST_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "worktest.so")


def conf(instances, workers=2, grace=10):
    """A config loading worktest with INSTANCES: (name, port, label)."""
    text = 'load_module("%s")\nworkers = %d\nshutdown_grace = %d\n' % (WORKTEST_SO, workers, grace)
    for name, port, label in instances:
        text += ('worktest "%s" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                 '  label = "%s"\n}\n' % (name, port, label))
    return text


class Client:
    """A line-protocol client of worktest."""

    def __init__(self, port):
        self.s = loomtest.connect(port)
        self.buf = b""

    def send(self, text):
        self.s.sendall(text.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise AssertionError("connection closed; got %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode()

    def ask(self, text):
        self.send(text + "\n")
        return self.line()

    def has_input(self):
        """True if anything (data or EOF) is waiting right now."""
        if self.buf:
            return True
        r, _, _ = select.select([self.s], [], [], 0)
        return bool(r)

    def read_to_end(self):
        out = self.buf
        try:
            while True:
                chunk = self.s.recv(4096)
                if not chunk:
                    return out
                out += chunk
        except ConnectionResetError:
            return out

    def reset(self):
        """Close with RST (SO_LINGER 0)."""
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.s.close()

    def close(self):
        self.s.close()


def stats(port):
    c = Client(port)
    try:
        words = c.ask("stats").split()
    finally:
        c.close()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}


def wait_stats(port, pred):
    """Poll stats until PRED holds (bounded); returns them."""
    deadline = time.monotonic() + WAIT
    st = None
    while time.monotonic() < deadline:
        st = stats(port)
        if pred(st):
            return st
        time.sleep(0.05)
    raise AssertionError("stats never matched: %r" % st)


def log_index(log, pattern):
    """Line numbers of LOG matching PATTERN."""
    return [i for i, l in enumerate(log.splitlines()) if re.search(pattern, l)]


class Workers(DaemonTest):
    def setUp(self):
        if not os.path.exists(WORKTEST_SO):
            self.fail("worktest.so not built (make check builds it): %s" % WORKTEST_SO)
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        super().tearDown()

    def client(self, port):
        c = Client(port)
        self.clients.append(c)
        return c

    def start(self, text):
        self.d = Loomd(text)
        self.d.start()
        return self.d

    def assert_done_before_stop(self, who):
        """Every job line of WHO comes before its stop line, which says no
        job was outstanding."""
        log = self.d.log()
        stops = log_index(log, r"%s: stop: " % re.escape(who))
        self.assertEqual(len(stops), 1, log)
        self.assertRegex(log.splitlines()[stops[0]], r"stop: 0 job\(s\) outstanding")
        jobs = log_index(log, r"%s: job \d+ " % re.escape(who))
        self.assertTrue(jobs, log)
        self.assertLess(max(jobs), stops[0], log)

    def test_replies_and_counters(self):
        port = free_port()
        self.start(conf([("a", port, "-")]))
        c1, c2, c3 = self.client(port), self.client(port), self.client(port)
        c1.send("sleep 100\n")
        c2.send("sleep 50\nsleep 60\n")
        c3.send("sleep 0\n")
        self.assertEqual(c1.line(), "done 100 -")
        self.assertEqual(sorted([c2.line(), c2.line()]), ["done 50 -", "done 60 -"])
        self.assertEqual(c3.line(), "done 0 -")
        st = stats(port)
        self.assertEqual((st["submitted"], st["completed"], st["cancelled"]), (4, 4, 0))
        self.assertEqual((st["queued"], st["running"], st["workers"]), (0, 0, 2))
        self.assertIn(st["threads"], (1, 2))
        self.assertEqual(len(log_index(self.d.log(), r"worktest/a: job \d+ completed$")), 4)
        self.assertEqual(self.d.stop(), 0)
        self.assert_done_before_stop("worktest/a")

    def test_bad_input_while_jobs_run(self):
        port = free_port()
        self.start(conf([("a", port, "-")]))
        c = self.client(port)
        c.send("sleep 2000\n")
        wait_stats(port, lambda st: st["running"] == 1)
        self.assertEqual(c.ask("sleep"), "error unknown command")
        self.assertEqual(c.ask("sleep -5"), "error bad duration")
        self.assertEqual(c.ask("sleep 99999999999999999999"), "error bad duration")
        self.assertEqual(c.ask("sleep 60001"), "error bad duration")
        self.assertEqual(c.ask("fsync now"), "error unknown command")
        self.assertEqual(c.line(), "done 2000 -")
        self.assertEqual(self.d.stop(), 0)

    def test_reactor_serves_while_jobs_sleep(self):
        port = free_port()
        self.start(conf([("a", port, "-")]))
        slow = self.client(port)
        slow.send("sleep 3000\n")
        wait_stats(port, lambda st: st["running"] == 1)
        other = self.client(port)
        self.assertEqual(other.ask("ping"), "pong")
        # The answer came while the job still sleeps: it is not on the reactor.
        self.assertFalse(slow.has_input())
        self.assertEqual(slow.line(), "done 3000 -")
        self.assertEqual(self.d.stop(), 0)

    def test_pool_bound_and_resize_on_reload(self):
        port = free_port()
        self.start(conf([("a", port, "-")], workers=1))
        c1, c2 = self.client(port), self.client(port)
        c1.send("sleep 4000\n")
        c2.send("sleep 4000\n")
        st = wait_stats(port, lambda st: st["running"] == 1 and st["queued"] == 1)
        self.assertEqual((st["threads"], st["workers"]), (1, 1))
        self.d.write_conf(conf([("a", port, "-")], workers=2))
        self.assertTrue(self.d.reload())
        self.assertIn("core: worker pool: 1 -> 2 threads", self.d.log())
        # The queued job starts beside the running one.
        st = wait_stats(port, lambda st: st["running"] == 2)
        self.assertEqual((st["queued"], st["threads"], st["workers"]), (0, 2, 2))
        self.assertEqual(c1.line(), "done 4000 -")
        self.assertEqual(c2.line(), "done 4000 -")
        self.d.write_conf(conf([("a", port, "-")], workers=1))
        self.assertTrue(self.d.reload())
        self.assertIn("core: worker pool: 2 -> 1 threads", self.d.log())
        wait_stats(port, lambda st: st["threads"] == 1 and st["workers"] == 1)
        self.assertEqual(self.d.stop(), 0)

    def test_sighup_keeps_instance_and_its_work(self):
        port = free_port()
        self.start(conf([("a", port, "one")]))
        c = self.client(port)
        c.send("sleep 1500\n")
        wait_stats(port, lambda st: st["running"] == 1)
        self.d.write_conf(conf([("a", port, "two")]))
        self.assertTrue(self.d.reload())
        # The job went on; its done sees the conf the reload installed.
        self.assertEqual(c.line(), "done 1500 two")
        self.assertNotIn("stop:", self.d.log())
        self.assertEqual(self.client(port).ask("ping"), "pong")
        self.assertEqual(self.d.stop(), 0)
        self.assert_done_before_stop("worktest/a")

    def test_sighup_removes_instance_with_work(self):
        pa, pb = free_port(), free_port()
        self.start(conf([("a", pa, "-"), ("b", pb, "-")], workers=1))
        cb = self.client(pb)
        cb.send("sleep 300\n")
        wait_stats(pa, lambda st: st["running"] == 1)
        self.d.write_conf(conf([("a", pa, "-")], workers=1))
        self.assertTrue(self.d.reload())
        self.d.wait_log(r"core: worktest/b removed")
        # The removed instance still serves the connection it has.
        self.assertEqual(cb.line(), "done 300 -")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", pb), timeout=WAIT).close()
        cb.send("sleep 2000\nsleep 2000\n")
        wait_stats(pa, lambda st: st["running"] == 1 and st["queued"] == 1)
        cb.close()
        # Its last connection is gone: the queued job is cancelled, the
        # running one waited for, and only then does the instance stop.
        self.assertEqual(self.client(pa).ask("ping"), "pong")
        self.d.wait_log(r"worktest/b: stop: ")
        log = self.d.log()
        self.assertEqual(len(log_index(log, r"worktest/b: job \d+ cancelled, client gone")), 1, log)
        self.assertEqual(len(log_index(log, r"worktest/b: job \d+ completed, client gone")), 1, log)
        self.assert_done_before_stop("worktest/b")
        st = stats(pa)
        self.assertEqual((st["submitted"], st["completed"], st["cancelled"]), (3, 2, 1))
        self.assertEqual(self.client(pa).ask("ping"), "pong")
        self.assertEqual(self.d.stop(), 0)
        self.assertRegex(self.d.log(), r"worktest/a: stop: 0 job\(s\) outstanding")

    def test_sigterm_with_work_in_flight(self):
        port = free_port()
        self.start(conf([("a", port, "-")], workers=1, grace=1))
        c1, c2 = self.client(port), self.client(port)
        c1.send("sleep 3000\n")
        c2.send("sleep 3000\n")
        wait_stats(port, lambda st: st["running"] == 1 and st["queued"] == 1)
        self.d.signal(signal.SIGTERM)
        # The grace period ends with the job still sleeping: connections
        # are closed, the queued job cancelled, the running one waited for.
        self.assertEqual(self.d.wait_exit(), 0, self.d.log())
        self.assertEqual(c1.read_to_end(), b"")
        self.assertEqual(c2.read_to_end(), b"")
        log = self.d.log()
        self.assertEqual(len(log_index(log, r"worktest/a: job \d+ cancelled, client gone")), 1, log)
        self.assertEqual(len(log_index(log, r"worktest/a: job \d+ completed, client gone")), 1, log)
        self.assert_done_before_stop("worktest/a")
        self.assertLess(log_index(log, r"worktest/a: stop: ")[0], log_index(log, r"core: stopped")[0])

    def test_sigterm_lets_clients_collect_their_work(self):
        port = free_port()
        self.start(conf([("a", port, "-")], grace=10))
        c = self.client(port)
        c.send("sleep 1000\n")
        wait_stats(port, lambda st: st["running"] == 1)
        self.d.signal(signal.SIGTERM)
        self.d.wait_log(r"core: shutting down")
        self.assertEqual(c.line(), "done 1000 -")
        c.close()
        self.assertEqual(self.d.wait_exit(), 0, self.d.log())
        self.assertNotIn("grace period over", self.d.log())
        self.assert_done_before_stop("worktest/a")

    def test_client_leaves_before_its_work_is_done(self):
        port = free_port()
        self.start(conf([("a", port, "-")], workers=2))
        closer, resetter = self.client(port), self.client(port)
        closer.send("sleep 800\n")
        resetter.send("sleep 800\n")
        wait_stats(port, lambda st: st["running"] == 2)
        closer.close()
        resetter.reset()
        self.d.wait_log(r"worktest/a: job \d+ completed, client gone", count=2)
        # A job still queued when its client leaves is cancelled.
        busy = [self.client(port), self.client(port)]
        for b in busy:
            b.send("sleep 1500\n")
        wait_stats(port, lambda st: st["running"] == 2)
        leaver = self.client(port)
        leaver.send("sleep 1500\n")
        wait_stats(port, lambda st: st["queued"] == 1)
        leaver.close()
        self.d.wait_log(r"worktest/a: job \d+ cancelled, client gone")
        for b in busy:
            self.assertEqual(b.line(), "done 1500 -")
        st = stats(port)
        self.assertEqual((st["submitted"], st["completed"], st["cancelled"]), (5, 4, 1))
        self.assertEqual(self.client(port).ask("ping"), "pong")
        self.assertEqual(self.d.stop(), 0)
        self.assert_done_before_stop("worktest/a")

    def test_bad_workers_values(self):
        for value, want in (("0", "workers must be 1 to 64, not 0"),
                            ("65", "workers must be 1 to 64, not 65"),
                            ("-1", "workers must be 1 to 64, not -1")):
            d = Loomd('echo "e" { listen = {"tcp:%d:interface=127.0.0.1"} }\n'
                      '\nworkers = %s\n' % (free_port(), value))
            try:
                rc, err = start_expect_exit(d)
                self.assertEqual(rc, 1, err)
                assert_error_line(self, err, d.conf_path, line_of(d.conf_path, "workers"),
                                  contains=want)
                r = loomtest.run_loomd(["-t", "-c", d.conf_path])
                self.assertEqual(r.returncode, 1)
                assert_error_line(self, r.stderr, d.conf_path,
                                  line_of(d.conf_path, "workers"), contains=want)
            finally:
                d.cleanup()

    def test_bad_workers_on_reload_keeps_pool(self):
        port = free_port()
        self.start(conf([("a", port, "-")], workers=3))
        self.d.write_conf(conf([("a", port, "-")], workers=0))
        self.assertFalse(self.d.reload())
        self.assertRegex(self.d.log(), r"reload failed: .*loom\.conf:\d+: workers must be 1 to 64, not 0")
        self.assertEqual(stats(port)["workers"], 3)
        self.assertEqual(self.d.stop(), 0)


if __name__ == "__main__":
    loomtest.main()
