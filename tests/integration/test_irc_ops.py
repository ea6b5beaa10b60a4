"""irc for operators, in a real loomd: the loom_irc_* samples read from the
http status endpoint (Prometheus text, checked by promtool) while raw
socket clients register, chat, quit, drop, time out and get killed, and
the loomctl commands `irc clients` and `irc kill NICK REASON` over the
control socket (the JSON line protocol on a plain UNIX socket)."""

import os
import socket
import subprocess
import time
import unittest
import urllib.request

import loomtest
from loomtest import WAIT, Loomd, free_port
from test_http_status import metric, parse_prometheus
from test_smtp_ops import ask, stopped_clean


def conf(http, chat, slow):
    return ('control {\n  listen = "unix:ctl.sock:mode=0600"\n}\n'
            'http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  server "s" {\n'
            '    location "= /metrics" {\n      handler = "status"\n'
            '      format = "prometheus"\n    }\n  }\n}\n'
            'irc "chat" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  server_name = "irc.test"\n}\n'
            'irc "slow" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  server_name = "slow.test"\n  ping_interval = 1\n  ping_timeout = 1\n}\n'
            % (http, chat, slow))


class Client:
    """A raw IRC client: lines in, lines out, no automatic PONG."""

    def __init__(self, port, nick):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.nick = nick
        self.send("NICK %s" % nick)
        self.send("USER %s 0 * :%s" % (nick, nick))
        self.expect(" 001 %s " % nick)

    def send(self, line):
        self.s.sendall(line.encode() + b"\r\n")

    def expect(self, piece):
        """Read lines until one holds PIECE; returns it (EOF fails)."""
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace").rstrip("\r")
                if piece in text:
                    return text
            b = self.s.recv(65536)
            if not b:
                raise AssertionError("closed while waiting for %r" % piece)
            self.buf += b

    def wait_closed(self):
        """Read until the server closes; returns what came."""
        out = self.buf
        while True:
            b = self.s.recv(65536)
            if not b:
                return out.decode("utf-8", "replace")
            out += b

    def close(self):
        self.s.close()


class IrcOps(unittest.TestCase):
    def setUp(self):
        self.http, self.chat, self.slow = free_port(), free_port(), free_port()
        self.d = Loomd(conf(self.http, self.chat, self.slow))
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.addCleanup(stopped_clean, self, self.d)
        self.sock = os.path.join(self.d.dir, "ctl.sock")

    def scrape(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http,
                                    timeout=WAIT) as r:
            text = r.read().decode()
        return parse_prometheus(text), text

    def irc(self, name, inst="chat", **labels):
        return metric(self.scrape()[0], "loom_irc_" + name, instance=inst, **labels)

    def wait_irc(self, name, want, inst="chat", **labels):
        deadline = time.monotonic() + WAIT
        got = None
        while time.monotonic() < deadline:
            got = self.irc(name, inst, **labels)
            if got == want:
                return
            time.sleep(0.05)
        self.fail("loom_irc_%s{%s %r} stayed %r, not %r" % (name, inst, labels, got, want))

    def ok(self, line):
        r = ask(self.sock, line)
        self.assertTrue(r["ok"], r)
        return r["result"]

    def error(self, line, piece):
        r = ask(self.sock, line)
        self.assertFalse(r["ok"], r)
        self.assertIn(piece, r["error"])

    def test_samples_and_commands(self):
        a = Client(self.chat, "anna")
        b = Client(self.chat, "bert")
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.send("JOIN #ops")
        a.expect(" 366 anna #ops ")
        b.send("JOIN #ops")
        b.expect(" 366 bert #ops ")
        a.send("PRIVMSG #ops :hello all")
        b.expect("PRIVMSG #ops :hello all")
        b.send("NOTICE anna :psst")
        a.expect("NOTICE anna :psst")
        fams, text = self.scrape()
        m = lambda name, inst="chat", **l: metric(fams, "loom_irc_" + name, instance=inst, **l)
        self.assertEqual(m("clients"), 2)
        self.assertEqual(m("channels"), 1)
        self.assertEqual(m("registrations_total"), 2)
        self.assertEqual(m("messages_received_total", command="privmsg"), 1)
        self.assertEqual(m("messages_delivered_total", command="privmsg"), 1)
        self.assertEqual(m("messages_received_total", command="notice"), 1)
        self.assertEqual(m("messages_delivered_total", command="notice"), 1)
        self.assertEqual(m("clients", "slow"), 0)
        self.assertEqual(fams["loom_irc_clients"]["type"], "gauge")
        self.assertEqual(fams["loom_irc_disconnects_total"]["type"], "counter")
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=WAIT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # irc clients: both, with their channel and transport
        r = self.ok("irc/chat clients")
        self.assertEqual(r["columns"], ["nick", "userhost", "account", "channels", "idle",
                                        "transport"])
        rows = {row[0]: row for row in r["rows"]}
        self.assertEqual(sorted(rows), ["anna", "bert"])
        self.assertEqual(rows["anna"][1:4], ["~anna@127.0.0.1", "", "#ops"])
        self.assertEqual(rows["anna"][5], "tcp")
        self.assertGreaterEqual(int(rows["anna"][4]), 0)
        # two instances: the name is needed
        self.error("irc clients", "irc")
        self.assertEqual(self.ok("irc/slow clients")["rows"], [])

        # irc kill, with a quoted reason
        r = self.ok('irc/chat kill BERT "enough of that"')
        self.assertIn("bert", r["message"])
        out = b.wait_closed()
        self.assertIn(":irc.test KILL bert :enough of that", out)
        self.assertIn("ERROR :Closing Link: 127.0.0.1 (Killed (irc.test (enough of that)))", out)
        a.expect(":bert!~bert@127.0.0.1 QUIT :Killed (irc.test (enough of that))")
        self.assertEqual(self.irc("disconnects_total", reason="killed"), 1)
        self.assertEqual(self.irc("clients"), 1)
        self.error("irc/chat kill bert", "no client with nick bert")
        self.error("irc/chat kill", "usage")
        self.error('irc/chat kill anna "unterminated', "")

        # a QUIT, a dropped connection, a ping timeout
        a.send("QUIT :later")
        a.wait_closed()
        self.wait_irc("disconnects_total", 1, reason="quit")
        c = Client(self.chat, "carl")
        c.close()
        self.wait_irc("disconnects_total", 1, reason="closed")
        self.wait_irc("clients", 0)
        self.assertEqual(self.irc("channels"), 0)
        s = Client(self.slow, "sam")
        self.addCleanup(s.close)
        s.expect("PING :slow.test")
        self.assertIn("Ping timeout", s.wait_closed())
        self.wait_irc("disconnects_total", 1, inst="slow", reason="ping_timeout")
        for why in ("quit", "killed", "closed"):
            self.assertEqual(self.irc("disconnects_total", "slow", reason=why), 0)
        self.assertEqual(self.irc("disconnects_total", reason="error"), 0)


if __name__ == "__main__":
    loomtest.main()
