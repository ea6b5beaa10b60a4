"""Two-phase configuration: every instance's prepare runs before anything
is committed, so a module that refuses its new settings (the test-only
`lifecycle` module, tests/modules/lifecycle.c, with fail_prepare) stops a
start with one FILE:LINE line naming the instance once, and a reload with
it changes nothing: old listeners keep serving, new ones are not bound, no
instance is reloaded, started or removed."""

import os
import socket
import unittest

import loomtest
from loomtest import Loomd, free_port, assert_error_line, line_of, start_expect_exit, WAIT


def conf(echo_ports, lc_port, fail=None, extra=""):
    text = 'load_module("%s")\n' % loomtest.LIFECYCLE_SO
    text += 'echo "e" {\n    listen = {%s}\n}\n' % ", ".join(
        '"tcp:%d:interface=127.0.0.1"' % p for p in echo_ports)
    text += 'lifecycle "l" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n' % lc_port
    if fail:
        text += '    fail_prepare = "%s"\n' % fail
    text += "}\n" + extra
    return text


def ask(port):
    """One line to a lifecycle instance; its answer."""
    with loomtest.connect(port) as s:
        s.sendall(b"who\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()


def errors(text):
    """TEXT without load_module()'s "[info] ... module lifecycle loaded"."""
    return "".join(l for l in text.splitlines(True) if "] core: module " not in l)


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
    except ConnectionRefusedError:
        return True
    return False


class Prepare(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(loomtest.LIFECYCLE_SO):
            self.fail("test module not built: %s" % loomtest.LIFECYCLE_SO)
        self.p1, self.p2, self.lp = free_port(), free_port(), free_port()

    def start(self, text):
        d = Loomd(text)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def test_failing_prepare_on_reload_changes_nothing(self):
        d = self.start(conf([self.p1], self.lp))
        self.assertEqual(ask(self.lp), "lifecycle/l reloads=0")
        d.write_conf(conf([self.p1, self.p2], self.lp, fail="queue directory is missing"))
        self.assertFalse(d.reload())
        line = [l for l in d.log().splitlines() if "reload failed" in l][-1]
        want = line_of(d.conf_path, 'lifecycle "l"')
        self.assertRegex(line, r"reload failed: .*loom\.conf:%d: lifecycle/l: "
                         r"queue directory is missing$" % want)
        self.assertEqual(line.count("lifecycle/l"), 1, line)
        # nothing was applied: no reload reached the module, the new echo
        # listener was not bound (or was closed again), the old one serves
        self.assertEqual(ask(self.lp), "lifecycle/l reloads=0")
        self.assertTrue(refused(self.p2))
        self.assertEqual(loomtest.tcp_query(self.p1, b"still here", shut=True), b"still here")
        # a good file afterwards applies as usual
        d.write_conf(conf([self.p1, self.p2], self.lp))
        self.assertTrue(d.reload())
        self.assertEqual(ask(self.lp), "lifecycle/l reloads=1")
        self.assertEqual(loomtest.tcp_query(self.p2, b"new", shut=True), b"new")
        self.assertEqual(d.stop(), 0, d.log())

    def test_new_instance_failing_prepare_is_never_started(self):
        d = self.start(conf([self.p1], self.lp))
        np = free_port()
        extra = ('lifecycle "n" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                 '    fail_prepare = "cannot create spool"\n}\n' % np)
        d.write_conf(conf([self.p1], self.lp, extra=extra))
        self.assertFalse(d.reload())
        self.assertRegex(d.log(), r"reload failed: \S+:%d: lifecycle/n: cannot create spool"
                         % line_of(d.conf_path, 'lifecycle "n"'))
        self.assertTrue(refused(np))
        self.assertNotIn("lifecycle/n removed", d.log())
        self.assertEqual(ask(self.lp), "lifecycle/l reloads=0")
        self.assertEqual(d.stop(), 0, d.log())

    def test_failing_prepare_at_start(self):
        d = Loomd(conf([self.p1], self.lp, fail="spool is not writable"))
        self.addCleanup(d.cleanup)
        rc, err = start_expect_exit(d)
        self.assertEqual(rc, 1, err)
        msg = assert_error_line(self, errors(err), d.conf_path, line_of(d.conf_path, 'lifecycle "l"'),
                                contains="lifecycle/l: spool is not writable")
        self.assertEqual(msg.count("lifecycle/l"), 1, msg)
        self.assertTrue(refused(self.p1), "a refused start left a listener bound")

    def test_check_runs_prepare(self):
        d = Loomd(conf([self.p1], self.lp, fail="spool is not writable"))
        self.addCleanup(d.cleanup)
        r = loomtest.run_loomd(["-t", "-c", d.conf_path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        assert_error_line(self, errors(r.stderr), d.conf_path, line_of(d.conf_path, 'lifecycle "l"'),
                          contains="lifecycle/l: spool is not writable")
        d.write_conf(conf([self.p1], self.lp))
        r = loomtest.run_loomd(["-t", "-c", d.conf_path])
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    loomtest.main()
