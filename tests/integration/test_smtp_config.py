"""Configuration errors of the smtp module: one line FILE:LINE: message and
exit 1, for every check (options, the recipients file, the users file,
Maildirs that cannot be made)."""

import os

import loomtest
from loomtest import Loomd, DaemonTest, free_port, start_expect_exit, \
    assert_error_line, line_of
from smtptest import users_file

BASE = '''smtp "m" {
  listen = {"tcp:%(port)d:interface=127.0.0.1"}
  local_domains = {"example.test"}
  recipients = {"alice@example.test mail/alice/"}
%(body)s
}
'''


class ConfigErrorTest(DaemonTest):
    def check(self, body, needle, contains, files=None, in_file=None):
        """Start with BODY in the section; expect one error line naming the
        line holding NEEDLE (in the conf, or in file IN_FILE)."""
        self.d = Loomd(BASE % {"port": free_port(), "body": body}, files=files)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        path = os.path.join(self.d.dir, in_file) if in_file else self.d.conf_path
        assert_error_line(self, err, path, line_of(path, needle), contains)

    def test_recipient_one_field(self):
        self.check('  recipients = {"bob@example.test"}', "recipients = {\"bob",
                   "two fields")

    def test_recipient_not_an_address(self):
        self.check('  recipients = {"bob mail/bob/"}', "recipients = {\"bob",
                   "is not an address")

    def test_recipient_twice(self):
        self.check('  recipients = {"alice@example.test a/", "Alice@example.test b/"}',
                   "recipients = {\"alice@example.test a/", "listed twice")

    def test_recipient_not_local(self):
        self.check('  recipients = {"x@else.test mail/x/"}', "x@else.test",
                   "not in a local domain")

    def test_recipients_file_bad_line(self):
        self.check('  recipients_file = "r.txt"', "one-field", "two fields",
                   files={"r.txt": "# ok\n\nbob@example.test mail/bob/\none-field\n"},
                   in_file="r.txt")

    def test_recipients_file_missing(self):
        self.check('  recipients_file = "nope.txt"', "recipients_file",
                   "cannot read recipients_file")

    def test_alias_unknown_target(self):
        self.check('  aliases = {"team@example.test carl@example.test"}', "aliases",
                   "no local recipient")

    def test_alias_loop(self):
        self.check('  aliases = {"a@example.test b@example.test", '
                   '"b@example.test a@example.test"}', "aliases", "alias loop")

    def test_alias_remote_needs_queue(self):
        self.check('  aliases = {"fwd@example.test alice@example.test, x@else.test"}',
                   "aliases", "needs a queue_dir")

    def test_alias_one_field(self):
        self.check('  aliases = {"team@example.test"}', "aliases", "TARGET")

    def test_catch_all_unknown(self):
        self.check('  catch_all = "nobody@example.test"', "catch_all",
                   "not a local recipient")

    def test_relay_network_bad(self):
        self.check('  relay_networks = {"10.0.0.0/33"}', "relay_networks",
                   "ADDRESS/PREFIX")

    def test_submission_not_listened(self):
        self.check('  submission = {"tcp:1:interface=127.0.0.1"}\n'
                   '  users_file = "u"', "submission", "not one of this",
                   files={"u": users_file()})

    def test_submission_needs_users(self):
        port = free_port()
        self.d = Loomd('smtp "m" {\n'
                       '  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                       '  submission = {"tcp:%d:interface=127.0.0.1"}\n'
                       '}\n' % (port, port))
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path,
                          line_of(self.d.conf_path, "submission"), "users_file")

    def test_users_file_missing(self):
        self.check('  users_file = "nope"', "users_file", "cannot read users_file")

    def test_users_file_bad_hash(self):
        self.check('  users_file = "u"', "bob:", "crypt(3)",
                   files={"u": "# x\nbob:plaintext @example.test\n"}, in_file="u")

    def test_users_file_bad_sender(self):
        self.check('  users_file = "u"', "bob:", "sender",
                   files={"u": "bob:$6$abc$def nobody\n"}, in_file="u")

    def test_max_message_size(self):
        self.check('  max_message_size = "lots"', "max_message_size", "not a size")

    def test_max_message_size_range(self):
        self.check('  max_message_size = "2G"', "max_message_size", "1K-1G")

    def test_max_recipients(self):
        self.check('  max_recipients = 0', "max_recipients", "max_recipients must be")

    def test_hostname(self):
        self.check('  hostname = "bad host"', "hostname", "not a host name")

    def test_local_domain(self):
        self.check('  local_domains = {"example.test", "bad..test"}',
                   "bad..test", "not a domain")

    def test_publish(self):
        self.check('  publish = {"nobody"}', "publish", "neither an address")

    def test_sync_mode(self):
        self.check('  sync = "sometimes"', "sync", "fsync")

    def test_starttls_empty(self):
        self.check('  starttls = ""', "starttls", "no TLS profile")

    def test_maildir_cannot_be_made(self):
        self.d = Loomd(BASE % {"port": free_port(), "body": ""},
                       files={"mail": "a file, not a folder\n"})
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path,
                          line_of(self.d.conf_path, 'smtp "m"'), "Maildir")


class ConfigCheckTest(DaemonTest):
    def test_good_config_checks(self):
        self.d = Loomd(BASE % {"port": free_port(), "body": ""})
        rc, err = start_expect_exit(self.d, args=("-t",))
        self.assertEqual(rc, 0, err)


class ReloadTest(DaemonTest):
    def test_reload_adds_recipient_and_keeps_serving_on_error(self):
        from smtptest import swaks
        port = free_port()
        conf = BASE % {"port": port, "body": "%s"}
        self.d = Loomd(conf % "")
        self.d.start()
        rc, out = swaks(port, "--to", "bob@example.test")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("550 5.1.1", out)
        self.d.write_conf(conf % '  recipients_file = "more"')
        self.d.write_file("more", "bob@example.test mail/bob/\n")
        self.assertTrue(self.d.reload())
        self.assertTrue(os.path.isdir(os.path.join(self.d.dir, "mail", "bob", "new")))
        rc, out = swaks(port, "--to", "bob@example.test")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(os.listdir(os.path.join(self.d.dir, "mail", "bob", "new"))), 1)
        # a bad configuration is refused; the running one keeps serving
        self.d.write_file("more", "bob@example.test\n")
        self.assertFalse(self.d.reload())
        rc, out = swaks(port, "--to", "bob@example.test")
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    loomtest.main()
