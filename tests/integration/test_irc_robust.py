"""The IRC module under abuse: a flooding client is disconnected (Excess
Flood) while python3-irc bots keep chatting; a client that never reads is
cut at its SendQ and the server's memory stays bounded; over-long and
malformed lines get their numerics and leave the server unharmed; ping,
registration timeouts and connections per address."""

import os
import socket
import time
import unittest

import loomtest
import ircpeer
from ircpeer import Net, Raw
from loomtest import own, WAIT

_n = [0]


def fresh(prefix):
    _n[0] += 1
    return "%s%d" % (prefix, _n[0])


def rss_kib(pid):
    return int(loomtest.proc_status(pid)["VmRSS"].split()[0])


@unittest.skipIf(ircpeer.peer_is_ngircd(), "loomd's limits and replies")
class Flood(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.IrcD(extra="flood_burst = 10\nflood_rate = 10\n"
                                         "flood_queue = 30"))
        cls.srv.start()

    def setUp(self):
        self.net = Net(self.srv)
        self.addCleanup(self.net.close)

    def tearDown(self):
        self.assertTrue(self.srv.alive(), "the server died")

    def test_flooder_cut_while_others_chat(self):
        a = self.net.bot(fresh("a")).welcome()
        b = self.net.bot(fresh("b")).welcome()
        ch = fresh("#flood")
        for x in (a, b):
            x.conn.join(ch)
            x.expect(r" 366 ")
        flooder = Raw(self.srv.port)
        self.addCleanup(flooder.close)
        fnick = fresh("f")
        flooder.register(fnick)
        flooder.send("JOIN %s\r\n" % ch)
        flooder.until(r" 366 ")
        a.expect(r":%s!\S+ JOIN" % fnick)
        flooder.send("".join("PRIVMSG %s :flood %d\r\n" % (ch, i) for i in range(500)))
        m = flooder.until(r"^ERROR :")
        self.assertIn("Excess Flood", m.string)
        e = a.expect_event("quit", lambda e: e.source.nick == fnick)
        self.assertIn("Excess Flood", e.arguments[0])
        # the others keep chatting
        for i in range(5):
            a.conn.privmsg(ch, "still here %d" % i)
            b.expect_event("pubmsg", lambda e, i=i: e.arguments == ["still here %d" % i])
        got = [ln for ln in b.lines if ":flood " in ln]
        self.assertLess(len(got), 500)
        self.assertGreater(len(got), 0)


@unittest.skipIf(ircpeer.peer_is_ngircd(), "loomd's limits and replies")
class SendQ(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.IrcD(extra="flood_burst = 10000\nflood_rate = 100000\n"
                                         "sendq = \"64K\""))
        cls.srv.start()

    def test_never_reading_client_cut_at_sendq(self):
        net = Net(self.srv)
        self.addCleanup(net.close)
        a = net.bot(fresh("a")).welcome()
        ch = fresh("#sendq")
        a.conn.join(ch)
        a.expect(r" 366 ")
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", self.srv.port))
        self.addCleanup(s.close)
        snick = fresh("sleepy")
        s.sendall(("NICK %s\r\nUSER s 0 * :never reads\r\nJOIN %s\r\n" % (snick, ch)).encode())
        a.expect(r":%s!\S+ JOIN" % snick)
        pid = self.srv.pid()
        before = rss_kib(pid)
        text = "x" * 400
        cut = None
        # up to 16 MB for the non-reader: far past a 64 KiB SendQ
        for _ in range(400):
            for _ in range(100):
                a.conn.privmsg(ch, text)
            net.pump(0.01)
            cut = a.find(r":%s!\S+ QUIT :(.*)" % snick, 0)[0]
            if cut:
                break
        if not cut:
            cut = a.expect(r":%s!\S+ QUIT :(.*)" % snick)
        # what the channel sees is why it was cut, even though the
        # transport's close reaches the module before the deferred quit
        self.assertIn("SendQ exceeded", cut.group(1))
        if not loomtest.SANITIZED:
            # far below the megabytes queued had the server kept them
            self.assertLess(rss_kib(pid) - before, 16 * 1024)
        a.sync()
        self.assertTrue(self.srv.alive())


@unittest.skipIf(ircpeer.peer_is_ngircd(), "loomd's limits and replies")
class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.IrcD())
        cls.srv.start()

    def tearDown(self):
        self.assertTrue(self.srv.alive(), "the server died")

    def test_long_lines_get_417(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        r.register(fresh("long"))
        r.send("PRIVMSG %s :%s\r\n" % ("nobody", "y" * 600))
        r.until(r" 417 ")
        r.send("CAP REQ :message-tags\r\n")
        r.until(r" ACK ")
        r.send("@+big=%s PING :t\r\n" % ("z" * 5000))
        r.until(r" 417 ")
        r.send("PING :after\r\n")
        r.until(r"PONG .*after")

    def test_malformed_lines_leave_the_server_unharmed(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        r.register(fresh("bad"))
        junk = [b":onlyprefix\r\n", b"   \r\n", b"\r\n", b"PRIVMSG\x00 x :y\r\n",
                b"@\r\n", b"@a=b\r\n", b"@;;; :p\r\n", b": PRIVMSG x :y\r\n",
                b"PRIVMSG a b c d e f g h i j k l m n o p q r s :t\r\n",
                b"JOIN #\xff\xfe\r\n", b"NICK \xff\r\n", b"MODE\r\n",
                b"\x01\x02\x03\r\n", b"PING\r\n", b"CAP\r\n", b"CAP REQ\r\n",
                b"AUTHENTICATE\r\n", b"WHO\r\n", b"@" + b"k" * 9000 + b" PING x\r\n"]
        for line in junk:
            r.send(line)
        r.send("PING :alive\r\n")
        r.until(r"PONG .*alive")
        # and a fresh client is served
        r2 = Raw(self.srv.port)
        self.addCleanup(r2.close)
        r2.register(fresh("ok"))


@unittest.skipIf(ircpeer.peer_is_ngircd(), "loomd's limits and replies")
class Timeouts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.IrcD(extra="ping_interval = 1\nping_timeout = 1\n"
                                         "register_timeout = 2"))
        cls.srv.start()

    def test_ping_timeout(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        r.send("NICK %s\r\nUSER p 0 * :p\r\n" % fresh("idle"))
        r.s.settimeout(WAIT)
        pinged = False
        while True:  # never answer the server's PING
            ln = r.line()
            if ln.startswith("PING"):
                pinged = True
            if ln.startswith("ERROR"):
                break
        self.assertTrue(pinged)
        self.assertIn("Ping timeout", ln)
        with self.assertRaises(EOFError):
            r.line()

    def test_registration_timeout(self):
        silent = Raw(self.srv.port)
        self.addCleanup(silent.close)
        m = silent.until(r"^ERROR :")
        self.assertIsNotNone(m)
        with self.assertRaises(EOFError):
            silent.line()


@unittest.skipIf(ircpeer.peer_is_ngircd(), "loomd's limits and replies")
class PerAddress(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.IrcD(extra="clients_per_ip = 3"))
        cls.srv.start()

    def test_connections_per_address(self):
        held = []
        for _ in range(3):
            x = Raw(self.srv.port)
            self.addCleanup(x.close)
            x.register(fresh("ip"))
            held.append(x)
        extra = Raw(self.srv.port)
        self.addCleanup(extra.close)
        m = extra.until(r"^ERROR :")
        self.assertIn("Too many connections", m.string)
        held[0].send("QUIT :making room\r\n")
        held[0].until(r"^ERROR")
        deadline = time.monotonic() + WAIT
        while True:
            y = Raw(self.srv.port)
            self.addCleanup(y.close)
            try:
                y.register(fresh("ip"))
                break
            except EOFError:
                if time.monotonic() > deadline:
                    self.fail("no room after a QUIT")
                time.sleep(0.1)
        self.assertTrue(os.path.exists("/proc/%d" % self.srv.pid()))


if __name__ == "__main__":
    loomtest.main()
