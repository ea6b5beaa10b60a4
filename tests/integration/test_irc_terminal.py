"""A real terminal client: irssi (Debian's) under tmux connects to the irc
module over TLS, joins a channel, shows a message a python3-irc bot sends
there, and its user's typed line reaches the bot.  The screen is read with
tmux capture-pane, polled until the line appears (the deadline only
bounds a hang)."""

import shutil
import unittest

import loomtest
import ircpeer
from loomtest import own


@unittest.skipUnless(shutil.which("tmux") and shutil.which("irssi"),
                     "needs tmux and irssi (tools/deps.sh)")
class Irssi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = own(cls, ircpeer.server())
        cls.srv.start()

    def test_irssi_over_tls_sees_a_bot(self):
        net = ircpeer.Net(self.srv)
        self.addCleanup(net.close)
        bot = net.bot("pybot").welcome()
        bot.conn.join("#term")
        bot.expect(r" 366 \S+ #term ")
        term = ircpeer.Tmux(self.srv.tls_port, "termuser", "#term", tls=True)
        self.addCleanup(term.cleanup)
        # irssi joined (autojoin after registration over TLS)
        bot.expect(r"^:termuser!\S+ JOIN :?#term", timeout=loomtest.WAIT * 3)
        term.show("#term")
        bot.conn.privmsg("#term", "hello from the python3-irc bot")
        term.wait(r"pybot.*hello from the python3-irc bot")
        term.keys("hello back from irssi")
        e = bot.expect_event("pubmsg", lambda e: e.arguments == ["hello back from irssi"])
        self.assertEqual(e.source.nick, "termuser")
        self.assertTrue(self.srv.alive())


if __name__ == "__main__":
    loomtest.main()
