"""IRCv3 with python3-irc bots (the library carries the connection; the
tagged lines are read raw, as python3-irc 8 predates message tags): CAP
LS 302 / REQ / LIST / END, SASL PLAIN against the accounts file,
server-time, echo-message, message-tags and TAGMSG, labeled-response with
batch, account-tag, multi-prefix, userhost-in-names, extended-join,
away-notify, setname."""

import re
import unittest

import loomtest
import ircpeer
from ircpeer import Net, parse_tags
from loomtest import own

ISSUE_CAPS = ("multi-prefix userhost-in-names extended-join away-notify account-notify "
              "account-tag chghost invite-notify setname server-time message-tags "
              "echo-message batch labeled-response sasl standard-replies cap-notify").split()

_n = [0]


def fresh(prefix):
    _n[0] += 1
    return "%s%d" % (prefix, _n[0])


@unittest.skipIf(ircpeer.peer_is_ngircd(), "ngIRCd offers few IRCv3 capabilities")
class V3Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.server())
        cls.srv.start()

    def setUp(self):
        self.net = Net(self.srv)
        self.addCleanup(self.net.close)

    def tearDown(self):
        self.assertTrue(self.srv.alive(), "the server died")

    def bot(self, prefix="v", **kw):
        return self.net.bot(fresh(prefix), **kw).welcome()

    def channel(self, *bots):
        ch = fresh("#v")
        for b in bots:
            b.conn.join(ch)
            b.expect(r" 366 \S+ %s " % ch)
        return ch


class Negotiation(V3Test):
    def test_cap_ls_302_lists_every_capability(self):
        raw = ircpeer.Raw(self.srv.port)
        self.addCleanup(raw.close)
        raw.send("CAP LS 302\r\nNICK %s\r\nUSER u 0 * :u\r\n" % fresh("ls"))
        caps = []
        while True:
            m = raw.until(r" CAP \* LS( \*)? :(.*)")
            caps += [c.split("=")[0] for c in m.group(2).split()]
            if not m.group(1):
                break
        for cap in ISSUE_CAPS:
            self.assertIn(cap, caps)
        # registration is held open until CAP END
        raw.send("PING :held\r\n")
        m = raw.until(r"PONG|001")
        self.assertNotIn(" 001 ", m.string)
        raw.send("CAP REQ :server-time no-such-cap\r\n")
        raw.until(r" CAP \S+ NAK :server-time no-such-cap")
        raw.send("CAP REQ :server-time echo-message\r\n")
        raw.until(r" CAP \S+ ACK :server-time echo-message")
        raw.send("CAP LIST\r\n")
        m = raw.until(r" CAP \S+ LIST :(.*)")
        # cap-notify is on by itself after CAP LS 302
        self.assertEqual(sorted(set(m.group(1).split()) - {"cap-notify"}),
                         ["echo-message", "server-time"])
        raw.send("CAP END\r\n")
        raw.until(r" 001 ")

    def test_sasl_plain(self):
        a = self.net.bot("alice", caps=["account-tag"], sasl=("alice", ircpeer.ACCOUNT_PASS))
        self.assertEqual(a.sasl_result, "903")
        self.assertIsNotNone(a.find(r" 900 \S+ \S+ alice :", 0)[0])
        a.welcome()
        bad = self.net.bot(fresh("sb"), sasl=("bob", "wrong password"), end_cap=False)
        self.assertEqual(bad.sasl_result, "904")
        bad.raw("CAP END")
        bad.welcome()
        # account-tag: a message from alice carries @account=alice
        b = self.bot(caps=["account-tag", "message-tags"])
        ch = self.channel(a, b)
        a.conn.privmsg(ch, "from an account")
        m = b.expect(r"PRIVMSG %s :from an account" % ch)
        self.assertEqual(parse_tags(m.string).get("account"), "alice")
        b.skip()
        b.conn.whois(["alice"])
        b.expect(r" 330 \S+ alice alice ")
        a.conn.quit("bye")


class Tags(V3Test):
    def test_server_time_and_echo_message(self):
        a = self.bot(caps=["echo-message", "server-time"])
        b = self.bot(caps=["server-time"])
        c = self.bot()
        ch = self.channel(a, b, c)
        a.conn.privmsg(ch, "echoed")
        m = a.expect(r"^@\S+ :%s!\S+ PRIVMSG %s :echoed$" % (a.nick, ch))
        t = parse_tags(m.string)["time"]
        self.assertRegex(t, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        m = b.expect(r"PRIVMSG %s :echoed$" % ch)
        self.assertIn("time", parse_tags(m.string))
        m = c.expect(r"PRIVMSG %s :echoed$" % ch)
        self.assertTrue(m.string.startswith(":"), "no tags without caps: " + m.string)
        c.conn.privmsg(ch, "not echoed to c")
        c.sync()
        self.assertIsNone(c.find(r"PRIVMSG %s :not echoed" % ch)[0])

    def test_client_tags_and_tagmsg(self):
        a = self.bot(caps=["message-tags"])
        b = self.bot(caps=["message-tags"])
        c = self.bot()
        ch = self.channel(a, b, c)
        a.raw("@+example.test/mood=happy\\sday;+draft/reply=x :ignored PRIVMSG %s :tagged" % ch)
        m = b.expect(r"PRIVMSG %s :tagged$" % ch)
        tags = parse_tags(m.string)
        self.assertEqual(tags.get("+example.test/mood"), "happy day")
        self.assertEqual(tags.get("+draft/reply"), "x")
        m = c.expect(r"PRIVMSG %s :tagged$" % ch)
        self.assertFalse(m.string.startswith("@"))
        a.raw("@+typing=active TAGMSG %s" % ch)
        m = b.expect(r" TAGMSG %s$" % ch)
        self.assertEqual(parse_tags(m.string).get("+typing"), "active")
        c.sync()
        self.assertIsNone(c.find(r"TAGMSG")[0])

    def test_labeled_response_and_batch(self):
        a = self.bot(caps=["labeled-response", "batch", "message-tags"])
        b = self.bot()
        a.raw("@label=pp1 PING :lbl")
        m = a.expect(r"PONG .*lbl")
        self.assertEqual(parse_tags(m.string).get("label"), "pp1")
        a.raw("@label=wh2 WHOIS %s" % b.nick)
        m = a.expect(r"BATCH \+(\S+) labeled-response")
        self.assertEqual(parse_tags(m.string).get("label"), "wh2")
        ref = m.group(1)
        m = a.expect(r" 311 \S+ %s " % b.nick)
        self.assertEqual(parse_tags(m.string).get("batch"), ref)
        a.expect(r" 318 \S+ %s " % b.nick)
        a.expect(r"BATCH -%s$" % re.escape(ref))
        # a command with no reply at all: an ACK carries the label
        a.raw("@label=nothing3 PONG :unsolicited")
        m = a.expect(r" ACK$")
        self.assertEqual(parse_tags(m.string).get("label"), "nothing3")


class Membership(V3Test):
    def test_names_extended_join_away_notify_setname(self):
        caps = ["multi-prefix", "userhost-in-names", "extended-join", "setname"]
        a = self.bot(caps=caps)
        b = self.net.bot("alice", caps=["setname"],
                         sasl=("alice", ircpeer.ACCOUNT_PASS)).welcome()
        ch = self.channel(a)
        a.conn.mode(ch, "+v " + a.nick)
        a.expect(r"MODE %s \+v" % ch)
        b.conn.join(ch)
        m = a.expect(r":alice!\S+ JOIN (\S+) (\S+) :(.*)")
        self.assertEqual((m.group(1).lstrip(":"), m.group(2), m.group(3)), (ch, "alice", "bot alice"))
        a.skip()
        a.conn.names([ch])
        m = a.expect(r" 353 \S+ [=*@] %s :(.*)" % ch)
        names = m.group(1).split()
        self.assertTrue(any(re.match(r"@\+%s!~?%s@127\.0\.0\.1$" % (a.nick, a.nick.lower()), n)
                            for n in names), names)
        self.assertTrue(any(n.startswith("alice!") for n in names), names)
        # away-notify, read raw: python3-irc 8 fails on an AWAY without
        # parameters (the "back" notification)
        w = ircpeer.Raw(self.srv.port)
        self.addCleanup(w.close)
        w.send("CAP REQ :away-notify\r\nCAP END\r\n")
        w.register(fresh("aw"))
        w.send("JOIN %s\r\n" % ch)
        w.until(r" 366 ")
        b.raw("AWAY :brb")
        w.until(r"^:alice!\S+ AWAY :brb$")
        b.raw("AWAY")
        w.until(r"^:alice!\S+ AWAY$")
        b.raw("SETNAME :A new real name")
        b.expect(r" SETNAME :A new real name")
        m = a.expect(r":alice!\S+ SETNAME :A new real name")
        self.assertIsNotNone(m)
        b.conn.quit("bye")


if __name__ == "__main__":
    loomtest.main()
