"""The SMTP module receiving mail from swaks: plain, STARTTLS, AUTH PLAIN and
LOGIN, pipelining, local delivery to Maildir (aliases, Received:,
Return-Path), relay refused, submission rules."""

import os
import re
import unittest

import loomtest
from loomtest import own
from smtptest import SmtpD, swaks, server_lines, DEMO_PASSWORD


class SwaksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, SmtpD()).start()

    def send(self, *args, port=None):
        return swaks(port or self.srv.port, *args)

    def test_plain_delivery_to_maildir(self):
        before = len(self.srv.messages("alice"))
        rc, out = self.send("--to", "alice@example.test", "--from",
                            "sender@elsewhere.test", "--header",
                            "Subject: plain one", "--body", "hello alice")
        self.assertEqual(rc, 0, out)
        self.assertTrue(any(re.match(r"250 2\.0\.0 Ok: queued as \S+", l)
                            for l in server_lines(out)), out)
        msgs = self.srv.messages("alice")
        self.assertEqual(len(msgs), before + 1)
        m = msgs[-1]
        self.assertTrue(m.startswith(b"Return-Path: <sender@elsewhere.test>\r\n"
                                     b"Delivered-To: alice@example.test\r\n"
                                     b"Received: from client.test ([127.0.0.1])"), m[:300])
        self.assertIn(b"by mx.example.test (loom) with ESMTP id ", m)
        self.assertIn(b"for <alice@example.test>;", m)
        self.assertIn(b"Subject: plain one\r\n", m)
        self.assertIn(b"\r\n\r\nhello alice\r\n", m)
        # nothing left in tmp/, nothing in cur/
        self.assertEqual(os.listdir(os.path.join(self.srv.maildir("alice"), "tmp")), [])
        # the access log has the message's line, with the id of the 250
        qid = re.search(r"queued as (\S+)", out).group(1)
        loomtest.wait_file(os.path.join(self.srv.dir, "smtp.log"),
                           r"^127\.0\.0\.1 client\.test id=%s from=<sender@elsewhere\.test> "
                           r"to=1 size=\d+ stored$" % re.escape(qid))

    def test_starttls(self):
        before = len(self.srv.messages("bob"))
        rc, out = self.send("--to", "bob@example.test", "--tls",
                            "--header", "Subject: over tls")
        self.assertEqual(rc, 0, out)
        self.assertIn("220 2.0.0 Ready to start TLS", out)
        m = self.srv.messages("bob")[before]
        self.assertRegex(m.decode(), r"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)")
        self.assertIn(b"with ESMTPS id", m)

    def test_starttls_not_offered_twice(self):
        rc, out = self.send("--to", "bob@example.test", "--tls",
                            "--quit-after", "EHLO")
        self.assertEqual(rc, 0, out)
        lines = server_lines(out)
        # the EHLO answer after the handshake (the last one) lacks STARTTLS
        last_ehlo = [i for i, l in enumerate(lines) if l.startswith("250-mx.example.test")][-1]
        self.assertNotIn("250-STARTTLS", lines[last_ehlo:])
        self.assertIn("250-STARTTLS", lines[:last_ehlo])

    def test_auth_plain_on_submission_relays_to_queue(self):
        before = len(self.srv.queue_files())
        rc, out = self.send("--to", "someone@remote.test", "--from",
                            "demo@example.test", "--auth", "PLAIN",
                            "--auth-user", "demo", "--auth-password",
                            DEMO_PASSWORD, port=self.srv.sub)
        self.assertEqual(rc, 0, out)
        self.assertIn("235 2.7.0 Authentication successful", out)
        files = self.srv.queue_files()
        self.assertEqual(len(files), before + 1)
        with open(files[-1], "rb") as f:
            q = f.read()
        self.assertTrue(q.startswith(b"LOOMQ\x01\r\n"))
        self.assertIn(b"someone@remote.test", q)
        self.assertIn(b"with ESMTPA id", q)
        self.assertIn(b"(Authenticated sender: demo)", q)

    def test_auth_login_under_tls(self):
        before = len(self.srv.queue_files())
        rc, out = self.send("--to", "x@remote.test", "--from",
                            "demo@example.test", "--tls", "--auth", "LOGIN",
                            "--auth-user", "demo", "--auth-password",
                            DEMO_PASSWORD)
        self.assertEqual(rc, 0, out)
        self.assertIn("334 VXNlcm5hbWU6", out)
        self.assertEqual(len(self.srv.queue_files()), before + 1)
        with open(self.srv.queue_files()[-1], "rb") as f:
            self.assertIn(b"with ESMTPSA id", f.read())

    def test_auth_not_offered_in_plaintext_on_main_port(self):
        rc, out = self.send("--to", "alice@example.test", "--quit-after", "EHLO")
        self.assertEqual(rc, 0, out)
        self.assertFalse(any(l.startswith("250-AUTH") or l.startswith("250 AUTH")
                             for l in server_lines(out)), out)
        rc, out = self.send("--to", "alice@example.test", "--auth", "PLAIN",
                            "--auth-user", "demo", "--auth-password",
                            DEMO_PASSWORD)
        self.assertNotEqual(rc, 0, out)

    def test_auth_wrong_password(self):
        rc, out = self.send("--to", "x@remote.test", "--from",
                            "demo@example.test", "--auth", "PLAIN",
                            "--auth-user", "demo", "--auth-password", "wrong",
                            port=self.srv.sub)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("535 5.7.8 Error: authentication failed", out)

    def test_auth_unknown_user(self):
        rc, out = self.send("--to", "x@remote.test", "--auth", "LOGIN",
                            "--auth-user", "nobody", "--auth-password", "x",
                            port=self.srv.sub)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("535 5.7.8", out)

    def test_submission_requires_auth(self):
        rc, out = self.send("--to", "alice@example.test", port=self.srv.sub)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("530 5.7.0 Authentication required", out)

    def test_sender_not_owned(self):
        rc, out = self.send("--to", "alice@example.test", "--from",
                            "boss@elsewhere.test", "--auth", "PLAIN",
                            "--auth-user", "demo", "--auth-password",
                            DEMO_PASSWORD, port=self.srv.sub)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("553 5.7.1 <boss@elsewhere.test>: Sender address "
                      "rejected: not owned by user demo", out)

    def test_no_open_relay_from_loopback(self):
        before = len(self.srv.queue_files())
        rc, out = self.send("--to", "victim@remote.test")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("554 5.7.1 <victim@remote.test>: Relay access denied", out)
        self.assertEqual(len(self.srv.queue_files()), before)

    def test_unknown_local_user(self):
        rc, out = self.send("--to", "nobody@example.test")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("550 5.1.1 <nobody@example.test>: Recipient address "
                      "rejected", out)

    def test_alias_one_to_many_and_dedup(self):
        a, b = len(self.srv.messages("alice")), len(self.srv.messages("bob"))
        rc, out = self.send("--to", "team@example.test,alice@example.test",
                            "--header", "Subject: team")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.srv.messages("alice")), a + 1)
        self.assertEqual(len(self.srv.messages("bob")), b + 1)
        self.assertIn(b"Delivered-To: team@example.test",
                      self.srv.messages("bob")[-1])

    def test_case_insensitive_domain_and_local(self):
        c = len(self.srv.messages("carol"))
        rc, out = self.send("--to", "Carol@OTHER.test")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.srv.messages("carol")), c + 1)

    def test_pipelining(self):
        a = len(self.srv.messages("alice"))
        rc, out = self.send("--to", "alice@example.test", "--pipeline",
                            "--header", "Subject: piped")
        self.assertEqual(rc, 0, out)
        self.assertIn("250-PIPELINING", out)
        self.assertEqual(len(self.srv.messages("alice")), a + 1)

    def test_size_advertised(self):
        rc, out = self.send("--to", "alice@example.test", "--quit-after", "EHLO")
        self.assertIn("250-SIZE 1048576", server_lines(out))
        for ext in ("250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN",
                    "250-SMTPUTF8", "250 CHUNKING", "250-STARTTLS"):
            self.assertIn(ext, server_lines(out))

    def test_message_too_big(self):
        a = len(self.srv.messages("alice"))
        path = os.path.join(self.srv.dir, "big.txt")
        with open(path, "w") as f:
            f.write(("x" * 998 + "\n") * 1100)
        rc, out = self.send("--to", "alice@example.test", "--body", "@" + path)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("552 5.3.4 Message size exceeds fixed limit", out)
        self.assertEqual(len(self.srv.messages("alice")), a)


class ImplicitTlsSubmissionTest(unittest.TestCase):
    """A tls: listener in `submission`: TLS from the first byte (RFC 8314,
    port 465 in production), AUTH required, no STARTTLS offered."""

    @classmethod
    def setUpClass(cls):
        cls.tls_port = loomtest.free_port()
        port = loomtest.free_port()
        ep = "tls:%d:interface=127.0.0.1:profile=local" % cls.tls_port
        cls.srv = own(cls, SmtpD(
            ports={"port": port},
            extra='listen = {"tcp:%d:interface=127.0.0.1", "%s"}\n'
                  '  submission = {"%s"}' % (port, ep, ep)))
        cls.srv.start()

    def test_auth_over_implicit_tls(self):
        before = len(self.srv.messages("alice"))
        rc, out = swaks(self.tls_port, "--tlsc", "--to", "alice@example.test",
                        "--from", "demo@example.test", "--auth", "PLAIN",
                        "--auth-user", "demo", "--auth-password", DEMO_PASSWORD)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("STARTTLS", out)
        m = self.srv.messages("alice")[before]
        self.assertIn(b"with ESMTPSA id", m)

    def test_auth_required(self):
        rc, out = swaks(self.tls_port, "--tlsc", "--to", "alice@example.test")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("530 5.7.0 Authentication required", out)


if __name__ == "__main__":
    loomtest.main()
