"""loomd -t checks what the start checks (loom_config_check): certificate
and key files, listen addresses, UNIX socket paths, listeners that would
conflict, access logs.  Each bad config fails `loomd -t` and the real start
with the same one line `FILE:LINE: message`, and a SIGHUP with it is
refused with that line too, the old config serving on."""

import os
import shutil
import subprocess
import unittest

import loomtest
from loomtest import (DaemonTest, Loomd, assert_error_line, free_port, line_of, make_cert, run_loomd,
                      start_expect_exit)


def echo(name, *listen, extra=""):
    return ('echo "%s" {\n  listen = {%s}\n%s}\n'
            % (name, ", ".join('"%s"' % l for l in listen), extra))


class TestAgreesWithStart(DaemonTest):
    def both_fail(self, conf, needle, contains, files=None, certs=(), nth=1):
        """CONF fails -t and the start alike, at the line holding NEEDLE
        (its NTH), with CONTAINS in the message; returns the message."""
        self.d = Loomd(conf, files=files)
        for name in certs:
            make_cert(self.d.dir, name, name + ".test")
        want = line_of(self.d.conf_path, needle, nth)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        msg = assert_error_line(self, r.stderr, self.d.conf_path, want, contains)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        self.assertEqual(err, r.stderr, "the start and -t disagree")
        return msg

    # ---- TLS ----------------------------------------------------------------

    def test_missing_certificate(self):
        msg = self.both_fail('tls "t" {\n  cert = "gone.pem"\n  key = "a.key"\n}\n' +
                             echo("e", "tls:%d:interface=127.0.0.1:profile=t" % free_port()),
                             "gone.pem", "gone.pem: No such file or directory", certs=["a"])
        self.assertNotIn("error:", msg)  # no OpenSSL error codes

    def test_missing_key(self):
        self.both_fail('tls "t" {\n  cert = "a.pem"\n  key = "gone.key"\n}\n',
                       "gone.key", "gone.key: No such file or directory", certs=["a"])

    def test_key_is_a_directory(self):
        self.both_fail('tls "t" {\n  cert = "a.pem"\n  key = "keys"\n}\n',
                       '"keys"', "is a directory", certs=["a"], files={"keys/x": "x"})

    def test_unreadable_key(self):
        """Root reads any file, so as root the check runs as nobody (as a
        reload would after the privilege drop)."""
        self.d = Loomd("")
        make_cert(self.d.dir, "a", "a.test")
        os.chmod(os.path.join(self.d.dir, "a.pem"), 0o644)
        os.chmod(os.path.join(self.d.dir, "a.key"), 0o600 if loomtest.is_root() else 0)
        self.d.write_conf('tls "t" {\n  cert = "a.pem"\n  key = "a.key"\n}\n', raw=True)
        loomd = loomtest.LOOMD
        if loomtest.is_root():
            # the build tree may be private to root (/root/...): nobody runs
            # a copy in the test's own world-readable folder
            loomd = os.path.join(self.d.dir, "loomd")
            shutil.copy(loomtest.LOOMD, loomd)
        r = subprocess.run([loomd, "-t", "-c", self.d.conf_path],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=loomtest.WAIT,
                           user="nobody" if loomtest.is_root() else None)
        self.assertEqual(r.returncode, 1, r.stdout)
        assert_error_line(self, r.stderr, self.d.conf_path, line_of(self.d.conf_path, "a.key"),
                          "a.key: Permission denied")

    def test_key_does_not_match_certificate(self):
        self.both_fail('tls "t" {\n  cert = "a.pem"\n  key = "b.key"\n}\n',
                       "b.key", "b.key does not match certificate", certs=["a", "b"])

    def test_certificate_not_pem(self):
        self.both_fail('tls "t" {\n  cert = "junk.pem"\n  key = "a.key"\n}\n',
                       "junk.pem", "no PEM data", certs=["a"],
                       files={"junk.pem": "not a certificate\n"})

    def test_listener_certificate_missing(self):
        self.both_fail(echo("e", "tls:%d:interface=127.0.0.1:cert=gone.pem:key=a.key"
                            % free_port()),
                       "gone.pem", "No such file or directory", certs=["a"])

    def test_listener_key_mismatch(self):
        self.both_fail(echo("e", "tls:%d:interface=127.0.0.1:cert=a.pem:key=b.key"
                            % free_port()),
                       "b.key", "does not match", certs=["a", "b"])

    # ---- listen addresses and paths ----------------------------------------

    def test_interface_out_of_range(self):
        self.both_fail(echo("e", "tcp:%d:interface=300.1.1.1" % free_port()),
                       "300.1.1.1", "'300.1.1.1' is not an IP address")

    def test_interface_name(self):
        self.both_fail(echo("e", "tcp:%d:interface=eth0" % free_port()),
                       "eth0", "'eth0' is not an IP address")

    def test_unix_path_too_long(self):
        # a long path is bound through its directory; only the file name
        # must fit (sockpath.h: 107 bytes less "/proc/self/fd/N/")
        path = "/tmp/" + "s" * 110 + ".sock"
        msg = self.both_fail(echo("e", "unix:" + path), path, "at most 82")
        self.assertFalse(os.path.exists(path))
        self.assertIn("file name is %d bytes" % len(os.path.basename(path)), msg)

    def test_unix_directory_missing(self):
        self.both_fail(echo("e", "unix:no-such-dir/e.sock"), "no-such-dir",
                       "No such file or directory")

    def test_unix_path_is_a_file(self):
        self.both_fail(echo("e", "unix:data.txt"), "data.txt", "is not a socket",
                       files={"data.txt": "keep me\n"})
        self.assertTrue(os.path.exists(os.path.join(self.d.dir, "data.txt")))

    def test_access_log_directory_missing(self):
        self.both_fail(echo("e", "tcp:%d:interface=127.0.0.1" % free_port(),
                            extra='  access_log = "no-such-dir/e.log"\n'),
                       "no-such-dir", "No such file or directory")

    # ---- listeners that conflict -------------------------------------------

    def test_tcp_wildcard_beside_address(self):
        """tcp:N in one instance, tcp:N:interface=127.0.0.1 in another:
        reported at the second, naming the first."""
        port = free_port()
        msg = self.both_fail(echo("any", "tcp:%d" % port) +
                             'memcache "m" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                             % port, "interface=127.0.0.1", "conflicts with 'tcp:%d'" % port)
        self.assertIn('echo "any"', msg)

    def test_tcp_address_then_wildcard(self):
        port = free_port()
        self.both_fail(echo("one", "tcp:%d:interface=127.0.0.1" % port) +
                       echo("any", "tcp:%d" % port), '"tcp:%d"' % port, "conflicts")

    def test_udp_wildcard_beside_address(self):
        port = free_port()
        self.both_fail(echo("a", "udp:%d:interface=127.0.0.1" % port) +
                       echo("b", "udp:%d" % port), '"udp:%d"' % port,
                       "conflicts with 'udp:%d:interface=127.0.0.1'" % port)

    def test_ipv6_wildcard_beside_address(self):
        port = free_port()
        self.both_fail(echo("a", "tcp:%d:interface=[::1]" % port) +
                       echo("b", "tcp:%d:interface=[::]" % port), "[::]",
                       "conflicts with 'tcp:%d:interface=[::1]'" % port)

    def test_tls_and_tcp_share_one_socket_kind(self):
        port = free_port()
        self.both_fail('tls "t" { self_signed = yes }\n' +
                       echo("a", "tcp:%d:interface=127.0.0.1" % port) +
                       echo("b", "tls:%d:interface=127.0.0.1:profile=t" % port),
                       "profile=t", "already used by echo \"a\"")

    def test_no_conflict_on_distinct_addresses(self):
        """Same port, distinct addresses, TCP beside UDP: all fine."""
        port = free_port()
        self.d = Loomd(echo("a", "tcp:%d:interface=127.0.0.1" % port,
                            "udp:%d:interface=127.0.0.1" % port) +
                       echo("b", "tcp:%d:interface=127.0.0.2" % port))
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.d.start()
        self.assertEqual(loomtest.tcp_query(port, b"a", shut=True), b"a")
        self.assertEqual(loomtest.tcp_query(port, b"b", host="127.0.0.2", shut=True), b"b")


class TestModeSideEffects(unittest.TestCase):
    def test_test_mode_creates_nothing(self):
        """-t checks that an access log and a socket could be made, without
        making them."""
        d = Loomd(echo("e", "tcp:%d:interface=127.0.0.1" % free_port(), "unix:e.sock",
                       extra='  access_log = "logs/e.log"\n'),
                  files={"logs/.keep": ""})
        try:
            r = run_loomd(["-t", "-c", d.conf_path])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d.dir, "logs", "e.log")))
            self.assertFalse(os.path.exists(os.path.join(d.dir, "e.sock")))
        finally:
            d.cleanup()

    def test_test_mode_checks_the_user(self):
        if not loomtest.is_root():
            self.skipTest("the user is only checked when started as root")
        port = free_port()
        for head, word in (("", "user"),
                           ('user = "no-such-user-loomtest"\n', "no-such-user-loomtest")):
            d = Loomd(head + echo("e", "tcp:%d:interface=127.0.0.1" % port), raw=True)
            try:
                r = run_loomd(["-t", "-c", d.conf_path])
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertEqual(r.stdout, "")
                lines = r.stderr.strip("\n").split("\n")
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertTrue(lines[0].startswith("loomd: "), lines[0])
                self.assertIn(word, lines[0])
            finally:
                d.cleanup()


class TestReloadChecks(unittest.TestCase):
    def test_reload_refuses_what_test_mode_refuses(self):
        """One code path: a config -t refuses is refused by SIGHUP with the
        same line, and the old config keeps serving."""
        p1, p2 = free_port(), free_port()
        d = Loomd(echo("a", "tcp:%d:interface=127.0.0.1" % p1))
        self.addCleanup(d.cleanup)
        d.start()
        for bad in (echo("a", "tcp:%d:interface=127.0.0.1" % p1) +
                    echo("b", "tcp:%d" % p1),
                    echo("a", "tcp:%d:interface=127.0.0.1" % p1) +
                    echo("b", "tls:%d:interface=127.0.0.1:cert=gone.pem:key=gone.key" % p2),
                    echo("a", "tcp:%d:interface=localhost" % p1)):
            d.write_conf(bad)
            r = run_loomd(["-t", "-c", d.conf_path])
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertFalse(d.reload(), "bad config was applied:\n" + d.log())
            self.assertIn("[error] core: reload failed: " + r.stderr.strip("\n"), d.log())
            self.assertEqual(loomtest.tcp_query(p1, b"still", shut=True), b"still")
        self.assertIsNone(d.proc.poll())
        self.assertNotIn("removed", d.log())
        self.assertNotIn("closing listener", d.log())


if __name__ == "__main__":
    loomtest.main()
