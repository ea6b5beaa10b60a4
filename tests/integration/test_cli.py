"""Command line of loomd: -V, -h, bad options, -t, foreground start/stop,
--daemon with a pidfile."""

import os
import re
import signal
import socket
import subprocess
import time
import unittest

import loomtest
from loomtest import DaemonTest, Loomd, run_loomd, free_port, WAIT


def configure_version():
    """The version AC_INIT declares, so the test does not hard-code it."""
    with open(os.path.join(loomtest.SRCDIR, "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[[^\]]*\],\s*\[([^\]]+)\]", f.read())
    return m.group(1) if m else None


ECHO_CONF = 'echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'


class Version(unittest.TestCase):
    def test_version(self):
        for opt in ("-V", "--version"):
            r = run_loomd([opt])
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertGreaterEqual(len(lines), 3, r.stdout)
            version = configure_version()
            self.assertIsNotNone(version)
            self.assertEqual(lines[0], "loomd " + version)
            self.assertEqual(lines[1], "built-in modules: echo finger memcache dns http ssh smtp irc metrics")
            self.assertRegex(lines[2], r"^loadable modules \(.+\):")


class Help(unittest.TestCase):
    def test_help(self):
        for opt in ("-h", "--help"):
            r = run_loomd([opt])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout.lower(), r"usage")
            self.assertIn("-c", r.stdout)
            self.assertIn("--daemon", r.stdout)

    def test_bad_option(self):
        r = run_loomd(["--no-such-option"])
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr.lower(), r"usage")
        self.assertEqual(r.stdout, "")

    def test_bad_short_option(self):
        r = run_loomd(["-Q"])
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr.lower(), r"usage")

    def test_missing_option_argument(self):
        r = run_loomd(["-c"])
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr.lower(), r"usage")

    def test_extra_argument(self):
        r = run_loomd(["-t", "stray-argument"])
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr.lower(), r"usage")


class TestMode(DaemonTest):
    def test_good_config(self):
        port = free_port()
        self.d = Loomd(ECHO_CONF % port)
        for args in (["-t", "-c", self.d.conf_path], ["--test", "--config", self.d.conf_path]):
            r = run_loomd(args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "configuration %s is ok\n" % self.d.conf_path)
        # -t must not bind: the port is still free afterwards.
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        finally:
            s.close()

    def test_relative_config_path(self):
        self.d = Loomd(ECHO_CONF % free_port())
        r = subprocess.run([loomtest.LOOMD, "-t", "-c", "loom.conf"], cwd=self.d.dir,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "configuration loom.conf is ok\n")

    def test_broken_syntax(self):
        self.d = Loomd(ECHO_CONF % free_port() + 'echo "f" {\n  listen = {"tcp:1:interface=127.0.0.1"\n')
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith(self.d.conf_path + ":"), r.stderr)
        self.assertRegex(lines[0], r"^.+:\d+: .+")

    def test_broken_unknown_option(self):
        self.d = Loomd(ECHO_CONF % free_port() + "no_such_option = 3\n")
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        loomtest.assert_error_line(self, r.stderr, self.d.conf_path,
                                   loomtest.line_of(self.d.conf_path, "no_such_option"))

    def test_broken_bad_value(self):
        self.d = Loomd(ECHO_CONF % free_port() + 'log { level = "shouty" }\n')
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1)
        loomtest.assert_error_line(self, r.stderr, self.d.conf_path,
                                   loomtest.line_of(self.d.conf_path, "shouty"))

    def test_broken_endpoint(self):
        self.d = Loomd('echo "e" {\n  listen = {"tcp:notaport"}\n}\n')
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1)
        loomtest.assert_error_line(self, r.stderr, self.d.conf_path,
                                   {loomtest.line_of(self.d.conf_path, "notaport"),
                                    loomtest.line_of(self.d.conf_path, 'echo "e"')},
                                   contains="endpoint 'tcp:notaport'")

    def test_missing_config_file(self):
        self.d = Loomd("")
        missing = os.path.join(self.d.dir, "nope.conf")
        r = run_loomd(["-t", "-c", missing])
        self.assertEqual(r.returncode, 1)
        lines = r.stderr.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(missing, lines[0])

    def test_default_conf_passes(self):
        path = os.path.join(loomtest.SRCDIR, "conf", "loom.conf")
        self.assertTrue(os.path.exists(path), path)
        r = run_loomd(["-t", "-c", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "configuration %s is ok\n" % path)


class StartStop(unittest.TestCase):
    def test_sigterm_exit_0(self):
        port = free_port()
        d = Loomd(ECHO_CONF % port)
        try:
            d.start()
            self.assertEqual(loomtest.tcp_query(port, b"ping", shut=True), b"ping")
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(), 0, d.log())
            self.assertRegex(d.log(), r"\[info\] core: shutting down")
            # The ready line has the documented format.
            self.assertRegex(d.log(), r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[info\] core: ready")
        finally:
            d.cleanup()

    def test_sigint_exit_0(self):
        port = free_port()
        d = Loomd(ECHO_CONF % port)
        try:
            d.start()
            d.signal(signal.SIGINT)
            self.assertEqual(d.wait_exit(), 0, d.log())
        finally:
            d.cleanup()


def pid_gone(pid):
    """True once PID no longer exists (or is a zombie nobody reaped yet)."""
    try:
        return loomtest.proc_status(pid).get("State", "").startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


class Daemon(unittest.TestCase):
    def test_daemon_pidfile(self):
        port = free_port()
        d = Loomd('pidfile = "{dir}/loomd.pid"\n' + ECHO_CONF % port)
        pidfile = os.path.join(d.dir, "loomd.pid")
        pid = None
        out = open(os.path.join(d.dir, "daemon.out"), "wb")
        try:
            # Files rather than pipes: the daemon keeps its inherited
            # descriptors, so a pipe would never reach EOF.
            r = subprocess.run([loomtest.LOOMD, "-c", d.conf_path, "--daemon"],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                               timeout=WAIT)
            self.assertEqual(r.returncode, 0)
            text = loomtest.wait_file(pidfile, r"^\d+\s*$")
            pid = int(text.strip())
            st = loomtest.proc_status(pid)
            self.assertIn(st["Name"], ("loomd", "lt-loomd"), st)
            self.assertFalse(st["State"].startswith("Z"), st)
            self.assertTrue(os.path.samefile(os.readlink("/proc/%d/exe" % pid),
                                             os.path.realpath(loomtest.LOOMD))
                            or st["Name"] == "lt-loomd")
            # setsid: the daemon runs in a session of its own.
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            self.assertNotEqual(int(fields[3]), os.getsid(0), "daemon did not setsid")
            loomtest.wait_port(port)
            self.assertEqual(loomtest.tcp_query(port, b"daemon", shut=True), b"daemon")
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and not pid_gone(pid):
                time.sleep(0.05)
            self.assertTrue(pid_gone(pid), "daemon %d still running after SIGTERM" % pid)
            pid = None
        finally:
            out.close()
            if pid is not None and not pid_gone(pid):
                os.kill(pid, signal.SIGKILL)
            d.cleanup()


if __name__ == "__main__":
    loomtest.main()
