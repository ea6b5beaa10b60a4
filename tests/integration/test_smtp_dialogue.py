"""The SMTP session over raw sockets: reply codes and enhanced codes as
Postfix gives them, sequence errors, limits, pipelining in order, BDAT,
bare LF refusal, STARTTLS injection, pre-greet, per-address limit."""

import os
import socket
import ssl
import time
import unittest

import loomtest
from loomtest import own, WAIT
from smtptest import SmtpD, Raw, wait_messages


class DialogueTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, SmtpD(rcpts=3)).start()

    def raw(self, port=None):
        r = Raw(port or self.srv.port)
        self.addCleanup(r.close)
        return r

    def test_greeting_and_helo(self):
        r = self.raw()
        self.assertEqual(r.greeting, (220, ["220 mx.example.test ESMTP loom"]))
        self.assertEqual(r.cmd("HELO client.test"), (250, ["250 mx.example.test"]))
        code, lines = r.cmd("EHLO client.test")
        self.assertEqual(code, 250)
        self.assertEqual(lines[0], "250-mx.example.test")
        self.assertEqual(lines[-1], "250 CHUNKING")

    def test_sequence_errors(self):
        r = self.raw()
        self.assertEqual(r.cmd("MAIL FROM:<a@b.test>"),
                         (503, ["503 5.5.1 Error: send HELO/EHLO first"]))
        r.cmd("EHLO c")
        self.assertEqual(r.cmd("RCPT TO:<alice@example.test>"),
                         (503, ["503 5.5.1 Error: need MAIL command"]))
        self.assertEqual(r.cmd("DATA"), (503, ["503 5.5.1 Error: need MAIL command"]))
        self.assertEqual(r.cmd("MAIL FROM:<a@b.test>")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<a@b.test>"),
                         (503, ["503 5.5.1 Error: nested MAIL command"]))
        self.assertEqual(r.cmd("DATA"), (554, ["554 5.5.1 Error: no valid recipients"]))

    def test_simple_commands(self):
        r = self.raw()
        self.assertEqual(r.cmd("NOOP"), (250, ["250 2.0.0 Ok"]))
        self.assertEqual(r.cmd("RSET"), (250, ["250 2.0.0 Ok"]))
        code, lines = r.cmd("VRFY alice")
        self.assertEqual(code, 252)
        self.assertTrue(lines[0].startswith("252 2.0.0 "))
        self.assertNotIn("alice", lines[0])
        self.assertEqual(r.cmd("HELP")[0], 214)
        self.assertEqual(r.cmd("FOO bar"),
                         (500, ["500 5.5.2 Error: command not recognized"]))
        self.assertEqual(r.cmd("QUIT"), (221, ["221 2.0.0 Bye"]))
        self.assertEqual(r.rest(), "")

    def test_too_many_recipients(self):
        r = self.raw()
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<>")
        for _ in range(3):
            self.assertEqual(r.cmd("RCPT TO:<alice@example.test>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@example.test>"),
                         (452, ["452 4.5.3 Error: too many recipients"]))

    def test_too_many_errors(self):
        r = self.raw()
        for _ in range(9):
            self.assertEqual(r.cmd("BOGUS")[0], 500)
        r.send("BOGUS\r\n")
        self.assertEqual(r.reply()[0], 500)
        code, lines = r.reply()
        self.assertEqual(code, 421)
        self.assertIn("4.7.0", lines[0])
        self.assertEqual(r.rest(), "")

    def test_line_too_long(self):
        r = self.raw()
        self.assertEqual(r.cmd("NOOP " + "x" * 600),
                         (500, ["500 5.5.2 Error: line too long"]))
        self.assertEqual(r.cmd("NOOP"), (250, ["250 2.0.0 Ok"]))

    def test_pipelined_answers_in_order(self):
        before = len(self.srv.messages("alice"))
        r = self.raw()
        r.send("EHLO c\r\nMAIL FROM:<p@x.test>\r\nRCPT TO:<nobody@example.test>\r\n"
               "RCPT TO:<alice@example.test>\r\nDATA\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply(), (250, ["250 2.1.0 Ok"]))
        self.assertEqual(r.reply()[0], 550)
        self.assertEqual(r.reply(), (250, ["250 2.1.5 Ok"]))
        self.assertEqual(r.reply()[0], 354)
        r.send("Subject: piped\r\n\r\nbody\r\n.\r\nMAIL FROM:<q@x.test>\r\nQUIT\r\n")
        code, lines = r.reply()
        self.assertEqual(code, 250)
        self.assertRegex(lines[0], r"^250 2\.0\.0 Ok: queued as ")
        self.assertEqual(r.reply(), (250, ["250 2.1.0 Ok"]))
        self.assertEqual(r.reply(), (221, ["221 2.0.0 Bye"]))
        msgs = wait_messages(self.srv, "alice", before + 1)
        self.assertTrue(msgs[-1].endswith(b"Subject: piped\r\n\r\nbody\r\n"), msgs[-1][-200:])

    def test_byte_by_byte_same_as_whole(self):
        script = ("EHLO c\r\nMAIL FROM:<b@x.test>\r\nRCPT TO:<bob@example.test>\r\n"
                  "DATA\r\n")
        r = self.raw()
        for ch in script:
            r.send(ch)
        codes = [r.reply()[0] for _ in range(4)]
        self.assertEqual(codes, [250, 250, 250, 354])
        for ch in "X: y\r\n\r\n..dot\r\n.\r\n":
            r.send(ch)
        self.assertEqual(r.reply()[0], 250)
        m = self.srv.messages("bob")[-1]
        self.assertTrue(m.endswith(b"X: y\r\n\r\n.dot\r\n"), m[-100:])

    def test_bdat(self):
        before = len(self.srv.messages("alice"))
        r = self.raw()
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<b@x.test>")
        r.cmd("RCPT TO:<alice@example.test>")
        body1 = b"Subject: chunks\r\n\r\n"
        body2 = b"line one\r\n.\r\nnot the end\r\n"
        r.send(b"BDAT %d\r\n" % len(body1) + body1)
        self.assertEqual(r.reply()[0], 250)
        r.send(b"BDAT %d LAST\r\n" % len(body2) + body2)
        code, lines = r.reply()
        self.assertEqual(code, 250, lines)
        self.assertRegex(lines[0], "queued as")
        msgs = wait_messages(self.srv, "alice", before + 1)
        self.assertTrue(msgs[-1].endswith(body1 + body2))

    def test_bdat_without_transaction_reads_the_chunk(self):
        r = self.raw()
        r.cmd("EHLO c")
        r.send(b"BDAT 12\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
        self.assertEqual(r.reply(), (503, ["503 5.5.1 Error: need MAIL command"]))
        self.assertEqual(r.reply(), (250, ["250 2.0.0 Ok"]))
        self.assertEqual(r.cmd("NOOP"), (250, ["250 2.0.0 Ok"]))

    def test_bare_lf_refused_never_ends(self):
        before = len(self.srv.messages("alice"))
        r = self.raw()
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<s@x.test>")
        r.cmd("RCPT TO:<alice@example.test>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: smuggle\r\n\r\nhi\n.\nMAIL FROM:<evil@x.test>\r\n"
               "RCPT TO:<bob@example.test>\r\nDATA\r\n\r\n.\r\n")
        code, lines = r.reply()
        self.assertEqual((code, lines), (550, ["550 5.5.2 Error: bare <LF> received"]))
        self.assertEqual(r.cmd("NOOP"), (250, ["250 2.0.0 Ok"]))
        self.assertEqual(len(self.srv.messages("alice")), before)
        loomtest.wait_file(os.path.join(self.srv.dir, "smtp.log"),
                           r"^127\.0\.0\.1 c id=- from=<s@x\.test> to=1 size=\d+ refused$")

    def test_starttls_drops_injected_commands(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=WAIT)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO c\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"STARTTLS\r\nRSET\r\n")
        self.assertTrue(f.readline().startswith(b"220 2.0.0"))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(b"NOOP\r\n")
        got = t.recv(1000)
        # the first answer under TLS is NOOP's: RSET was never run
        self.assertEqual(got, b"250 2.0.0 Ok\r\n")
        t.sendall(b"MAIL FROM:<a@b.test>\r\n")
        self.assertEqual(t.recv(1000), b"503 5.5.1 Error: send HELO/EHLO first\r\n")
        t.close()


class CatchAllAndRelayNetTest(unittest.TestCase):
    """catch_all takes unknown users of the local domains; a listed relay
    network may send to other domains without AUTH."""

    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, SmtpD(extra='catch_all = "bob@example.test"\n'
                                       '  relay_networks = {"127.0.0.0/8"}')).start()

    def test_unknown_user_to_catch_all(self):
        before = len(self.srv.messages("bob"))
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<s@x.test>")
        self.assertEqual(r.cmd("RCPT TO:<whoever@example.test>"), (250, ["250 2.1.5 Ok"]))
        self.assertEqual(r.cmd("DATA")[0], 354)
        self.assertEqual(r.cmd("Subject: c\r\n\r\nx\r\n.")[0], 250)
        msgs = wait_messages(self.srv, "bob", before + 1)
        self.assertIn(b"Delivered-To: whoever@example.test", msgs[-1])

    def test_relay_network_may_relay(self):
        before = len(self.srv.queue_files())
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<s@x.test>")
        self.assertEqual(r.cmd("RCPT TO:<far@remote.test>"), (250, ["250 2.1.5 Ok"]))
        self.assertEqual(r.cmd("DATA")[0], 354)
        self.assertEqual(r.cmd("Subject: r\r\n\r\nx\r\n.")[0], 250)
        self.assertEqual(len(self.srv.queue_files()), before + 1)


class GreetPauseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, SmtpD(extra="greet_pause = 400")).start()

    def test_pregreet_dropped(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=WAIT)
        self.addCleanup(s.close)
        s.sendall(b"EHLO early\r\n")
        out = loomtest.recv_until_close(s)
        self.assertTrue(out.startswith(b"554 5.5.1 "), out)
        self.assertNotIn(b"220", out)

    def test_patient_client_served(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        self.assertEqual(r.greeting[0], 220)
        self.assertEqual(r.cmd("NOOP")[0], 250)


class PerAddressLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, SmtpD(extra="max_connections_per_ip = 2")).start()

    def test_per_address_limit(self):
        a = Raw(self.srv.port)
        self.addCleanup(a.close)
        b = Raw(self.srv.port)
        self.addCleanup(b.close)
        c = Raw(self.srv.port, greet=False)
        self.addCleanup(c.close)
        out = c.rest()
        self.assertTrue(out.startswith("421 4.7.0 mx.example.test Error: too many "
                                       "connections from 127.0.0.1"), out)
        a.close()
        b.close()
        deadline = time.monotonic() + WAIT
        while True:  # the closes are seen by the server soon after
            d = Raw(self.srv.port, greet=False)
            code, _ = d.reply()
            d.close()
            if code == 220 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(code, 220)


if __name__ == "__main__":
    loomtest.main()
