"""Logging to journald: when JOURNAL_STREAM names loomd's stderr, every
line becomes a structured journal entry (MESSAGE, PRIORITY, MODULE,
INSTANCE, PEER where known, SYSLOG_IDENTIFIER=loomd); otherwise stderr
gets the plain lines.

The entries are read off the wire: loomd runs in a mount namespace of its
own where /run/systemd/journal is a folder of the test's, whose `socket`
the test has bound, and the datagrams of journald's native protocol are
parsed here (KEY=VALUE lines, or KEY, a 64-bit length and the value).
Root only (mount namespace); the plain-line tests run as anyone.
"""

import os
import shutil
import smtplib
import socket
import struct
import tempfile
import unittest

import loomtest
from smtptest import DEMO_PASSWORD, users_file


def built_with_systemd():
    try:
        with open(loomtest.LOOMD, "rb") as f:
            return b"sd_journal_sendv" in f.read()
    except OSError:
        return False


def parse_native(data):
    """One datagram of the journal's native protocol as a dict."""
    out = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, _, v = line.partition(b"=")
            out[k.decode()] = v.decode(errors="replace")
            i = nl + 1
        else:
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            out[line.decode()] = data[nl + 9:nl + 9 + n].decode(errors="replace")
            i = nl + 9 + n + 1
    return out


SMTP = '''
smtp "mail" {{
    listen = {{"tcp:{p}:interface=127.0.0.1"}}
    submission = {{"tcp:{p}:interface=127.0.0.1"}}
    hostname = "mail.example.test"
    local_domains = {{"example.test"}}
    recipients = {{"alice@example.test {dir}/mail/alice/"}}
    users_file = "{dir}/users"
    auth_failure_delay = 0
}}
echo "e" {{
    listen = {{"tcp:{e}:interface=127.0.0.1"}}
}}
'''


class JournalStream(loomtest.DaemonTest):
    def start_with_stream(self, conf, files=None, stream=None, wrap=()):
        self.d = loomtest.Loomd(conf, files=files)
        open(self.d.err_path, "ab").close()
        st = os.stat(self.d.err_path)
        env = dict(os.environ,
                   JOURNAL_STREAM=stream or "%d:%d" % (st.st_dev, st.st_ino))
        self.d.start(env=env, wrap=wrap, wait_ready=False)
        return self.d

    def test_plain_lines_when_stream_is_another_file(self):
        port = loomtest.free_port()
        d = self.start_with_stream('echo "e" { listen = {"tcp:%d:interface=127.0.0.1"} }\n'
                                   % port, stream="1:1")
        d.wait_log(r"\[info\] core: ready")
        d.stop()
        self.assertRegex(d.log(), r"\[info\] core: stopped")

    def test_plain_lines_when_stream_is_malformed(self):
        port = loomtest.free_port()
        d = self.start_with_stream('echo "e" { listen = {"tcp:%d:interface=127.0.0.1"} }\n'
                                   % port, stream="12:34:junk")
        d.wait_log(r"\[info\] core: ready")

    @unittest.skipUnless(loomtest.is_root(), "a mount namespace needs root")
    @unittest.skipUnless(os.path.isdir("/run/systemd"), "no /run/systemd to mount over")
    @unittest.skipUnless(built_with_systemd(), "loomd built without libsystemd")
    def test_structured_entries(self):
        if not loomtest.can_wrap_hosts():
            self.skipTest("no private mount namespace here")
        jdir = tempfile.mkdtemp(prefix="loomtest-journal-")
        self.addCleanup(shutil.rmtree, jdir, True)
        os.chmod(jdir, 0o755)
        js = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(js.close)
        js.bind(os.path.join(jdir, "socket"))
        os.chmod(os.path.join(jdir, "socket"), 0o666)
        js.settimeout(loomtest.WAIT)
        wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal && '
                'mount --bind "$0" /run/systemd/journal && exec "$@"', jdir]
        p, e = loomtest.free_port(), loomtest.free_port()
        d = self.start_with_stream(SMTP.format(p=p, e=e, dir="{dir}"),
                                   files={"users": users_file()}, wrap=wrap)
        entries = []

        def until(pred):
            for ent in entries:
                if pred(ent):
                    return ent
            while True:
                ent = parse_native(js.recv(65536))
                entries.append(ent)
                if pred(ent):
                    return ent

        ready = until(lambda x: "core: ready" in x.get("MESSAGE", ""))
        self.assertEqual(ready["PRIORITY"], "6")
        self.assertEqual(ready["MODULE"], "core")
        self.assertNotIn("INSTANCE", ready)
        self.assertEqual(ready["SYSLOG_IDENTIFIER"], "loomd")
        # a client's failed AUTH: module, instance and peer
        with smtplib.SMTP("127.0.0.1", p, timeout=loomtest.WAIT) as c:
            c.ehlo("client.example")
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                c.login("demo", DEMO_PASSWORD + "-wrong")
        auth = until(lambda x: "AUTH failed" in x.get("MESSAGE", ""))
        self.assertEqual(auth["MESSAGE"][:len("smtp/mail: AUTH failed for demo")],
                         "smtp/mail: AUTH failed for demo")
        self.assertEqual((auth["MODULE"], auth["INSTANCE"], auth["PRIORITY"]),
                         ("smtp", "mail", "6"))
        self.assertTrue(auth["PEER"].startswith("127.0.0.1"), auth)
        # an error: a reload that fails
        d.write_conf("echo {")
        d.signal(__import__("signal").SIGHUP)
        bad = until(lambda x: "reload failed" in x.get("MESSAGE", ""))
        self.assertEqual((bad["PRIORITY"], bad["MODULE"]), ("3", "core"))
        # nothing went to stderr as plain lines meanwhile
        self.assertNotRegex(d.log(), r"\[(info|error)\] ")
        self.assertEqual(d.stop(), 0)
        until(lambda x: "core: stopped" in x.get("MESSAGE", ""))


if __name__ == "__main__":
    loomtest.main()
