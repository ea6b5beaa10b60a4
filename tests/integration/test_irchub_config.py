"""Configuration errors of the irc module: one line FILE:LINE: message and
exit 1, for every check of its options, the MOTD file and the accounts
file; and a good section that loomd -t accepts."""

import subprocess

import loomtest
from loomtest import Loomd, DaemonTest, free_port, start_expect_exit, \
    assert_error_line, line_of

BASE = '''irc "chat" {
  listen = {"tcp:%(port)d:interface=127.0.0.1"}
%(body)s
}
'''

HASH = "$6$loomircacct$G.5b7b7zuCkX00RufOtBYk3oO7O74geu7shc6IRj3YVrXNZPV9eO830QdirpGT.wNjhhkZdwoIMZVDtNKxrG5/"


class IrcConfigErrorTest(DaemonTest):
    def check(self, body, needle, contains, files=None, in_file=None):
        """Start with BODY in the section; expect one error line naming the
        line holding NEEDLE (in the conf, or in file IN_FILE)."""
        self.d = Loomd(BASE % {"port": free_port(), "body": body}, files=files)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        path = self.d.dir + "/" + in_file if in_file else self.d.conf_path
        assert_error_line(self, err, path, line_of(path, needle), contains)

    def test_server_name(self):
        self.check('  server_name = "localhost"', "server_name",
                   "not a host name with a dot")

    def test_network(self):
        self.check('  network = "two words"', "network", "not one word")

    def test_info_line_break(self):
        self.check('  info = "a\\nb"', "info", "line break")

    def test_admin_email(self):
        self.check('  admin_email = "a b"', "admin_email", "bad admin_email")

    def test_password_space(self):
        self.check('  password = "two words"', "password", "one word")

    def test_casemapping(self):
        self.check('  casemapping = "utf8"', "casemapping",
                   "casemapping must be rfc1459, ascii or strict-rfc1459")

    def test_limits(self):
        for opt, val in (("nicklen", 0), ("nicklen", 64), ("channellen", 1),
                         ("topiclen", 5000), ("maxtargets", 0),
                         ("flood_burst", 0), ("ping_interval", 0)):
            with self.subTest(opt=opt, val=val):
                self.check("  %s = %d" % (opt, val), opt, "%s must be" % opt)
                self.drop_daemon()

    def test_sendq(self):
        self.check('  sendq = "lots"', "sendq", "sendq")
        self.drop_daemon()
        self.check('  sendq = "1k"', "sendq", "at least 4096")

    def test_motd_missing(self):
        self.check('  motd = "nope.motd"', "motd", "nope.motd")

    def test_motd_nul(self):
        self.check('  motd = "m.motd"', "motd", "NUL",
                   files={"m.motd": "hello\0world\n"})

    def test_oper_without_hash(self):
        self.check('  oper "admin" {\n    password = "demo"\n  }', 'password = "demo"',
                   "crypt(3) hash")

    def test_oper_bad_name(self):
        self.check('  oper "a b" {\n    password = "%s"\n  }' % HASH,
                   'oper "a b"', "not a valid name")

    def test_oper_bad_mask(self):
        self.check('  oper "admin" {\n    password = "%s"\n    mask = "a b"\n  }'
                   % HASH, "mask", "bad mask")

    def test_publish_not_a_channel(self):
        self.check('  publish = {"announce"}', "publish", "is not a channel")

    def test_publish_bad_topic(self):
        self.check('  publish = {"#a x:y"}', "publish", "topic must be one word")

    def test_service_nick(self):
        self.check('  service_nick = "1bad"', "service_nick",
                   "is not a valid nick")

    def test_accounts_file_missing(self):
        self.d = Loomd(BASE % {"port": free_port(),
                               "body": '  accounts_file = "nope.accounts"'})
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        self.assertEqual(len(err.strip().split("\n")), 1, err)
        self.assertIn("nope.accounts", err)

    def test_accounts_file_bad_line(self):
        self.check('  accounts_file = "a.accounts"', "bad line here",
                   None, files={"a.accounts": "# ok\ndemo %s\nbad line here\n" % HASH},
                   in_file="a.accounts")


class IrcConfigGoodTest(DaemonTest):
    def test_shipped_style_section_is_accepted(self):
        self.d = Loomd(BASE % {"port": free_port(), "body": '''
  server_name = "irc.example.test"
  network = "loom"
  motd = "irc.motd"
  accounts_file = "a.accounts"
  casemapping = "ascii"
  service_nick = "loom"
  publish = {"#announce", "#mail command"}
  oper "admin" {
    password = "%s"
    mask = "*@127.0.0.1"
  }''' % HASH}, files={"irc.motd": "hi\n", "a.accounts": "demo %s\n" % HASH})
        r = subprocess.run([loomtest.LOOMD, "-t", "-c", self.d.conf_path],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    loomtest.main()
