"""The SMTP module with Python's smtplib (SMTPUTF8, 8BITMIME, SIZE,
send_message, STARTTLS, login) and Twisted's ESMTP client."""

import email.message
import smtplib
import ssl
import subprocess
import textwrap
import unittest

import loomtest
from loomtest import own, WAIT
from smtptest import SmtpD, DEMO_PASSWORD, wait_messages

PY = "/usr/bin/python3"


class SmtplibTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, SmtpD(
            extra='recipients_file = "more.rcpts"'))
        cls.srv.d.write_file("more.rcpts",
                             "# UTF-8 local part (SMTPUTF8 only)\n"
                             "jörg@example.test mail/joerg/\n")
        cls.srv.start()

    def client(self, port=None):
        c = smtplib.SMTP("127.0.0.1", port or self.srv.port, timeout=WAIT)
        self.addCleanup(c.close)
        return c

    def test_send_message(self):
        before = len(self.srv.messages("bob"))
        m = email.message.EmailMessage()
        m["From"] = "Sender <s@elsewhere.test>"
        m["To"] = "bob@example.test"
        m["Subject"] = "via smtplib"
        m.set_content("hello from smtplib\n")
        c = self.client()
        refused = c.send_message(m)
        self.assertEqual(refused, {})
        msgs = wait_messages(self.srv, "bob", before + 1)
        self.assertIn(b"Subject: via smtplib", msgs[-1])
        self.assertIn(b"hello from smtplib", msgs[-1])

    def test_8bitmime(self):
        before = len(self.srv.messages("alice"))
        body = "Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n" \
               "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n"
        c = self.client()
        c.ehlo("client.test")
        self.assertTrue(c.has_extn("8bitmime"))
        c.sendmail("s@elsewhere.test", ["alice@example.test"], body.encode(),
                   mail_options=["BODY=8BITMIME"])
        msgs = wait_messages(self.srv, "alice", before + 1)
        self.assertIn("Grüße aus Köln".encode(), msgs[-1])

    def test_smtputf8(self):
        before = len(self.srv.messages("joerg"))
        m = email.message.EmailMessage()
        m["From"] = "rené@elsewhere.test"
        m["To"] = "jörg@example.test"
        m["Subject"] = "ünïcode"
        m.set_content("über\n")
        c = self.client()
        c.send_message(m)  # smtplib adds SMTPUTF8 for the non-ASCII addresses
        msgs = wait_messages(self.srv, "joerg", before + 1)
        self.assertIn("Return-Path: <rené@elsewhere.test>".encode(), msgs[-1])
        self.assertIn(b"with UTF8SMTP id", msgs[-1])

    def test_utf8_address_needs_smtputf8(self):
        c = self.client()
        c.ehlo("client.test")
        code, _ = c.mail("s@elsewhere.test")
        self.assertEqual(code, 250)
        c.command_encoding = "utf-8"  # send the UTF-8 path as it is
        code, msg = c.rcpt("jörg@example.test")
        self.assertEqual(code, 553, msg)

    def test_size_refused_at_mail(self):
        c = self.client()
        c.ehlo("client.test")
        self.assertEqual(int(c.esmtp_features["size"]), 1048576)
        code, msg = c.mail("s@elsewhere.test", ["SIZE=2000000"])
        self.assertEqual(code, 552, msg)
        self.assertIn(b"5.3.4", msg)

    def test_starttls_and_login(self):
        before = len(self.srv.queue_files())
        c = self.client()
        c.ehlo("client.test")
        self.assertNotIn("auth", c.esmtp_features)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c.starttls(context=ctx)
        c.ehlo("client.test")
        self.assertIn("PLAIN", c.esmtp_features["auth"])
        c.login("demo", DEMO_PASSWORD)
        c.sendmail("demo@example.test", ["far@remote.test"],
                   b"Subject: relayed\r\n\r\nout\r\n")
        self.assertEqual(len(self.srv.queue_files()), before + 1)

    def test_login_wrong_password(self):
        c = self.client(self.srv.sub)
        c.ehlo("client.test")
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            c.login("demo", "nope")
        self.assertEqual(cm.exception.smtp_code, 535)

    def test_dsn_parameters_kept_in_queue(self):
        before = len(self.srv.queue_files())
        c = self.client(self.srv.sub)
        c.ehlo("client.test")
        c.login("demo", DEMO_PASSWORD)
        c.sendmail("demo@example.test", ["dsn@remote.test"],
                   b"Subject: dsn\r\n\r\nx\r\n",
                   mail_options=["RET=HDRS", "ENVID=abc+2Bdef"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE",
                                 "ORCPT=rfc822;dsn@remote.test"])
        files = self.srv.queue_files()
        self.assertEqual(len(files), before + 1)
        with open(files[-1], "rb") as f:
            q = f.read()
        self.assertIn(b"abc+2Bdef", q)
        self.assertIn(b"rfc822;dsn@remote.test", q)


TWISTED_CLIENT = textwrap.dedent('''
    import sys
    from io import BytesIO
    from twisted.internet import reactor, defer, ssl
    from twisted.mail.smtp import ESMTPSenderFactory

    port, to, user, password, tls = sys.argv[1:6]
    # Twisted turns LF into CRLF itself: the file has LF line ends
    msg = b"From: t@elsewhere.test\\nTo: " + to.encode() + \\
          b"\\nSubject: from twisted\\n\\nsent by Twisted\\n.dot line\\n"
    d = defer.Deferred()
    f = ESMTPSenderFactory(user.encode() or None, password.encode() or None,
                           "demo@example.test" if user else "t@elsewhere.test",
                           [to], BytesIO(msg), d,
                           requireAuthentication=bool(user),
                           contextFactory=ssl.CertificateOptions(verify=False),
                           requireTransportSecurity=tls == "1")
    result = []
    def ok(r):
        result.append(0)
        reactor.stop()
    def bad(e):
        print("FAILED", e.getErrorMessage())
        result.append(1)
        reactor.stop()
    d.addCallbacks(ok, bad)
    reactor.connectTCP("127.0.0.1", int(port), f)
    reactor.run()
    sys.exit(result[0] if result else 2)
''')


class TwistedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, SmtpD()).start()

    def run_client(self, port, to, user="", password="", tls="0"):
        p = subprocess.run([PY, "-c", TWISTED_CLIENT, str(port), to, user,
                            password, tls], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=WAIT + 20)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_plain(self):
        before = len(self.srv.messages("alice"))
        rc, out = self.run_client(self.srv.port, "alice@example.test")
        self.assertEqual(rc, 0, out)
        msgs = wait_messages(self.srv, "alice", before + 1)
        self.assertTrue(msgs[-1].endswith(b"\r\n\r\nsent by Twisted\r\n.dot line\r\n"),
                        msgs[-1][-100:])

    def test_auth_and_tls_on_submission(self):
        before = len(self.srv.messages("bob"))
        rc, out = self.run_client(self.srv.sub, "bob@example.test", "demo",
                                  DEMO_PASSWORD, "1")
        self.assertEqual(rc, 0, out)
        msgs = wait_messages(self.srv, "bob", before + 1)
        self.assertIn(b"with ESMTPSA id", msgs[-1])

    def test_refused_recipient(self):
        rc, out = self.run_client(self.srv.port, "nobody@example.test")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("FAILED", out)


if __name__ == "__main__":
    loomtest.main()
