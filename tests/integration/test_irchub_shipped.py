"""The shipped conf/loom.conf's irc "chat" and its bridges, over raw
sockets: registration on the plain and the TLS port, the service user,
mail to announce@example.test and a webhook said in #announce, #announce
streamed at /events/irc, an operator's "!mail" in #mail delivered to a
Maildir (and nobody else's), SendQ and flood cuts leaving the others
chatting."""

import glob
import os
import shutil
import socket
import ssl
import subprocess
import time
import unittest

import loomtest
from loomtest import own, WAIT
from smtptest import swaks


class Irc:
    """A raw IRC client: send lines, wait for a line holding a text."""

    def __init__(self, port, nick, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        self.s = s
        self.buf = b""
        self.nick = nick
        self.send("NICK %s" % nick, "USER %s 0 * :%s" % (nick, nick))
        self.wait(" 001 %s " % nick)

    def send(self, *lines):
        self.s.sendall("".join(line + "\r\n" for line in lines).encode())

    def wait(self, text, timeout=WAIT):
        """The first unread line holding TEXT; lines before it are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                line = line.decode("utf-8", "replace")
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                if text in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line with %r" % text)
            self.s.settimeout(left)
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError("closed while waiting for %r" % text)
            self.buf += chunk

    def close(self):
        self.s.close()


class ShippedIrcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d, ports = loomtest.shipped_conf()
        own(cls, d)
        shutil.rmtree(os.path.join(d.dir, "mail"), ignore_errors=True)
        cls.d = d
        cls.irc = ports[6667]
        cls.ircs = ports[6697]
        cls.web = ports[8080]
        cls.smtp = ports[2525]
        d.start()

    def client(self, nick, tls=False):
        c = Irc(self.ircs if tls else self.irc, nick, tls)
        self.addCleanup(c.close)
        return c

    def test_welcome_and_motd(self):
        c = self.client("welcomed")
        c.send("MOTD")
        c.wait(":irc.example.test 375 welcomed :- irc.example.test Message of the day")
        c.wait("!mail <address> <text>")
        c.wait(" 376 welcomed ")
        c.send("VERSION")
        c.wait("NETWORK=loom")

    def test_tls_port(self):
        c = self.client("secure", tls=True)
        c.send("PING :over-tls")
        c.wait("PONG irc.example.test :over-tls")

    def test_service_user_cannot_be_killed(self):
        c = self.client("killer")
        c.send("OPER admin demo")
        c.wait(" 381 killer ")
        c.send("KILL loom :bye")
        c.wait(" 483 killer ")
        c.send("ISON loom")
        c.wait(" 303 killer :loom")

    def test_webhook_and_mail_said_in_announce(self):
        c = self.client("reader")
        c.send("JOIN #announce")
        c.wait(" 366 reader #announce ")
        r = subprocess.run(["curl", "-sS", "-H", "Content-Type: application/json",
                            "-d", '{"text":"deploy \\u00e9t\\u00e9 done"}',
                            "http://127.0.0.1:%d/hooks/irc" % self.web],
                           capture_output=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        line = c.wait("PRIVMSG #announce :deploy")
        self.assertTrue(line.startswith(":loom!"), line)
        self.assertIn("deploy été done", line)
        rc, out = swaks(self.smtp, "--to", "announce@example.test", "--from",
                        "carol@example.net", "--header", "Subject: hello channel")
        self.assertEqual(rc, 0, out)
        c.wait("PRIVMSG #announce :mail from carol@example.net: hello channel")
        c.send("NAMES #announce")
        names = c.wait(" 353 reader ")
        self.assertIn("loom", names.split(":", 2)[2].replace("@", "").split())

    def test_announce_streamed_at_events_irc(self):
        sse = subprocess.Popen(["curl", "-sSN", "http://127.0.0.1:%d/events/irc"
                                % self.web], stdout=subprocess.PIPE)
        self.addCleanup(sse.wait)
        self.addCleanup(sse.kill)
        c = self.client("talker")
        c.send("JOIN #announce")
        c.wait(" 366 talker ")
        # the stream may take a moment to subscribe: say it until it shows
        deadline = time.monotonic() + WAIT
        got = b""
        os.set_blocking(sse.stdout.fileno(), False)
        while b"hello web" not in got:
            self.assertLess(time.monotonic(), deadline, got)
            c.send("PRIVMSG #announce :hello web")
            time.sleep(0.2)
            chunk = sse.stdout.read()
            if chunk:
                got += chunk
        self.assertIn(b'"nick":"talker"', got)
        self.assertIn(b'"channel":"#announce"', got)

    def test_oper_mail_command(self):
        def messages():
            return sorted(glob.glob(os.path.join(self.d.dir, "mail", "bob", "new", "*")))
        before = len(messages())
        op = self.client("chief")
        op.send("OPER admin demo")
        op.wait(" 381 chief ")
        op.send("JOIN #mail")
        op.wait(" 366 chief #mail ")
        plain = self.client("plainuser")
        plain.send("JOIN #mail")
        plain.wait(" 366 plainuser #mail ")
        # a non-operator's command is not taken by the route
        plain.send("PRIVMSG #mail :!mail bob@example.test not from an oper")
        op.wait("not from an oper")
        op.send("PRIVMSG #mail :!mail bob@example.test the build is green")
        deadline = time.monotonic() + WAIT
        while len(messages()) < before + 1:
            self.assertLess(time.monotonic(), deadline, "no mail for bob")
            time.sleep(0.05)
        st = loomtest.wait_route(self.web, "irc-to-mail",
                                 lambda s: s["delivered"] >= 1)
        self.assertEqual(st["matched"], 1, st)
        with open(messages()[-1], "rb") as f:
            body = f.read()
        self.assertIn(b"the build is green", body)
        self.assertIn(b"chief", body)
        self.assertNotIn(b"not from an oper", body)

    def test_flooder_cut_others_keep_chatting(self):
        a = self.client("steady1")
        b = self.client("steady2")
        f = self.client("flooder")
        f.send(*["PRIVMSG steady1 :flood %d" % i for i in range(200)])
        f.wait("Excess Flood")
        a.send("PRIVMSG steady2 :still here")
        b.wait(":steady1!~steady1@127.0.0.1 PRIVMSG steady2 :still here")


if __name__ == "__main__":
    loomtest.main()
