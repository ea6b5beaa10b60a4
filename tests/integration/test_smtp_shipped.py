"""The shipped conf/loom.conf's smtp "mail": swaks to alice@example.test on
2525 lands in mail/alice/new/ beside loom.conf, no relay for anyone
unauthenticated, submission on 2587 with the demo user, and mail to
announce@example.test on bus topic "mail" (the /events/mail stream)."""

import glob
import os
import shutil
import socket
import unittest

import loomtest
from loomtest import own, WAIT
from smtptest import swaks


class ShippedSmtpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # as shipped, `user = "nobody"`: started as root (as the tests may
        # be), loomd drops to nobody after binding, and the Maildirs it
        # made at start must be nobody's
        d, ports = loomtest.shipped_conf()
        own(cls, d)
        # Maildirs a run in the source tree left are not the shipped state
        shutil.rmtree(os.path.join(d.dir, "mail"), ignore_errors=True)
        cls.d = d
        cls.smtp = ports[2525]
        cls.sub = ports[2587]
        cls.web = ports[8080]
        d.start()

    def messages(self, user):
        return sorted(glob.glob(os.path.join(self.d.dir, "mail", user, "new", "*")))

    def test_maildirs_made_at_start(self):
        owner = os.geteuid()
        if owner == 0:
            import pwd
            owner = pwd.getpwnam("nobody").pw_uid
        for sub in ("", "queue", "queue/tmp"):
            self.assertEqual(os.stat(os.path.join(self.d.dir, "mail", sub)).st_uid, owner)
        for user in ("alice", "bob"):
            for sub in ("", "tmp", "new", "cur"):
                path = os.path.join(self.d.dir, "mail", user, sub)
                self.assertTrue(os.path.isdir(path))
                self.assertEqual(os.stat(path).st_uid, owner, path)

    def test_swaks_to_alice(self):
        before = len(self.messages("alice"))
        rc, out = swaks(self.smtp, "--to", "alice@example.test")
        self.assertEqual(rc, 0, out)
        files = self.messages("alice")
        self.assertEqual(len(files), before + 1)
        with open(files[-1], "rb") as f:
            self.assertIn(b"by mail.example.test (loom) with ESMTP", f.read())

    def test_starttls_offered(self):
        rc, out = swaks(self.smtp, "--to", "bob@example.test", "--tls")
        self.assertEqual(rc, 0, out)

    def test_no_relay(self):
        rc, out = swaks(self.smtp, "--to", "someone@example.net")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("554 5.7.1", out)

    def test_submission_needs_auth_then_relays(self):
        rc, out = swaks(self.sub, "--to", "someone@example.net")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("530 5.7.0", out)
        rc, out = swaks(self.sub, "--to", "someone@example.net", "--from",
                        "demo@example.test", "--auth", "PLAIN", "--auth-user",
                        "demo", "--auth-password", "demo")
        self.assertEqual(rc, 0, out)

    def test_size_64m(self):
        rc, out = swaks(self.smtp, "--to", "alice@example.test", "--quit-after", "EHLO")
        self.assertIn("250-SIZE 67108864", out)

    def test_announce_on_bus_topic_mail(self):
        s = socket.create_connection(("127.0.0.1", self.web), timeout=WAIT)
        self.addCleanup(s.close)
        s.sendall(b"GET /events/mail HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        self.assertIn(b" 200 ", got.split(b"\r\n")[0])
        a, b = len(self.messages("alice")), len(self.messages("bob"))
        rc, out = swaks(self.smtp, "--to", "announce@example.test",
                        "--header", "Subject: to everyone", "--body",
                        "the announcement")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.messages("alice")), a + 1)
        self.assertEqual(len(self.messages("bob")), b + 1)
        while b"the announcement" not in got:
            chunk = s.recv(65536)
            self.assertTrue(chunk, got)
            got += chunk
        self.assertIn(b"to everyone", got)


if __name__ == "__main__":
    loomtest.main()
