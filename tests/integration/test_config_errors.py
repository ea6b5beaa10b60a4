"""Start-up errors: loomd exits 1 with exactly one stderr line
`FILE:LINE: message` naming the offending line.  Each case is started for
real (not only with -t) so that errors found while binding count too."""

import os
import socket

import loomtest
from loomtest import DaemonTest, Loomd, free_port, line_of, assert_error_line, start_expect_exit, run_loomd


class ConfigErrors(DaemonTest):
    def good_echo(self):
        return 'echo "ok" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % free_port()

    def expect(self, conf, needle, contains=None, files=None, also_test_mode=True,
               lines=None, path=None):
        """CONF fails at start with one line naming the line holding NEEDLE
        (or one of LINES) in PATH (default: the config file)."""
        self.d = Loomd(conf, files=files)
        path = path or self.d.conf_path
        want = lines if lines is not None else line_of(path, needle)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        msg = assert_error_line(self, err, path, want, contains)
        if also_test_mode:
            r = run_loomd(["-t", "-c", self.d.conf_path])
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertEqual(r.stdout, "")
            assert_error_line(self, r.stderr, path, want, contains)
        return msg

    def test_unknown_option_top(self):
        self.expect(self.good_echo() + "frobnicate = 12\n", "frobnicate")

    def test_unknown_option_in_instance(self):
        self.expect('echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                    '  colour = "blue"\n}\n' % free_port(), "colour")

    def test_bad_type(self):
        self.expect(self.good_echo() + 'shutdown_grace = "soon"\n', "shutdown_grace")

    def test_bad_type_in_instance(self):
        self.expect('echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                    '  idle_timeout = "forever"\n}\n' % free_port(), "idle_timeout")

    def test_bad_ktls(self):
        msg = self.expect(self.good_echo() + 'ktls = "sometimes"\n', "sometimes")
        self.assertIn("ktls must be auto, on or off", msg)

    def test_bad_log_level(self):
        self.expect(self.good_echo() + 'log { level = "chatty" }\n', "chatty")

    def test_bad_boolean(self):
        self.expect('finger "f" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                    '  list_users = perhaps\n}\n' % free_port(), "perhaps")

    def test_unknown_module(self):
        self.expect(self.good_echo() + 'gopher "g" { listen = {"tcp:%d:interface=127.0.0.1"} }\n'
                    % free_port(), "gopher")

    def test_duplicate_instance(self):
        conf = ('echo "twin" { listen = {"tcp:%d:interface=127.0.0.1"} }\n'
                'echo "twin" { listen = {"tcp:%d:interface=127.0.0.1"} }\n'
                % (free_port(), free_port()))
        self.d = Loomd(conf)
        second = line_of(self.d.conf_path, 'echo "twin"', nth=2)
        self.drop_daemon()
        msg = self.expect(conf, None, lines={second})
        self.assertIn("twin", msg)

    def test_bad_endpoint(self):
        msg = self.expect('echo "e" { listen = {"tcp:99999:interface=127.0.0.1"} }\n',
                          "99999", contains="endpoint 'tcp:99999:interface=127.0.0.1'")
        self.assertTrue(msg.startswith("endpoint '") or "endpoint '" in msg)

    def test_bad_endpoint_kind(self):
        self.expect('echo "e" { listen = {"sctp:7007"} }\n', "sctp",
                    contains="endpoint 'sctp:7007'")

    def test_bad_endpoint_option(self):
        self.expect('echo "e" { listen = {"tcp:7007:colour=red"} }\n', "colour",
                    contains="endpoint 'tcp:7007:colour=red'")

    def test_listener_cannot_bind(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            conf = (self.good_echo() +
                    'echo "busy" { listen = {"tcp:%d:interface=127.0.0.1"} }\n' % port)
            self.d = Loomd(conf)
            want = line_of(self.d.conf_path, 'echo "busy"')
            rc, err = start_expect_exit(self.d)
            self.assertEqual(rc, 1, err)
            assert_error_line(self, err, self.d.conf_path, want)
            # -t does not bind, so the same config passes the test.
            r = run_loomd(["-t", "-c", self.d.conf_path])
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            holder.close()

    def test_udp_listener_cannot_bind(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            holder.bind(("127.0.0.1", 0))
            port = holder.getsockname()[1]
            self.d = Loomd('echo "busy" {\n  listen = {"udp:%d:interface=127.0.0.1"}\n}\n' % port)
            want = {line_of(self.d.conf_path, 'echo "busy"'), line_of(self.d.conf_path, "udp:")}
            rc, err = start_expect_exit(self.d)
            self.assertEqual(rc, 1, err)
            assert_error_line(self, err, self.d.conf_path, want)
        finally:
            holder.close()

    def test_missing_plan_file(self):
        conf = ('finger "f" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '  user "bob" { plan_file = "no-such.plan" }\n}\n' % free_port())
        msg = self.expect(conf, "no-such.plan")
        self.assertIn("no-such.plan", msg)

    def test_unreadable_plan_file(self):
        if loomtest.is_root():
            self.skipTest("root can read a mode 000 file")
        conf = ('finger "f" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '  user "bob" { plan_file = "secret.plan" }\n}\n' % free_port())
        self.d = Loomd(conf, files={"secret.plan": "hidden\n"})
        os.chmod(os.path.join(self.d.dir, "secret.plan"), 0)
        want = line_of(self.d.conf_path, "secret.plan")
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, want)

    def test_plan_file_is_a_directory(self):
        conf = ('finger "f" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '  user "bob" { plan_file = "plans" }\n}\n' % free_port())
        self.expect(conf, '"plans"', files={"plans/x": "x\n"})

    def test_missing_include(self):
        msg = self.expect(self.good_echo() + 'include("not-there.conf")\n', "not-there")
        self.assertIn("not-there.conf", msg)

    def test_error_in_included_file(self):
        inc = ('# an included file\n'
               'echo "inc" {\n'
               '  listen = {"tcp:%d:interface=127.0.0.1"}\n'
               '  bogus_option = 1\n'
               '}\n' % free_port())
        conf = self.good_echo() + 'include("conf.d/*.conf")\n'
        self.d = Loomd(conf, files={"conf.d/10-inc.conf": inc})
        inc_path = os.path.join(self.d.dir, "conf.d", "10-inc.conf")
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, inc_path, 4)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1)
        assert_error_line(self, r.stderr, inc_path, 4)

    def test_bad_endpoint_in_included_file(self):
        inc = '\n\necho "inc" { listen = {"tcp:abc"} }\n'
        conf = self.good_echo() + 'include("extra.conf")\n'
        self.d = Loomd(conf, files={"extra.conf": inc})
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, os.path.join(self.d.dir, "extra.conf"), 3,
                          contains="endpoint 'tcp:abc'")

    def test_root_without_user(self):
        if not loomtest.is_root():
            self.skipTest("only meaningful when run as root")
        self.d = Loomd(self.good_echo(), raw=True)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        lines = err.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], r"^(loomd|.+:\d+):")
        self.assertIn("user", lines[0])

    def test_unknown_user(self):
        if not loomtest.is_root():
            self.skipTest("the user option is only used when run as root")
        self.d = Loomd('user = "no-such-user-loomtest"\n' + self.good_echo(), raw=True)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        lines = err.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, err)
        self.assertIn("no-such-user-loomtest", lines[0])

    def test_load_missing_module(self):
        msg = self.expect('load_module("modules/missing.so")\n' + self.good_echo(),
                          "missing.so")
        self.assertIn("missing.so", msg)

    def test_tls_unknown_profile(self):
        self.expect('echo "e" { listen = {"tls:%d:interface=127.0.0.1:profile=nope"} }\n'
                    % free_port(), "profile=nope")

    def test_error_exits_before_other_listeners(self):
        """A bad config must not leave a listener behind: after the failed
        start the good instance's port is free again."""
        port = free_port()
        conf = ('echo "ok" { listen = {"tcp:%d:interface=127.0.0.1"} }\n' % port +
                'bogus_option = 1\n')
        self.expect(conf, "bogus_option")
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        finally:
            s.close()

    # ---- files that end before what they open is closed ------------------
    # libconfuse alone accepts a file that ends inside a section: a partial
    # deploy would start (or reload) with the services after the cut gone.

    def test_unclosed_section(self):
        msg = self.expect(self.good_echo() +
                          'echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                          % free_port(), 'echo "e"')
        self.assertIn('section echo "e"', msg)
        self.assertIn("never closed", msg)

    def test_unclosed_section_cut_mid_option(self):
        """Cut in the middle of a line, as a partial copy leaves it."""
        conf = (self.good_echo() +
                'memcache "m" {\n'
                '  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '  max_item_si' % free_port())
        msg = self.expect(conf, 'memcache "m"')
        self.assertIn('memcache "m"', msg)

    def test_unclosed_list(self):
        conf = ('echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1",\n'
                '            "tcp:%d:interface=127.0.0.1"\n' % (free_port(), free_port()))
        msg = self.expect(conf, "listen =")
        self.assertIn("list 'listen'", msg)

    def test_unclosed_string(self):
        """A forgotten quote on line 7 is reported on line 7 (libconfuse
        read on into the next lines and named a later one)."""
        conf = ("\n" * 5 +
                'finger "f" {\n'
                '  user "d" { plan = "gone fishing }\n'
                '  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '}\n' % free_port())
        msg = self.expect(conf, "gone fishing")
        self.assertIn("string", msg)
        self.assertIn("not closed", msg)

    def test_unclosed_string_at_end(self):
        msg = self.expect(self.good_echo() + 'echo "e" {\n  listen = {"tcp:%d:interf-cut'
                          % free_port(), 'interf-cut')
        self.assertIn("string", msg)

    def test_unclosed_comment(self):
        msg = self.expect(self.good_echo() + "/* the old instance:\n"
                          'echo "old" { listen = {"tcp:1"} }\n', "/*")
        self.assertIn("comment", msg)

    def test_unclosed_include_call(self):
        msg = self.expect(self.good_echo() + 'include("extra.conf"\n', "include(",
                          files={"extra.conf": ""})
        self.assertIn("include(", msg)

    def test_unclosed_section_in_included_file(self):
        inc = '# extra\n\nmemcache "m" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n' % free_port()
        self.d = Loomd(self.good_echo() + 'include("conf.d/*.conf")\n',
                       files={"conf.d/m.conf": inc})
        inc_path = os.path.join(self.d.dir, "conf.d", "m.conf")
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, inc_path, 3, contains='memcache "m"')
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1)
        assert_error_line(self, r.stderr, inc_path, 3, contains='memcache "m"')

    def test_stray_closing_brace(self):
        self.expect(self.good_echo() + "} # stray\n", "stray", contains="closes nothing")

    # ---- messages with a usable place ------------------------------------

    def test_integer_out_of_range(self):
        msg = self.expect(self.good_echo() + "# limits\nlimits {\n  # all instances\n"
                          "  max_connections = 99999999999999999999\n}\n",
                          "99999999999999999999")
        self.assertIn("max_connections", msg)
        self.expect('echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                    '  max_connections = 99999999999999999999\n}\n' % free_port(),
                    "99999999999999999999", contains="out of range")

    def test_duplicate_port_at_second_user(self):
        """Reported at the listener written second, naming the first, in
        file order (memcache comes after echo in the module table)."""
        port = free_port()
        conf = ('memcache "m" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                'echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % (port, port))
        self.d = Loomd(conf)
        first = line_of(self.d.conf_path, "listen", nth=1)
        second = line_of(self.d.conf_path, "listen", nth=2)
        self.drop_daemon()
        msg = self.expect(conf, None, lines={second})
        self.assertIn('already used by memcache "m"', msg)
        self.assertIn(":%d)" % first, msg)

    def test_missing_certificate_says_why(self):
        msg = self.expect('tls "t" {\n  cert = "missing.pem"\n  key = "missing.key"\n}\n' +
                          self.good_echo(), "missing.pem")
        self.assertIn("missing.pem: No such file or directory", msg)
        self.assertNotIn("error:", msg)


if __name__ == "__main__":
    loomtest.main()
