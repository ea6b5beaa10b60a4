"""The IRC module with real client libraries: python3-irc (the `irc`
package) and Twisted words' IRCClient.  Registration and ISUPPORT,
channels, modes, kicks, bans, invites, away, WHOIS/WHOWAS, operators and
KILL, the informational commands and the error numerics bots parse.

IRC_PEER=ngircd runs the same tests against Debian's ngIRCd (those that
need what only loomd offers are skipped there): the expectations are
checked against a reference server."""

import unittest

import loomtest
import ircpeer
from ircpeer import Net, Twisted, peer_is_ngircd
from loomtest import own

_n = [0]


def fresh(prefix):
    """A nick or channel name no other test of this file uses."""
    _n[0] += 1
    return "%s%d" % (prefix, _n[0])


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.server())
        cls.srv.start()

    def setUp(self):
        self.net = Net(self.srv)
        self.addCleanup(self.net.close)

    def bot(self, prefix="u", **kw):
        return self.net.bot(fresh(prefix), **kw).welcome()

    def channel(self, *bots):
        """A fresh channel the first of BOTS creates (op) and all join."""
        ch = fresh("#c")
        for b in bots:
            b.conn.join(ch)
            b.expect(r" 366 \S+ %s " % ch)
        return ch

    def tearDown(self):
        self.assertTrue(self.srv.alive(), "the server died")


class Registration(ClientTest):
    def test_welcome_and_isupport(self):
        if peer_is_ngircd():
            self.skipTest("ngIRCd lacks STATUSMSG, LINELEN and TARGMAX")
        a = self.bot()
        self.assertRegex(a.lines[a.find(r" 001 ", 0)[1]], r" 001 %s :" % a.nick)
        f = a.conn.features  # python3-irc's parse of 005
        self.assertEqual(f.nicklen, 30)
        self.assertEqual(f.chantypes, ["#", "&"] if isinstance(f.chantypes, list) else "#&")
        self.assertEqual(f.prefix, {"@": "o", "+": "v"})
        isupport = " ".join(ln for ln in a.lines if " 005 " in ln)
        for token in ("CASEMAPPING=rfc1459", "CHANTYPES=#&", "CHANMODES=beI,k,l,imnpst",
                      "PREFIX=(ov)@+", "NICKLEN=30", "CHANNELLEN=", "TOPICLEN=",
                      "KICKLEN=", "AWAYLEN=", "MODES=", "TARGMAX=", "NETWORK=loomtest",
                      "STATUSMSG=@+", "EXCEPTS", "INVEX", "CHANLIMIT=", "LINELEN="):
            self.assertIn(token, isupport)

    def test_motd_lusers_and_info_commands(self):
        a = self.bot()
        a.skip()
        a.conn.motd()
        a.expect(r" 375 ")
        a.expect(r" 376 ")
        a.conn.lusers()
        a.expect(r" 251 ")
        a.conn.version()
        a.expect(r" 351 ")
        a.conn.time()
        a.expect(r" 391 ")
        a.conn.admin()
        a.expect(r" (256|423) ")
        a.conn.info()
        a.expect(r" 374 ")

    def test_nick_in_use_and_change(self):
        a = self.bot()
        b = self.net.bot(a.nick)
        b.expect_event("nicknameinuse")
        old = fresh("n")
        b.conn.nick(old)
        b.expect(r" 001 ")
        new = fresh("renamed")
        ch = self.channel(a, b)
        b.conn.nick(new)
        e = a.expect_event("nick", lambda e: e.target == new)
        self.assertEqual(e.source.nick, old)
        b.expect_event("nick", lambda e: e.target == new)
        self.assertEqual(b.conn.get_nickname(), new)
        a.conn.privmsg(ch, "after the rename")
        b.expect_event("pubmsg", lambda e: e.arguments == ["after the rename"])

    def test_ison_and_userhost(self):
        a = self.bot()
        b = self.bot()
        a.skip()
        a.conn.ison([b.nick, "nobody" + b.nick])
        m = a.expect(r" 303 \S+ :(.*)")
        self.assertEqual(m.group(1).split(), [b.nick])
        a.conn.userhost([b.nick])
        m = a.expect(r" 302 \S+ :(.*)")
        self.assertRegex(m.group(1), r"^%s=[+-]~?%s@" % (b.nick, b.nick.lower()))


class Channels(ClientTest):
    def test_chat_notice_part_quit(self):
        a, b, c = self.bot(), self.bot(), self.bot()
        ch = self.channel(a, b, c)
        a.conn.privmsg(ch, "hello channel")
        for x in (b, c):
            e = x.expect_event("pubmsg", lambda e: e.arguments == ["hello channel"])
            self.assertEqual(e.source.nick, a.nick)
            self.assertEqual(e.target, ch)
        b.conn.notice(ch, "a notice")
        a.expect_event("pubnotice", lambda e: e.arguments == ["a notice"])
        a.conn.privmsg(b.nick, "just you")
        e = b.expect_event("privmsg", lambda e: e.arguments == ["just you"])
        self.assertEqual(e.source.nick, a.nick)
        c.conn.part([ch], ":bye all")  # python3-irc sends the text as is
        e = a.expect_event("part", lambda e: e.source.nick == c.nick)
        self.assertEqual(e.target, ch)
        b.conn.quit("gone now")
        e = a.expect_event("quit", lambda e: e.source.nick == b.nick)
        self.assertIn("gone now", e.arguments[0])
        # the part and quit are not delivered twice, nor to C after PART
        a.conn.privmsg(ch, "after")
        c.sync()
        self.assertIsNone(c.find(r"PRIVMSG %s :after" % ch)[0])

    def test_names_and_topic(self):
        a, b = self.bot(), self.bot()
        ch = self.channel(a)
        a.conn.mode(ch, "+t")
        a.conn.topic(ch, "the topic of " + ch)
        a.expect(r"TOPIC %s :the topic" % ch)
        b.conn.join(ch)
        m = b.expect(r" 332 \S+ %s :(.*)" % ch)
        self.assertEqual(m.group(1), "the topic of " + ch)
        m = b.expect(r" 353 \S+ [=*@] %s :(.*)" % ch)
        self.assertEqual(sorted(m.group(1).split()), sorted(["@" + a.nick, b.nick]))
        b.expect(r" 366 ")
        b.conn.topic(ch, "not allowed")
        b.expect(r" 482 \S+ %s " % ch)

    def test_list_and_who(self):
        a = self.bot()
        ch = self.channel(a)
        a.conn.topic(ch, "listed")
        a.skip()
        a.conn.list([ch])
        m = a.expect(r" 322 \S+ %s (\d+) :(.*)" % ch)
        self.assertEqual(m.group(1), "1")
        self.assertIn("listed", m.group(2))
        a.expect(r" 323 ")
        a.conn.who(ch)
        m = a.expect(r" 352 \S+ %s (\S+) (\S+) (\S+) %s (\S+)" % (ch, a.nick))
        self.assertEqual(m.group(1).lstrip("~"), a.nick.lower())
        self.assertIn("@", m.group(4))
        a.expect(r" 315 ")


class Modes(ClientTest):
    def test_op_voice_moderated(self):
        a, b = self.bot(), self.bot()
        ch = self.channel(a, b)
        a.conn.mode(ch, "+m")
        b.expect_event("mode", lambda e: e.arguments[:1] == ["+m"])
        b.conn.privmsg(ch, "muted?")
        b.expect(r" 404 \S+ %s " % ch)
        a.conn.mode(ch, "+v " + b.nick)
        e = b.expect_event("mode", lambda e: e.arguments[:2] == ["+v", b.nick])
        self.assertEqual(e.source.nick, a.nick)
        b.conn.privmsg(ch, "voiced now")
        a.expect_event("pubmsg", lambda e: e.arguments == ["voiced now"])
        b.conn.mode(ch, "+o " + b.nick)
        b.expect(r" 482 \S+ %s " % ch)
        a.conn.mode(ch, "+o " + b.nick)
        b.expect_event("mode", lambda e: e.arguments[:2] == ["+o", b.nick])
        a.skip()
        a.conn.mode(ch, "")
        m = a.expect(r" 324 \S+ %s (\S+)" % ch)
        self.assertIn("m", m.group(1))

    def test_ban_and_exception(self):
        a, b, c = self.bot(), self.bot(), self.bot()
        ch = self.channel(a)
        a.conn.mode(ch, "+b %s!*@*" % b.nick)
        a.expect(r"MODE %s \+b " % ch)
        b.conn.join(ch)
        b.expect(r" 474 \S+ %s " % ch)
        a.conn.mode(ch, "+b")
        m = a.expect(r" 367 \S+ %s (\S+)" % ch)
        self.assertEqual(m.group(1), "%s!*@*" % b.nick)
        a.expect(r" 368 ")
        # a ban matched by host; an exception for C alone
        a.conn.mode(ch, "+b *!*@127.0.0.1")
        a.expect(r"MODE %s \+b \*!\*@127" % ch)
        a.conn.mode(ch, "+e %s!*@*" % c.nick)
        a.expect(r"MODE %s \+e " % ch)
        c.conn.join(ch)
        c.expect(r" 366 \S+ %s " % ch)
        a.conn.mode(ch, "-b %s!*@*" % b.nick)
        b.conn.join(ch)
        b.expect(r" 474 \S+ %s " % ch)

    def test_key_limit_invite(self):
        a, b, c = self.bot(), self.bot(), self.bot()
        ch = self.channel(a)
        a.conn.mode(ch, "+k sesame")
        a.expect(r"MODE %s \+k" % ch)
        b.conn.join(ch)
        b.expect(r" 475 \S+ %s " % ch)
        b.conn.join(ch, "sesame")
        b.expect(r" 366 \S+ %s " % ch)
        a.conn.mode(ch, "+l 2")
        a.expect(r"MODE %s \+l" % ch)
        c.conn.join(ch, "sesame")
        c.expect(r" 471 \S+ %s " % ch)
        a.conn.mode(ch, "-l+i")
        a.expect(r"MODE %s -l\+i" % ch)
        c.conn.join(ch, "sesame")
        c.expect(r" 473 \S+ %s " % ch)
        a.conn.invite(c.nick, ch)
        a.expect(r" 341 \S+ %s %s" % (c.nick, ch))
        e = c.expect_event("invite")
        self.assertEqual(e.source.nick, a.nick)
        self.assertIn(ch, [e.target] + e.arguments)
        c.conn.join(ch, "sesame")
        c.expect(r" 366 \S+ %s " % ch)
        a.conn.invite(b.nick, ch)
        a.expect(r" 443 \S+ %s %s" % (b.nick, ch))

    def test_user_modes(self):
        a = self.bot()
        a.conn.mode(a.nick, "+i")
        a.expect(r"MODE %s :?\+i" % a.nick)
        a.conn.mode(a.nick, "+o")  # only OPER makes an operator
        a.conn.mode(a.nick, "")
        m = a.expect(r" 221 \S+ :?(\S+)")
        self.assertIn("i", m.group(1))
        self.assertNotIn("o", m.group(1))
        other = self.bot()
        a.conn.mode(other.nick, "+i")
        a.expect(r" 502 ")


class Kicks(ClientTest):
    def test_kick(self):
        a, b, c = self.bot(), self.bot(), self.bot()
        ch = self.channel(a, b)
        b.conn.kick(ch, a.nick, "not an op")
        b.expect(r" 482 \S+ %s " % ch)
        a.conn.kick(ch, c.nick)
        a.expect(r" 441 \S+ %s %s " % (c.nick, ch))
        c.conn.kick(ch, b.nick)
        c.expect(r" 442 \S+ %s " % ch)
        a.conn.kick(ch, b.nick, "out you go")
        e = b.expect_event("kick")
        self.assertEqual((e.source.nick, e.target, e.arguments[0]), (a.nick, ch, b.nick))
        self.assertEqual(e.arguments[1], "out you go")
        a.conn.privmsg(ch, "without b")
        b.sync()
        self.assertIsNone(b.find(r"PRIVMSG %s :without b" % ch)[0])


class Away(ClientTest):
    def test_away_whois_whowas(self):
        a, b = self.bot(), self.bot()
        ch = self.channel(a, b)
        b.conn.send_raw("AWAY :at lunch")
        b.expect(r" 306 ")
        a.conn.privmsg(b.nick, "are you there")
        m = a.expect(r" 301 \S+ %s :(.*)" % b.nick)
        self.assertEqual(m.group(1), "at lunch")
        a.skip()
        a.conn.whois([b.nick])
        m = a.expect(r" 311 \S+ %s (\S+) (\S+) \* :(.*)" % b.nick)
        self.assertEqual(m.group(1).lstrip("~"), b.nick.lower())
        self.assertEqual(m.group(3), "bot " + b.nick)
        self.assertRegex(a.expect(r" 319 \S+ %s :(.*)" % b.nick).group(1), ch)
        a.expect(r" 318 \S+ %s " % b.nick)
        self.assertIsNotNone(a.find(r" 312 \S+ %s " % b.nick, 0)[0])
        self.assertIsNotNone(a.find(r" 301 \S+ %s :at lunch" % b.nick, 0)[0])
        b.conn.send_raw("AWAY")
        b.expect(r" 305 ")
        nick = b.nick
        b.conn.quit("leaving")
        a.expect_event("quit", lambda e: e.source.nick == nick)
        if peer_is_ngircd():
            return  # ngIRCd keeps no WHOWAS entry for a client that quit
        a.skip()
        a.conn.whowas(nick)
        m = a.expect(r" 314 \S+ %s (\S+) (\S+) \* :(.*)" % nick)
        self.assertEqual(m.group(3), "bot " + nick)
        a.expect(r" 369 ")
        a.conn.whowas("never" + nick)
        a.expect(r" 406 ")
        a.expect(r" 369 ")
        a.conn.whois(["never" + nick])
        a.expect(r" 401 ")


class Errors(ClientTest):
    def test_error_numerics(self):
        a, b = self.bot(), self.bot()
        ch = self.channel(b)
        own_ch = self.channel(a)
        a.skip()
        cases = [
            ("PRIVMSG nosuchnick :x", r" 401 "),
            ("PART #nosuchchannel", r" 40[23] "),
            ("TOPIC %s :x" % ch, r" 442 "),
            ("FOOBAR", r" 421 \S+ FOOBAR "),
            ("JOIN", r" 461 \S+ JOIN "),
            ("NICK", r" 461 " if peer_is_ngircd() else r" 431 "),
            ("NICK 1bad", r" 432 "),
            ("NICK %s" % b.nick, r" 433 "),
            ("USER again 0 * :x", r" 462 "),
            ("OPER %s wrong" % ircpeer.OPER_NAME, r" 464 "),
            ("KILL %s :no" % b.nick, r" 481 "),
            ("MODE %s +y" % own_ch, r" 472 "),
            ("PRIVMSG", r" 41[12] "),
            ("PRIVMSG %s" % b.nick, r" 412 "),
        ]
        for line, numeric in cases:
            with self.subTest(line=line):
                a.raw(line)
                a.expect(numeric)
        a.sync()

    def test_commands_before_registration(self):
        raw = ircpeer.Raw(self.srv.port)
        self.addCleanup(raw.close)
        raw.send("JOIN #x\r\n")
        raw.until(r" 451 ")
        raw.send("PRIVMSG x :y\r\n")
        raw.until(r" 451 ")
        raw.register(fresh("late"))


class Operators(ClientTest):
    def test_oper_and_kill(self):
        a, b, c = self.bot(), self.bot(), self.bot()
        ch = self.channel(b, c)
        a.conn.oper(ircpeer.OPER_NAME, ircpeer.OPER_PASS)
        a.expect(r" 381 ")
        a.raw("KILL %s :enough" % b.nick)
        b.expect(r"^ERROR :")
        e = c.expect_event("quit", lambda e: e.source.nick == b.nick)
        self.assertIn("enough", e.arguments[0])
        self.assertIsNotNone(ch)
        a.conn.mode(a.nick, "-o")
        a.expect(r"MODE %s :?-o" % a.nick)
        a.raw("KILL %s :no longer" % c.nick)
        a.expect(r" 481 ")


class TwistedBots(ClientTest):
    """Twisted words' IRCClient: sign on, join, talk with a python3-irc
    bot, topic, modes, kick, nick change."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tw = Twisted()

    def test_twisted_and_python_irc(self):
        tw = self.tw
        tnick = fresh("tw")
        h = tw.bot(self.srv.port, tnick)
        tw.until(h, lambda x: x[0] == "signedOn", "signedOn")
        a = self.bot()
        ch = self.channel(a)
        tw.call(h["proto"].join, ch)
        tw.until(h, lambda x: x[:2] == ("joined", ch), "joined")
        a.expect_event("join", lambda e: e.source.nick == tnick)
        a.conn.privmsg(ch, "hello twisted")
        tw.until(h, lambda x: x == ("privmsg", a.nick, ch, "hello twisted"), "privmsg")
        tw.call(h["proto"].say, ch, "hello python-irc")
        e = a.expect_event("pubmsg", lambda e: e.arguments == ["hello python-irc"])
        self.assertEqual(e.source.nick, tnick)
        tw.call(h["proto"].msg, a.nick, "private words")
        a.expect_event("privmsg", lambda e: e.arguments == ["private words"])
        a.conn.topic(ch, "set for twisted")
        tw.until(h, lambda x: x[0] == "topicUpdated" and x[3] == "set for twisted", "topic")
        a.conn.mode(ch, "+v " + tnick)
        tw.until(h, lambda x: x[0] == "modeChanged" and x[2] and x[3] == "v"
                 and x[4] == (tnick,), "mode +v")
        new = fresh("twn")
        tw.call(h["proto"].setNick, new)
        a.expect_event("nick", lambda e: e.target == new)
        a.conn.kick(ch, new, "bye twisted")
        tw.until(h, lambda x: x[0] == "kickedFrom" and x[1] == ch and x[3] == "bye twisted",
                 "kickedFrom")
        tw.call(h["proto"].quit, "done")

    def test_twisted_whois_and_away(self):
        tw = self.tw
        tnick = fresh("twa")
        h = tw.bot(self.srv.port, tnick)
        tw.until(h, lambda x: x[0] == "signedOn", "signedOn")
        a = self.bot()
        a.raw("AWAY :gone fishing")
        a.expect(r" 306 ")
        tw.call(h["proto"].whois, a.nick)
        tw.until(h, lambda x: x[0] == "whoisuser" and x[1] == a.nick, "311")
        tw.until(h, lambda x: x == ("away", a.nick, "gone fishing"), "301")
        tw.call(h["proto"].quit, "done")


if __name__ == "__main__":
    loomtest.main()
