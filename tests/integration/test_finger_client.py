"""Debian's finger client against loomd on port 79, with privileges dropped
to nobody after binding."""

import os
import pwd
import socket
import subprocess
import unittest

import loomtest
from loomtest import Loomd, own, WAIT

FINGER = "/usr/bin/finger"

CONF = '''user = "nobody"
finger "users" {
  listen = {"tcp:79:interface=127.0.0.1"}
  user "alice" {
    name = "Alice Liddell"
    office = "Rabbit Hole 1"
    phone = "+1 555 0100"
    email = "alice@example.org"
    project = "Tea party"
    plan = "Find the white rabbit."
  }
  user "bob" {
    name = "Bob Builder"
  }
}
'''


def port_79_free():
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 79))
        return True
    except OSError:
        return False
    finally:
        s.close()


class FingerClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = None
        if not loomtest.is_root() or not os.path.exists(FINGER) or not port_79_free():
            return
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            return
        cls.d = own(cls, Loomd(CONF, raw=True))
        cls.d.start()

    def setUp(self):
        if not loomtest.is_root():
            self.skipTest("needs root to bind port 79")
        if not os.path.exists(FINGER):
            self.skipTest("no %s (Debian package finger)" % FINGER)
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")
        if self.d is None:
            self.skipTest("port 79 on 127.0.0.1 is taken")

    def finger(self, *args):
        r = subprocess.run([FINGER] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_short(self):
        out = self.finger("alice@127.0.0.1")
        self.assertIn("Login: alice", out)
        self.assertIn("Name: Alice Liddell", out)
        self.assertIn("Office: Rabbit Hole 1", out)
        self.assertIn("Find the white rabbit.", out)
        self.assertNotIn("Email: alice@example.org", out)
        self.assertNotIn("\r", out)

    def test_long(self):
        out = self.finger("-l", "alice@127.0.0.1")
        self.assertIn("Login: alice", out)
        self.assertIn("Email: alice@example.org", out)
        self.assertIn("Project: Tea party", out)
        self.assertIn("Find the white rabbit.", out)

    def test_unknown(self):
        out = self.finger("mallory@127.0.0.1")
        self.assertIn("finger: mallory: no such user.", out)

    def test_list(self):
        out = self.finger("@127.0.0.1")
        self.assertIn("Login      Name", out)
        self.assertIn("Bob Builder", out)

    def test_privileges_dropped(self):
        nobody = pwd.getpwnam("nobody")
        st = loomtest.proc_status(self.d.proc.pid)
        self.assertEqual([int(x) for x in st["Uid"].split()], [nobody.pw_uid] * 4, st["Uid"])
        self.assertEqual([int(x) for x in st["Gid"].split()], [nobody.pw_gid] * 4, st["Gid"])
        # and it still serves after the drop
        self.assertIn("Login: bob", self.finger("bob@127.0.0.1"))


if __name__ == "__main__":
    loomtest.main()
