"""UNIX sockets at paths longer than sun_path (107 bytes): loomd binds
them through their directory (/proc/self/fd/N/NAME), so a configuration
deep in the file system works as it does anywhere.  The real loomd,
started from a config whose control socket's absolute path is over 120
bytes: it starts, loomctl reaches it by that path (and status shows the
absolute config path), a unix: echo listener whose file name is the
longest allowed echoes, an http proxy reaches a unix: upstream at a long
path, the sockets are gone after the stop, and a file name that cannot
fit is the one line FILE:LINE error with exit 1, from -t and the start."""

import http.client
import json
import os
import socket
import subprocess

import loomtest
from loomtest import (WAIT, DaemonTest, Loomd, assert_error_line, free_port, line_of,
                      run_loomd, start_expect_exit)

LOOMCTL = os.environ.get("LOOMCTL", os.path.join(loomtest.BUILDDIR, "src", "loomctl"))

SUN_PATH_MAX = 107  # sizeof(sun_path) - 1
NAME_MAX = SUN_PATH_MAX - len("/proc/self/fd/2147483647/")  # sockpath.h: 82

# Three levels of 30 bytes under the test's temporary folder.
DEEP = "/".join(c * 30 for c in "abc")


def deep_conf(echo_name, port):
    """Everything relative to the config file, as the shipped one is."""
    return ('control {\n    listen = "unix:run/control.sock:mode=0600"\n}\n'
            'echo "e" {\n    listen = {"unix:%s"}\n}\n'
            'http "back" {\n    listen = {"unix:back.sock"}\n'
            '    server "main" {\n        names = {"localhost"}\n'
            '        location "/" {\n            handler = "static"\n'
            '            root = "www"\n        }\n    }\n}\n'
            'http "front" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '    server "main" {\n        names = {"localhost"}\n'
            '        location "/" {\n            handler = "proxy"\n'
            '            proxy_pass = "unix:path={dir}/%s/back.sock"\n'
            '        }\n    }\n}\n' % (echo_name, port, DEEP))


def unix_connect(path):
    """A client socket connected to PATH, of any length: through the
    directory, as loomd does (Python's connect takes only 107 bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    dfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY)
    try:
        s.connect("/proc/self/fd/%d/%s" % (dfd, os.path.basename(path)))
    except BaseException:
        s.close()
        raise
    finally:
        os.close(dfd)
    return s


def loomctl(sock, *args):
    return subprocess.run([LOOMCTL, "-s", sock] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=WAIT)


class LongPaths(DaemonTest):
    def make(self, echo_name, port=None):
        self.d = Loomd(deep_conf(echo_name, port or free_port()),
                       name=DEEP + "/loom.conf",
                       files={DEEP + "/run/.keep": "", DEEP + "/www/index.html": "deep\n"})
        return os.path.join(self.d.dir, DEEP)

    def test_long_paths_work(self):
        port = free_port()
        echo_name = "e" * (NAME_MAX - 5) + ".sock"  # the longest file name
        self.assertEqual(len(echo_name), NAME_MAX)
        deep = self.make(echo_name, port)
        ctl = os.path.join(deep, "run", "control.sock")
        echo = os.path.join(deep, echo_name)
        back = os.path.join(deep, "back.sock")
        for p in (ctl, echo, back):
            self.assertGreater(len(p), 120, p)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.d.start()
        # the control socket at its full path, with its mode
        self.assertEqual(os.stat(ctl).st_mode & 0o777, 0o600)
        r = loomctl(ctl, "status")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^config: +%s$"
                         % os.path.realpath(self.d.conf_path).replace(".", r"\."))
        st = json.loads(loomctl(ctl, "--json", "status").stdout)["result"]
        self.assertEqual(st["config"], os.path.realpath(self.d.conf_path))
        # the echo listener with the longest file name echoes
        with unix_connect(echo) as s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"through the directory\n"),
                             b"through the directory\n")
        # the proxy connects to its unix: upstream at a long path
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        c.request("GET", "/index.html", headers={"Host": "localhost"})
        resp = c.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, b"deep\n"))
        c.close()
        # a stale socket is replaced at the next start: stop, leave one
        # behind, start again
        r = loomctl(ctl, "stop")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.d.wait_exit(), 0)
        self.d.stop()
        for p in (ctl, echo, back):
            self.assertFalse(os.path.exists(p), "left behind: " + p)
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dfd = os.open(deep, os.O_PATH | os.O_DIRECTORY)
        try:
            stale.bind("/proc/self/fd/%d/%s" % (dfd, echo_name))
        finally:
            os.close(dfd)
            stale.close()
        self.assertTrue(os.path.exists(echo))
        self.d.start()
        with unix_connect(echo) as s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"again\n"), b"again\n")
        self.assertEqual(self.d.stop(), 0)
        for p in (ctl, echo, back):
            self.assertFalse(os.path.exists(p), "left behind: " + p)

    def test_file_name_too_long(self):
        # one byte over the limit, and over sun_path on its own
        for name in ("n" * (NAME_MAX - 4) + ".sock", "n" * 110 + ".sock"):
            with self.subTest(len=len(name)):
                self.drop_daemon()
                self.make(name)
                want = line_of(self.d.conf_path, name)
                r = run_loomd(["-t", "-c", self.d.conf_path])
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                msg = assert_error_line(self, r.stderr, self.d.conf_path, want,
                                        "at most %d" % NAME_MAX)
                self.assertIn("file name is %d bytes" % len(name), msg)
                rc, err = start_expect_exit(self.d)
                self.assertEqual(rc, 1, err)
                self.assertEqual(err, r.stderr)

    def test_loomctl_file_name_too_long(self):
        deep = self.make("e.sock")
        r = loomctl(os.path.join(deep, "c" * 90 + ".sock"), "status")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("at most %d bytes" % NAME_MAX, r.stderr)
        # a long path with nothing there: the usual hint
        r = loomctl(os.path.join(deep, "run", "control.sock"), "status")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("No such file or directory", r.stderr)
        # and in a long directory that is not there
        r = loomctl(os.path.join(deep, "gone" * 10, "control.sock"), "status")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("No such file or directory", r.stderr)


if __name__ == "__main__":
    loomtest.main()
