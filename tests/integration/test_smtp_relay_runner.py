"""SMTP's outbound side in a real loomd, without the receiving server: the
test-only module tests/modules/relaytest.so puts messages into a relay
queue directory through a line protocol and runs the queue runner of
protocols/smtp (smtp_runner.c, smtp_out.c, smtp_client.c) over it.

Next hops: a private Postfix (postfix_peer.py; root only) reached through
MX records served by loom's own DNS module or as a smarthost, and a
scripted Python SMTP server (smtpscript.py) for what Postfix cannot be
told to do on cue: 451 then 250 (retry), 550 (bounce, written to a
directory by relaytest), STARTTLS required and verified, AUTH PLAIN to a
smarthost.  Also: the queue survives a restart, the null sender is never
bounced, a message past queue_lifetime bounces with 4.4.7, and every
relay option's configuration error is one FILE:LINE line and exit 1.
"""

import glob
import os
import re
import shutil
import socket
import tempfile
import time
import unittest

import loomtest
import postfix_peer
import smtpscript
from loomtest import Loomd, WAIT

RELAYTEST_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "relaytest.so")

ZONE = """$ORIGIN peer.test.
$TTL 300
@        IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300
@        IN NS  ns1
ns1      IN A   127.0.0.1
@        IN MX  10 mx1
@        IN MX  20 mx2
mx1      IN A   127.0.0.2
mx2      IN A   127.0.0.1
nomx     IN A   127.0.0.1
nullmx   IN MX  0 .
"""

BODY = (b"From: Sender <sender@loom.test>\r\n"
        b"To: Carol <carol@peer.test>\r\n"
        b"Subject: relayed by loom\r\n"
        b"Message-ID: <relay-1@loom.test>\r\n"
        b"\r\n"
        b"first line\r\n"
        b".a line that starts with a dot\r\n"
        b".\r\n"
        b"last line\r\n")


def relay_conf(extra, dns_port=None):
    dns = ""
    if dns_port is not None:
        dns = ('dns "auth" {\n'
               '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
               '    zone "peer.test" { file = "zones/peer.test.zone" }\n'
               '}\n') % (dns_port, dns_port)
    return ('load_module("%s")\n' % RELAYTEST_SO + dns +
            'relaytest "r" {\n'
            '    listen = {"tcp:{port}:interface=127.0.0.1"}\n'
            '    hostname = "loom.test"\n'
            '    queue_dir = "{dir}/queue"\n'
            '    bounce_dir = "{dir}/bounces"\n'
            '    relay_timeout = "10s"\n'
            + "".join("    %s\n" % l for l in extra) +
            '}\n')


class Relay:
    """A loomd with a relaytest instance."""

    def __init__(self, extra, dns_port=None):
        self.port = loomtest.free_port()
        text = relay_conf(extra, dns_port).replace("{port}", str(self.port))
        self.d = Loomd(text, files={"zones/peer.test.zone": ZONE})

    def start(self):
        self.d.start()
        return self

    def queue(self, sender, rcpts, body=BODY, notify=0, ret=0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            s.sendall(b"QUEUE %s %s %d %d %d\r\n" % (sender.encode(), ",".join(rcpts).encode(),
                                                     len(body), notify, ret) + body)
            got = b""
            while not got.endswith(b"\r\n"):
                d = s.recv(4096)
                if not d:
                    break
                got += d
        m = re.match(rb"QUEUED (\S+)\r\n", got)
        if not m:
            raise AssertionError("queueing failed: %r" % got)
        return m.group(1).decode()

    def queue_files(self):
        return [p for p in glob.glob(os.path.join(self.d.dir, "queue", "*"))
                if os.path.isfile(p)]

    def wait_queue_empty(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if not self.queue_files():
                return
            time.sleep(0.05)
        raise AssertionError("queue not empty: %r\n%s" % (self.queue_files(), self.d.log()))

    def bounces(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.d.dir, "bounces", "*.eml"))):
            with open(p, "rb") as f:
                out.append((os.path.basename(p), f.read()))
        return out

    def cleanup(self):
        self.d.cleanup()


class RelayTest(unittest.TestCase):
    def setUp(self):
        self.things = []

    def tearDown(self):
        for t in reversed(self.things):
            t.cleanup() if hasattr(t, "cleanup") else t.stop()

    def own(self, t):
        self.things.append(t)
        return t

    def script(self, **kw):
        s = smtpscript.ScriptServer(**kw).start()
        self.things.append(s)
        return s

    def relay(self, extra, dns_port=None):
        return self.own(Relay(extra, dns_port)).start()

    # ---- a scripted next hop ----------------------------------------------

    def test_smarthost_delivers_whole_message(self):
        s = self.script()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port])
        r.queue("sender@loom.test", ["carol@peer.test", "dave@other.test"], notify=4, ret=2)
        t = s.wait_messages(1)[0]
        self.assertEqual(t.data, BODY)
        self.assertFalse(t.bare)
        self.assertEqual(sorted(t.rcpts), ["carol@peer.test", "dave@other.test"])
        # ESMTP parameters as the server offered them (SIZE, DSN)
        self.assertIn("<sender@loom.test>", t.mail)
        self.assertIn("SIZE=%d" % len(BODY), t.mail)
        self.assertIn("RET=HDRS", t.mail)
        r.wait_queue_empty()
        r.d.wait_log(r"to=<carol@peer.test> relay=127.0.0.1 sent")
        self.assertEqual(r.bounces(), [])

    def test_bare_line_ends_never_reach_the_next_hop(self):
        s = self.script()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port])
        body = b"Subject: bare\r\n\r\na\nb\r.\n.\r\nend"
        r.queue("sender@loom.test", ["carol@peer.test"], body=body)
        t = s.wait_messages(1)[0]
        self.assertFalse(t.bare)
        self.assertEqual(t.data, b"Subject: bare\r\n\r\na\r\nb\r\n.\r\n.\r\nend\r\n")

    def test_retry_after_451(self):
        s = self.script(rcpt=lambda a, n: "451 4.7.1 greylisted, try later" if n == 1 else None)
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port, 'queue_retry = "1s"'])
        r.queue("sender@loom.test", ["carol@peer.test"])
        r.d.wait_log(r"to=<carol@peer.test> relay=127.0.0.1 deferred "
                     r"\(host 127\.0\.0\.1 said: 451 4\.7\.1 greylisted")
        self.assertEqual(len(r.queue_files()), 1)
        t = s.wait_messages(1, timeout=WAIT)[0]
        self.assertEqual(t.data, BODY)
        r.wait_queue_empty()
        self.assertEqual(s.rcpt_seen["carol@peer.test"], 2)
        self.assertGreaterEqual(s.connections, 2)
        self.assertEqual(r.bounces(), [])

    def test_bounce_after_550(self):
        s = self.script(rcpt=lambda a, n: "550 5.1.1 <%s>: no such user" % a
                        if a.startswith("nobody") else None)
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port])
        r.queue("sender@loom.test", ["nobody@peer.test", "carol@peer.test"], ret=2)
        t = s.wait_messages(1)[0]
        self.assertEqual(t.rcpts, ["carol@peer.test"])
        r.wait_queue_empty()
        b = r.bounces()
        self.assertEqual(len(b), 1, b)
        name, msg = b[0]
        self.assertIn("sender@loom.test", name)
        self.assertIn(b"multipart/report", msg)
        self.assertIn(b"Final-Recipient: rfc822; nobody@peer.test", msg)
        self.assertIn(b"Action: failed", msg)
        self.assertIn(b"Status: 5.1.1", msg)
        self.assertIn(b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@peer.test>: no such user", msg)
        self.assertIn(b"Remote-MTA: dns; 127.0.0.1", msg)
        self.assertIn(b"Reporting-MTA: dns; loom.test", msg)
        self.assertNotIn(b"carol@peer.test\r\nAction", msg)
        # RET=HDRS: the header comes back, not the body
        self.assertIn(b"Subject: relayed by loom", msg)
        self.assertNotIn(b"a line that starts with a dot", msg)

    def test_no_bounce_to_the_null_sender(self):
        s = self.script(rcpt=lambda a, n: "550 5.1.1 no such user")
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port])
        r.queue("-", ["nobody@peer.test"])
        r.d.wait_log(r"no bounce to the null sender")
        r.wait_queue_empty()
        self.assertEqual(r.bounces(), [])
        self.assertEqual(s.messages(), [])

    def test_notify_never_gets_no_bounce(self):
        s = self.script(rcpt=lambda a, n: "550 5.1.1 no such user")
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port])
        r.queue("sender@loom.test", ["nobody@peer.test"], notify=1)
        r.d.wait_log(r"to=<nobody@peer.test> relay=127.0.0.1 bounced")
        r.wait_queue_empty()
        self.assertEqual(r.bounces(), [])

    def test_expired_message_bounces_with_4_4_7(self):
        s = self.script(rcpt=lambda a, n: "451 4.3.0 temporary trouble")
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port, 'queue_lifetime = "0"'])
        r.queue("sender@loom.test", ["carol@peer.test"])
        r.wait_queue_empty()
        b = r.bounces()
        self.assertEqual(len(b), 1)
        self.assertIn(b"Status: 4.4.7", b[0][1])
        self.assertIn(b"451 4.3.0 temporary trouble", b[0][1])

    def test_refused_connection_is_deferred(self):
        dead = loomtest.free_port()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % dead])
        r.queue("sender@loom.test", ["carol@peer.test"])
        r.d.wait_log(r"to=<carol@peer.test> relay=127\.0\.0\.1 deferred \(connect to 127\.0\.0\.1")
        self.assertEqual(len(r.queue_files()), 1)
        self.assertEqual(r.bounces(), [])

    def test_queue_survives_restart(self):
        s = self.script(rcpt=lambda a, n: "451 4.3.0 not yet" if n == 1 else None)
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port])
        r.queue("sender@loom.test", ["carol@peer.test"])
        r.d.wait_log(r"deferred")
        r.d.stop()
        self.assertEqual(len(r.queue_files()), 1)
        # the next start finds it and (queue_retry being 5 minutes) it is
        # due only later: make it due now with a shorter schedule
        r.d.write_conf(relay_conf(['smarthost = "127.0.0.1:%d"' % s.port,
                                   'queue_retry = "1s"']).replace("{port}", str(r.port)))
        r.d.start()
        r.d.wait_log(r"1 message\(s\) at start")
        t = s.wait_messages(1)[0]
        self.assertEqual(t.data, BODY)
        r.wait_queue_empty()

    # ---- TLS and AUTH ---------------------------------------------------------

    def tls_server(self, **kw):
        d = tempfile.mkdtemp(prefix="relaytls-")
        self.addCleanup(shutil.rmtree, d, True)
        pem, key = loomtest.make_cert(d, "next", "127.0.0.1", "IP:127.0.0.1,DNS:mx.peer.test")
        return self.script(tls_cert=(pem, key), **kw), pem

    def test_tls_must_verified(self):
        s, pem = self.tls_server()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port, 'relay_tls = "must"',
                        'relay_tls_ca = "%s"' % pem])
        r.queue("sender@loom.test", ["carol@peer.test"])
        t = s.wait_messages(1)[0]
        self.assertTrue(t.tls)
        self.assertEqual(t.data, BODY)
        r.wait_queue_empty()

    def test_tls_must_unverified_is_deferred(self):
        s, _ = self.tls_server()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port, 'relay_tls = "must"'])
        r.queue("sender@loom.test", ["carol@peer.test"])
        r.d.wait_log(r"to=<carol@peer.test> relay=127\.0\.0\.1 deferred \(127\.0\.0\.1: TLS failed")
        self.assertEqual(s.messages(), [])
        self.assertEqual(len(r.queue_files()), 1)

    def test_tls_must_not_offered_is_deferred(self):
        s = self.script()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port, 'relay_tls = "must"'])
        r.queue("sender@loom.test", ["carol@peer.test"])
        r.d.wait_log(r"deferred \(127\.0\.0\.1: TLS is required, but was not offered")
        self.assertEqual(s.messages(), [])

    def test_tls_may_unverified_is_used(self):
        s, _ = self.tls_server()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port])
        r.queue("sender@loom.test", ["carol@peer.test"])
        self.assertTrue(s.wait_messages(1)[0].tls)

    def test_smarthost_auth_plain(self):
        s, pem = self.tls_server(auth=("relayuser", "s3cret pass"))
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port, 'relay_tls = "must"',
                        'relay_tls_ca = "%s"' % pem, 'smarthost_user = "relayuser"',
                        'smarthost_password = "s3cret pass"'])
        r.queue("sender@loom.test", ["carol@peer.test"])
        t = s.wait_messages(1)[0]
        self.assertEqual(t.auth_user, "relayuser")
        self.assertTrue(t.tls)
        r.wait_queue_empty()

    def test_smarthost_auth_refused_is_deferred(self):
        s, pem = self.tls_server(auth=("relayuser", "right"))
        r = self.relay(['smarthost = "127.0.0.1:%d"' % s.port, 'relay_tls = "must"',
                        'relay_tls_ca = "%s"' % pem, 'smarthost_user = "relayuser"',
                        'smarthost_password = "wrong"'])
        r.queue("sender@loom.test", ["carol@peer.test"])
        r.d.wait_log(r"deferred \(host 127\.0\.0\.1 said: 535 5\.7\.8")
        self.assertEqual(s.messages(), [])
        self.assertEqual(r.bounces(), [])

    # ---- MX through loom's DNS -------------------------------------------------

    def test_mx_second_host_after_refused_first(self):
        """peer.test MX 10 mx1 (127.0.0.2: nothing listens), MX 20 mx2
        (127.0.0.1): the first is refused, the second takes it."""
        dns_port = loomtest.free_port()
        s = self.script()
        r = self.relay(['relay_dns = "127.0.0.1:%d"' % dns_port, "relay_port = %d" % s.port],
                       dns_port=dns_port)
        r.queue("sender@loom.test", ["carol@peer.test"])
        t = s.wait_messages(1)[0]
        self.assertEqual(t.data, BODY)
        r.wait_queue_empty()
        r.d.wait_log(r"to=<carol@peer.test> relay=mx2\.peer\.test sent")

    def test_tls_must_for_one_domain(self):
        """relay_tls_must names peer.test: its MX offers no STARTTLS, so
        the mail waits; other.test (smarthost-less, same next hop by
        address literal) goes out in plaintext."""
        dns_port = loomtest.free_port()
        s = self.script()
        r = self.relay(['relay_dns = "127.0.0.1:%d"' % dns_port, "relay_port = %d" % s.port,
                        'relay_tls_must = {"Peer.Test"}'], dns_port=dns_port)
        r.queue("sender@loom.test", ["carol@peer.test", "dave@[127.0.0.1]"])
        r.d.wait_log(r"to=<carol@peer.test> relay=mx2\.peer\.test deferred "
                     r"\(mx2\.peer\.test: TLS is required, but was not offered")
        t = s.wait_messages(1)[0]
        self.assertEqual(t.rcpts, ["dave@[127.0.0.1]"])
        self.assertFalse(t.tls)
        self.assertEqual(len(r.queue_files()), 1)

    def test_mx_implicit_and_null(self):
        dns_port = loomtest.free_port()
        s = self.script()
        r = self.relay(['relay_dns = "127.0.0.1:%d"' % dns_port, "relay_port = %d" % s.port],
                       dns_port=dns_port)
        r.queue("sender@loom.test", ["x@nomx.peer.test", "y@nullmx.peer.test",
                                     "z@nxdomain.peer.test"])
        t = s.wait_messages(1)[0]
        self.assertEqual(t.rcpts, ["x@nomx.peer.test"])
        r.wait_queue_empty()
        b = r.bounces()
        self.assertEqual(len(b), 1)
        self.assertIn(b"Final-Recipient: rfc822; y@nullmx.peer.test", b[0][1])
        self.assertIn(b"Status: 5.1.10", b[0][1])
        self.assertIn(b"Final-Recipient: rfc822; z@nxdomain.peer.test", b[0][1])
        self.assertIn(b"Status: 5.1.2", b[0][1])

    # ---- a private Postfix -------------------------------------------------------

    def postfix(self):
        why = postfix_peer.available()
        if why:
            self.skipTest(why)
        return self.own(postfix_peer.PostfixPeer(domains=("peer.test",),
                                                 users=("carol",)).start())

    def test_postfix_through_mx(self):
        p = self.postfix()
        dns_port = loomtest.free_port()
        r = self.relay(['relay_dns = "127.0.0.1:%d"' % dns_port, "relay_port = %d" % p.port],
                       dns_port=dns_port)
        r.queue("sender@loom.test", ["carol@peer.test"])
        msg = p.wait_mail("carol@peer.test", 1)[0]
        self.assertIn(b"Subject: relayed by loom", msg)
        self.assertIn(b"\n.a line that starts with a dot\n", msg.replace(b"\r\n", b"\n"))
        self.assertIn(b"\n.\nlast line\n", msg.replace(b"\r\n", b"\n"))
        r.wait_queue_empty()
        r.d.wait_log(r"to=<carol@peer.test> relay=mx2\.peer\.test sent \(host mx2\.peer\.test said: 250 2\.0\.0 Ok")

    def test_postfix_as_smarthost(self):
        p = self.postfix()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % p.port])
        r.queue("sender@loom.test", ["carol@peer.test"])
        msg = p.wait_mail("carol@peer.test", 1)[0]
        self.assertIn(b"Message-ID: <relay-1@loom.test>", msg)
        r.wait_queue_empty()

    def test_postfix_unknown_user_bounces(self):
        p = self.postfix()
        r = self.relay(['smarthost = "127.0.0.1:%d"' % p.port])
        r.queue("sender@loom.test", ["nosuchuser@peer.test"])
        r.wait_queue_empty()
        b = r.bounces()
        self.assertEqual(len(b), 1)
        self.assertIn(b"Final-Recipient: rfc822; nosuchuser@peer.test", b[0][1])
        self.assertIn(b"Diagnostic-Code: smtp; 550 5.1.1", b[0][1])


BAD = [
    ("relay_port = 0", "relay_port"),
    ('smarthost = "host:99999"', "smarthost"),
    ('smarthost = "::1"', "smarthost"),
    ('smarthost_user = "u"', "smarthost_user needs a smarthost"),
    ('smarthost_password = "p"', "smarthost_password without smarthost_user"),
    ('relay_tls = "always"', "relay_tls"),
    ('relay_tls_must = {"user@example.net"}', "relay_tls_must"),
    ('relay_timeout = "soon"', "relay_timeout"),
    ('relay_timeout = "0"', "relay_timeout"),
    ("relay_concurrency = 0", "relay_concurrency"),
    ('queue_retry = "5x"', "queue_retry"),
    ('queue_lifetime = "-1"', "queue_lifetime"),
    ('queue_retry = "1h"\n    queue_retry_max = "5m"', "queue_retry_max"),
]


def errors_only(text):
    """stderr without the info line load_module() logs for relaytest.so."""
    return "".join(l for l in text.splitlines(True) if "[info] core: module" not in l)


class RelayConfig(unittest.TestCase):
    def test_each_error_is_one_line(self):
        for line, needle in BAD:
            with self.subTest(line=line):
                d = Loomd(relay_conf([line]).replace("{port}", str(loomtest.free_port())))
                try:
                    rc, err = loomtest.start_expect_exit(d)
                    self.assertEqual(rc, 1, err)
                    want = loomtest.line_of(d.conf_path, line.split("\n")[-1].strip())
                    loomtest.assert_error_line(self, errors_only(err), d.conf_path, want,
                                               contains=needle)
                finally:
                    d.cleanup()

    def test_user_without_password(self):
        d = Loomd(relay_conf(['smarthost = "mx.example.net"', 'smarthost_user = "u"'])
                  .replace("{port}", str(loomtest.free_port())))
        try:
            rc, err = loomtest.start_expect_exit(d)
            self.assertEqual(rc, 1, err)
            loomtest.assert_error_line(self, errors_only(err), d.conf_path,
                                       loomtest.line_of(d.conf_path, "smarthost_user"),
                                       contains="smarthost_password")
        finally:
            d.cleanup()


if __name__ == "__main__":
    loomtest.main()
