"""The shipped IRC bridges end to end, on a copy of the shipped conf/ with
free ports: swaks -> smtp "mail" -> #announce (said by the service user
"loom"); curl POST /hooks/irc -> #announce; #announce -> Server-Sent
Events at /events/irc read with curl -N; an operator's
"!mail <address> <text>" in #mail -> a mail in alice's Maildir."""

import glob
import os
import shutil
import subprocess
import time
import unittest

import loomtest
import ircpeer
from loomtest import own, WAIT

OPER = ("admin", "demo")  # the shipped demo operator


class _Shipped:
    """The shipped configuration, for ircpeer.Net (.port, .tls_port)."""

    def __init__(self, d, ports):
        self.d = d
        self.port = ports[6667]
        self.tls_port = ports[6697]

    def alive(self):
        return self.d.proc.poll() is None


@unittest.skipIf(ircpeer.peer_is_ngircd(), "loomd's bridges")
@unittest.skipUnless(shutil.which("swaks") and shutil.which("curl"), "needs swaks and curl")
class Bridges(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d, ports = loomtest.shipped_conf()
        own(cls, d)
        shutil.rmtree(os.path.join(d.dir, "mail"), ignore_errors=True)
        cls.d = d
        cls.ports = ports
        cls.srv = _Shipped(d, ports)
        d.start()

    def setUp(self):
        self.net = ircpeer.Net(self.srv)
        self.addCleanup(self.net.close)

    def tearDown(self):
        self.assertTrue(self.srv.alive(), "loomd died")

    def listener(self, nick, channel):
        b = self.net.bot(nick).welcome()
        b.conn.join(channel)
        b.expect(r" 366 \S+ %s " % channel)
        return b

    def test_mail_to_irc_with_swaks(self):
        b = self.listener("mailwatch", "#announce")
        r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % self.ports[2525],
                            "--to", "announce@example.test", "--from", "ops@example.net",
                            "--header", "Subject: disk almost full", "--body", "df says 97%"],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e = b.expect_event("pubmsg", lambda e: "disk almost full" in e.arguments[0])
        self.assertEqual(e.source.nick, "loom")
        self.assertEqual(e.target, "#announce")
        self.assertEqual(e.arguments[0], "mail from ops@example.net: disk almost full")
        # the service user is a real member of the channel
        b.skip()
        b.conn.names(["#announce"])
        m = b.expect(r" 353 \S+ [=*@] #announce :(.*)")
        self.assertIn("loom", [n.lstrip("@+") for n in m.group(1).split()])

    def test_webhook_to_irc_with_curl(self):
        b = self.listener("hookwatch", "#announce")
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            "-H", "Content-Type: application/json",
                            "-d", '{"text": "deploy done \\u2713"}',
                            "http://127.0.0.1:%d/hooks/irc" % self.ports[8080]],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertRegex(r.stdout, r"^20[0-4]$", r.stderr)
        e = b.expect_event("pubmsg", lambda e: e.arguments[0].startswith("deploy done"))
        self.assertEqual(e.source.nick, "loom")
        self.assertEqual(e.arguments[0], "deploy done \u2713")

    def test_irc_to_sse_with_curl(self):
        b = self.listener("talker", "#announce")
        out = os.path.join(self.d.dir, "sse.out")
        with open(out, "wb") as f:
            curl = subprocess.Popen(["curl", "-sN", "http://127.0.0.1:%d/events/irc"
                                     % self.ports[8080]], stdout=f, stderr=subprocess.DEVNULL)
        self.addCleanup(curl.wait)
        self.addCleanup(curl.terminate)
        # say it until curl's stream (connected some time) carries it
        deadline = time.monotonic() + WAIT
        text = ""
        n = 0
        while "streamed to the web" not in text:
            self.assertLess(time.monotonic(), deadline, "never in the stream: " + text)
            n += 1
            b.conn.privmsg("#announce", "streamed to the web %d" % n)
            b.sync()
            time.sleep(0.2)
            with open(out, "rb") as f:
                text = f.read().decode(errors="replace")
        self.assertRegex(text, r"(?m)^data: .*streamed to the web")
        self.assertIn("talker", text)

    def test_oper_mail_command_to_maildir(self):
        o = self.listener("opsy", "#mail")
        o.conn.oper(*OPER)
        o.expect(r" 381 ")
        before = set(glob.glob(os.path.join(self.d.dir, "mail", "alice", "new", "*")))
        o.conn.privmsg("#mail", "!mail alice@example.test the build is green")
        deadline = time.monotonic() + WAIT
        while True:
            new = set(glob.glob(os.path.join(self.d.dir, "mail", "alice", "new", "*"))) - before
            if new:
                break
            self.assertLess(time.monotonic(), deadline, "no mail in alice's Maildir")
            time.sleep(0.1)
        with open(new.pop(), "rb") as f:
            msg = f.read().decode(errors="replace")
        self.assertIn("the build is green", msg)
        self.assertIn("opsy", msg)
        # not an operator: nothing is sent
        u = self.listener("plainuser", "#mail")
        u.conn.privmsg("#mail", "!mail alice@example.test should not go")
        u.sync()
        time.sleep(1)
        for p in glob.glob(os.path.join(self.d.dir, "mail", "alice", "new", "*")):
            with open(p, "rb") as f:
                self.assertNotIn(b"should not go", f.read())


if __name__ == "__main__":
    loomtest.main()
