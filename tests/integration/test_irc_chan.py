"""IRC channels over real sockets: modes, bans, kicks, invites, WHO and
WHOIS against a real loomd, with raw IRC lines (the real-client suites
are test_irc_*.py); and malformed channel commands leave the daemon
serving."""

import random
import socket
import time
import unittest

import loomtest
from loomtest import Loomd, free_port, own, WAIT

SRV = "irc.example.test"


class Client:
    """A raw IRC client: send lines, read lines until one matches."""

    def __init__(self, port, nick):
        self.nick = nick
        self.s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.send("NICK %s" % nick)
        self.send("USER %s 0 * :Real %s" % (nick, nick))
        self.expect(" 001 %s " % nick)
        self.expect(" 376 %s | 422 %s " % (nick, nick))

    def send(self, line):
        self.s.sendall(line.encode() + b"\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                raise AssertionError("%s: connection closed" % self.nick)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def expect(self, *alternatives):
        """Read until a line holds one of ALTERNATIVES (each may list
        choices with '|'); returns the lines read, the match last."""
        wants = [w for a in alternatives for w in a.split("|")]
        seen = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            line = self.line()
            seen.append(line)
            if line.startswith("PING "):
                self.send("PONG " + line[5:])
            if any(w.strip() in line for w in wants):
                return seen
        raise AssertionError("%s never saw %r; saw %r" % (self.nick, wants, seen))

    def sync(self, token):
        """A round trip: everything the server sent before is read."""
        self.send("PING :%s" % token)
        return self.expect("PONG %s :%s" % (SRV, token), ":%s" % token)

    def close(self):
        self.s.close()


class IrcChannels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = Loomd('irc "chat" {\n'
                      '  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                      '  server_name = "%s"\n'
                      '  flood_burst = 1000\n'
                      '  flood_rate = 10000\n'
                      '  maxlist = 5\n'
                      '}\n' % (cls.port, SRV))
        own(cls, cls.d)
        cls.d.start()

    def client(self, nick):
        c = Client(self.port, nick)
        self.addCleanup(c.close)
        return c

    def test_ban_kick_invite(self):
        op, guest = self.client("chop"), self.client("visitor")
        op.send("JOIN #room")
        op.expect(" 366 chop #room ")
        op.send("MODE #room +b visitor")
        op.expect("MODE #room +b visitor!*@*")
        guest.send("JOIN #room")
        guest.expect(" 474 visitor #room :Cannot join channel (+b)")
        op.send("MODE #room b")
        lines = op.expect(" 368 chop #room ")
        self.assertTrue(any(" 367 chop #room visitor!*@* " in l for l in lines))
        op.send("MODE #room -b+i visitor!*@*")
        op.expect("MODE #room -b+i visitor!*@*")
        guest.send("JOIN #room")
        guest.expect(" 473 visitor #room :Cannot join channel (+i)")
        op.send("INVITE visitor #room")
        op.expect(" 341 chop visitor #room")
        guest.expect("INVITE visitor #room")
        guest.send("JOIN #room")
        guest.expect(" 366 visitor #room ")
        op.expect("JOIN #room")
        guest.send("KICK #room chop")
        guest.expect(" 482 visitor #room ")
        op.send("KICK #room visitor :out you go")
        op.expect("KICK #room visitor :out you go")
        guest.expect("KICK #room visitor :out you go")
        guest.send("PRIVMSG #room :still here?")
        guest.expect(" 404 visitor #room ")

    def test_modes_and_who(self):
        a, b = self.client("modea"), self.client("modeb")
        a.send("JOIN #modes")
        a.expect(" 366 modea #modes ")  # a made it: a is the operator
        b.send("JOIN #modes")
        b.expect(" 366 modeb #modes ")
        a.expect("JOIN #modes")
        a.send("MODE #modes +ov-t modeb modeb")
        b.expect("MODE #modes +ov-t modeb modeb")
        a.send("MODE #modes +kl pass 10")
        a.expect("MODE #modes +kl pass 10")
        b.send("MODE #modes")
        b.expect(" 324 modeb #modes +nkl pass 10")
        b.send("WHO #modes %tnf,7")
        lines = b.expect(" 315 modeb #modes ")
        who = sorted(l.split(" 354 modeb ", 1)[1] for l in lines if " 354 " in l)
        self.assertEqual(who, ["7 modea H@", "7 modeb H@"])
        b.send("WHOIS modea")
        lines = b.expect(" 318 modeb modea ")
        self.assertTrue(any(" 319 modeb modea :@#modes" in l for l in lines))
        a.send("MODE modea +i")
        a.expect(":modea MODE modea :+i")
        a.send("MODE modeb +i")
        a.expect(" 502 modea ")

    def test_lists_bounded(self):
        op = self.client("lister")
        op.send("JOIN #full")
        op.expect(" 366 lister #full ")
        for i in range(5):
            op.send("MODE #full +b bad%d" % i)
            op.expect("MODE #full +b bad%d!*@*" % i)
        op.send("MODE #full +e good")
        op.expect(" 478 lister #full good!*@* :Channel list is full")

    def test_garbage_keeps_serving(self):
        """Random channel commands with odd parameters: each one gets a
        reply or nothing, the daemon keeps answering PING."""
        rng = random.Random(17)
        c = self.client("fuzzer")
        words = ["#", "#x", "&y", "0", ",", ",,", "#a,#b,,#c", "+", "-",
                 "+ov", "-b", "+k", "+l", "+l", "-1", "99999999999", "*",
                 "!@", "*!*@*", ":", ":x y", "\x07", "#" + "z" * 80, "fuzzer",
                 "%", "%tcuihsnfdlaor,123456", "+beI", "+vvvvvvvvvv", ">",
                 "<", ">-1", "o"]
        cmds = ["JOIN", "PART", "MODE", "TOPIC", "NAMES", "LIST", "KICK",
                "INVITE", "WHO", "WHOIS", "WHOWAS"]
        c.send("JOIN #x")
        for i in range(400):
            args = " ".join(rng.choice(words) for _ in range(rng.randint(0, 5)))
            c.send("%s %s" % (rng.choice(cmds), args))
            if i % 50 == 49:
                c.sync("t%d" % i)
        c.sync("end")
        other = self.client("witness")
        other.send("LIST")
        other.expect(" 323 witness ")

    def test_zz_clean_stop(self):
        """Last: the daemon stops cleanly after all of the above (under
        ASan: no report, no leak)."""
        c = self.client("last")
        c.send("JOIN #end")
        c.expect(" 366 last #end ")
        self.assertEqual(self.d.stop(), 0, self.d.log()[-3000:])
        self.assertNotIn("Sanitizer", self.d.log())


if __name__ == "__main__":
    loomtest.main()
